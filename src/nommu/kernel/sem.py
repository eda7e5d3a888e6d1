"""SysV semaphores: semget, semop/semtimedop, semctl (ipc/sem.c).

A set holds `nsems` counters, each 0..SEMVMX. semop applies an array of
operations to one set atomically, all or none: an operation adds to a
counter (sem_op > 0), waits until it is zero (sem_op == 0), or waits until
it can be lowered without going below zero (sem_op < 0). When any of them
cannot go ahead the call sleeps (or fails EAGAIN with IPC_NOWAIT) and, once
the set has changed, tries the whole array again: the kernel runs one
syscall at a time, so trying is already atomic. A set that is removed while
callers sleep wakes them with EIDRM.

SEM_UNDO: the process keeps, per counter, the opposite of what its
operations did (`semadj`), and the kernel applies it when the process exits,
so that a process that dies holding a semaphore gives it back.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import IPC_NOWAIT, SEM_UNDO
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.ipcids import IpcIds

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task, ThreadGroup

SEMMSL, SEMMNS, SEMOPM, SEMMNI = 32000, 1024000000, 500, 32000  # the default limits
SEMVMX = 32767  # a counter's largest value
SEMBUF = struct.Struct("<HhH")  # sem_num, sem_op, sem_flg


@dataclass(eq=False)
class SemSet:
    """One set (struct sem_array); also the channel its sleepers wait on."""

    id: int
    key: int
    mode: int
    values: list[int]
    pids: list[int]  # sempid: the last process to change each counter
    ctime: int
    otime: int = 0

    def __str__(self) -> str:
        return f"semop on semaphore set {self.id}"


@dataclass(eq=False)
class SysvSem:
    """The machine's semaphore sets (the IPC namespace's sem_ids)."""

    k: Kernel
    ids: IpcIds[SemSet] = field(default_factory=lambda: IpcIds(SEMMNI))

    def semget(self, key: int, nsems: int, flags: int) -> int:
        if not 0 <= nsems <= SEMMSL:
            raise SyscallError(Errno.EINVAL)

        def create() -> int:
            if nsems == 0:
                raise SyscallError(Errno.EINVAL)
            if sum(len(s.values) for s in self.ids.objects.values()) + nsems > SEMMNS:
                raise SyscallError(Errno.ENOSPC)
            now = int(self.k.config.clock_realtime())
            sem = SemSet(self.ids.new_id(), key, flags & 0o777, [0] * nsems, [0] * nsems, now)
            self.ids.add(sem)
            return sem.id

        def check(sem: SemSet) -> None:
            if nsems > len(sem.values):
                raise SyscallError(Errno.EINVAL)

        return self.ids.get(key, flags, create, check)

    def remove(self, sem: SemSet) -> None:
        """IPC_RMID: the set goes at once; its sleepers wake to EIDRM."""
        self.ids.remove(sem)
        self.k.sched.wakeup(sem)
        for group in self.k.groups.values():
            for key in [key for key in group.semadj if key[0] == sem.id]:
                del group.semadj[key]

    def changed(self, sem: SemSet, nums: range | list[int]) -> None:
        """Counters were set directly (SETVAL, SETALL): their undo entries go,
        and sleepers try again."""
        for group in self.k.groups.values():
            for num in nums:
                group.semadj.pop((sem.id, num), None)
        self.k.sched.wakeup(sem)


def semop(k: Kernel, t: Task, semid: int, sops: bytes, deadline: float | None) -> int:
    """Apply the operations in `sops` (struct sembuf array) to set `semid`."""
    sem = k.sysv_sem.ids.lookup_again(semid, t.blocked is not None)
    ops = list(SEMBUF.iter_unpack(sops))
    if any(num >= len(sem.values) for num, _, _ in ops):
        raise SyscallError(Errno.EFBIG)
    values = list(sem.values)
    for num, op, flags in ops:
        if op > 0:
            if values[num] + op > SEMVMX:
                raise SyscallError(Errno.ERANGE)
            values[num] += op
        elif (op == 0 and values[num] != 0) or values[num] + op < 0:
            if flags & IPC_NOWAIT:
                raise SyscallError(Errno.EAGAIN)
            if t.blocked is not None and deadline is not None and k.sched.clock() >= deadline:
                raise SyscallError(Errno.EAGAIN)  # semtimedop's timeout ran out
            t.blocking_call().sem = (num, op == 0)  # (GETNCNT, GETZCNT count these)
            raise Blocked(sem, deadline)
        else:
            values[num] += op
    group = t.group
    for num, op, flags in ops:
        sem.pids[num] = t.pid
        if flags & SEM_UNDO and op:
            adj = group.semadj.get((sem.id, num), 0) - op
            group.semadj[(sem.id, num)] = adj
    sem.values = values
    sem.otime = int(k.config.clock_realtime())
    k.sched.wakeup(sem)
    return 0


def waiting(k: Kernel, sem: SemSet, num: int, for_zero: bool) -> int:
    """GETNCNT / GETZCNT: tasks asleep on counter `num` of `sem`."""
    sleepers = k.sched.sleepers.get(sem, [])
    return sum(1 for t in sleepers if t.blocked and t.blocked.sem == (num, for_zero))


def exit_sem(k: Kernel, group: ThreadGroup) -> None:
    """The process is gone: apply its SEM_UNDO adjustments (clamped to the
    counter's range, as Linux does) and wake whoever that lets go on."""
    for (semid, num), adj in group.semadj.items():
        sem = k.sysv_sem.ids.find(semid)
        if sem is None or num >= len(sem.values):
            continue
        sem.values[num] = min(max(sem.values[num] + adj, 0), SEMVMX)
        sem.pids[num] = group.tgid
        k.sched.wakeup(sem)
    group.semadj.clear()
