"""kernel/locks.py: how one owner's record locks split and merge."""

from __future__ import annotations

from nommu.abi import flags as F
from nommu.kernel.locks import OFFSET_MAX, FileLock, _apply

A, B = object(), object()


def ranges(locks: list[FileLock]) -> list[tuple[str, int, int, int]]:
    """(owner, type, first, last) of each lock, in order of their ranges."""
    return sorted(("AB"[lk.owner is B], lk.type, lk.start, lk.end) for lk in locks)


def lock(owner: object, kind: int, start: int, end: int) -> FileLock:
    return FileLock(owner, 1, kind, start, end)


def test_unlocking_inside_a_lock_splits_it() -> None:
    locks = _apply([], lock(A, F.F_WRLCK, 0, 9))
    locks = _apply(locks, lock(A, F.F_UNLCK, 3, 4))
    assert ranges(locks) == [("A", F.F_WRLCK, 0, 2), ("A", F.F_WRLCK, 5, 9)]


def test_same_type_locks_that_touch_merge() -> None:
    locks = _apply([], lock(A, F.F_RDLCK, 0, 4))
    locks = _apply(locks, lock(A, F.F_RDLCK, 10, 14))
    locks = _apply(locks, lock(A, F.F_RDLCK, 5, 9))
    assert ranges(locks) == [("A", F.F_RDLCK, 0, 14)]


def test_another_type_replaces_the_range_and_other_owners_stay() -> None:
    locks = _apply([lock(B, F.F_RDLCK, 0, OFFSET_MAX)], lock(A, F.F_RDLCK, 0, 9))
    locks = _apply(locks, lock(A, F.F_WRLCK, 2, 3))
    assert ranges(locks) == [
        ("A", F.F_RDLCK, 0, 1),
        ("A", F.F_RDLCK, 4, 9),
        ("A", F.F_WRLCK, 2, 3),
        ("B", F.F_RDLCK, 0, OFFSET_MAX),
    ]


def test_conflicts_need_two_owners_an_overlap_and_a_write_lock() -> None:
    assert lock(A, F.F_WRLCK, 0, 9).conflicts(lock(B, F.F_RDLCK, 9, 9))
    assert not lock(A, F.F_WRLCK, 0, 9).conflicts(lock(A, F.F_WRLCK, 0, 9))
    assert not lock(A, F.F_RDLCK, 0, 9).conflicts(lock(B, F.F_RDLCK, 0, 9))
    assert not lock(A, F.F_WRLCK, 0, 9).conflicts(lock(B, F.F_WRLCK, 10, 20))
