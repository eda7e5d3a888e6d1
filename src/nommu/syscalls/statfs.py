"""statfs, fstatfs, statfs64, fstatfs64: what a file system says about itself
(kernel/statfs.py decides the numbers; these handlers find the file and
write the i386 layout: the old 32-bit struct statfs, or struct statfs64,
whose size the caller passes and must be exactly 84 bytes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.files import HostFile, OpenFile
from nommu.kernel.statfs import PROC_FLAGS, STATFS64, StatFs, pack_statfs, pack_statfs64, pseudo_fs
from nommu.syscalls.fs import path_arg, resolve_at
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task


def path_statfs(k: Kernel, t: Task, pathp: int) -> StatFs:
    """statfs of the file system `pathp` is on (a final symlink is followed)."""
    r = resolve_at(k, t, F.AT_FDCWD, path_arg(k, pathp))
    if not r.exists and r.device is None:
        raise SyscallError(Errno.ENOENT)
    if r.shm is not None and k.vfs.shmfs is not None:
        return k.vfs.shmfs.statfs()
    if r.proc is not None:
        return pseudo_fs(F.PROC_SUPER_MAGIC, PROC_FLAGS)
    if r.device is not None:
        return pseudo_fs(F.TMPFS_MAGIC)
    return k.hostfs.statfs(r)


def file_statfs(k: Kernel, f: OpenFile) -> StatFs:
    s = f.statfs()
    return k.hostfs.mounted(s) if isinstance(f, HostFile) else s


def check_size(k: Kernel, size: int) -> None:
    """The size the caller gives for struct statfs64 must be its size (ARM
    also takes 88, what EABI alignment makes of it: sys_statfs64_wrapper)."""
    if size != STATFS64.size and size not in k.arch.STATFS64_SIZES:
        raise SyscallError(Errno.EINVAL)


@syscall("statfs", "path", "struct_out")
def sys_statfs(k: Kernel, t: Task, path: int, buf: int) -> int:
    k.uspace.write(buf, pack_statfs(path_statfs(k, t, path)))
    return 0


@syscall("fstatfs", "fd", "struct_out")
def sys_fstatfs(k: Kernel, t: Task, fd: int, buf: int) -> int:
    k.uspace.write(buf, pack_statfs(file_statfs(k, t.files.get(fd))))
    return 0


@syscall("statfs64", "path", "size", "struct_out")
def sys_statfs64(k: Kernel, t: Task, path: int, size: int, buf: int) -> int:
    check_size(k, size)
    k.uspace.write(buf, pack_statfs64(path_statfs(k, t, path)))
    return 0


@syscall("fstatfs64", "fd", "size", "struct_out")
def sys_fstatfs64(k: Kernel, t: Task, fd: int, size: int, buf: int) -> int:
    check_size(k, size)
    k.uspace.write(buf, pack_statfs64(file_statfs(k, t.files.get(fd))))
    return 0
