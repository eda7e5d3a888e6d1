"""Open files and descriptor tables.

Linux's three layers, kept apart as the kernel keeps them:

* an `OpenFile` is an open file description: the object, its position and
  status flags (O_APPEND, O_NONBLOCK). `dup` and inheritance share it.
* an `FdTable` maps descriptor numbers to open files, plus the per-descriptor
  close-on-exec flag. CLONE_FILES shares a table; vfork and posix_spawn
  children get a copy.
* the file kinds below implement reading, writing, seeking and stat for
  host files, host directories, the terminal/stdio, and the device files.

Every method raises `SyscallError` for a failure the guest should see.
"""

from __future__ import annotations

import os
import select
import stat as st
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from nommu.abi import flags as F
from nommu.abi.errno import Errno, from_host
from nommu.abi.flags import POLLERR, POLLHUP, POLLIN, POLLOUT
from nommu.abi.structs import StatInfo
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.statfs import StatFs, host_fstatfs, pseudo_fs

if TYPE_CHECKING:
    from nommu.kernel.inotify import FsNotify
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.limits import OutputLimit
    from nommu.kernel.locks import LockTable
    from nommu.kernel.task import Task

_DIRENT64 = struct.Struct("<QqHB")  # d_ino, d_off, d_reclen, d_type (then the name)


def char_device_stat(major: int, minor: int) -> StatInfo:
    return StatInfo(
        5, 1000 + minor, st.S_IFCHR | 0o666, 1, 0, 0, (major << 8) | minor, 0, 4096, 0, 0, 0, 0
    )


# New (atime, mtime) in ns for utimensat: None for both means "now" (UTIME_NOW
# twice, or no times given: the host's clock for host files); a None time is
# one to leave as it is (UTIME_OMIT).
Times = tuple[int | None, int | None] | None


def fill_omitted(times: tuple[int | None, int | None], old: os.stat_result) -> tuple[int, int]:
    """`times` with each omitted time taken from `old`."""
    atime, mtime = times
    return (
        old.st_atime_ns if atime is None else atime,
        old.st_mtime_ns if mtime is None else mtime,
    )


# What mmap may do with a file on a no-MMU kernel (NOMMU_MAP_* in linux/fs.h):
# copy its bytes into fresh memory, or map its own memory directly (ramfs,
# some character devices), and with which protections.
NOMMU_MAP_COPY = 1
NOMMU_MAP_DIRECT = 8
NOMMU_MAP_READ = 16
NOMMU_MAP_WRITE = 32
NOMMU_MAP_EXEC = 64


Kind = TypeVar("Kind", bound="OpenFile")  # (FdTable.get_a: a file of one kind)


class OpenFile:
    """An open file description. Subclasses override what they support."""

    # NOMMU_MAP_* bits; 0 means the file has no mmap method at all (mmap: ENODEV)
    mmap_capabilities = 0
    # set once the description holds OFD or flock locks: they go when it goes
    lock_table: LockTable | None = None
    # whether the file has a poll method (Linux's file_can_poll): epoll_ctl
    # refuses files without one (regular files, directories, /dev/null) with
    # EPERM, though poll() and select() call them always ready
    has_poll = True

    def __init__(self, flags: int, path: str = "") -> None:
        self.flags = flags
        self.path = path  # guest path, for /proc and traces
        self.refs = 1

    @property
    def readable(self) -> bool:
        return (self.flags & F.O_ACCMODE) in (F.O_RDONLY, F.O_RDWR)

    @property
    def writable(self) -> bool:
        return (self.flags & F.O_ACCMODE) in (F.O_WRONLY, F.O_RDWR)

    def read(self, count: int) -> bytes:
        raise SyscallError(Errno.EINVAL)

    def write(self, data: bytes) -> int:
        raise SyscallError(Errno.EINVAL)

    def pread(self, count: int, offset: int) -> bytes:
        raise SyscallError(Errno.ESPIPE)

    def pwrite(self, data: bytes, offset: int) -> int:
        raise SyscallError(Errno.ESPIPE)

    def lseek(self, offset: int, whence: int) -> int:
        raise SyscallError(Errno.ESPIPE)

    def stat(self) -> StatInfo:
        raise SyscallError(Errno.EBADF)

    def getdents(self, size: int) -> bytes:
        raise SyscallError(Errno.ENOTDIR)

    def is_tty(self) -> bool:
        return False

    def ioctl(self, k: Kernel, t: Task, req: int, arg: int) -> int:
        """A device's own requests (terminals answer termios and job control)."""
        raise SyscallError(Errno.ENOTTY)

    def host_fd(self) -> int | None:
        """A host descriptor to wait on with select(), if this file has one."""
        return None

    def poll(self) -> int:
        """POLLIN/POLLOUT/POLLHUP/POLLERR bits that hold now (files are always ready)."""
        return POLLIN | POLLOUT

    def poll_channels(self) -> tuple[object, ...]:
        """Wait channels that are woken when poll() may change."""
        return ()

    def truncate(self, length: int) -> None:
        raise SyscallError(Errno.EINVAL)

    def nread(self) -> int | None:
        """FIONREAD: bytes a read would find now; None if the file has no
        such count (the ioctl then goes to the terminal code: ENOTTY)."""
        return None

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        """fallocate(2) on a regular file whose file system has no such method."""
        raise SyscallError(Errno.EOPNOTSUPP)

    def set_times(self, times: Times) -> None:
        """futimens (see `Times`). Files the kernel makes up (pipes, devices,
        /proc) keep no times: nothing to do."""

    def statfs(self) -> StatFs:
        """fstatfs: the file system the file is on (by default the tmpfs /dev
        of the device files; each other kind says its own)."""
        return pseudo_fs(F.TMPFS_MAGIC)

    def inode(self) -> object:
        """What identifies the file itself (not this open description): mappings
        of the same file may share memory."""
        return self

    def release(self) -> None:
        """The last descriptor referring to this description closed."""


def _host_call(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except OSError as err:
        raise SyscallError(from_host(err)) from None


class HostFile(OpenFile):
    """A regular file of the guest root, backed by a host descriptor.

    What is done through it (open, read, write, close...) is reported to
    inotify (`notify`) while some watch exists."""

    mmap_capabilities = NOMMU_MAP_COPY  # a disk file: mmap copies it (no direct sharing)
    has_poll = False

    def __init__(self, fd: int, flags: int, path: str, notify: FsNotify | None = None) -> None:
        super().__init__(flags, path)
        self.fd = fd
        self.notify = notify if not flags & F.O_PATH else None
        self.event(F.IN_OPEN)

    def event(self, mask: int) -> None:
        """Tell inotify's watches of this file (and of its directory)."""
        notify = self.notify
        if notify is not None and notify.watching:
            notify.file_event(self.path, self.fd, mask)

    def inode(self) -> object:
        info = os.fstat(self.fd)
        return ("host", info.st_dev, info.st_ino)

    def read(self, count: int) -> bytes:
        data: bytes = _host_call(lambda: os.read(self.fd, count))  # type: ignore[assignment]
        if data:
            self.event(F.IN_ACCESS)
        return data

    def write(self, data: bytes) -> int:
        n: int = _host_call(lambda: os.write(self.fd, data))  # type: ignore[assignment]
        if n:
            self.event(F.IN_MODIFY)
        return n

    def pread(self, count: int, offset: int) -> bytes:
        data: bytes = _host_call(lambda: os.pread(self.fd, count, offset))  # type: ignore[assignment]
        if data:
            self.event(F.IN_ACCESS)
        return data

    def pwrite(self, data: bytes, offset: int) -> int:
        n: int = _host_call(lambda: os.pwrite(self.fd, data, offset))  # type: ignore[assignment]
        if n:
            self.event(F.IN_MODIFY)
        return n

    def lseek(self, offset: int, whence: int) -> int:
        if whence not in (F.SEEK_SET, F.SEEK_CUR, F.SEEK_END):
            raise SyscallError(Errno.EINVAL)
        return _host_call(lambda: os.lseek(self.fd, offset, whence))  # type: ignore[return-value]

    def stat(self) -> StatInfo:
        return StatInfo.from_host(_host_call(lambda: os.fstat(self.fd)))  # type: ignore[arg-type]

    def truncate(self, length: int) -> None:
        _host_call(lambda: os.ftruncate(self.fd, length))
        self.event(F.IN_MODIFY)

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        """Mode 0 grows the host file to cover the range (what a reader can
        see of an allocation; ENOSPC past the host's free space);
        FALLOC_FL_KEEP_SIZE changes nothing visible;
        a punched hole within the file reads as zeroes. Other modes:
        EOPNOTSUPP, as tmpfs says."""
        if mode & ~(F.FALLOC_FL_KEEP_SIZE | F.FALLOC_FL_PUNCH_HOLE):
            raise SyscallError(Errno.EOPNOTSUPP)
        size = self.stat().size
        end = offset + length
        if mode & F.FALLOC_FL_PUNCH_HOLE:
            if offset < size:
                _host_call(lambda: os.pwrite(self.fd, bytes(min(end, size) - offset), offset))
        elif not mode & F.FALLOC_FL_KEEP_SIZE and end > size:
            fs = os.fstatvfs(self.fd)
            if end - size > fs.f_bavail * fs.f_frsize:  # (what a real allocation would say)
                raise SyscallError(Errno.ENOSPC)
            _host_call(lambda: os.ftruncate(self.fd, end))
        self.event(F.IN_MODIFY)

    def statfs(self) -> StatFs:
        return host_fstatfs(self.fd)

    def set_times(self, times: Times) -> None:
        def futimens() -> None:
            if times is None:
                os.utime(self.fd)
            else:
                os.utime(self.fd, ns=fill_omitted(times, os.fstat(self.fd)))

        _host_call(futimens)
        self.event(F.IN_ATTRIB)

    def release(self) -> None:
        self.event(F.IN_CLOSE_WRITE if self.writable else F.IN_CLOSE_NOWRITE)
        os.close(self.fd)


class HostDirectory(HostFile):
    """A directory of the guest root; getdents64 lists it (with . and ..)."""

    mmap_capabilities = 0

    def __init__(self, fd: int, flags: int, path: str, notify: FsNotify | None = None) -> None:
        super().__init__(fd, flags, path, notify)
        self._entries: list[bytes] | None = None
        self._next = 0

    def read(self, count: int) -> bytes:
        raise SyscallError(Errno.EISDIR)

    def write(self, data: bytes) -> int:
        raise SyscallError(Errno.EBADF)

    def lseek(self, offset: int, whence: int) -> int:
        if whence != F.SEEK_SET or offset < 0:
            raise SyscallError(Errno.EINVAL)
        self._next = offset
        if offset == 0:
            self._entries = None
        return offset

    def _list(self) -> list[bytes]:
        me = os.fstat(self.fd)
        out = [dirent(me.st_ino, 1, F.DT_DIR, b"."), dirent(me.st_ino, 2, F.DT_DIR, b"..")]
        with os.scandir(self.fd) as it:
            for entry in it:
                dtype = _dtype(entry)
                out.append(dirent(entry.inode(), len(out) + 1, dtype, os.fsencode(entry.name)))
        return out

    def getdents(self, size: int) -> bytes:
        if self._entries is None:
            self._entries = _host_call(self._list)  # type: ignore[assignment]
        assert self._entries is not None
        out, self._next = take_dirents(self._entries, self._next, size)
        return out


def take_dirents(records: list[bytes], start: int, size: int) -> tuple[bytes, int]:
    """getdents64's rule: as many whole records from `start` as fit in `size`
    bytes, and the index after them (EINVAL if not even one fits)."""
    out = bytearray()
    i = start
    while i < len(records) and len(out) + len(records[i]) <= size:
        out += records[i]
        i += 1
    if not out and i < len(records):
        raise SyscallError(Errno.EINVAL)
    return bytes(out), i


class Listing(OpenFile):
    """A directory whose entries the kernel makes up (/proc, /dev/shm)."""

    has_poll = False

    def __init__(self, flags: int, path: str) -> None:
        super().__init__(flags, path)
        self.next = 0

    def records(self) -> list[bytes]:
        """The linux_dirent64 records, "." and ".." first (each kind says what it holds)."""
        return []

    def getdents(self, size: int) -> bytes:
        out, self.next = take_dirents(self.records(), self.next, size)
        return out

    def lseek(self, offset: int, whence: int) -> int:
        if whence != F.SEEK_SET or offset < 0:
            raise SyscallError(Errno.EINVAL)
        self.next = offset
        return offset

    def read(self, count: int) -> bytes:
        raise SyscallError(Errno.EISDIR)


def _dtype(entry: os.DirEntry[str]) -> int:
    try:
        if entry.is_symlink():
            return F.DT_LNK
        if entry.is_dir(follow_symlinks=False):
            return F.DT_DIR
        if entry.is_file(follow_symlinks=False):
            return F.DT_REG
    except OSError:
        pass
    return F.DT_UNKNOWN


def dirent(ino: int, off: int, dtype: int, name: bytes) -> bytes:
    reclen = (_DIRENT64.size + len(name) + 1 + 7) & ~7
    rec = _DIRENT64.pack(ino, off, reclen, dtype) + name
    return rec + bytes(reclen - len(rec))


class HostStream(OpenFile):
    """One of nommu's own stdin/stdout/stderr, passed to the guest.

    A read that would block parks the task (the scheduler waits on the host
    descriptor with select) instead of stalling every other task.
    """

    def __init__(
        self,
        fd: int,
        flags: int,
        path: str,
        owns_fd: bool = False,
        limit: OutputLimit | None = None,
    ) -> None:
        super().__init__(flags, path)
        self.fd = fd
        self.owns_fd = owns_fd
        self.limit = limit  # --max-output, shared by every output stream of the run

    def release(self) -> None:
        if self.owns_fd:
            os.close(self.fd)

    def read(self, count: int) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], 0)
        if not ready:
            if self.flags & F.O_NONBLOCK:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(HostReadable(self.fd))
        return _host_call(lambda: os.read(self.fd, count))  # type: ignore[return-value]

    def write(self, data: bytes) -> int:
        if self.limit is not None:
            data = data[: self.limit.allow(len(data))]
        try:
            written = os.write(self.fd, data)
            if self.limit is not None:
                self.limit.wrote(written)
            return written
        except BrokenPipeError:
            raise SyscallError(Errno.EPIPE) from None
        except OSError as err:
            raise SyscallError(from_host(err)) from None

    def lseek(self, offset: int, whence: int) -> int:
        return _host_call(lambda: os.lseek(self.fd, offset, whence))  # type: ignore[return-value]

    def stat(self) -> StatInfo:
        return StatInfo.from_host(_host_call(lambda: os.fstat(self.fd)))  # type: ignore[arg-type]

    def is_tty(self) -> bool:
        return os.isatty(self.fd)

    def ioctl(self, k: Kernel, t: Task, req: int, arg: int) -> int:
        if not self.is_tty():
            raise SyscallError(Errno.ENOTTY)
        from nommu.kernel import tty

        return tty.ioctl(k, t, self, req, arg)

    def statfs(self) -> StatFs:
        return host_fstatfs(self.fd)

    def host_fd(self) -> int | None:
        return self.fd

    def poll(self) -> int:
        """What the host says of its descriptor: input, and a hang-up (the
        writer of a host pipe gone) or an error, as the guest's bits."""
        if not self.readable:
            return POLLOUT
        host = select.poll()
        host.register(self.fd, select.POLLIN)
        got = host.poll(0)
        bits = got[0][1] if got else 0
        return (
            (POLLIN if bits & select.POLLIN else 0)
            | (POLLHUP if bits & select.POLLHUP else 0)
            | (POLLERR if bits & select.POLLERR else 0)
            | (POLLOUT if self.writable else 0)
        )

    def poll_channels(self) -> tuple[object, ...]:
        return (HostReadable(self.fd),) if self.readable else ()


@dataclass(frozen=True, slots=True)
class HostReadable:
    """Wait channel: a host descriptor that has no data yet."""

    fd: int


class CapturedOutput(OpenFile):
    """Output collected in memory (the Python API's `capture=True`)."""

    def __init__(self, sink: bytearray, path: str, limit: OutputLimit | None = None) -> None:
        super().__init__(F.O_WRONLY, path)
        self.sink = sink
        self.limit = limit  # --max-output, shared by every output stream of the run

    def write(self, data: bytes) -> int:
        if self.limit is not None:
            data = data[: self.limit.allow(len(data))]
            self.limit.wrote(len(data))
        self.sink += data
        return len(data)

    def stat(self) -> StatInfo:
        return StatInfo(6, 1, st.S_IFIFO | 0o600, 1, 0, 0, 0, 0, 4096, 0, 0, 0, 0)

    def statfs(self) -> StatFs:
        return pseudo_fs(F.PIPEFS_MAGIC)


class BytesFile(OpenFile):
    """A read-only file whose contents are bytes held by the kernel."""

    has_poll = False

    def __init__(self, data: bytes, flags: int, path: str) -> None:
        super().__init__(flags, path)
        self.data = data
        self.pos = 0

    def read(self, count: int) -> bytes:
        chunk = self.data[self.pos : self.pos + count]
        self.pos += len(chunk)
        return chunk

    def pread(self, count: int, offset: int) -> bytes:
        return self.data[offset : offset + count]

    def lseek(self, offset: int, whence: int) -> int:
        base = {F.SEEK_SET: 0, F.SEEK_CUR: self.pos, F.SEEK_END: len(self.data)}.get(whence)
        if base is None or base + offset < 0:
            raise SyscallError(Errno.EINVAL)
        self.pos = base + offset
        return self.pos


class BytesInput(BytesFile):
    """Input given as bytes (the Python API's `stdin=b"..."`): a pipe, not seekable."""

    has_poll = True

    def __init__(self, data: bytes, path: str) -> None:
        super().__init__(data, F.O_RDONLY, path)

    def pread(self, count: int, offset: int) -> bytes:
        raise SyscallError(Errno.ESPIPE)

    def lseek(self, offset: int, whence: int) -> int:
        raise SyscallError(Errno.ESPIPE)

    def stat(self) -> StatInfo:
        return StatInfo(6, 2, st.S_IFIFO | 0o600, 1, 0, 0, 0, 0, 4096, 0, 0, 0, 0)

    def statfs(self) -> StatFs:
        return pseudo_fs(F.PIPEFS_MAGIC)


class DevNull(OpenFile):
    has_poll = False

    def read(self, count: int) -> bytes:
        return b""

    def write(self, data: bytes) -> int:
        return len(data)

    def lseek(self, offset: int, whence: int) -> int:
        return 0

    def stat(self) -> StatInfo:
        return char_device_stat(1, 3)


class DevZero(DevNull):
    mmap_capabilities = NOMMU_MAP_COPY  # zero_mmap_capabilities: a copy of zeroes

    def read(self, count: int) -> bytes:
        return bytes(count)

    def pread(self, count: int, offset: int) -> bytes:
        return bytes(count)

    def inode(self) -> object:
        return "/dev/zero"

    def stat(self) -> StatInfo:
        return char_device_stat(1, 5)


class DevRandom(DevNull):
    """/dev/urandom and /dev/random, fed by the machine's entropy source."""

    def __init__(self, flags: int, path: str, source: Callable[[int], bytes]) -> None:
        super().__init__(flags, path)
        self.source = source

    def read(self, count: int) -> bytes:
        return self.source(count)

    def stat(self) -> StatInfo:
        return char_device_stat(1, 9 if self.path.endswith("urandom") else 8)


@dataclass(slots=True)
class FdEntry:
    file: OpenFile
    cloexec: bool = False


@dataclass(eq=False)
class FdTable:
    """Descriptor number -> open file. Shared under CLONE_FILES."""

    limit: int = 1024
    fds: dict[int, FdEntry] = field(default_factory=dict)
    users: int = 1  # tasks sharing this table (CLONE_FILES)
    # set once the table (the process: it owns POSIX record locks) takes one:
    # closing any descriptor of a file then drops its locks on that file
    locks: LockTable | None = None

    def get(self, fd: int) -> OpenFile:
        entry = self.fds.get(fd)
        if entry is None:
            raise SyscallError(Errno.EBADF)
        return entry.file

    def get_a(self, fd: int, kind: type[Kind], wrong: Errno = Errno.EINVAL) -> Kind:
        """The open file `fd`, which must be a `kind` (an epoll instance, a
        socket...): EBADF if there is none, `wrong` if it is something else."""
        f = self.get(fd)
        if not isinstance(f, kind):
            raise SyscallError(wrong)
        return f

    def lowest_free(self, start: int = 0) -> int:
        fd = start
        while fd in self.fds:
            fd += 1
        if fd >= self.limit:
            raise SyscallError(Errno.EMFILE)
        return fd

    def install(self, file: OpenFile, cloexec: bool = False, start: int = 0) -> int:
        """Put `file` at the lowest free descriptor >= start (takes the reference)."""
        fd = self.lowest_free(start)
        self.fds[fd] = FdEntry(file, cloexec)
        return fd

    def install_at(self, fd: int, file: OpenFile, cloexec: bool = False) -> None:
        """dup2's half: replace whatever `fd` was (closing it)."""
        if fd < 0 or fd >= self.limit:
            raise SyscallError(Errno.EBADF)
        file.refs += 1
        self.close(fd, missing_ok=True)
        self.fds[fd] = FdEntry(file, cloexec)

    def close(self, fd: int, missing_ok: bool = False) -> None:
        entry = self.fds.pop(fd, None)
        if entry is None:
            if missing_ok:
                return
            raise SyscallError(Errno.EBADF)
        if self.locks is not None:
            self.locks.closed(self, entry.file)
        put_file(entry.file)

    def copy(self) -> FdTable:
        """A new table sharing every open file (what a new process inherits)."""
        for entry in self.fds.values():
            entry.file.refs += 1
        return FdTable(self.limit, {fd: FdEntry(e.file, e.cloexec) for fd, e in self.fds.items()})

    def close_on_exec(self) -> None:
        for fd in [fd for fd, e in self.fds.items() if e.cloexec]:
            self.close(fd)

    def close_all(self) -> None:
        for fd in list(self.fds):
            self.close(fd)


def put_file(file: OpenFile) -> None:
    """Drop one reference to an open file description."""
    file.refs -= 1
    if file.refs == 0:
        if file.lock_table is not None:
            file.lock_table.released(file)
        file.release()
