"""File timestamps: utimensat (and utimensat_time64), futimesat, utimes, utime.

Every one of them is Linux's do_utimes: set a file's access and modification
times, each to a given time, to now (UTIME_NOW) or left alone (UTIME_OMIT);
the change time becomes now. A NULL path with a descriptor is futimens. The
older calls only differ in how the times arrive (timevals in microseconds,
a utimbuf in whole seconds) and never take flags.

The order of the checks is Linux's: flags, then the path (ENOENT...), then
the times (EINVAL), then a read-only root (EROFS). Host files are changed
through HostFs, which names them by their parent directory; /dev/shm files
keep their times in the RAM file system; device and /proc files keep none.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.files import HostFile, OpenFile, Times
from nommu.kernel.vfs import Resolved
from nommu.syscalls.fs import path_arg, resolve_at, s32
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

NSEC = 1_000_000_000
UTIMBUF = struct.Struct("<ii")  # struct utimbuf: actime, modtime (32-bit time_t)
RawTimes = list[tuple[int, int]] | None  # [(sec, nsec) for atime, mtime], None: both now


def read_timespecs(k: Kernel, addr: int, fmt: struct.Struct) -> RawTimes:
    """utimensat's times[2] (NULL: both now)."""
    if not addr:
        return None
    raw = k.uspace.read(addr, 2 * fmt.size)
    # a time64 tv_nsec is a long on i386: its upper half is padding
    return [
        (sec, nsec & 0xFFFFFFFF if fmt.size == 16 else nsec) for sec, nsec in fmt.iter_unpack(raw)
    ]


def read_timevals(k: Kernel, addr: int) -> RawTimes:
    """futimesat/utimes' struct timeval[2], as (sec, nsec); EINVAL for a bad tv_usec."""
    if not addr:
        return None
    pairs = list(S.TIMEVAL32.iter_unpack(k.uspace.read(addr, 2 * S.TIMEVAL32.size)))
    if any(not 0 <= usec < 1_000_000 for _, usec in pairs):
        raise SyscallError(Errno.EINVAL)
    return [(sec, usec * 1000) for sec, usec in pairs]


def new_times(k: Kernel, raw: RawTimes) -> Times:
    """The times to set, in ns (see files.Times); EINVAL for a bad tv_nsec."""
    if raw is None:
        return None
    special = (F.UTIME_NOW, F.UTIME_OMIT)
    if any(not (0 <= nsec < NSEC or nsec in special) for _, nsec in raw):
        raise SyscallError(Errno.EINVAL)
    if all(nsec == F.UTIME_NOW for _, nsec in raw):
        return None
    now = int(k.config.clock_realtime() * NSEC)

    def one(sec: int, nsec: int) -> int | None:
        return None if nsec == F.UTIME_OMIT else now if nsec == F.UTIME_NOW else sec * NSEC + nsec

    return one(*raw[0]), one(*raw[1])


def do_utimes(k: Kernel, t: Task, dirfd: int, pathp: int, raw: RawTimes, flags: int) -> int:
    """Linux's do_utimes: by path, or (a NULL path and a descriptor) futimens."""
    if raw is not None and all(nsec == F.UTIME_OMIT for _, nsec in raw):
        return 0  # nothing to do: not even the path is looked at
    if pathp == 0 and s32(dirfd) != F.AT_FDCWD:
        if flags:
            raise SyscallError(Errno.EINVAL)
        return file_times(k, t.files.get(dirfd), raw)
    if flags & ~(F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH):
        raise SyscallError(Errno.EINVAL)
    path = path_arg(k, pathp)
    if path == "" and flags & F.AT_EMPTY_PATH:
        return file_times(k, t.files.get(dirfd), raw)
    r = resolve_at(k, t, dirfd, path, follow=not flags & F.AT_SYMLINK_NOFOLLOW)
    return path_times(k, r, raw)


def file_times(k: Kernel, f: OpenFile, raw: RawTimes) -> int:
    if f.flags & F.O_PATH:
        raise SyscallError(Errno.EBADF)
    times = new_times(k, raw)
    if isinstance(f, HostFile):
        k.hostfs.check_writable()
    f.set_times(times)
    return 0


def path_times(k: Kernel, r: Resolved, raw: RawTimes) -> int:
    if not r.exists and r.device is None:
        raise SyscallError(Errno.ENOENT)
    times = new_times(k, raw)
    if r.shm is not None and k.vfs.shmfs is not None:
        k.vfs.shmfs.inode(r.shm).set_times(times)
    elif r.device is None and r.proc is None:  # kernel files keep no times
        k.hostfs.set_times(r, times)
    return 0


@syscall("utimensat", "dirfd", "path", "utimens", "atflags")
def sys_utimensat(k: Kernel, t: Task, dirfd: int, path: int, times: int, flags: int) -> int:
    return do_utimes(k, t, dirfd, path, read_timespecs(k, times, S.TIMESPEC32), flags)


@syscall("utimensat_time64", "dirfd", "path", "utimens64", "atflags")
def sys_utimensat_time64(k: Kernel, t: Task, dirfd: int, path: int, times: int, flags: int) -> int:
    return do_utimes(k, t, dirfd, path, read_timespecs(k, times, S.TIMESPEC64), flags)


@syscall("futimesat", "dirfd", "path", "timevals")
def sys_futimesat(k: Kernel, t: Task, dirfd: int, path: int, times: int) -> int:
    return do_utimes(k, t, dirfd, path, read_timevals(k, times), 0)


@syscall("utimes", "path", "timevals")
def sys_utimes(k: Kernel, t: Task, path: int, times: int) -> int:
    return do_utimes(k, t, F.AT_FDCWD, path, read_timevals(k, times), 0)


@syscall("utime", "path", "utimbuf")
def sys_utime(k: Kernel, t: Task, path: int, buf: int) -> int:
    raw = None
    if buf:
        actime, modtime = k.uspace.read_struct(UTIMBUF, buf)
        raw = [(actime, 0), (modtime, 0)]
    return do_utimes(k, t, F.AT_FDCWD, path, raw, 0)
