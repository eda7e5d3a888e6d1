"""PhysAllocator: first-fit contiguous pages, exact page counts, split and merge."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nommu.abi.errno import Errno
from nommu.kernel.alloc import Block, PhysAllocator
from nommu.kernel.errors import SyscallError

PAGE = 4096
BASE = 0x40000000


def make(pages: int = 16) -> PhysAllocator:
    return PhysAllocator(BASE, pages * PAGE)


def layout(a: PhysAllocator) -> list[tuple[int, int, str]]:
    """(page index, pages, kind) of every block, in address order."""
    return [((b.start - BASE) // PAGE, b.size // PAGE, b.kind) for b in a.blocks()]


def check_invariants(a: PhysAllocator) -> None:
    blocks = a.blocks()
    assert blocks, "blocks() must cover RAM"
    assert blocks[0].start == a.base
    assert blocks[-1].end == a.base + a.size
    for prev, nxt in itertools.pairwise(blocks):
        assert prev.end == nxt.start, "blocks must be sorted, disjoint and leave no gap"
        assert not (prev.kind == "free" and nxt.kind == "free"), "free runs must be merged"
    for b in blocks:
        assert b.size > 0 and b.size % PAGE == 0 and b.start % PAGE == 0
    free = [b for b in blocks if b.kind == "free"]
    assert a.free_total() == sum(b.size for b in free)
    assert a.largest_free() == max((b.size for b in free), default=0)
    assert sum(b.size for b in a.used_blocks()) + a.free_total() == a.size


def test_fresh_allocator_is_one_free_block() -> None:
    a = make(16)
    assert layout(a) == [(0, 16, "free")]
    assert a.free_total() == a.largest_free() == 16 * PAGE
    assert a.used_blocks() == []


@pytest.mark.parametrize(
    ("size", "pages"),
    [(0, 1), (1, 1), (PAGE - 1, 1), (PAGE, 1), (PAGE + 1, 2), (3 * PAGE, 3), (5 * PAGE - 7, 5)],
)
def test_alloc_rounds_up_to_exact_page_count(size: int, pages: int) -> None:
    a = make(16)
    block = a.alloc(size, 1, "mmap")
    assert block.size == pages * PAGE
    assert a.free_total() == (16 - pages) * PAGE


def test_alloc_records_owner_and_kind() -> None:
    a = make(8)
    block = a.alloc(PAGE, 7, "stack")
    assert (block.owner, block.kind) == (7, "stack")
    assert a.block_at(block.start + 123) is block
    assert a.block_at(block.end) is None


def test_first_fit_takes_lowest_hole_that_fits() -> None:
    a = make(16)
    b0 = a.alloc(2 * PAGE, 1, "x")
    b1 = a.alloc(3 * PAGE, 1, "x")
    a.alloc(1 * PAGE, 1, "x")
    b3 = a.alloc(4 * PAGE, 1, "x")
    a.free(b0)  # hole of 2 pages at 0
    a.free(b1)  # merges: hole of 5 pages at 0
    a.free(b3)  # hole of 4 at 6, merged with the 6 free pages at the end
    assert layout(a) == [(0, 5, "free"), (5, 1, "x"), (6, 10, "free")]
    c = a.alloc(2 * PAGE, 2, "y")
    assert c.start == BASE  # lowest hole, although it is not the best fit
    d = a.alloc(4 * PAGE, 2, "y")
    assert d.start == BASE + 6 * PAGE  # the 3 pages left at 2 are too few
    check_invariants(a)


def test_exact_fit_consumes_the_run() -> None:
    a = make(4)
    blocks = [a.alloc(PAGE, 1, "x") for _ in range(4)]
    assert a.free_total() == 0 and a.largest_free() == 0
    assert [b.start for b in blocks] == [BASE + i * PAGE for i in range(4)]
    check_invariants(a)


def test_free_merges_with_both_neighbours() -> None:
    a = make(6)
    x, y, z = (a.alloc(2 * PAGE, 1, k) for k in "xyz")
    a.free(x)
    a.free(z)
    assert layout(a) == [(0, 2, "free"), (2, 2, "y"), (4, 2, "free")]
    a.free(y)
    assert layout(a) == [(0, 6, "free")]


def test_free_range_middle_splits_the_block() -> None:
    a = make(8)
    b = a.alloc(6 * PAGE, 3, "mmap")
    a.free_range(b.start + 2 * PAGE, 2 * PAGE)
    assert layout(a) == [(0, 2, "mmap"), (2, 2, "free"), (4, 2, "mmap"), (6, 2, "free")]
    head, tail = a.used_blocks()
    assert head.owner == tail.owner == 3
    check_invariants(a)


def test_free_range_head_and_tail() -> None:
    a = make(8)
    b = a.alloc(6 * PAGE, 3, "mmap")
    a.free_range(b.start, PAGE)  # head
    a.free_range(b.start + 5 * PAGE, PAGE)  # tail: merges with the free run after it
    assert layout(a) == [(0, 1, "free"), (1, 4, "mmap"), (5, 3, "free")]
    a.free_range(b.start + PAGE, 4 * PAGE)  # the rest: everything merges
    assert layout(a) == [(0, 8, "free")]


@pytest.mark.parametrize("where", ["unallocated", "past the end", "zero size"])
def test_free_range_outside_a_block_is_refused(where: str) -> None:
    a = make(8)
    b = a.alloc(2 * PAGE, 1, "x")
    args = {
        "unallocated": (BASE + 4 * PAGE, PAGE),
        "past the end": (b.start, 3 * PAGE),
        "zero size": (b.start, 0),
    }[where]
    with pytest.raises(ValueError):
        a.free_range(*args)
    check_invariants(a)
    assert layout(a) == [(0, 2, "x"), (2, 6, "free")]


def test_enomem_when_fragmented_although_enough_is_free() -> None:
    a = make(8)
    blocks = [a.alloc(PAGE, 1, "x") for _ in range(8)]
    for b in blocks[::2]:
        a.free(b)  # 4 free pages, none adjacent
    assert a.free_total() == 4 * PAGE
    assert a.largest_free() == PAGE
    with pytest.raises(SyscallError) as exc:
        a.alloc(2 * PAGE, 9, "image")
    assert exc.value.errno == Errno.ENOMEM
    check_invariants(a)


def test_failures_are_recorded() -> None:
    a = make(4)
    a.alloc(3 * PAGE, 1, "x")
    assert a.failures == []
    with pytest.raises(SyscallError):
        a.alloc(2 * PAGE + 1, 5, "stack")
    (failure,) = a.failures
    assert failure.size == 3 * PAGE  # the page-rounded request
    assert (failure.owner, failure.kind) == (5, "stack")
    assert failure.free_total == failure.largest_free == PAGE
    assert layout(a) == [(0, 3, "x"), (3, 1, "free")]  # nothing changed


def test_too_big_for_ram() -> None:
    a = make(4)
    with pytest.raises(SyscallError) as exc:
        a.alloc(5 * PAGE, 1, "x")
    assert exc.value.errno == Errno.ENOMEM
    assert layout(a) == [(0, 4, "free")]


def test_blocks_covers_all_memory_after_mixed_use() -> None:
    a = make(32)
    kept = [a.alloc((i % 3 + 1) * PAGE, i, "k") for i in range(8)]
    for b in kept[1::3]:
        a.free(b)
    check_invariants(a)
    assert all(isinstance(b, Block) for b in a.blocks())


def test_largest_free_is_zero_when_full() -> None:
    a = make(2)
    a.alloc(2 * PAGE, 1, "x")
    assert a.largest_free() == 0
    assert layout(a) == [(0, 2, "x")]


# -- property: random alloc/free sequences keep the invariants -------------------

op = st.one_of(
    st.tuples(st.just("alloc"), st.integers(min_value=0, max_value=6 * PAGE)),
    st.tuples(st.just("free"), st.integers(min_value=0, max_value=10_000)),
    st.tuples(
        st.just("partial"),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=1, max_value=4),
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=24), st.lists(op, max_size=60))
def test_random_alloc_free_keeps_invariants(pages: int, ops: list[tuple[object, ...]]) -> None:
    a = make(pages)
    shadow: dict[int, int] = {}  # start -> size of what we believe is allocated
    for step in ops:
        if step[0] == "alloc":
            size = int(step[1])  # type: ignore[call-overload]
            want = max(PAGE, -(-size // PAGE) * PAGE)
            fits = any(b.size >= want for b in a.blocks() if b.kind == "free")
            expected_start = next(
                (b.start for b in a.blocks() if b.kind == "free" and b.size >= want), None
            )
            try:
                b = a.alloc(size, 1, "t")
            except SyscallError as err:
                assert err.errno == Errno.ENOMEM
                assert not fits
            else:
                assert fits and b.size == want and b.start == expected_start
                shadow[b.start] = b.size
        elif shadow:
            starts = sorted(shadow)
            start = starts[int(step[1]) % len(starts)]  # type: ignore[call-overload]
            size = shadow.pop(start)
            if step[0] == "free":
                a.free_range(start, size)
            else:  # free some whole pages from inside the block, keep the rest
                npages = size // PAGE
                first = int(step[2]) % npages  # type: ignore[call-overload]
                count = min(int(step[3]), npages - first)  # type: ignore[call-overload]
                a.free_range(start + first * PAGE, count * PAGE)
                if first:
                    shadow[start] = first * PAGE
                if first + count < npages:
                    shadow[start + (first + count) * PAGE] = (npages - first - count) * PAGE
        check_invariants(a)
        assert {b.start: b.size for b in a.used_blocks()} == shadow
