"""SysV IPC syscalls: shared memory (kernel/shm.py), semaphores (kernel/sem.py)
and message queues (kernel/msg.py).

i386 has two doors to them. musl 1.2.3 uses the old multiplexer, ipc (117):
ebx = the call (SEMOP 1, SEMGET 2, SEMCTL 3, SEMTIMEDOP 4, MSGSND 11, MSGRCV
12, MSGGET 13, MSGCTL 14, SHMAT 21, SHMDT 22, SHMGET 23, SHMCTL 24) and
passes the ctl commands with IPC_64 set, for the 64-bit-clean structures;
semctl's fourth argument arrives through a pointer to it, and msgrcv's
buffer and type through a pointer to the pair (`ipc_kludge`). Linux 4.18
added direct syscalls (semget 393, semctl 394, shmget/shmctl/shmat/shmdt
395-398, msgget/msgsnd/msgrcv/msgctl 399-402, semtimedop_time64 420), which
other libcs use; both doors are here.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi.errno import Errno
from nommu.abi.flags import (
    MSGCTL,
    MSGGET,
    MSGRCV,
    MSGSND,
    SEMCTL,
    SEMGET,
    SEMOP,
    SEMTIMEDOP,
    SHMAT,
    SHMCTL,
    SHMDT,
    SHMGET,
)
from nommu.kernel import ipcids, msg, sem, shm
from nommu.kernel.errors import SyscallError
from nommu.syscalls.fs import s32
from nommu.syscalls.table import syscall
from nommu.syscalls.time import read_timeout

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

SEMID64_DS = struct.Struct(S.IPC64_PERM.format + "7I")  # perm, otime(2), ctime(2), nsems, 2 unused
SEMINFO = struct.Struct("<10i")
MSQID64_DS = struct.Struct(S.IPC64_PERM.format + "13I")  # perm, 3 times(2), cbytes..lrpid, 2
MSGINFO = struct.Struct("<7iH2x")


@syscall("ipc", "ipc_call", "int", "hex", "hex", "ptr", "hex")
def sys_ipc(  # noqa: C901 (the multiplexer: one branch per call, as ksys_ipc)
    k: Kernel, t: Task, call: int, first: int, second: int, third: int, ptr: int, fifth: int
) -> int:
    version, call = call >> 16, call & 0xFFFF
    if call in (SEMOP, SEMTIMEDOP):
        timeout = fifth if call == SEMTIMEDOP else 0
        return do_semtimedop(k, t, s32(first), ptr, s32(second), timeout, time64=False)
    if call == SEMGET:
        return k.sysv_sem.semget(s32(first), s32(second), third)
    if call == SEMCTL:
        if not ptr:
            raise SyscallError(Errno.EINVAL)
        cmd = s32(third)
        cmd &= ~F.IPC_64 if cmd >= 0 else ~0  # (the layouts are the 64-bit ones)
        return do_semctl(k, t, s32(first), s32(second), cmd, k.uspace.read_u32(ptr))
    if call == SHMAT:
        if version == 1:  # the iBCS2 variant
            raise SyscallError(Errno.EINVAL)
        addr = shm.do_shmat(k, t, s32(first), ptr, second)
        k.uspace.write_u32(third, addr)
        return 0
    if call == SHMDT:
        return shm.do_shmdt(k, t, ptr)
    if call == SHMGET:
        return shm_get(k, first, second, third)
    if call == SHMCTL:
        cmd = s32(second)
        new = cmd >= 0 and bool(cmd & F.IPC_64)
        return do_shmctl(k, s32(first), cmd & ~F.IPC_64 if new else cmd, ptr, new)
    if call == MSGSND:
        return do_msgsnd(k, t, s32(first), ptr, s32(second), third)
    if call == MSGRCV:
        if version == 0:  # (ptr is struct ipc_kludge: the buffer, then the type)
            if not ptr:
                raise SyscallError(Errno.EINVAL)
            msgp, msgtyp = struct.unpack("<Ii", k.uspace.read(ptr, 8))
            return do_msgrcv(k, t, s32(first), msgp, s32(second), msgtyp, third)
        return do_msgrcv(k, t, s32(first), ptr, s32(second), s32(fifth), third)
    if call == MSGGET:
        return k.sysv_msg.msgget(s32(first), second)
    if call == MSGCTL:
        cmd = s32(second)
        cmd &= ~F.IPC_64 if cmd >= 0 else ~0
        return do_msgctl(k, t, s32(first), cmd, ptr)
    raise SyscallError(Errno.ENOSYS, f"ipc call {call} is not a SysV IPC operation")


def shm_get(k: Kernel, key: int, size: int, flags: int) -> int:
    return k.sysv_shm.shmget(s32(key), size, flags)


@syscall("shmget", "hex", "size", "hex")
def sys_shmget(k: Kernel, t: Task, key: int, size: int, flags: int) -> int:
    return shm_get(k, key, size, flags)


@syscall("shmat", "int", "ptr", "hex", ret="hex")
def sys_shmat(k: Kernel, t: Task, shmid: int, addr: int, flags: int) -> int:
    return shm.do_shmat(k, t, s32(shmid), addr, flags)


@syscall("shmdt", "ptr")
def sys_shmdt(k: Kernel, t: Task, addr: int) -> int:
    return shm.do_shmdt(k, t, addr)


@syscall("shmctl", "int", "int", "ptr")
def sys_shmctl(k: Kernel, t: Task, shmid: int, cmd: int, buf: int) -> int:
    command, ipc64 = ctl_command(k, s32(cmd))
    return do_shmctl(k, s32(shmid), command, buf, ipc64)


def ctl_command(k: Kernel, cmd: int) -> tuple[int, bool]:
    """A *ctl call's command and whether it uses the 64-bit structures. On
    an architecture whose table has the old_*ctl calls (ARM) the command
    carries IPC_64 (ipc_parse_version); elsewhere they are always 64-bit."""
    if not k.arch.IPC_PARSE_VERSION:
        return cmd, True
    if cmd >= 0 and cmd & F.IPC_64:
        return cmd & ~F.IPC_64, True
    return cmd, False


def do_shmctl(k: Kernel, shmid: int, cmd: int, buf: int, ipc64: bool) -> int:
    """IPC_STAT/SHM_STAT(_ANY), IPC_SET, IPC_RMID, SHM_LOCK/UNLOCK."""
    if cmd < 0 or shmid < 0:
        raise SyscallError(Errno.EINVAL)
    if cmd in (F.SHM_STAT, F.SHM_STAT_ANY):
        seg = k.sysv_shm.segments.get(shmid)
        if seg is None:
            raise SyscallError(Errno.EINVAL)
        k.uspace.write(buf, _pack_stat(seg, ipc64))
        return seg.id
    seg = k.sysv_shm.lookup(shmid)
    if cmd == F.IPC_STAT:
        k.uspace.write(buf, _pack_stat(seg, ipc64))
    elif cmd == F.IPC_SET:
        perm = S.IPC64_PERM if ipc64 else S.IPC_PERM_OLD
        mode = perm.unpack(k.uspace.read(buf, perm.size))[5]
        seg.mode = (seg.mode & ~0o777) | (mode & 0o777)
        seg.ctime = int(k.config.clock_realtime())
    elif cmd == F.IPC_RMID:
        k.sysv_shm.rmid(seg)
    elif cmd in (F.SHM_LOCK, F.SHM_UNLOCK):
        seg.mode = seg.mode | F.SHM_LOCKED if cmd == F.SHM_LOCK else seg.mode & ~F.SHM_LOCKED
    else:
        raise SyscallError(Errno.EINVAL)
    return 0


def _pack_stat(seg: shm.ShmSegment, ipc64: bool) -> bytes:
    pack = S.pack_shmid64_ds if ipc64 else S.pack_shmid_ds_old
    seq = seg.id >> ipcids.IPCMNI_SHIFT
    times, pids = (seg.atime, seg.dtime, seg.ctime), (seg.cpid, seg.lpid)
    return pack(seg.key, seg.mode, seq, seg.size, times, pids, seg.nattch)


# -- semaphores -------------------------------------------------------------------


@syscall("semget", "hex", "int", "hex")
def sys_semget(k: Kernel, t: Task, key: int, nsems: int, flags: int) -> int:
    return k.sysv_sem.semget(s32(key), s32(nsems), flags)


@syscall("semctl", "int", "int", "int", "hex")
def sys_semctl(k: Kernel, t: Task, semid: int, semnum: int, cmd: int, arg: int) -> int:
    command, _ = ctl_command(k, s32(cmd))  # (the layouts are the 64-bit ones)
    return do_semctl(k, t, s32(semid), s32(semnum), command, arg)


@syscall("semop", "int", "ptr", "size")
def sys_semop(k: Kernel, t: Task, semid: int, sops: int, nsops: int) -> int:
    """(ARM has it; i386 goes through ipc)"""
    return do_semtimedop(k, t, s32(semid), sops, nsops, 0, time64=False)


@syscall("semtimedop", "int", "ptr", "size", "ptr")
def sys_semtimedop(k: Kernel, t: Task, semid: int, sops: int, nsops: int, ts: int) -> int:
    """The 32-bit-time semtimedop (ARM has it; i386 goes through ipc)."""
    return do_semtimedop(k, t, s32(semid), sops, nsops, ts, time64=False)


@syscall("semtimedop_time64", "int", "ptr", "size", "ptr")
def sys_semtimedop_time64(k: Kernel, t: Task, semid: int, sops: int, nsops: int, ts: int) -> int:
    return do_semtimedop(k, t, s32(semid), sops, nsops, ts, time64=True)


def do_semtimedop(
    k: Kernel, t: Task, semid: int, sops: int, nsops: int, timeout: int, time64: bool
) -> int:
    if nsops < 1 or semid < 0:
        raise SyscallError(Errno.EINVAL)
    if nsops > sem.SEMOPM:
        raise SyscallError(Errno.E2BIG)
    ops = k.uspace.read(sops, nsops * sem.SEMBUF.size)
    deadline = read_timeout(k, t, timeout, time64, relative=True) if timeout else None
    return sem.semop(k, t, semid, ops, deadline)


def do_semctl(k: Kernel, t: Task, semid: int, semnum: int, cmd: int, arg: int) -> int:  # noqa: C901 (one branch per command)
    """semctl: the commands of ipc/sem.c (`arg` is the value or the pointer)."""
    table = k.sysv_sem.ids
    if cmd in (F.IPC_INFO, F.SEM_INFO):
        usz, aem = 20, sem.SEMVMX  # SEMUSZ, SEMAEM; SEM_INFO puts usage there
        if cmd == F.SEM_INFO:
            usz, aem = len(table.objects), sum(len(x.values) for x in table.objects.values())
        info = SEMINFO.pack(
            sem.SEMMNS, sem.SEMMNI, sem.SEMMNS, sem.SEMMNS, sem.SEMMSL,  # semmap mni mns mnu msl
            sem.SEMOPM, sem.SEMOPM, usz, sem.SEMVMX, aem,  # semopm ume usz vmx aem
        )  # fmt: skip
        k.uspace.write(arg, info)
        return max(table.objects, default=0)  # (the highest index in use)
    if cmd in (F.SEM_STAT, F.SEM_STAT_ANY):  # (semid is a table index here)
        return _stat_at_index(k, semid, arg, table.at_index, _pack_semid64)
    s = table.lookup(semid)
    n = len(s.values)
    now = int(k.config.clock_realtime())
    if cmd == F.IPC_STAT:
        k.uspace.write(arg, _pack_semid64(s))
    elif cmd == F.IPC_SET:
        mode = S.IPC64_PERM.unpack(k.uspace.read(arg, S.IPC64_PERM.size))[5]
        s.mode, s.ctime = (s.mode & ~0o777) | (mode & 0o777), now
    elif cmd == F.IPC_RMID:
        k.sysv_sem.remove(s)
    elif cmd == F.GETALL:
        k.uspace.write(arg, struct.pack(f"<{n}H", *s.values))
    elif cmd == F.SETALL:
        values = list(struct.unpack(f"<{n}H", k.uspace.read(arg, 2 * n)))
        if any(v > sem.SEMVMX for v in values):
            raise SyscallError(Errno.ERANGE)
        s.values, s.pids, s.ctime = values, [t.pid] * n, now
        k.sysv_sem.changed(s, range(n))
    elif cmd in (F.GETVAL, F.GETPID, F.GETNCNT, F.GETZCNT, F.SETVAL):
        if not 0 <= semnum < n:
            raise SyscallError(Errno.EINVAL)
        if cmd == F.GETVAL:
            return s.values[semnum]
        if cmd == F.GETPID:
            return s.pids[semnum]
        if cmd in (F.GETNCNT, F.GETZCNT):
            return sem.waiting(k, s, semnum, for_zero=cmd == F.GETZCNT)
        value = s32(arg)
        if not 0 <= value <= sem.SEMVMX:
            raise SyscallError(Errno.ERANGE)
        s.values[semnum], s.pids[semnum], s.ctime = value, t.pid, now
        k.sysv_sem.changed(s, [semnum])
    else:
        raise SyscallError(Errno.EINVAL)
    return 0


def _stat_at_index(
    k: Kernel, index: int, buf: int, at: Callable[[int], Any], pack: Callable[[Any], bytes]
) -> int:
    """SEM_STAT, MSG_STAT: IPC_STAT of the object at a table index; its id."""
    found = at(index)
    k.uspace.write(buf, pack(found))
    return int(found.id)


def _pack_semid64(s: sem.SemSet) -> bytes:
    """struct semid64_ds (i386); uid and gid 0 (root is the only user)."""
    seq = s.id >> ipcids.IPCMNI_SHIFT
    perm = (s.key, 0, 0, 0, 0, s.mode, seq, 0, 0)
    return SEMID64_DS.pack(*perm, s.otime, 0, s.ctime, 0, len(s.values), 0, 0)


# -- message queues ---------------------------------------------------------------


@syscall("msgget", "hex", "hex")
def sys_msgget(k: Kernel, t: Task, key: int, flags: int) -> int:
    return k.sysv_msg.msgget(s32(key), flags)


@syscall("msgsnd", "int", "ptr", "size", "hex")
def sys_msgsnd(k: Kernel, t: Task, msqid: int, msgp: int, size: int, flags: int) -> int:
    return do_msgsnd(k, t, s32(msqid), msgp, s32(size), flags)


@syscall("msgrcv", "int", "ptr", "size", "int", "hex")
def sys_msgrcv(k: Kernel, t: Task, msqid: int, msgp: int, size: int, typ: int, flags: int) -> int:
    return do_msgrcv(k, t, s32(msqid), msgp, s32(size), s32(typ), flags)


@syscall("msgctl", "int", "int", "ptr")
def sys_msgctl(k: Kernel, t: Task, msqid: int, cmd: int, buf: int) -> int:
    command, _ = ctl_command(k, s32(cmd))  # (the layouts are the 64-bit ones)
    return do_msgctl(k, t, s32(msqid), command, buf)


def do_msgsnd(k: Kernel, t: Task, msqid: int, msgp: int, size: int, flags: int) -> int:
    if size > msg.MSGMAX or size < 0 or msqid < 0:
        raise SyscallError(Errno.EINVAL)
    mtype = s32(k.uspace.read_u32(msgp))
    if mtype < 1:
        raise SyscallError(Errno.EINVAL)
    return msg.msgsnd(k, t, msqid, mtype, k.uspace.read(msgp + 4, size), flags)


def do_msgrcv(k: Kernel, t: Task, msqid: int, msgp: int, size: int, msgtyp: int, flags: int) -> int:
    if msqid < 0 or size < 0:
        raise SyscallError(Errno.EINVAL)
    if flags & F.MSG_COPY:
        raise SyscallError(Errno.ENOSYS, "MSG_COPY (checkpoint/restore) is not provided")
    k.uspace.read(msgp, 4)  # (EFAULT before a message is taken)
    mtype, text = msg.msgrcv(k, t, msqid, size, msgtyp, flags)
    k.uspace.write(msgp, struct.pack("<i", mtype) + text)
    return len(text)


def do_msgctl(k: Kernel, t: Task, msqid: int, cmd: int, buf: int) -> int:
    """msgctl: the commands of ipc/msg.c."""
    table = k.sysv_msg.ids
    if cmd in (F.IPC_INFO, F.MSG_INFO):
        pool, count, size = msg.MSGPOOL, msg.MSGMNB, msg.MSGMNB  # msgpool, msgmap, msgtql
        if cmd == F.MSG_INFO:
            queues = table.objects.values()
            pool, count = len(queues), sum(len(q.messages) for q in queues)
            size = sum(q.cbytes for q in queues)
        info = MSGINFO.pack(
            pool, count, msg.MSGMAX, msg.MSGMNB, msg.MSGMNI, msg.MSGSSZ, size, 0xFFFF
        )
        k.uspace.write(buf, info)
        return max(table.objects, default=0)  # (the highest index in use)
    if cmd in (F.MSG_STAT, F.MSG_STAT_ANY):  # (msqid is a table index here)
        return _stat_at_index(k, msqid, buf, table.at_index, _pack_msqid64)
    queue = table.lookup(msqid)
    if cmd == F.IPC_STAT:
        k.uspace.write(buf, _pack_msqid64(queue))
    elif cmd == F.IPC_SET:
        fields = MSQID64_DS.unpack(k.uspace.read(buf, MSQID64_DS.size))
        mode, qbytes = fields[5], fields[17]
        queue.mode = (queue.mode & ~0o777) | (mode & 0o777)
        queue.qbytes, queue.ctime = qbytes, int(k.config.clock_realtime())
        k.sched.wakeup(queue)  # (more room, maybe)
    elif cmd == F.IPC_RMID:
        k.sysv_msg.remove(queue)
    else:
        raise SyscallError(Errno.EINVAL)
    return 0


def _pack_msqid64(q: msg.MsgQueue) -> bytes:
    """struct msqid64_ds (i386); uid and gid 0 (root is the only user)."""
    perm = (q.key, 0, 0, 0, 0, q.mode, q.id >> ipcids.IPCMNI_SHIFT, 0, 0)
    times = (q.stime, 0, q.rtime, 0, q.ctime, 0)
    counts = (q.cbytes, len(q.messages), q.qbytes, q.lspid, q.lrpid, 0, 0)
    return MSQID64_DS.pack(*perm, *times, *counts)
