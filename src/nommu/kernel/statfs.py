"""statfs: what each file system the guest sees says about itself.

The guest sees four kinds of file system, and statfs reports each as Linux
would:

* the root, a host directory: the host file system's own numbers (its type,
  block size and counts, name length, mount flags), read with fstatfs on a
  descriptor of the file (never a host path, see kernel/hostfs.py), plus
  ST_RDONLY when the root is read-only (`--read-only`);
* /dev/shm: tmpfs (TMPFS_MAGIC), sized as Linux sizes a tmpfs by default,
  half of RAM, with the pages its files hold counted as used. (A real
  no-MMU kernel has no shmem: its "tmpfs" is ramfs and says RAMFS_MAGIC
  with no size. nommu reports tmpfs in both modes so programs see what
  they see on an ordinary Linux);
* /proc: PROC_SUPER_MAGIC, no blocks;
* the device files (/dev/null...): the tmpfs /dev is; pipes: pipefs.
"""

from __future__ import annotations

import ctypes
import functools
import struct
from dataclasses import dataclass

from nommu.abi import flags as F
from nommu.abi.errno import Errno, from_host
from nommu.abi.flags import NAME_MAX, PAGE_SIZE
from nommu.kernel.errors import SyscallError

# What Linux mounts /proc and /dev/shm with (nosuid, nodev, noexec, relatime).
PSEUDO_FLAGS = F.ST_VALID | F.ST_NOSUID | F.ST_NODEV | F.ST_RELATIME
PROC_FLAGS = PSEUDO_FLAGS | F.ST_NOEXEC


@dataclass(frozen=True, slots=True)
class StatFs:
    """struct statfs in guest terms (counts in f_bsize blocks)."""

    type: int
    bsize: int
    blocks: int
    bfree: int
    bavail: int
    files: int
    ffree: int
    fsid: tuple[int, int]
    namelen: int
    frsize: int
    flags: int


def pseudo_fs(magic: int, flags: int = PSEUDO_FLAGS) -> StatFs:
    """A file system with no blocks of its own (/proc, pipefs, /dev)."""
    return StatFs(magic, PAGE_SIZE, 0, 0, 0, 0, 0, (0, 0), NAME_MAX, PAGE_SIZE, flags)


def tmpfs(ram_pages: int, used_pages: int, inodes: int) -> StatFs:
    """A tmpfs of Linux's default size (half of RAM, as many inodes as pages)."""
    blocks = ram_pages // 2
    free = max(blocks - used_pages, 0)
    ffree = max(blocks - inodes, 0)
    return StatFs(
        F.TMPFS_MAGIC, PAGE_SIZE, blocks, free, free, blocks, ffree, (0, 0),
        NAME_MAX, PAGE_SIZE, PSEUDO_FLAGS,
    )  # fmt: skip


# The host's struct statfs: words (C longs), except f_fsid, two ints; spare
# words follow. Python's os.fstatvfs has no f_type, so libc's fstatfs it is.
_W = "Q" if ctypes.sizeof(ctypes.c_long) == 8 else "I"
_HOST_STATFS = struct.Struct("=" + _W * 7 + "ii" + _W * 3 + _W * 6)


def host_fstatfs(fd: int) -> StatFs:
    """fstatfs of a host descriptor."""
    buf = ctypes.create_string_buffer(_HOST_STATFS.size)
    if _libc().fstatfs(fd, buf) != 0:
        raise SyscallError(from_host(OSError(ctypes.get_errno(), "fstatfs")))
    ftype, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1, namelen, frsize, flags = (
        _HOST_STATFS.unpack_from(buf.raw)[:12]
    )
    return StatFs(
        ftype & 0xFFFFFFFF, bsize, blocks, bfree, bavail, files, ffree,
        (fsid0, fsid1), namelen, frsize, flags,
    )  # fmt: skip


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


# struct statfs64 (asm-generic/statfs.h, packed to 4 bytes on i386): 84 bytes
STATFS64 = struct.Struct("<IIQQQQQiiIII16x")
# struct statfs (32-bit words): 64 bytes
STATFS32 = struct.Struct("<IIIIIIIiiIII16x")


def pack_statfs64(s: StatFs) -> bytes:
    return STATFS64.pack(
        s.type, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree,
        *s.fsid, s.namelen, s.frsize, s.flags,
    )  # fmt: skip


def pack_statfs(s: StatFs) -> bytes:
    """The old struct statfs: EOVERFLOW when a count does not fit 32 bits
    (f_files and f_ffree of -1, "unknown", pass as they are)."""
    if (s.blocks | s.bfree | s.bavail | s.bsize | s.frsize) >> 32:
        raise SyscallError(Errno.EOVERFLOW)
    files, ffree = (_fit_count(n) for n in (s.files, s.ffree))
    return STATFS32.pack(
        s.type, s.bsize, s.blocks, s.bfree, s.bavail, files, ffree,
        *s.fsid, s.namelen, s.frsize, s.flags,
    )  # fmt: skip


def _fit_count(n: int) -> int:
    if n in (-1, (1 << 64) - 1):
        return 0xFFFFFFFF
    if n >> 32:
        raise SyscallError(Errno.EOVERFLOW)
    return n
