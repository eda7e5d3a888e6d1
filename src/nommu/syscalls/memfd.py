"""memfd_create, the memfd seals (fcntl F_ADD_SEALS/F_GET_SEALS) and fallocate.

A memfd is a RAM file with no name: a /dev/shm inode (kernel/ramfs.py) that
no directory lists, opened read-write. Mapping it MAP_SHARED is a shared
file mapping in both memory models (without an MMU, the file's own
contiguous pages once ftruncate has sized it from 0, as for shm_open).
These behave as Linux's tmpfs does (seals, fallocate): a no-MMU kernel built
without CONFIG_SHMEM would back them with plain ramfs and refuse both.
"""

from __future__ import annotations

import stat as st
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.ramfs import RamFile
from nommu.syscalls.fs import s64
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

MFD_NAME_MAX = 249  # NAME_MAX minus the "memfd:" prefix
MFD_FLAGS = F.MFD_CLOEXEC | F.MFD_ALLOW_SEALING | F.MFD_NOEXEC_SEAL | F.MFD_EXEC


@syscall("memfd_create", "str", "memfd_flags", ret="fd")
def sys_memfd_create(k: Kernel, t: Task, name: int, flags: int) -> int:
    if flags & ~MFD_FLAGS or (flags & F.MFD_EXEC and flags & F.MFD_NOEXEC_SEAL):
        raise SyscallError(Errno.EINVAL)
    raw = k.uspace.read_cstr(name, MFD_NAME_MAX + 2)
    if len(raw) > MFD_NAME_MAX:
        raise SyscallError(Errno.EINVAL)
    assert k.vfs.shmfs is not None  # (the kernel always has one: /dev/shm)
    inode = k.vfs.shmfs.new_inode(0o666 if flags & F.MFD_NOEXEC_SEAL else 0o777)
    inode.nlink = 0  # (no name: it goes when the last reference does)
    if flags & F.MFD_NOEXEC_SEAL:
        inode.seals = F.F_SEAL_EXEC
    elif flags & F.MFD_ALLOW_SEALING:
        inode.seals = 0
    path = f"/memfd:{raw.decode(errors='replace')} (deleted)"
    f = RamFile(inode, F.O_RDWR | F.O_LARGEFILE, path)
    return t.files.install(f, cloexec=bool(flags & F.MFD_CLOEXEC))


@syscall("fallocate", "fd", "falloc_mode", "int", "int", "int", "int")
def sys_fallocate(
    k: Kernel, t: Task, fd: int, mode: int, off_lo: int, off_hi: int, len_lo: int, len_hi: int
) -> int:
    """Linux's vfs_fallocate checks, in order, then the file system's own."""
    offset, length = s64(off_lo, off_hi), s64(len_lo, len_hi)
    if offset < 0 or length <= 0:
        raise SyscallError(Errno.EINVAL)
    if mode & ~0x7F:
        raise SyscallError(Errno.EOPNOTSUPP)
    if mode & F.FALLOC_FL_PUNCH_HOLE and not mode & F.FALLOC_FL_KEEP_SIZE:
        raise SyscallError(Errno.EOPNOTSUPP)
    f = t.files.get(fd)
    if not f.writable:
        raise SyscallError(Errno.EBADF)
    kind = st.S_IFMT(f.stat().mode)
    if kind == st.S_IFIFO:
        raise SyscallError(Errno.ESPIPE)
    if kind == st.S_IFDIR:
        raise SyscallError(Errno.EISDIR)
    if kind != st.S_IFREG:
        raise SyscallError(Errno.ENODEV)
    if offset + length > (1 << 63) - 1:
        raise SyscallError(Errno.EFBIG)
    f.fallocate(mode, offset, length)
    return 0
