"""File and directory syscalls: open, read, write, stat, getdents...

Thin handlers: fetch the arguments from user memory, resolve paths through
the VFS (which keeps them inside the guest root), and call the open file.
"""

from __future__ import annotations

import os
import stat as st
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi.errno import Errno, from_host
from nommu.abi.signals import Signal
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.files import (
    DevNull,
    DevRandom,
    DevZero,
    HostDirectory,
    HostFile,
    HostStream,
    OpenFile,
    StatInfo,
    char_device_stat,
)
from nommu.kernel.pipe import Pipe, PipeEnd
from nommu.kernel.procfs import open_proc, proc_stat
from nommu.kernel.signal import send_to_task
from nommu.kernel.vfs import Resolved
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

MAX_RW = 0x7FFFF000  # MAX_RW_COUNT: the most one read/write transfers
R = TypeVar("R")


def s32(v: int) -> int:
    """A register value read as a signed int."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def host(fn: Callable[..., R], *args: object) -> R:
    """Call a host file function; its OSError becomes the guest's errno."""
    try:
        return fn(*args)
    except OSError as err:
        raise SyscallError(from_host(err)) from None


def path_arg(k: Kernel, addr: int) -> str:
    return k.uspace.read_path(addr)


def resolve_at(k: Kernel, t: Task, dirfd: int, path: str, follow: bool = True) -> Resolved:
    """Resolve `path` relative to `dirfd` (AT_FDCWD: the current directory)."""
    base = t.fs.cwd
    if not path.startswith("/") and s32(dirfd) != F.AT_FDCWD:
        d = t.files.get(dirfd)
        if not isinstance(d, HostDirectory):
            raise SyscallError(Errno.ENOTDIR)
        base = d.path
    return k.vfs.resolve(base, path, follow=follow)


# -- open / close -------------------------------------------------------------


def open_file(k: Kernel, t: Task, r: Resolved, flags: int, mode: int) -> OpenFile:
    """Open a resolved path the way open(2) would."""
    if r.device is not None:
        return _open_device(k, r.device, flags)
    if r.proc is not None:
        if not r.exists:
            raise SyscallError(Errno.EACCES if flags & F.O_CREAT else Errno.ENOENT)
        return open_proc(k, r.proc, flags, r.guest)
    if flags & F.O_CREAT and flags & F.O_EXCL and r.exists:
        raise SyscallError(Errno.EEXIST)
    if not r.exists and not flags & F.O_CREAT:
        raise SyscallError(Errno.ENOENT)
    if r.exists and flags & F.O_NOFOLLOW and os.path.islink(r.host):
        raise SyscallError(Errno.ELOOP)
    fd = host(os.open, r.host, _host_open_flags(flags), mode & ~t.fs.umask & 0o7777)
    if st.S_ISDIR(os.fstat(fd).st_mode):
        if flags & F.O_ACCMODE != F.O_RDONLY or flags & F.O_CREAT:
            os.close(fd)
            raise SyscallError(Errno.EISDIR)
        return HostDirectory(fd, flags, r.guest)
    if flags & F.O_DIRECTORY:
        os.close(fd)
        raise SyscallError(Errno.ENOTDIR)
    return HostFile(fd, flags, r.guest)


_OPEN_FLAGS = (
    (F.O_CREAT, os.O_CREAT),
    (F.O_EXCL, os.O_EXCL),
    (F.O_TRUNC, os.O_TRUNC),
    (F.O_APPEND, os.O_APPEND),
    (F.O_DIRECTORY, os.O_DIRECTORY),
    (F.O_NOFOLLOW, os.O_NOFOLLOW),
)


def _host_open_flags(flags: int) -> int:
    out = flags & F.O_ACCMODE
    for guest, host_flag in _OPEN_FLAGS:
        if flags & guest:
            out |= host_flag
    return out | os.O_CLOEXEC | os.O_NOCTTY


def _open_device(k: Kernel, name: str, flags: int) -> OpenFile:
    if name == "/dev/null":
        return DevNull(flags, name)
    if name == "/dev/zero":
        return DevZero(flags, name)
    if name in ("/dev/urandom", "/dev/random"):
        return DevRandom(flags, name, k.config.random)
    if name == "/dev/tty" and os.isatty(0):  # nommu's own terminal is the guest's
        return HostStream(os.dup(0), flags, name, owns_fd=True)
    raise SyscallError(Errno.ENXIO)  # /dev/tty without a controlling terminal


def do_open(k: Kernel, t: Task, dirfd: int, pathp: int, flags: int, mode: int) -> int:
    path = path_arg(k, pathp)
    r = resolve_at(k, t, dirfd, path, follow=not flags & F.O_NOFOLLOW)
    t.files.lowest_free()  # EMFILE before creating anything
    file = open_file(k, t, r, flags, mode)
    return t.files.install(file, cloexec=bool(flags & F.O_CLOEXEC))


@syscall("open", "path", "oflags", "mode", ret="fd")
def sys_open(k: Kernel, t: Task, path: int, flags: int, mode: int) -> int:
    return do_open(k, t, F.AT_FDCWD, path, flags, mode)


@syscall("openat", "dirfd", "path", "oflags", "mode", ret="fd")
def sys_openat(k: Kernel, t: Task, dirfd: int, path: int, flags: int, mode: int) -> int:
    return do_open(k, t, dirfd, path, flags, mode)


@syscall("creat", "path", "mode", ret="fd")
def sys_creat(k: Kernel, t: Task, path: int, mode: int) -> int:
    return do_open(k, t, F.AT_FDCWD, path, F.O_CREAT | F.O_WRONLY | F.O_TRUNC, mode)


@syscall("close", "fd")
def sys_close(k: Kernel, t: Task, fd: int) -> int:
    t.files.close(fd)
    return 0


# -- read / write -------------------------------------------------------------


def readable(t: Task, fd: int) -> OpenFile:
    f = t.files.get(fd)
    if not f.readable:
        raise SyscallError(Errno.EBADF)
    return f


def writable(t: Task, fd: int) -> OpenFile:
    f = t.files.get(fd)
    if not f.writable:
        raise SyscallError(Errno.EBADF)
    return f


@syscall("read", "fd", "buf_out", "size")
def sys_read(k: Kernel, t: Task, fd: int, buf: int, count: int) -> int:
    f = readable(t, fd)
    k.uspace.read(buf, min(count, 1))  # EFAULT before consuming input
    data = f.read(min(count, MAX_RW))
    k.uspace.write(buf, data)
    return len(data)


def write_all(k: Kernel, t: Task, f: OpenFile, data: bytes) -> int:
    """Write `data`, waiting for room as often as needed (a blocking write
    returns only when all of it is written). Progress survives the syscall
    being re-executed after each wait, in `t.io_done`."""
    done = t.io_done if t.restart else 0
    try:
        while True:
            done += f.write(data[done:])
            if done >= len(data):
                return done
    except Blocked:
        t.io_done = done
        raise
    except SyscallError as err:
        if err.errno == Errno.EPIPE:
            send_to_task(k, t, Signal.SIGPIPE)
        if done and err.errno == Errno.EAGAIN:
            return done
        raise


@syscall("write", "fd", "buf_in", "size")
def sys_write(k: Kernel, t: Task, fd: int, buf: int, count: int) -> int:
    f = writable(t, fd)
    return write_all(k, t, f, k.uspace.read(buf, min(count, MAX_RW)))


def iovecs(k: Kernel, iov: int, iovcnt: int) -> list[tuple[int, int]]:
    if iovcnt > 1024:
        raise SyscallError(Errno.EINVAL)
    raw = k.uspace.read(iov, 8 * iovcnt)
    return [(base, n) for base, n in S.IOVEC.iter_unpack(raw)]


@syscall("readv", "fd", "iov_out", "int")
def sys_readv(k: Kernel, t: Task, fd: int, iov: int, iovcnt: int) -> int:
    f = readable(t, fd)
    vecs = iovecs(k, iov, iovcnt)
    data = f.read(min(sum(n for _, n in vecs), MAX_RW))
    done = 0
    for base, n in vecs:
        if done >= len(data):
            break
        chunk = data[done : done + n]
        k.uspace.write(base, chunk)
        done += len(chunk)
    return done


@syscall("writev", "fd", "iov_in", "int")
def sys_writev(k: Kernel, t: Task, fd: int, iov: int, iovcnt: int) -> int:
    f = writable(t, fd)
    data = b"".join(k.uspace.read(base, n) for base, n in iovecs(k, iov, iovcnt))
    return write_all(k, t, f, data) if data else 0


@syscall("pread64", "fd", "buf_out", "size", "uint", "uint")
def sys_pread64(k: Kernel, t: Task, fd: int, buf: int, count: int, lo: int, hi: int) -> int:
    data = readable(t, fd).pread(min(count, MAX_RW), lo | (hi << 32))
    k.uspace.write(buf, data)
    return len(data)


@syscall("pwrite64", "fd", "buf_in", "size", "uint", "uint")
def sys_pwrite64(k: Kernel, t: Task, fd: int, buf: int, count: int, lo: int, hi: int) -> int:
    return writable(t, fd).pwrite(k.uspace.read(buf, min(count, MAX_RW)), lo | (hi << 32))


@syscall("lseek", "fd", "int", "whence")
def sys_lseek(k: Kernel, t: Task, fd: int, offset: int, whence: int) -> int:
    pos = t.files.get(fd).lseek(s32(offset), whence)
    if pos > 0x7FFFFFFF:
        raise SyscallError(Errno.EOVERFLOW)
    return pos


@syscall("_llseek", "fd", "uint", "uint", "ptr", "whence")
def sys_llseek(k: Kernel, t: Task, fd: int, hi: int, lo: int, result: int, whence: int) -> int:
    offset = (hi << 32) | lo
    if offset & (1 << 63):
        offset -= 1 << 64
    pos = t.files.get(fd).lseek(offset, whence)
    k.uspace.write(result, pos.to_bytes(8, "little"))
    return 0


@syscall("ftruncate64", "fd", "uint", "uint")
def sys_ftruncate64(k: Kernel, t: Task, fd: int, lo: int, hi: int) -> int:
    writable(t, fd).truncate(lo | (hi << 32))
    return 0


@syscall("fsync", "fd")
def sys_fsync(k: Kernel, t: Task, fd: int) -> int:
    t.files.get(fd)
    return 0


@syscall("fdatasync", "fd")
def sys_fdatasync(k: Kernel, t: Task, fd: int) -> int:
    t.files.get(fd)
    return 0


# -- stat ---------------------------------------------------------------------

_DEVICE_NUMBERS = {
    "/dev/null": (1, 3),
    "/dev/zero": (1, 5),
    "/dev/random": (1, 8),
    "/dev/urandom": (1, 9),
    "/dev/tty": (5, 0),
}


def stat_resolved(k: Kernel, r: Resolved) -> StatInfo:
    if r.device is not None:
        return char_device_stat(*_DEVICE_NUMBERS[r.device])
    if not r.exists:
        raise SyscallError(Errno.ENOENT)
    if r.proc is not None:
        node = k.vfs.procfs.node(r.proc) if k.vfs.procfs else None
        if node is None:
            raise SyscallError(Errno.ENOENT)
        return proc_stat(node, len(r.guest))
    return StatInfo.from_host(host(os.lstat, r.host))


def stat_at(k: Kernel, t: Task, dirfd: int, pathp: int, flags: int) -> StatInfo:
    path = path_arg(k, pathp)
    if path == "" and flags & F.AT_EMPTY_PATH:
        return t.files.get(dirfd).stat()
    return stat_resolved(k, resolve_at(k, t, dirfd, path, follow=not flags & F.AT_SYMLINK_NOFOLLOW))


@syscall("stat64", "path", "struct_out")
def sys_stat64(k: Kernel, t: Task, path: int, buf: int) -> int:
    k.uspace.write(buf, S.pack_stat64(stat_at(k, t, F.AT_FDCWD, path, 0)))
    return 0


@syscall("lstat64", "path", "struct_out")
def sys_lstat64(k: Kernel, t: Task, path: int, buf: int) -> int:
    info = stat_at(k, t, F.AT_FDCWD, path, F.AT_SYMLINK_NOFOLLOW)
    k.uspace.write(buf, S.pack_stat64(info))
    return 0


@syscall("fstat64", "fd", "struct_out")
def sys_fstat64(k: Kernel, t: Task, fd: int, buf: int) -> int:
    k.uspace.write(buf, S.pack_stat64(t.files.get(fd).stat()))
    return 0


@syscall("fstatat64", "dirfd", "path", "struct_out", "atflags")
def sys_fstatat64(k: Kernel, t: Task, dirfd: int, path: int, buf: int, flags: int) -> int:
    k.uspace.write(buf, S.pack_stat64(stat_at(k, t, dirfd, path, flags)))
    return 0


@syscall("statx", "dirfd", "path", "atflags", "hex", "struct_out")
def sys_statx(k: Kernel, t: Task, dirfd: int, path: int, flags: int, mask: int, buf: int) -> int:
    k.uspace.write(buf, S.pack_statx(stat_at(k, t, dirfd, path, flags)))
    return 0


def do_access(k: Kernel, t: Task, dirfd: int, pathp: int, mode: int, flags: int) -> int:
    if mode & ~7:
        raise SyscallError(Errno.EINVAL)
    r = resolve_at(k, t, dirfd, path_arg(k, pathp), follow=not flags & F.AT_SYMLINK_NOFOLLOW)
    info = stat_resolved(k, r)
    if mode & F.X_OK and not info.mode & 0o111:
        raise SyscallError(Errno.EACCES)
    return 0


@syscall("access", "path", "access_mode")
def sys_access(k: Kernel, t: Task, path: int, mode: int) -> int:
    return do_access(k, t, F.AT_FDCWD, path, mode, 0)


@syscall("faccessat", "dirfd", "path", "access_mode")
def sys_faccessat(k: Kernel, t: Task, dirfd: int, path: int, mode: int) -> int:
    return do_access(k, t, dirfd, path, mode, 0)


@syscall("faccessat2", "dirfd", "path", "access_mode", "atflags")
def sys_faccessat2(k: Kernel, t: Task, dirfd: int, path: int, mode: int, flags: int) -> int:
    return do_access(k, t, dirfd, path, mode, flags)


# -- directories and names ----------------------------------------------------


@syscall("getdents64", "fd", "buf_out", "size")
def sys_getdents64(k: Kernel, t: Task, fd: int, buf: int, count: int) -> int:
    data = t.files.get(fd).getdents(count)
    k.uspace.write(buf, data)
    return len(data)


def on_disk(r: Resolved) -> Resolved:
    """`r`, which a call is about to change on the host: never /proc or /dev."""
    if r.proc is not None or r.device is not None or r.guest in ("/proc", "/dev"):
        raise SyscallError(Errno.EACCES if r.proc is not None else Errno.EPERM)
    return r


def do_mkdir(k: Kernel, t: Task, dirfd: int, pathp: int, mode: int) -> int:
    r = resolve_at(k, t, dirfd, path_arg(k, pathp), follow=False)
    if r.exists or r.device:
        raise SyscallError(Errno.EEXIST)
    on_disk(r)
    host(os.mkdir, r.host, mode & ~t.fs.umask & 0o7777)
    return 0


@syscall("mkdir", "path", "mode")
def sys_mkdir(k: Kernel, t: Task, path: int, mode: int) -> int:
    return do_mkdir(k, t, F.AT_FDCWD, path, mode)


@syscall("mkdirat", "dirfd", "path", "mode")
def sys_mkdirat(k: Kernel, t: Task, dirfd: int, path: int, mode: int) -> int:
    return do_mkdir(k, t, dirfd, path, mode)


def do_remove(k: Kernel, t: Task, dirfd: int, pathp: int, is_dir: bool) -> int:
    path = path_arg(k, pathp)
    r = resolve_at(k, t, dirfd, path, follow=False)
    if not r.exists:
        raise SyscallError(Errno.ENOENT)
    on_disk(r)
    if is_dir:
        if os.path.basename(path.rstrip("/")) == ".":
            raise SyscallError(Errno.EINVAL)
        if r.guest == "/":
            raise SyscallError(Errno.EBUSY)
        host(os.rmdir, r.host)
    else:
        if os.path.isdir(r.host) and not os.path.islink(r.host):
            raise SyscallError(Errno.EISDIR)
        host(os.unlink, r.host)
    return 0


@syscall("unlink", "path")
def sys_unlink(k: Kernel, t: Task, path: int) -> int:
    return do_remove(k, t, F.AT_FDCWD, path, is_dir=False)


@syscall("rmdir", "path")
def sys_rmdir(k: Kernel, t: Task, path: int) -> int:
    return do_remove(k, t, F.AT_FDCWD, path, is_dir=True)


@syscall("unlinkat", "dirfd", "path", "atflags")
def sys_unlinkat(k: Kernel, t: Task, dirfd: int, path: int, flags: int) -> int:
    return do_remove(k, t, dirfd, path, is_dir=bool(flags & F.AT_REMOVEDIR))


def do_rename(k: Kernel, t: Task, olddir: int, oldp: int, newdir: int, newp: int) -> int:
    old = resolve_at(k, t, olddir, path_arg(k, oldp), follow=False)
    new = resolve_at(k, t, newdir, path_arg(k, newp), follow=False)
    if not old.exists:
        raise SyscallError(Errno.ENOENT)
    host(os.rename, on_disk(old).host, on_disk(new).host)
    return 0


@syscall("rename", "path", "path")
def sys_rename(k: Kernel, t: Task, old: int, new: int) -> int:
    return do_rename(k, t, F.AT_FDCWD, old, F.AT_FDCWD, new)


@syscall("renameat", "dirfd", "path", "dirfd", "path")
def sys_renameat(k: Kernel, t: Task, od: int, old: int, nd: int, new: int) -> int:
    return do_rename(k, t, od, old, nd, new)


@syscall("renameat2", "dirfd", "path", "dirfd", "path", "hex")
def sys_renameat2(k: Kernel, t: Task, od: int, old: int, nd: int, new: int, flags: int) -> int:
    if flags:
        raise SyscallError(Errno.EINVAL)
    return do_rename(k, t, od, old, nd, new)


def do_readlink(k: Kernel, t: Task, dirfd: int, pathp: int, buf: int, size: int) -> int:
    if s32(size) <= 0:
        raise SyscallError(Errno.EINVAL)
    r = resolve_at(k, t, dirfd, path_arg(k, pathp), follow=False)
    if not r.exists:
        raise SyscallError(Errno.ENOENT)
    target = os.fsencode(link_target(k, r))[:size]
    k.uspace.write(buf, target)
    return len(target)


def link_target(k: Kernel, r: Resolved) -> str:
    """The contents of a symlink (EINVAL if `r` is not one)."""
    if r.proc is not None:
        node = k.vfs.procfs.node(r.proc) if k.vfs.procfs else None
        if node is None or node.kind != "link":
            raise SyscallError(Errno.EINVAL)
        return node.target
    if not os.path.islink(r.host):
        raise SyscallError(Errno.EINVAL)
    return str(host(os.readlink, r.host))


@syscall("readlink", "path", "buf_out", "size")
def sys_readlink(k: Kernel, t: Task, path: int, buf: int, size: int) -> int:
    return do_readlink(k, t, F.AT_FDCWD, path, buf, size)


@syscall("readlinkat", "dirfd", "path", "buf_out", "size")
def sys_readlinkat(k: Kernel, t: Task, dirfd: int, path: int, buf: int, size: int) -> int:
    return do_readlink(k, t, dirfd, path, buf, size)


@syscall("symlink", "str", "path")
def sys_symlink(k: Kernel, t: Task, target: int, linkpath: int) -> int:
    r = resolve_at(k, t, F.AT_FDCWD, path_arg(k, linkpath), follow=False)
    if r.exists:
        raise SyscallError(Errno.EEXIST)
    host(os.symlink, path_arg(k, target), on_disk(r).host)
    return 0


@syscall("getcwd", "buf_out", "size")
def sys_getcwd(k: Kernel, t: Task, buf: int, size: int) -> int:
    cwd = t.fs.cwd.encode() + b"\0"
    if size < len(cwd):
        raise SyscallError(Errno.ERANGE)
    k.uspace.write(buf, cwd)
    return len(cwd)


@syscall("chdir", "path")
def sys_chdir(k: Kernel, t: Task, path: int) -> int:
    r = k.vfs.resolve_existing(t.fs.cwd, path_arg(k, path))
    if not k.vfs.is_dir(r):
        raise SyscallError(Errno.ENOTDIR)
    t.fs.cwd = r.guest
    return 0


@syscall("fchdir", "fd")
def sys_fchdir(k: Kernel, t: Task, fd: int) -> int:
    d = t.files.get(fd)
    if not isinstance(d, HostDirectory):
        raise SyscallError(Errno.ENOTDIR)
    t.fs.cwd = d.path
    return 0


@syscall("umask", "mode")
def sys_umask(k: Kernel, t: Task, mask: int) -> int:
    old, t.fs.umask = t.fs.umask, mask & 0o777
    return old


def do_chmod(r: Resolved, mode: int) -> int:
    if not r.exists:
        raise SyscallError(Errno.ENOENT)
    host(os.chmod, on_disk(r).host, mode & 0o7777)
    return 0


@syscall("chmod", "path", "mode")
def sys_chmod(k: Kernel, t: Task, path: int, mode: int) -> int:
    return do_chmod(resolve_at(k, t, F.AT_FDCWD, path_arg(k, path)), mode)


@syscall("fchmodat", "dirfd", "path", "mode")
def sys_fchmodat(k: Kernel, t: Task, dirfd: int, path: int, mode: int) -> int:
    return do_chmod(resolve_at(k, t, dirfd, path_arg(k, path)), mode)


# -- descriptors --------------------------------------------------------------


@syscall("dup", "fd", ret="fd")
def sys_dup(k: Kernel, t: Task, fd: int) -> int:
    f = t.files.get(fd)
    new = t.files.install(f)
    f.refs += 1
    return new


def do_dup3(t: Task, old: int, new: int, cloexec: bool) -> int:
    t.files.install_at(new, t.files.get(old), cloexec)
    return new


@syscall("dup2", "fd", "fd", ret="fd")
def sys_dup2(k: Kernel, t: Task, old: int, new: int) -> int:
    if old == new:
        t.files.get(old)
        return new
    return do_dup3(t, old, new, False)


@syscall("dup3", "fd", "fd", "oflags", ret="fd")
def sys_dup3(k: Kernel, t: Task, old: int, new: int, flags: int) -> int:
    if old == new or flags & ~F.O_CLOEXEC:
        raise SyscallError(Errno.EINVAL)
    return do_dup3(t, old, new, bool(flags & F.O_CLOEXEC))


_LOCKS = (F.F_GETLK, F.F_SETLK, F.F_SETLKW, F.F_GETLK64, F.F_SETLK64, F.F_SETLKW64)
_SETFL = F.O_APPEND | F.O_NONBLOCK | F.O_ASYNC | F.O_DIRECT | F.O_NOATIME


@syscall("fcntl64", "fd", "fcntl_cmd", "hex")
def sys_fcntl64(k: Kernel, t: Task, fd: int, cmd: int, arg: int) -> int:
    f = t.files.get(fd)
    if cmd in (F.F_DUPFD, F.F_DUPFD_CLOEXEC):
        if arg >= t.files.limit:
            raise SyscallError(Errno.EINVAL)
        new = t.files.install(f, cloexec=cmd == F.F_DUPFD_CLOEXEC, start=arg)
        f.refs += 1
        return new
    if cmd == F.F_GETFD:
        return int(t.files.fds[fd].cloexec)
    if cmd == F.F_SETFD:
        t.files.fds[fd].cloexec = bool(arg & F.FD_CLOEXEC)
        return 0
    if cmd == F.F_GETFL:
        return f.flags
    if cmd == F.F_SETFL:
        f.flags = (f.flags & ~_SETFL) | (arg & _SETFL)
        return 0
    if cmd in _LOCKS:
        return 0  # one machine, one lock holder view: advisory locks are granted
    raise SyscallError(Errno.EINVAL)


@syscall("fcntl", "fd", "fcntl_cmd", "hex")
def sys_fcntl(k: Kernel, t: Task, fd: int, cmd: int, arg: int) -> int:
    return sys_fcntl64(k, t, fd, cmd, arg)


@syscall("ioctl", "fd", "ioctl_req", "hex")
def sys_ioctl(k: Kernel, t: Task, fd: int, req: int, arg: int) -> int:
    f = t.files.get(fd)
    if req in (F.FIOCLEX, F.FIONCLEX):
        t.files.fds[fd].cloexec = req == F.FIOCLEX
        return 0
    if not f.is_tty():
        raise SyscallError(Errno.ENOTTY)
    from nommu.kernel import tty

    return tty.ioctl(k, t, f, req, arg)


# -- pipes --------------------------------------------------------------------


def do_pipe(k: Kernel, t: Task, fds: int, flags: int) -> int:
    if flags & ~(F.O_CLOEXEC | F.O_NONBLOCK | F.O_DIRECT):
        raise SyscallError(Errno.EINVAL)
    k.uspace.read(fds, 8)  # EFAULT before anything is created
    if len(t.files.fds) + 2 > t.files.limit:
        raise SyscallError(Errno.EMFILE)
    pipe = Pipe(k.next_ino(), k.sched)
    status = flags & F.O_NONBLOCK
    cloexec = bool(flags & F.O_CLOEXEC)
    rfd = t.files.install(PipeEnd(pipe, F.O_RDONLY | status), cloexec)
    wfd = t.files.install(PipeEnd(pipe, F.O_WRONLY | status), cloexec)
    k.uspace.write(fds, rfd.to_bytes(4, "little") + wfd.to_bytes(4, "little"))
    return 0


@syscall("pipe", "ptr")
def sys_pipe(k: Kernel, t: Task, fds: int) -> int:
    return do_pipe(k, t, fds, 0)


@syscall("pipe2", "ptr", "oflags")
def sys_pipe2(k: Kernel, t: Task, fds: int, flags: int) -> int:
    return do_pipe(k, t, fds, flags)
