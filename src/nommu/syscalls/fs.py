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
from nommu.abi.structs import StatInfo
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.files import (
    CapturedOutput,
    DevNull,
    DevRandom,
    DevZero,
    HostDirectory,
    HostFile,
    HostStream,
    OpenFile,
    char_device_stat,
)
from nommu.kernel.hostfs import NO_SETID
from nommu.kernel.pipe import Pipe, PipeEnd
from nommu.kernel.procfs import open_proc, proc_stat
from nommu.kernel.pty import PtsDirectory
from nommu.kernel.ramfs import RamFile
from nommu.kernel.signal import send_to_task
from nommu.kernel.vfs import Resolved
from nommu.syscalls.locks import LOCK_CMDS, do_lock
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


def s64(lo: int, hi: int) -> int:
    """A 64-bit argument passed in two registers, read as signed."""
    v = (lo & 0xFFFFFFFF) | ((hi & 0xFFFFFFFF) << 32)
    return v - (1 << 64) if v & (1 << 63) else v


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
    if r.pts is not None and k.vfs.devpts is not None:
        return _open_pts(k, t, r, flags)
    if r.device is not None:
        return _open_device(k, t, r.device, flags)
    if r.shm is not None and k.vfs.shmfs is not None:
        return k.vfs.shmfs.open(r.shm, flags, mode & ~t.fs.umask, r.guest)
    if r.proc is not None:
        if not r.exists:
            raise SyscallError(Errno.EACCES if flags & F.O_CREAT else Errno.ENOENT)
        return open_proc(k, r.proc, flags, r.guest)
    if flags & F.O_CREAT and flags & F.O_EXCL and r.exists:
        raise SyscallError(Errno.EEXIST)
    if not r.exists and not flags & F.O_CREAT:
        raise SyscallError(Errno.ENOENT)
    fd = k.hostfs.open(r, _host_open_flags(flags), mode & ~t.fs.umask)
    if st.S_ISDIR(os.fstat(fd).st_mode):
        if not flags & F.O_PATH and (flags & F.O_ACCMODE != F.O_RDONLY or flags & F.O_CREAT):
            os.close(fd)
            raise SyscallError(Errno.EISDIR)
        return HostDirectory(fd, flags, r.guest, k.fsnotify)
    if flags & F.O_DIRECTORY:
        os.close(fd)
        raise SyscallError(Errno.ENOTDIR)
    return HostFile(fd, flags, r.guest, k.fsnotify)


_OPEN_FLAGS = (
    (F.O_CREAT, os.O_CREAT),
    (F.O_EXCL, os.O_EXCL),
    (F.O_TRUNC, os.O_TRUNC),
    (F.O_APPEND, os.O_APPEND),
    (F.O_DIRECTORY, os.O_DIRECTORY),
    (F.O_NOFOLLOW, os.O_NOFOLLOW),
)


def _host_open_flags(flags: int) -> int:
    if flags & F.O_PATH:  # a handle only: the other flags are ignored, as Linux does
        return (
            os.O_PATH
            | (os.O_DIRECTORY if flags & F.O_DIRECTORY else 0)
            | (os.O_NOFOLLOW if flags & F.O_NOFOLLOW else 0)
        )
    out = flags & F.O_ACCMODE
    for guest, host_flag in _OPEN_FLAGS:
        if flags & guest:
            out |= host_flag
    return out | os.O_CLOEXEC | os.O_NOCTTY


def _open_device(k: Kernel, t: Task, name: str, flags: int) -> OpenFile:
    if name == "/dev/null":
        return DevNull(flags, name)
    if name == "/dev/zero":
        return DevZero(flags, name)
    if name in ("/dev/urandom", "/dev/random"):
        return DevRandom(flags, name, k.config.random)
    if name == "/dev/ptmx" and k.vfs.devpts is not None:
        return k.vfs.devpts.open_master(flags)
    ctty = t.group.tty
    if name == "/dev/tty" and ctty is not None and k.vfs.devpts is not None:
        return k.vfs.devpts.open_slave(t, ctty.name.rsplit("/", 1)[1], flags | F.O_NOCTTY)
    if name == "/dev/tty" and os.isatty(0):  # nommu's own terminal is the guest's
        return HostStream(os.dup(0), flags, name, owns_fd=True, limit=k.limits.output)
    raise SyscallError(Errno.ENXIO)  # /dev/tty without a controlling terminal


def _open_pts(k: Kernel, t: Task, r: Resolved, flags: int) -> OpenFile:
    """/dev/pts (the directory) or /dev/pts/N (a pty's slave)."""
    assert k.vfs.devpts is not None and r.pts is not None
    if not r.exists:
        raise SyscallError(Errno.EACCES if flags & F.O_CREAT else Errno.ENOENT)
    if r.pts:
        return k.vfs.devpts.open_slave(t, r.pts, flags)
    if flags & F.O_ACCMODE != F.O_RDONLY or flags & F.O_CREAT:
        raise SyscallError(Errno.EISDIR)
    return PtsDirectory(k.vfs.devpts, flags)


def do_open(k: Kernel, t: Task, dirfd: int, pathp: int, flags: int, mode: int) -> int:
    path = path_arg(k, pathp)
    r = resolve_at(k, t, dirfd, path, follow=not flags & F.O_NOFOLLOW)
    t.files.lowest_free()  # EMFILE before creating anything
    file = open_file(k, t, r, flags, mode)
    return t.files.install(file, cloexec=bool(flags & F.O_CLOEXEC))


@syscall("open", "path", "oflags", "mode", ret="fd")
def sys_open(k: Kernel, t: Task, path: int, flags: int, mode: int) -> int:
    return do_open(k, t, F.AT_FDCWD, path, oflags_in(k, flags), mode)


@syscall("openat", "dirfd", "path", "oflags", "mode", ret="fd")
def sys_openat(k: Kernel, t: Task, dirfd: int, path: int, flags: int, mode: int) -> int:
    return do_open(k, t, dirfd, path, oflags_in(k, flags), mode)


def oflags_in(k: Kernel, flags: int) -> int:
    """The guest's open flags in the generic values the kernel uses inside
    (ARM numbers O_DIRECTORY, O_NOFOLLOW, O_DIRECT and O_LARGEFILE apart)."""
    return F.translate_oflags(flags, k.arch.OPEN_FLAGS)


def oflags_out(k: Kernel, flags: int) -> int:
    """The kernel's open flags in the guest's values (F_GETFL)."""
    return F.translate_oflags(flags, {v: b for b, v in k.arch.OPEN_FLAGS.items()})


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
    data = f.read(k.uspace.span(buf, min(count, MAX_RW)))
    k.uspace.write(buf, data)
    return len(data)


def write_all(k: Kernel, t: Task, f: OpenFile, data: bytes) -> int:
    """Write `data`, waiting for room as often as needed (a blocking write
    returns only when all of it is written). Progress survives the syscall
    being re-executed after each wait, in `t.blocked.done`; a signal handler
    that interrupts it then makes it return that count (kernel/signal.py).
    Past a partial write, an error is not reported: the count is returned."""
    done = t.blocked.done if t.blocked is not None else 0
    try:
        while True:
            done += f.write(data[done:])
            if done >= len(data):
                return done
    except Blocked:
        t.blocking_call().done = done
        raise
    except SyscallError as err:
        if err.errno == Errno.EPIPE:
            send_to_task(k, t, Signal.SIGPIPE)  # (even after a partial write, as Linux)
        if done and err.errno in (Errno.EAGAIN, Errno.EFBIG, Errno.EPIPE):
            return done
        if err.errno == Errno.EFBIG and isinstance(f, HostStream | CapturedOutput):
            output_limit_reached(k, t)
        raise


def output_limit_reached(k: Kernel, t: Task) -> None:
    """A write past --max-output: SIGXFSZ, as past RLIMIT_FSIZE (see kernel/limits.py)."""
    send_to_task(k, t, Signal.SIGXFSZ)
    limit = k.config.max_output
    k.limits.note("output", f"output limit reached: more than {limit} bytes (--max-output)")


@syscall("write", "fd", "buf_in", "size")
def sys_write(k: Kernel, t: Task, fd: int, buf: int, count: int) -> int:
    f = writable(t, fd)
    return write_all(k, t, f, k.uspace.read(buf, min(count, MAX_RW)))


def iovecs(k: Kernel, iov: int, iovcnt: int) -> list[tuple[int, int]]:
    """The iovec array, with lengths cut so the total is at most MAX_RW (as Linux
    cuts it) and at most RAM (so nommu never gathers more than RAM could hold)."""
    if iovcnt > 1024:
        raise SyscallError(Errno.EINVAL)
    raw = k.uspace.read(iov, 8 * iovcnt)
    budget, vecs = min(MAX_RW, k.ram.size), []
    for base, n in S.IOVEC.iter_unpack(raw):
        if n > 0x7FFFFFFF:
            raise SyscallError(Errno.EINVAL)  # a negative ssize_t
        vecs.append((base, min(n, budget)))
        budget -= vecs[-1][1]
    return vecs


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
    offset = s64(lo, hi)
    if offset < 0:
        raise SyscallError(Errno.EINVAL)
    f = readable(t, fd)
    data = f.pread(k.uspace.span(buf, min(count, MAX_RW)), offset)
    k.uspace.write(buf, data)
    return len(data)


@syscall("pwrite64", "fd", "buf_in", "size", "uint", "uint")
def sys_pwrite64(k: Kernel, t: Task, fd: int, buf: int, count: int, lo: int, hi: int) -> int:
    offset = s64(lo, hi)
    if offset < 0:
        raise SyscallError(Errno.EINVAL)
    f = writable(t, fd)
    return f.pwrite(k.uspace.read(buf, min(count, MAX_RW)), offset)


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


def do_sendfile(
    k: Kernel, t: Task, out_fd: int, in_fd: int, offp: int, count: int, size: int
) -> int:
    """sendfile: copy up to `count` bytes from a seekable `in_fd` to `out_fd`.

    The input is read with pread and its offset (`*offp`, a `size`-byte
    integer, or else the file position) advances only by what was written,
    so a write that blocks re-reads the same bytes when the call is retried."""
    src, dst = readable(t, in_fd), writable(t, out_fd)
    pos = int.from_bytes(k.uspace.read(offp, size), "little", signed=True) if offp else -1
    if offp and pos < 0:
        raise SyscallError(Errno.EINVAL)
    start = pos if offp else src.lseek(0, F.SEEK_CUR)
    data = src.pread(min(count, MAX_RW, k.ram.size), start)
    done = write_all(k, t, dst, data) if data else 0
    if offp:
        k.uspace.write(offp, (start + done).to_bytes(size, "little"))
    else:
        src.lseek(start + done, F.SEEK_SET)
    return done


@syscall("sendfile64", "fd", "fd", "ptr", "size")
def sys_sendfile64(k: Kernel, t: Task, out_fd: int, in_fd: int, offp: int, count: int) -> int:
    return do_sendfile(k, t, out_fd, in_fd, offp, count, 8)


@syscall("sendfile", "fd", "fd", "ptr", "size")
def sys_sendfile(k: Kernel, t: Task, out_fd: int, in_fd: int, offp: int, count: int) -> int:
    return do_sendfile(k, t, out_fd, in_fd, offp, count, 4)


def do_ftruncate(t: Task, fd: int, length: int) -> int:
    """EINVAL, not EBADF, for a descriptor not open for writing (fs/open.c)."""
    if length < 0:
        raise SyscallError(Errno.EINVAL)
    f = t.files.get(fd)
    if not f.writable:
        raise SyscallError(Errno.EINVAL)
    f.truncate(length)
    return 0


@syscall("ftruncate64", "fd", "uint", "uint")
def sys_ftruncate64(k: Kernel, t: Task, fd: int, lo: int, hi: int) -> int:
    return do_ftruncate(t, fd, s64(lo, hi))


@syscall("ftruncate", "fd", "int")
def sys_ftruncate(k: Kernel, t: Task, fd: int, length: int) -> int:
    return do_ftruncate(t, fd, s32(length))


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
    "/dev/ptmx": (5, 2),
}


def stat_resolved(k: Kernel, r: Resolved) -> StatInfo:
    if r.pts is not None and k.vfs.devpts is not None:
        return k.vfs.devpts.stat(r.pts)
    if r.device is not None:
        return char_device_stat(*_DEVICE_NUMBERS[r.device])
    if r.shm is not None and k.vfs.shmfs is not None:
        return k.vfs.shmfs.stat(r.shm)
    if not r.exists:
        raise SyscallError(Errno.ENOENT)
    if r.proc is not None:
        node = k.vfs.procfs.node(r.proc) if k.vfs.procfs else None
        if node is None:
            raise SyscallError(Errno.ENOENT)
        return proc_stat(node, len(r.guest))
    return StatInfo.from_host(k.hostfs.lstat(r))


def stat_at(k: Kernel, t: Task, dirfd: int, pathp: int, flags: int) -> StatInfo:
    path = path_arg(k, pathp)
    if path == "" and flags & F.AT_EMPTY_PATH:
        return t.files.get(dirfd).stat()
    return stat_resolved(k, resolve_at(k, t, dirfd, path, follow=not flags & F.AT_SYMLINK_NOFOLLOW))


@syscall("stat64", "path", "struct_out")
def sys_stat64(k: Kernel, t: Task, path: int, buf: int) -> int:
    k.uspace.write(buf, S.pack_stat64(stat_at(k, t, F.AT_FDCWD, path, 0), k.arch.STAT64))
    return 0


@syscall("lstat64", "path", "struct_out")
def sys_lstat64(k: Kernel, t: Task, path: int, buf: int) -> int:
    info = stat_at(k, t, F.AT_FDCWD, path, F.AT_SYMLINK_NOFOLLOW)
    k.uspace.write(buf, S.pack_stat64(info, k.arch.STAT64))
    return 0


@syscall("fstat64", "fd", "struct_out")
def sys_fstat64(k: Kernel, t: Task, fd: int, buf: int) -> int:
    k.uspace.write(buf, S.pack_stat64(t.files.get(fd).stat(), k.arch.STAT64))
    return 0


@syscall("fstatat64", "dirfd", "path", "struct_out", "atflags")
def sys_fstatat64(k: Kernel, t: Task, dirfd: int, path: int, buf: int, flags: int) -> int:
    k.uspace.write(buf, S.pack_stat64(stat_at(k, t, dirfd, path, flags), k.arch.STAT64))
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
    f = t.files.get(fd)
    data = f.getdents(k.uspace.span(buf, count)) if count else f.getdents(0)
    k.uspace.write(buf, data)
    return len(data)


def on_disk(r: Resolved) -> Resolved:
    """`r`, which a call is about to change on the host: never /proc, /dev or /dev/shm."""
    if (
        r.proc is not None
        or r.device is not None
        or r.shm is not None
        or r.guest in ("/proc", "/dev")
    ):
        raise SyscallError(Errno.EACCES if r.proc is not None else Errno.EPERM)
    return r


def do_mkdir(k: Kernel, t: Task, dirfd: int, pathp: int, mode: int) -> int:
    r = resolve_at(k, t, dirfd, path_arg(k, pathp), follow=False)
    if r.exists or r.device:
        raise SyscallError(Errno.EEXIST)
    k.hostfs.mkdir(on_disk(r), mode & ~t.fs.umask)
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
    if r.shm and not is_dir and k.vfs.shmfs is not None:
        k.vfs.shmfs.unlink(r.shm)
        return 0
    on_disk(r)
    if is_dir:
        if os.path.basename(path.rstrip("/")) == ".":
            raise SyscallError(Errno.EINVAL)
        if r.guest == "/":
            raise SyscallError(Errno.EBUSY)
    k.hostfs.remove(r, is_dir)
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


def do_rename(
    k: Kernel, t: Task, olddir: int, oldp: int, newdir: int, newp: int, flags: int = 0
) -> int:
    old = resolve_at(k, t, olddir, path_arg(k, oldp), follow=False)
    new = resolve_at(k, t, newdir, path_arg(k, newp), follow=False)
    if not old.exists:
        raise SyscallError(Errno.ENOENT)
    if flags & F.RENAME_NOREPLACE and new.exists:
        raise SyscallError(Errno.EEXIST)
    if old.shm is not None and new.shm is not None and k.vfs.shmfs is not None:
        k.vfs.shmfs.rename(old.shm, new.shm)
        return 0
    if (old.shm is None) != (new.shm is None):
        raise SyscallError(Errno.EXDEV)  # /dev/shm is a file system of its own
    k.hostfs.rename(on_disk(old), on_disk(new))
    return 0


@syscall("rename", "path", "path")
def sys_rename(k: Kernel, t: Task, old: int, new: int) -> int:
    return do_rename(k, t, F.AT_FDCWD, old, F.AT_FDCWD, new)


@syscall("renameat", "dirfd", "path", "dirfd", "path")
def sys_renameat(k: Kernel, t: Task, od: int, old: int, nd: int, new: int) -> int:
    return do_rename(k, t, od, old, nd, new)


@syscall("renameat2", "dirfd", "path", "dirfd", "path", "hex")
def sys_renameat2(k: Kernel, t: Task, od: int, old: int, nd: int, new: int, flags: int) -> int:
    if flags & ~F.RENAME_NOREPLACE:  # RENAME_EXCHANGE, RENAME_WHITEOUT: not supported
        raise SyscallError(Errno.EINVAL)
    return do_rename(k, t, od, old, nd, new, flags)


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
    if r.device is not None or r.shm is not None:
        raise SyscallError(Errno.EINVAL)
    return k.hostfs.readlink(r)


@syscall("readlink", "path", "buf_out", "size")
def sys_readlink(k: Kernel, t: Task, path: int, buf: int, size: int) -> int:
    return do_readlink(k, t, F.AT_FDCWD, path, buf, size)


@syscall("readlinkat", "dirfd", "path", "buf_out", "size")
def sys_readlinkat(k: Kernel, t: Task, dirfd: int, path: int, buf: int, size: int) -> int:
    return do_readlink(k, t, dirfd, path, buf, size)


def do_symlink(k: Kernel, t: Task, targetp: int, dirfd: int, linkpath: int) -> int:
    """A symlink may point anywhere: following it is what stays inside the root."""
    target = path_arg(k, targetp)
    r = resolve_at(k, t, dirfd, path_arg(k, linkpath), follow=False)
    if r.exists or r.device is not None:
        raise SyscallError(Errno.EEXIST)
    k.hostfs.symlink(target, on_disk(r))
    return 0


@syscall("symlink", "str", "path")
def sys_symlink(k: Kernel, t: Task, target: int, linkpath: int) -> int:
    return do_symlink(k, t, target, F.AT_FDCWD, linkpath)


@syscall("symlinkat", "str", "dirfd", "path")
def sys_symlinkat(k: Kernel, t: Task, target: int, dirfd: int, linkpath: int) -> int:
    return do_symlink(k, t, target, dirfd, linkpath)


def do_link(k: Kernel, t: Task, od: int, oldp: int, nd: int, newp: int, flags: int) -> int:
    """A hard link: both names resolve inside the root; `old` is followed only
    with AT_SYMLINK_FOLLOW."""
    if flags & ~(F.AT_SYMLINK_FOLLOW | F.AT_EMPTY_PATH):
        raise SyscallError(Errno.EINVAL)
    oldpath = path_arg(k, oldp)
    if oldpath == "" and flags & F.AT_EMPTY_PATH:
        old = k.vfs.resolve("/", t.files.get(od).path or "?", follow=False)
    else:
        old = resolve_at(k, t, od, oldpath, follow=bool(flags & F.AT_SYMLINK_FOLLOW))
    new = resolve_at(k, t, nd, path_arg(k, newp), follow=False)
    if not old.exists and old.device is None:
        raise SyscallError(Errno.ENOENT)
    if new.exists or new.device is not None:
        raise SyscallError(Errno.EEXIST)
    if old.shm is not None and new.shm is not None and k.vfs.shmfs is not None:
        k.vfs.shmfs.link(old.shm, new.shm)  # two names in one RAM file system
        return 0
    if kernel_file(old) or kernel_file(new):
        raise SyscallError(Errno.EXDEV)  # /proc, /dev and /dev/shm are other file systems
    k.hostfs.link(old, new)
    return 0


def kernel_file(r: Resolved) -> bool:
    """Whether `r` is a file the kernel provides rather than the root's disk."""
    return r.proc is not None or r.device is not None or r.shm is not None


@syscall("link", "path", "path")
def sys_link(k: Kernel, t: Task, old: int, new: int) -> int:
    return do_link(k, t, F.AT_FDCWD, old, F.AT_FDCWD, new, 0)


@syscall("linkat", "dirfd", "path", "dirfd", "path", "atflags")
def sys_linkat(k: Kernel, t: Task, od: int, old: int, nd: int, new: int, flags: int) -> int:
    return do_link(k, t, od, old, nd, new, flags)


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


def do_chmod(k: Kernel, r: Resolved, mode: int) -> int:
    if not r.exists:
        raise SyscallError(Errno.ENOENT)
    k.hostfs.chmod(on_disk(r), mode)
    return 0


@syscall("chmod", "path", "mode")
def sys_chmod(k: Kernel, t: Task, path: int, mode: int) -> int:
    return do_chmod(k, resolve_at(k, t, F.AT_FDCWD, path_arg(k, path)), mode)


@syscall("fchmodat", "dirfd", "path", "mode")
def sys_fchmodat(k: Kernel, t: Task, dirfd: int, path: int, mode: int) -> int:
    return do_chmod(k, resolve_at(k, t, dirfd, path_arg(k, path)), mode)


@syscall("fchmod", "fd", "mode")
def sys_fchmod(k: Kernel, t: Task, fd: int, mode: int) -> int:
    f = t.files.get(fd)
    if not isinstance(f, HostFile) or f.flags & F.O_PATH:
        raise SyscallError(Errno.EBADF if f.flags & F.O_PATH else Errno.EPERM)
    k.hostfs.check_writable()
    host(os.fchmod, f.fd, mode & NO_SETID)
    f.event(F.IN_ATTRIB)
    return 0


def do_truncate(k: Kernel, t: Task, pathp: int, length: int) -> int:
    if length < 0:
        raise SyscallError(Errno.EINVAL)
    r = resolve_at(k, t, F.AT_FDCWD, path_arg(k, pathp))
    if not r.exists:
        raise SyscallError(Errno.ENOENT)
    if k.vfs.is_dir(r):
        raise SyscallError(Errno.EISDIR)
    k.hostfs.truncate(on_disk(r), length)
    return 0


@syscall("truncate", "path", "int")
def sys_truncate(k: Kernel, t: Task, path: int, length: int) -> int:
    return do_truncate(k, t, path, s32(length))


@syscall("truncate64", "path", "uint", "uint")
def sys_truncate64(k: Kernel, t: Task, path: int, lo: int, hi: int) -> int:
    return do_truncate(k, t, path, s64(lo, hi))


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


_SETFL = F.O_APPEND | F.O_NONBLOCK | F.O_ASYNC | F.O_DIRECT | F.O_NOATIME
_O_PATH_CMDS = (F.F_DUPFD, F.F_DUPFD_CLOEXEC, F.F_GETFD, F.F_SETFD, F.F_GETFL)


@syscall("fcntl64", "fd", "fcntl_cmd", "fcntl_arg")
def sys_fcntl64(k: Kernel, t: Task, fd: int, cmd: int, arg: int) -> int:
    f = t.files.get(fd)
    if f.flags & F.O_PATH and cmd not in _O_PATH_CMDS:
        raise SyscallError(Errno.EBADF)
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
        return oflags_out(k, f.flags)
    if cmd == F.F_SETFL:
        f.flags = (f.flags & ~_SETFL) | (oflags_in(k, arg) & _SETFL)
        return 0
    if cmd in LOCK_CMDS:
        return do_lock(k, t, f, cmd, arg)
    if cmd in (F.F_ADD_SEALS, F.F_GET_SEALS):
        return _seals(k, f, cmd, arg)
    raise SyscallError(Errno.EINVAL)


def _seals(k: Kernel, f: OpenFile, cmd: int, arg: int) -> int:
    """F_GET_SEALS and F_ADD_SEALS, for RAM files (memfd, /dev/shm) only."""
    if not isinstance(f, RamFile):
        raise SyscallError(Errno.EINVAL)
    if cmd == F.F_ADD_SEALS:
        f.ram.add_seals(arg, f.writable, k.memory.shared_writable(f.ram))
        return 0
    return f.ram.seals


@syscall("fcntl", "fd", "fcntl_cmd", "fcntl_arg")
def sys_fcntl(k: Kernel, t: Task, fd: int, cmd: int, arg: int) -> int:
    """fcntl is fcntl64 (x86-64 Linux runs i386's fcntl as compat_sys_fcntl64)."""
    return sys_fcntl64(k, t, fd, cmd, arg)


@syscall("ioctl", "fd", "ioctl_req", "ioctl_arg")
def sys_ioctl(k: Kernel, t: Task, fd: int, req: int, arg: int) -> int:
    f = t.files.get(fd)
    if req in (F.FIOCLEX, F.FIONCLEX):
        t.files.fds[fd].cloexec = req == F.FIOCLEX
        return 0
    if req == F.FIONREAD and (count := f.nread()) is not None:
        k.uspace.write_u32(arg, count)
        return 0
    return f.ioctl(k, t, req, arg)


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
    return do_pipe(k, t, fds, oflags_in(k, flags))
