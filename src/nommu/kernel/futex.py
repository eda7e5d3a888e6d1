"""Futexes: sleeping on a word of user memory.

FUTEX_WAIT sleeps only if the word still holds the expected value (checked
and slept on atomically: the kernel runs one syscall at a time), FUTEX_WAKE
wakes up to N sleepers. Which word a futex is (its key, `futex_key`): on a
no-MMU machine every process shares one physical address space, so the key
is the address alone, and private and shared futexes are the same thing.
With an MMU, as in Linux's get_futex_key, a word in private memory is keyed
by (address space, address) and one in a MAP_SHARED mapping by the physical
address behind it, the same in every process that maps it.

The bitset variants record a mask per waiter; a wake only wakes waiters
whose mask intersects its own.

Priority-inheritance futexes (FUTEX_LOCK_PI, TRYLOCK_PI, UNLOCK_PI): the
kernel owns the lock protocol. The word holds the owner's TID, plus
FUTEX_WAITERS while threads sleep on it (so that the owner's unlock comes to
the kernel) and FUTEX_OWNER_DIED after a robust owner's death. An unlock
with sleepers hands the lock straight to the first of them (the word then
holds its TID): no one can take it in between. On one CPU without
priorities there is nothing to inherit, so no priority changes.

Robust futexes: a thread registers the head of a list of the locks it holds
(set_robust_list); when it exits or execs, the kernel walks that list and
marks each lock word it still owns FUTEX_OWNER_DIED, waking one waiter, so
that the next locker gets EOWNERDEAD instead of waiting forever.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.task import Task

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel


def futex_key(k: Kernel, t: Task, addr: int) -> object:
    """The channel a futex at `addr` in `t`'s memory waits on (see above)."""
    return k.memory.futex_key(t, addr)


def futex_wait(
    k: Kernel,
    t: Task,
    addr: int,
    expected: int,
    deadline: float | None,
    bitset: int = F.FUTEX_BITSET_MATCH_ANY,
) -> int:
    """Sleep on `addr` while it holds `expected`; 0 when woken."""
    if addr & 3:
        raise SyscallError(Errno.EINVAL)
    if bitset == 0:
        raise SyscallError(Errno.EINVAL)
    if t.blocked is not None:  # we slept, were woken, and run the syscall again
        if not t.blocked.woken and deadline is not None and k.sched.clock() >= deadline:
            raise SyscallError(Errno.ETIMEDOUT)
        return 0  # a wake, or a spurious wakeup: the caller re-checks its condition
    if k.uspace.read_u32(addr) != expected & 0xFFFFFFFF:
        raise SyscallError(Errno.EAGAIN)
    t.blocking_call().bitset = bitset
    raise Blocked(k.memory.futex_key(t, addr), deadline)  # (`futex_key`, one call less)


def futex_wake(
    k: Kernel, t: Task, addr: int, count: int, bitset: int = F.FUTEX_BITSET_MATCH_ANY
) -> int:
    """Wake up to `count` waiters on `addr` whose bitset matches; how many woke."""
    if bitset == 0:
        raise SyscallError(Errno.EINVAL)
    waiters = k.sched.sleepers.get(k.memory.futex_key(t, addr), [])  # (`futex_key`)
    woken = 0
    for waiter in list(waiters):
        if woken >= count:
            break
        call = waiter.blocking_call()
        if call.bitset & bitset:
            call.woken = True
            k.sched.wake_task(waiter)
            woken += 1
    return woken


def futex_requeue(
    k: Kernel, t: Task, addr: int, wake: int, requeue: int, addr2: int, expected: int | None
) -> int:
    """Wake `wake` waiters on `addr`, move up to `requeue` more to `addr2`."""
    if expected is not None and k.uspace.read_u32(addr) != expected & 0xFFFFFFFF:
        raise SyscallError(Errno.EAGAIN)
    woken = futex_wake(k, t, addr, wake)
    waiters = k.sched.sleepers.get(futex_key(k, t, addr), [])
    moved = waiters[:requeue]
    target = futex_key(k, t, addr2)
    for waiter in moved:
        k.sched.wake_task(waiter)
        k.sched.sleep(waiter, target, waiter.deadline)
    return woken + len(moved)


# -- priority-inheritance futexes (kernel/futex/pi.c) ---------------------------


def futex_lock_pi(
    k: Kernel, t: Task, addr: int, deadline: float | None, trylock: bool = False
) -> int:
    """Take the PI lock at `addr` for `t`, or sleep until an unlock hands it
    over (until `deadline`: ETIMEDOUT; a trylock fails with EAGAIN at once).
    EDEADLK if `t` holds it; ESRCH if the TID in the word is no live thread."""
    if addr & 3:
        raise SyscallError(Errno.EINVAL)
    call = t.blocked
    if call is not None and call.result is not None:
        return call.result  # an unlock handed us the lock while we slept
    word = k.uspace.read_u32(addr)
    owner = word & FUTEX_TID_MASK
    if owner == t.tid:
        raise SyscallError(Errno.EDEADLK)
    if owner == 0:  # free, or its owner died (that bit stays, for the new owner to see)
        waiters = FUTEX_WAITERS if pi_waiters(k, t, addr) else 0
        k.uspace.write_u32(addr, t.tid | (word & FUTEX_OWNER_DIED) | waiters)
        return 0
    k.uspace.write_u32(addr, word | FUTEX_WAITERS)  # (the owner's unlock must come to us)
    holder = k.tasks.get(owner)
    if holder is None or not holder.alive:
        raise SyscallError(Errno.ESRCH)
    if trylock:
        raise SyscallError(Errno.EAGAIN)
    if deadline is not None and k.sched.clock() >= deadline:
        raise SyscallError(Errno.ETIMEDOUT)
    t.blocking_call().lock_pi = True
    raise Blocked(futex_key(k, t, addr), deadline)


def futex_unlock_pi(k: Kernel, t: Task, addr: int) -> int:
    """Release the PI lock `t` holds at `addr`: to its first waiter, whose TID
    the word then holds (with FUTEX_WAITERS), or to no one (the word is 0)."""
    if addr & 3:
        raise SyscallError(Errno.EINVAL)
    if k.uspace.read_u32(addr) & FUTEX_TID_MASK != t.tid:
        raise SyscallError(Errno.EPERM)
    waiters = pi_waiters(k, t, addr)
    if not waiters:
        k.uspace.write_u32(addr, 0)
        return 0
    heir = waiters[0]
    k.uspace.write_u32(addr, heir.tid | FUTEX_WAITERS)
    heir.blocking_call().result = 0
    k.sched.wake_task(heir)
    return 0


def pi_waiters(k: Kernel, t: Task, addr: int) -> list[Task]:
    """The tasks asleep in FUTEX_LOCK_PI on `addr`, first come first."""
    sleepers = k.sched.sleepers.get(futex_key(k, t, addr), [])
    return [w for w in sleepers if w.blocked is not None and w.blocked.lock_pi]


# -- robust futex lists (kernel/futex/core.c: exit_robust_list) --------------------

ROBUST_LIST_HEAD = struct.Struct("<IiI")  # list.next, futex_offset, list_op_pending
ROBUST_LIST_LIMIT = 2048  # entries walked at most (a cyclic list must not hang us)
FUTEX_WAITERS, FUTEX_OWNER_DIED, FUTEX_TID_MASK = 0x80000000, 0x40000000, 0x3FFFFFFF


def exit_robust_list(k: Kernel, t: Task) -> None:
    """`t` exits or execs: the robust locks it still holds are marked dead."""
    head, t.robust_list = t.robust_list, 0
    if not head:
        return
    try:
        entry, offset, pending = ROBUST_LIST_HEAD.unpack(k.uspace.read(head, 12))
        entry, pending = entry & ~1, pending & ~1  # (bit 0 flags a PI futex)
        for _ in range(ROBUST_LIST_LIMIT):
            if entry == head:
                break
            following = k.uspace.read_u32(entry) & ~1
            if entry != pending:
                futex_owner_died(k, t, (entry + offset) & 0xFFFFFFFF)
            entry = following
        if pending:
            futex_owner_died(k, t, (pending + offset) & 0xFFFFFFFF)
    except SyscallError:  # a bad list is the thread's own problem; stop walking
        return


def futex_owner_died(k: Kernel, t: Task, addr: int) -> None:
    """handle_futex_death: if `t` owns the lock word at `addr`, mark its owner
    dead (keeping the waiters bit) and wake one waiter."""
    if addr & 3:
        return
    word = k.uspace.read_u32(addr)
    if word & FUTEX_TID_MASK != t.tid:
        return
    k.uspace.write_u32(addr, (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
    if word & FUTEX_WAITERS:
        futex_wake(k, t, addr, 1)
