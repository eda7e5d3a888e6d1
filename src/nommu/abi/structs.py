"""Binary layouts of the i386 structures syscalls exchange with the guest."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

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
# struct flock64 (include/uapi/asm-generic/fcntl.h; i386 packs it), 24 bytes
FLOCK64 = struct.Struct("<hhqqi")
# struct statx, 256 bytes
STATX_HEAD = struct.Struct("<IIQIIIHHQQQQ")
STATX_TS = struct.Struct("<qIi")


@dataclass(frozen=True, slots=True)
class StatInfo:
    """What stat64/statx report, in guest terms."""

    dev: int
    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    rdev: int
    size: int
    blksize: int
    blocks: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def from_host(cls, s: os.stat_result) -> StatInfo:
        return cls(
            s.st_dev & 0xFFFFFFFF,
            s.st_ino,
            s.st_mode,
            s.st_nlink,
            s.st_uid,
            s.st_gid,
            s.st_rdev,
            s.st_size,
            s.st_blksize,
            s.st_blocks,
            s.st_atime_ns,
            s.st_mtime_ns,
            s.st_ctime_ns,
        )


def pack_stat64(s: StatInfo, layout: struct.Struct = STAT64) -> bytes:
    """struct stat64 in `layout` (the architecture's: k.arch.STAT64)."""
    return layout.pack(
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


# SysV shm: struct shmid64_ds (asm-generic/shmbuf.h, 32-bit: 84 bytes) with its
# struct ipc64_perm (asm-generic/ipcbuf.h; i386's __kernel_mode_t is 16 bits),
# and the old struct shmid_ds with the 16-bit ipc_perm (linux/shm.h, 48 bytes)
# that ipc(SHMCTL) uses without IPC_64.
IPC64_PERM = struct.Struct("<iIIIIH2xH2xII")
SHMID64_DS = struct.Struct("<iIIIIH2xH2xII" + "IIIIIIIiiIII")
IPC_PERM_OLD = struct.Struct("<iHHHHHH")
SHMID_DS_OLD = struct.Struct("<iHHHHHH" + "iiiiHHHHII")


def pack_shmid64_ds(
    key: int,
    mode: int,
    seq: int,
    size: int,
    times: tuple[int, int, int],
    pids: tuple[int, int],
    nattch: int,
) -> bytes:
    """IPC_STAT's answer; uid and gid are 0 (root is the only user)."""
    atime, dtime, ctime = times
    return SHMID64_DS.pack(
        key, 0, 0, 0, 0, mode, seq, 0, 0, size, atime, 0, dtime, 0, ctime, 0, *pids, nattch, 0, 0
    )


def pack_shmid_ds_old(
    key: int,
    mode: int,
    seq: int,
    size: int,
    times: tuple[int, int, int],
    pids: tuple[int, int],
    nattch: int,
) -> bytes:
    return SHMID_DS_OLD.pack(
        key,
        0,
        0,
        0,
        0,
        mode,
        seq,
        size,
        *times,
        pids[0] & 0xFFFF,
        pids[1] & 0xFFFF,
        nattch & 0xFFFF,
        0,
        0,
        0,
    )
