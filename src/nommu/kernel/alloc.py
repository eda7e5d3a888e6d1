"""The physical page allocator: contiguous blocks of RAM, no overcommit.

A no-MMU kernel cannot stitch scattered pages into one range, so every
allocation (a program image, a stack, an mmap) is one contiguous physical
block. That is why a no-MMU machine runs out of memory through
fragmentation: there may be plenty of free bytes, but no free *run* long
enough.

This allocator works in whole pages and hands out exactly as many as asked
(Linux's nommu mmap trims its power-of-two allocation to the exact page
count, `vm.nr_trim_pages` = 1). It is first-fit: the lowest free run that is
long enough. Every block records its owner and kind, so the state can be
shown (`blocks()`, `largest_free()`), and a block can be freed in part (a
partial munmap), which splits it.

Invariant: `_free` and `_used` are disjoint, sorted, and together cover RAM
exactly; adjacent free runs are always merged.

A `listener` (trace/memmap.py) hears of every change: ("alloc", block),
("free", the part given back), ("fail", the refused request) and ("retag",
block).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

from nommu.abi.errno import Errno
from nommu.abi.flags import PAGE_SIZE
from nommu.kernel.errors import SyscallError


@dataclass(slots=True)
class Block:
    """A run of physical memory: [start, start + size)."""

    start: int
    size: int
    owner: int = 0  # pid that allocated it (0 = the kernel)
    kind: str = "free"  # "image", "stack", "mmap", "kernel", ... or "free"

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True, slots=True)
class AllocFailure:
    """A refused allocation, kept so reports can show the moment and why."""

    size: int
    owner: int
    kind: str
    free_total: int
    largest_free: int


def page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


class PhysAllocator:
    """First-fit allocator of page-aligned contiguous blocks in [base, base+size)."""

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.size = size
        self._free: list[Block] = [Block(base, size)]
        self._used: dict[int, Block] = {}
        self._starts: list[int] = []  # sorted keys of _used, for lookups by address
        self.failures: list[AllocFailure] = []
        self.listener: Callable[[str, Block], None] | None = None
        self.on_free: Callable[[int, int], None] | None = None  # (start, size): kernel/mpu.py

    def alloc(self, size: int, owner: int, kind: str) -> Block:
        """A block of `size` bytes (rounded up to pages), or ENOMEM."""
        size = page_align(max(size, 1))
        for i, run in enumerate(self._free):
            if run.size >= size:
                block = Block(run.start, size, owner, kind)
                if run.size == size:
                    del self._free[i]
                else:
                    run.start += size
                    run.size -= size
                self._add_used(block)
                if self.listener is not None:
                    self.listener("alloc", block)
                return block
        self.failures.append(
            AllocFailure(size, owner, kind, self.free_total(), self.largest_free())
        )
        if self.listener is not None:
            self.listener("fail", Block(0, size, owner, kind))
        raise SyscallError(Errno.ENOMEM, f"no contiguous {size} bytes free")

    def free(self, block: Block) -> None:
        """Return a whole block."""
        self.free_range(block.start, block.size)

    def free_range(self, start: int, size: int) -> None:
        """Return [start, start+size), which must lie inside one used block."""
        block = self.block_at(start)
        if block is None or start + size > block.end or size <= 0:
            raise ValueError(f"free of {start:#x}+{size:#x} outside any block")
        del self._used[block.start]
        del self._starts[bisect.bisect_left(self._starts, block.start)]
        if block.start < start:
            self._add_used(Block(block.start, start - block.start, block.owner, block.kind))
        if start + size < block.end:
            self._add_used(Block(start + size, block.end - start - size, block.owner, block.kind))
        self._insert_free(Block(start, size))
        if self.on_free is not None:
            self.on_free(start, size)
        if self.listener is not None:
            self.listener("free", Block(start, size, block.owner, block.kind))

    def _add_used(self, block: Block) -> None:
        self._used[block.start] = block
        bisect.insort(self._starts, block.start)

    def _insert_free(self, run: Block) -> None:
        i = bisect.bisect_left(self._free, run.start, key=lambda r: r.start)
        self._free.insert(i, run)
        # merge with the following run, then with the preceding one
        if i + 1 < len(self._free) and run.end == self._free[i + 1].start:
            run.size += self._free.pop(i + 1).size
        if i > 0 and self._free[i - 1].end == run.start:
            self._free[i - 1].size += run.size
            del self._free[i]

    def block_at(self, addr: int) -> Block | None:
        """The used block containing `addr`, if any."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            block = self._used[self._starts[i]]
            if addr < block.end:
                return block
        return None

    def retag(self, block: Block, owner: int, kind: str | None = None) -> None:
        block.owner = owner
        if kind is not None:
            block.kind = kind
        if self.listener is not None:
            self.listener("retag", block)

    # -- inspection ----------------------------------------------------------

    def blocks(self) -> list[Block]:
        """Every block, used and free, in address order."""
        every = [*self._used.values(), *(Block(r.start, r.size) for r in self._free)]
        return sorted(every, key=lambda b: b.start)

    def used_blocks(self) -> list[Block]:
        return sorted(self._used.values(), key=lambda b: b.start)

    def free_total(self) -> int:
        return sum(r.size for r in self._free)

    def largest_free(self) -> int:
        return max((r.size for r in self._free), default=0)

    def free_runs(self) -> list[tuple[int, int]]:
        """(start, size) of every free run, in address order."""
        return [(r.start, r.size) for r in self._free]
