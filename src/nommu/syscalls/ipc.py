"""SysV IPC syscalls: shared memory (kernel/shm.py).

i386 has two doors to them. musl 1.2.3 uses the old multiplexer, ipc (117):
ebx = the call (SHMAT 21, SHMDT 22, SHMGET 23, SHMCTL 24) and shmctl passes
its command with IPC_64 set, for the 64-bit-clean struct shmid64_ds. Linux
4.18 added the direct shmget/shmctl/shmat/shmdt (395-398), which other
libcs use; both are here. Semaphores and message queues are not implemented
(ENOSYS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import structs as S
from nommu.abi.errno import Errno
from nommu.kernel import shm
from nommu.kernel.errors import SyscallError
from nommu.syscalls.fs import s32
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

SHMAT, SHMDT, SHMGET, SHMCTL = 21, 22, 23, 24


@syscall("ipc", "int", "int", "hex", "hex", "ptr", "hex")
def sys_ipc(
    k: Kernel, t: Task, call: int, first: int, second: int, third: int, ptr: int, fifth: int
) -> int:
    version, call = call >> 16, call & 0xFFFF
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
        new = cmd >= 0 and bool(cmd & shm.IPC_64)
        return do_shmctl(k, s32(first), cmd & ~shm.IPC_64 if new else cmd, ptr, new)
    raise SyscallError(Errno.ENOSYS, "SysV semaphores and message queues are not implemented")


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
    return do_shmctl(k, s32(shmid), s32(cmd), buf, True)


def do_shmctl(k: Kernel, shmid: int, cmd: int, buf: int, ipc64: bool) -> int:
    """IPC_STAT/SHM_STAT(_ANY), IPC_SET, IPC_RMID, SHM_LOCK/UNLOCK."""
    if cmd < 0 or shmid < 0:
        raise SyscallError(Errno.EINVAL)
    if cmd in (shm.SHM_STAT, shm.SHM_STAT_ANY):
        seg = k.sysv_shm.segments.get(shmid)
        if seg is None:
            raise SyscallError(Errno.EINVAL)
        k.uspace.write(buf, _pack_stat(seg, ipc64))
        return seg.id
    seg = k.sysv_shm.lookup(shmid)
    if cmd == shm.IPC_STAT:
        k.uspace.write(buf, _pack_stat(seg, ipc64))
    elif cmd == shm.IPC_SET:
        perm = S.IPC64_PERM if ipc64 else S.IPC_PERM_OLD
        mode = perm.unpack(k.uspace.read(buf, perm.size))[5]
        seg.mode = (seg.mode & ~0o777) | (mode & 0o777)
        seg.ctime = int(k.config.clock_realtime())
    elif cmd == shm.IPC_RMID:
        k.sysv_shm.rmid(seg)
    elif cmd in (shm.SHM_LOCK, shm.SHM_UNLOCK):
        seg.mode = seg.mode | shm.SHM_LOCKED if cmd == shm.SHM_LOCK else seg.mode & ~shm.SHM_LOCKED
    else:
        raise SyscallError(Errno.EINVAL)
    return 0


def _pack_stat(seg: shm.ShmSegment, ipc64: bool) -> bytes:
    pack = S.pack_shmid64_ds if ipc64 else S.pack_shmid_ds_old
    seq = seg.id >> shm.IPCMNI_SHIFT
    times, pids = (seg.atime, seg.dtime, seg.ctime), (seg.cpid, seg.lpid)
    return pack(seg.key, seg.mode, seq, seg.size, times, pids, seg.nattch)
