"""Lock syscalls: fcntl's record-lock commands and flock(2) (kernel/locks.py
holds the locks; these read and write the guest's struct flock).

On i386 fcntl takes two layouts: F_GETLK, F_SETLK and F_SETLKW a struct
flock with 32-bit offsets; F_GETLK64, F_SETLK64, F_SETLKW64 (fcntl64 only;
musl always uses these) and the OFD commands a struct flock64. A range is
l_start from l_whence (SEEK_SET, SEEK_CUR: the file position, SEEK_END: its
size) for l_len bytes: 0 means to the end of the file however far it grows,
a negative length the bytes before l_start.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.locks import OFFSET_MAX, FileLock
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.files import OpenFile
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

FLOCK32 = struct.Struct("<hhiii")  # l_type, l_whence, l_start, l_len, l_pid: 16 bytes
OFF32_MAX = (1 << 31) - 1

GETLK = (F.F_GETLK, F.F_GETLK64, F.F_OFD_GETLK)
SETLKW = (F.F_SETLKW, F.F_SETLKW64, F.F_OFD_SETLKW)
OFD = (F.F_OFD_GETLK, F.F_OFD_SETLK, F.F_OFD_SETLKW)
FLOCK32_CMDS = (F.F_GETLK, F.F_SETLK, F.F_SETLKW)
LOCK_CMDS = (*GETLK, F.F_SETLK, F.F_SETLK64, F.F_OFD_SETLK, *SETLKW)


def lock_range(f: OpenFile, whence: int, start: int, length: int) -> tuple[int, int]:
    """[first, last] byte of the range struct flock describes (Linux's
    flock_to_posix_lock: EINVAL for a bad whence or a start before 0,
    EOVERFLOW past the largest offset)."""
    if whence == F.SEEK_SET:
        base = 0
    elif whence == F.SEEK_CUR:
        base = f.lseek(0, F.SEEK_CUR)
    elif whence == F.SEEK_END:
        base = f.stat().size
    else:
        raise SyscallError(Errno.EINVAL)
    if start > OFFSET_MAX - base:
        raise SyscallError(Errno.EOVERFLOW)
    start += base
    if start < 0:
        raise SyscallError(Errno.EINVAL)
    if length > 0:
        if length - 1 > OFFSET_MAX - start:
            raise SyscallError(Errno.EOVERFLOW)
        return start, start + length - 1
    if length < 0:
        if start + length < 0:
            raise SyscallError(Errno.EINVAL)
        return start + length, start - 1
    return start, OFFSET_MAX


def do_lock(k: Kernel, t: Task, f: OpenFile, cmd: int, arg: int) -> int:
    """fcntl F_GETLK/F_SETLK/F_SETLKW, their 64-bit and OFD forms."""
    fmt = FLOCK32 if cmd in FLOCK32_CMDS else k.arch.FLOCK64
    ltype, whence, start, length, pid = k.uspace.read_struct(fmt, arg)
    if ltype not in (F.F_RDLCK, F.F_WRLCK, F.F_UNLCK) or (cmd in GETLK and ltype == F.F_UNLCK):
        raise SyscallError(Errno.EINVAL)
    first, last = lock_range(f, whence, start, length)
    ofd = cmd in OFD
    if ofd and pid != 0:
        raise SyscallError(Errno.EINVAL)
    lock = FileLock(f if ofd else t.files, -1 if ofd else t.pid, ltype, first, last)
    if cmd in GETLK:
        return get_lock(k, f, lock, fmt, arg)
    if (ltype == F.F_RDLCK and not f.readable) or (ltype == F.F_WRLCK and not f.writable):
        raise SyscallError(Errno.EBADF)
    if ofd:
        f.lock_table = k.locks
    else:
        t.files.locks = k.locks
    k.locks.set_lock(t, f.inode(), lock, wait=cmd in SETLKW)
    return 0


def get_lock(k: Kernel, f: OpenFile, want: FileLock, fmt: struct.Struct, arg: int) -> int:
    """F_GETLK: the lock that would block `want`, or l_type F_UNLCK (the rest
    of the caller's struct left as it was)."""
    holder = k.locks.find_conflict(f.inode(), want)
    if holder is None:
        k.uspace.write(arg, F.F_UNLCK.to_bytes(2, "little"))
        return 0
    length = 0 if holder.end == OFFSET_MAX else holder.end - holder.start + 1
    if fmt is FLOCK32:
        if holder.start > OFF32_MAX:
            raise SyscallError(Errno.EOVERFLOW)
        length = min(length, OFF32_MAX)
    k.uspace.write(arg, fmt.pack(holder.type, F.SEEK_SET, holder.start, length, holder.pid))
    return 0


@syscall("flock", "fd", "flock_op")
def sys_flock(k: Kernel, t: Task, fd: int, op: int) -> int:
    f = t.files.get(fd)
    if f.flags & F.O_PATH:
        raise SyscallError(Errno.EBADF)
    f.lock_table = k.locks
    k.locks.flock(f.inode(), f, op)
    return 0
