"""inotify_init/init1, inotify_add_watch and inotify_rm_watch (kernel/inotify.py
holds the watches and the hooks that feed them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.inotify import Inotify, Key
from nommu.syscalls.fs import path_arg, resolve_at
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task
    from nommu.kernel.vfs import Resolved


ALL_INOTIFY_BITS = (
    F.IN_ALL_EVENTS | F.IN_UNMOUNT | F.IN_Q_OVERFLOW | F.IN_IGNORED | F.IN_ONLYDIR
) | (F.IN_DONT_FOLLOW | F.IN_EXCL_UNLINK | F.IN_MASK_ADD | F.IN_MASK_CREATE)
ALL_INOTIFY_BITS |= F.IN_ISDIR | F.IN_ONESHOT


def _init(k: Kernel, t: Task, flags: int) -> int:
    if flags & ~(F.IN_CLOEXEC | F.IN_NONBLOCK):
        raise SyscallError(Errno.EINVAL)
    ino = Inotify(k.fsnotify, k.sched, flags & F.IN_NONBLOCK)
    return t.files.install(ino, cloexec=bool(flags & F.IN_CLOEXEC))


@syscall("inotify_init", ret="fd")
def sys_inotify_init(k: Kernel, t: Task) -> int:
    return _init(k, t, 0)


@syscall("inotify_init1", "fd_flags", ret="fd")
def sys_inotify_init1(k: Kernel, t: Task, flags: int) -> int:
    return _init(k, t, flags)


def _inotify(t: Task, fd: int) -> Inotify:
    return t.files.get_a(fd, Inotify)


def _inode(k: Kernel, r: Resolved) -> tuple[Key, bool]:
    """The inode a watch on `r` follows, and whether it is a directory. Files
    the kernel makes up (/proc, /dev) get a key of their own: no event ever
    comes for them, as none is made by a guest's change."""
    if not r.exists:
        raise SyscallError(Errno.ENOENT)
    if r.proc is not None or r.device is not None or r.shm is not None:
        return (-1, hash(r.guest) & 0xFFFFFFFF), r.guest in ("/proc", "/dev", "/dev/shm")
    found = k.fsnotify.key_of(r.host)
    if found is None:
        raise SyscallError(Errno.ENOENT)
    return found


@syscall("inotify_add_watch", "fd", "path", "inotify_mask")
def sys_inotify_add_watch(k: Kernel, t: Task, fd: int, path: int, mask: int) -> int:
    ino = _inotify(t, fd)
    if not mask & ALL_INOTIFY_BITS:  # (a mask of flags only is accepted: it watches nothing)
        raise SyscallError(Errno.EINVAL)
    if mask & F.IN_MASK_ADD and mask & F.IN_MASK_CREATE:
        raise SyscallError(Errno.EINVAL)
    r = resolve_at(k, t, F.AT_FDCWD, path_arg(k, path), follow=not mask & F.IN_DONT_FOLLOW)
    key, is_dir = _inode(k, r)
    if mask & F.IN_ONLYDIR and not is_dir:
        raise SyscallError(Errno.ENOTDIR)
    return ino.add_watch(key, mask)


@syscall("inotify_rm_watch", "fd", "int")
def sys_inotify_rm_watch(k: Kernel, t: Task, fd: int, wd: int) -> int:
    _inotify(t, fd).rm_watch(wd)
    return 0
