"""File locks: POSIX record locks (fcntl F_SETLK...), OFD locks, and flock(2).

A lock covers a byte range [start, end] of a file (the inode, whatever
descriptor reached it) and is shared (F_RDLCK) or exclusive (F_WRLCK). Two
locks conflict when their ranges overlap, at least one is exclusive, and
their owners differ. Who the owner is makes the three kinds:

* POSIX record locks belong to the descriptor table (Linux's fl_owner is the
  files_struct), which is the process: a vfork or posix_spawn child has a
  table of its own, threads share one. A process's locks on a file never
  conflict with each other: a new lock replaces whatever the process held
  on that range, splitting or merging its locks, and they all go when the
  process closes ANY descriptor of the file, or exits. F_GETLK reports the
  holder's pid (its tgid when it took the lock).
* OFD locks (F_OFD_SETLK...) live in the same list but belong to the open
  file description: they go when its last descriptor closes; F_GETLK
  reports pid -1.
* flock(2) locks are whole-file, belong to the open file description, and
  are a namespace of their own: they never meet record locks.

A request that conflicts fails with EAGAIN, or (F_SETLKW, flock without
LOCK_NB) sleeps on the file's `LockWait` channel and retries when any lock
on the file goes. A POSIX request that would wait for a process which is
itself waiting for the requester fails with EDEADLK (the chain is followed,
as Linux does, up to 10 steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.task import TaskState

if TYPE_CHECKING:
    from nommu.kernel.files import OpenFile
    from nommu.kernel.sched import Scheduler
    from nommu.kernel.task import Task

OFFSET_MAX = (1 << 63) - 1  # the last byte a lock "to end of file" covers
MAX_DEADLK_ITERATIONS = 10


@dataclass(frozen=True, slots=True)
class LockWait:
    """A task waits for a lock on the file `key` (an inode) to go."""

    key: object

    def __str__(self) -> str:
        return "waiting for a file lock"


@dataclass(slots=True)
class FileLock:
    owner: object  # an FdTable (POSIX), or an OpenFile (OFD, flock)
    pid: int  # -1 for OFD locks, as F_GETLK reports them
    type: int  # F_RDLCK or F_WRLCK
    start: int
    end: int  # inclusive

    def conflicts(self, other: FileLock) -> bool:
        return (
            self.owner is not other.owner
            and self.start <= other.end
            and other.start <= self.end
            and F.F_WRLCK in (self.type, other.type)
        )


@dataclass
class Waiter:
    """A task sleeping in F_SETLKW: for the deadlock check (valid only while
    the task still sleeps on `channel`)."""

    task: Task
    blocker: object
    channel: LockWait


@dataclass
class LockTable:
    """Every lock on the machine, by inode (see the module docstring)."""

    sched: Scheduler
    posix: dict[object, list[FileLock]] = field(default_factory=dict)  # record + OFD locks
    flocks: dict[object, list[FileLock]] = field(default_factory=dict)
    waiting: dict[object, Waiter] = field(default_factory=dict)  # owner -> its wait

    # -- record locks ---------------------------------------------------------

    def find_conflict(self, key: object, want: FileLock) -> FileLock | None:
        """F_GETLK: the first lock that would block `want`, or None."""
        return next((lk for lk in self.posix.get(key, ()) if lk.conflicts(want)), None)

    def set_lock(self, t: Task, key: object, want: FileLock, wait: bool) -> None:
        """F_SETLK/F_SETLKW (`want.type` F_UNLCK unlocks the range)."""
        if want.type != F.F_UNLCK:
            blocker = self.find_conflict(key, want)
            if blocker is not None:
                if not wait:
                    raise SyscallError(Errno.EAGAIN)
                self._sleep(t, key, want.owner, blocker.owner, ofd=want.pid == -1)
        self.waiting.pop(want.owner, None)
        locks = self.posix.setdefault(key, [])
        locks[:] = _apply(locks, want)
        if not locks:
            del self.posix[key]
        self.sched.wakeup(LockWait(key))

    def _sleep(self, t: Task, key: object, owner: object, blocker: object, ofd: bool) -> None:
        channel = LockWait(key)
        if not ofd and self._deadlock(owner, blocker):
            self.waiting.pop(owner, None)
            raise SyscallError(Errno.EDEADLK)
        self.waiting[owner] = Waiter(t, blocker, channel)
        raise Blocked(channel)

    def _deadlock(self, owner: object, blocker: object) -> bool:
        """Whether `blocker` waits (through a chain of waits) for `owner`."""
        for _ in range(MAX_DEADLK_ITERATIONS):
            w = self.waiting.get(blocker)
            if w is None or w.task.state != TaskState.SLEEPING or w.task.channel != w.channel:
                return False
            if w.blocker is owner:
                return True
            blocker = w.blocker
        return False

    def drop_owner(self, key: object, owner: object) -> None:
        """Remove every record lock `owner` holds on `key`."""
        self._drop(self.posix, key, owner)

    def _drop(self, table: dict[object, list[FileLock]], key: object, owner: object) -> None:
        """Remove `owner`'s locks on `key` from `table`; wake whoever waits there."""
        locks = table.get(key)
        if locks and any(lk.owner is owner for lk in locks):
            locks[:] = [lk for lk in locks if lk.owner is not owner]
            if not locks:
                del table[key]
            self.sched.wakeup(LockWait(key))

    def closed(self, table: object, f: OpenFile) -> None:
        """A process closed a descriptor of `f`: its record locks on the file go."""
        if self.posix:
            self.drop_owner(f.inode(), table)

    def released(self, f: OpenFile) -> None:
        """An open file description went: its OFD and flock locks go."""
        key = f.inode()
        self.drop_owner(key, f)
        self._drop_flock(key, f)

    # -- flock ----------------------------------------------------------------

    def flock(self, key: object, f: OpenFile, op: int) -> None:
        """flock(2): LOCK_SH, LOCK_EX or LOCK_UN, with LOCK_NB not to wait."""
        kind = op & ~F.LOCK_NB
        if kind not in (F.LOCK_SH, F.LOCK_EX, F.LOCK_UN):
            raise SyscallError(Errno.EINVAL)
        locks = self.flocks.get(key, [])
        mine = next((lk for lk in locks if lk.owner is f), None)
        want = F.F_RDLCK if kind == F.LOCK_SH else F.F_WRLCK
        if mine is not None and (kind == F.LOCK_UN or mine.type != want):
            self._drop_flock(key, f)  # a conversion drops the old lock first, as Linux does
        if kind == F.LOCK_UN or (mine is not None and mine.type == want):
            return
        lock = FileLock(f, -1, want, 0, OFFSET_MAX)
        if any(lk.conflicts(lock) for lk in self.flocks.get(key, ())):
            if op & F.LOCK_NB:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(LockWait(key))
        self.flocks.setdefault(key, []).append(lock)

    def _drop_flock(self, key: object, f: OpenFile) -> None:
        self._drop(self.flocks, key, f)


def _apply(locks: list[FileLock], want: FileLock) -> list[FileLock]:
    """The file's locks after `want.owner` sets [start, end] to `want.type`
    (F_UNLCK: clears it): the owner's locks of the same type that touch the
    range merge with it, its other locks lose the range (split in two when
    the range falls inside one)."""
    start, end = want.start, want.end
    mine = [lk for lk in locks if lk.owner is want.owner]
    out = [lk for lk in locks if lk.owner is not want.owner]
    if want.type != F.F_UNLCK:
        for lk in mine:  # merge same-type locks that overlap or are adjacent
            if lk.type == want.type and lk.start <= end + 1 and start <= lk.end + 1:
                start, end = min(start, lk.start), max(end, lk.end)
    for lk in mine:
        if lk.end < start or lk.start > end:
            out.append(lk)
            continue
        if lk.start < start:
            out.append(FileLock(lk.owner, lk.pid, lk.type, lk.start, start - 1))
        if lk.end > end:
            out.append(FileLock(lk.owner, lk.pid, lk.type, end + 1, lk.end))
    if want.type != F.F_UNLCK:
        out.append(FileLock(want.owner, want.pid, want.type, start, end))
    return sorted(out, key=lambda lk: (lk.start, lk.end))
