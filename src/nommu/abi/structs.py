"""Binary layouts of the i386 structures syscalls exchange with the guest."""

from __future__ import annotations

import struct

from nommu.kernel.files import StatInfo

TIMESPEC32 = struct.Struct("<ii")  # struct timespec with 32-bit time_t (old syscalls)
TIMESPEC64 = struct.Struct("<qq")  # struct __kernel_timespec (the *_time64 syscalls)
TIMEVAL32 = struct.Struct("<ii")
IOVEC = struct.Struct("<II")
WINSIZE = struct.Struct("<HHHH")
RLIMIT64 = struct.Struct("<QQ")
RLIMIT32 = struct.Struct("<II")
SIGACTION = struct.Struct("<IIIQ")  # the kernel's struct sigaction on i386 (rt_sigaction)
STACK_T = struct.Struct("<IiI")  # ss_sp, ss_flags, ss_size
RUSAGE_SIZE = 72  # struct rusage on i386: 2 timevals + 14 longs
UTSNAME_FIELD = 65

# struct stat64 (arch/x86/include/uapi/asm/stat.h), 96 bytes
STAT64 = struct.Struct("<Q4xIIIIIQ4xqIQIIIIIIQ")
# struct statx, 256 bytes
STATX_HEAD = struct.Struct("<IIQIIIHHQQQQ")
STATX_TS = struct.Struct("<qIi")


def pack_stat64(s: StatInfo) -> bytes:
    return STAT64.pack(
        s.dev,
        s.ino & 0xFFFFFFFF,
        s.mode,
        s.nlink,
        s.uid,
        s.gid,
        s.rdev,
        s.size,
        s.blksize,
        s.blocks,
        s.atime_ns // 10**9,
        s.atime_ns % 10**9,
        s.mtime_ns // 10**9,
        s.mtime_ns % 10**9,
        s.ctime_ns // 10**9,
        s.ctime_ns % 10**9,
        s.ino,
    )


STATX_BASIC_STATS = 0x7FF


def pack_statx(s: StatInfo) -> bytes:
    head = STATX_HEAD.pack(
        STATX_BASIC_STATS,
        s.blksize,
        0,
        s.nlink,
        s.uid,
        s.gid,
        s.mode & 0xFFFF,
        0,
        s.ino,
        s.size,
        s.blocks,
        0,
    )

    def ts(ns: int) -> bytes:
        return STATX_TS.pack(ns // 10**9, ns % 10**9, 0)

    times = ts(s.atime_ns) + ts(0) + ts(s.ctime_ns) + ts(s.mtime_ns)
    devs = struct.pack("<IIII", s.rdev >> 8, s.rdev & 0xFF, s.dev >> 8, s.dev & 0xFF)
    out = head + times + devs
    return out + bytes(256 - len(out))
