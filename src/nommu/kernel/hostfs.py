"""The guest root on the host disk: every host file call the kernel makes on it.

`Vfs.resolve` checks a guest path one component at a time and says which host
file it names, inside the root. Between that check and the call that uses it,
something else on the host (a second nommu sharing the root, a user, a build
tool) may replace a directory on the way, or the file itself, with a symlink
pointing out of the root; a call given the full host path would follow it.
So no call here takes a full path. Each names its file as (descriptor of the
parent directory, final name): the parent is opened from the root one
component at a time with O_NOFOLLOW, and the final name is never followed
either (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW). A swap then makes the call fail
(ELOOP, ENOTDIR, ENOENT) instead of reaching outside the root.

The root's policies are applied here too, in one place:

* a read-only root (`--read-only`): every change fails with EROFS;
* no set-user-ID or set-group-ID bit is ever set on a host file, so a guest
  cannot leave a setuid program behind for the host of whoever runs nommu;
* host device nodes, FIFOs and sockets inside the root are never opened: a
  device node would reach host hardware (EACCES, as on a `nodev` mount) and a
  FIFO open would stall the whole machine (ENXIO, as for a socket).

And each change by name is reported here to inotify (`notify`,
kernel/inotify.py), when some watch exists.
"""

from __future__ import annotations

import os
import stat as st
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno, from_host
from nommu.kernel.errors import SyscallError
from nommu.kernel.files import Times, fill_omitted
from nommu.kernel.statfs import StatFs, host_fstatfs

if TYPE_CHECKING:
    from nommu.kernel.inotify import FsNotify
    from nommu.kernel.vfs import Resolved

_WALK = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_ALWAYS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_CREAT
NO_SETID = 0o1777  # permission bits a guest may set on a host file


@contextmanager
def host_errors() -> Iterator[None]:
    """A host OSError inside the block becomes the guest's errno."""
    try:
        yield
    except OSError as err:
        raise SyscallError(from_host(err)) from None


class HostFs:
    """Host file operations on the files `Vfs.resolve` found inside `root`."""

    def __init__(self, root: str, read_only: bool = False) -> None:
        self.root = root
        self.read_only = read_only
        self.notify: FsNotify | None = None  # inotify's hooks (set by the kernel)

    def _watched(self) -> FsNotify | None:
        """The inotify hooks, if anything is watched at all."""
        notify = self.notify
        return notify if notify is not None and notify.watching else None

    @contextmanager
    def at(self, r: Resolved) -> Iterator[tuple[int, str]]:
        """(parent directory descriptor, final name) for `r`; "." names the root."""
        parts = r.guest.split("/")[1:] if r.guest != "/" else []
        with host_errors():
            fd = os.open(self.root, _WALK)
            try:
                for name in parts[:-1]:
                    parent, fd = fd, -1
                    try:
                        fd = os.open(name, _WALK, dir_fd=parent)
                    finally:
                        os.close(parent)
                yield fd, parts[-1] if parts else "."
            finally:
                if fd >= 0:
                    os.close(fd)

    def check_writable(self) -> None:
        """EROFS if the root is read-only."""
        if self.read_only:
            raise SyscallError(Errno.EROFS)

    # -- looking -------------------------------------------------------------

    def lstat(self, r: Resolved) -> os.stat_result:
        with self.at(r) as (d, name), host_errors():
            return os.stat(name, dir_fd=d, follow_symlinks=False)

    def readlink(self, r: Resolved) -> str:
        """A symlink's contents (EINVAL if `r` is not a symlink)."""
        with self.at(r) as (d, name), host_errors():
            return os.readlink(name, dir_fd=d)

    # -- opening -------------------------------------------------------------

    def open(self, r: Resolved, flags: int, mode: int) -> int:
        """A host descriptor for `r`; `flags` are host O_* flags.

        Only regular files and directories (and, with O_PATH, symlinks) open."""
        if self.read_only and flags & _WRITE_FLAGS and not flags & os.O_PATH:
            self._refuse_write(r, flags)
        with self.at(r) as (d, name), host_errors():
            fd = os.open(name, flags | _OPEN_ALWAYS, mode & NO_SETID, dir_fd=d)
        notify = self._watched()
        if notify is not None and not r.exists and flags & os.O_CREAT:
            notify.created(r.guest)
        elif notify is not None and r.exists and flags & os.O_TRUNC:
            notify.about(r.guest, F.IN_MODIFY)
        try:
            kind = st.S_IFMT(os.fstat(fd).st_mode)
            if kind not in (st.S_IFREG, st.S_IFDIR) and not (flags & os.O_PATH):
                raise SyscallError(_special_file_errno(kind))
            if not flags & os.O_PATH and not flags & os.O_NONBLOCK:
                os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _refuse_write(self, r: Resolved, flags: int) -> None:
        """A read-only root: what open(2) with write intent fails with."""
        if not r.exists:
            if flags & os.O_CREAT:
                raise SyscallError(Errno.EROFS)
            return  # ENOENT comes from the open itself
        if flags & os.O_CREAT and flags & os.O_EXCL:
            raise SyscallError(Errno.EEXIST)
        kind = st.S_IFMT(self.lstat(r).st_mode)
        if kind == st.S_IFDIR and flags & (os.O_WRONLY | os.O_RDWR):
            raise SyscallError(Errno.EISDIR)
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC) and kind in (st.S_IFREG, st.S_IFDIR):
            raise SyscallError(Errno.EROFS)

    # -- changing ------------------------------------------------------------

    def mkdir(self, r: Resolved, mode: int) -> None:
        self.check_writable()
        with self.at(r) as (d, name), host_errors():
            os.mkdir(name, mode & NO_SETID, dir_fd=d)
        if (notify := self._watched()) is not None:
            notify.created(r.guest)

    def remove(self, r: Resolved, is_dir: bool) -> None:
        """rmdir or unlink (never following a final symlink)."""
        self.check_writable()
        notify = self._watched()
        before = notify.key_of(r.host) if notify is not None else None
        nlink = os.stat(r.host, follow_symlinks=False).st_nlink if before is not None else 0
        with self.at(r) as (d, name), host_errors():
            if is_dir:
                os.rmdir(name, dir_fd=d)
            else:
                os.unlink(name, dir_fd=d)
        if notify is not None:
            notify.removed(r.guest, before, nlink)

    def rename(self, old: Resolved, new: Resolved) -> None:
        self.check_writable()
        notify = self._watched()
        before = notify.key_of(old.host) if notify is not None else None
        with self.at(old) as (od, oname), self.at(new) as (nd, nname), host_errors():
            os.rename(oname, nname, src_dir_fd=od, dst_dir_fd=nd)
        if notify is not None:
            notify.moved(old.guest, new.guest, before)

    def symlink(self, target: str, r: Resolved) -> None:
        """A symlink at `r` holding `target` verbatim (following it stays inside the
        root: Vfs.resolve re-roots every target)."""
        self.check_writable()
        with self.at(r) as (d, name), host_errors():
            os.symlink(target, name, dir_fd=d)
        if (notify := self._watched()) is not None:
            notify.created(r.guest)

    def link(self, old: Resolved, new: Resolved) -> None:
        """A hard link: both names are inside the root, and `old` is not followed."""
        self.check_writable()
        with self.at(old) as (od, oname), self.at(new) as (nd, nname), host_errors():
            os.link(oname, nname, src_dir_fd=od, dst_dir_fd=nd, follow_symlinks=False)
        if (notify := self._watched()) is not None:
            notify.about(old.guest, F.IN_ATTRIB)  # (its link count)
            notify.created(new.guest)

    def chmod(self, r: Resolved, mode: int) -> None:
        """chmod of `r` itself (a symlink here means it was swapped in: EOPNOTSUPP,
        what Linux gives for changing a symlink's mode)."""
        self.check_writable()
        with self.at(r) as (d, name), host_errors():
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=d)
        try:
            with host_errors():
                if st.S_ISLNK(os.fstat(fd).st_mode):
                    raise SyscallError(Errno.EOPNOTSUPP)
                if os.path.isdir("/proc/self/fd"):  # chmod of exactly the file opened
                    os.chmod(f"/proc/self/fd/{fd}", mode & NO_SETID)
                else:  # no host /proc: by name, inside the directory walked to
                    with self.at(r) as (d, name):
                        os.chmod(name, mode & NO_SETID, dir_fd=d)
        finally:
            os.close(fd)
        if (notify := self._watched()) is not None:
            notify.about(r.guest, F.IN_ATTRIB)

    def set_times(self, r: Resolved, times: Times) -> None:
        """utimensat of `r` itself (never following it; a caller that follows
        symlinks resolved them already)."""
        self.check_writable()
        with self.at(r) as (d, name), host_errors():
            if times is None:  # now, by the host's clock
                os.utime(name, dir_fd=d, follow_symlinks=False)
            else:
                old = os.stat(name, dir_fd=d, follow_symlinks=False)
                os.utime(name, ns=fill_omitted(times, old), dir_fd=d, follow_symlinks=False)
        if (notify := self._watched()) is not None:
            notify.about(r.guest, F.IN_ATTRIB)

    def statfs(self, r: Resolved) -> StatFs:
        """statfs of the file system holding `r` (ST_RDONLY on a read-only root)."""
        with self.at(r) as (d, name), host_errors():
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=d)
        try:
            return self.mounted(host_fstatfs(fd))
        finally:
            os.close(fd)

    def mounted(self, s: StatFs) -> StatFs:
        """A host file system's statfs as the root's mount shows it."""
        return replace(s, flags=s.flags | F.ST_RDONLY) if self.read_only else s

    def truncate(self, r: Resolved, length: int) -> None:
        self.check_writable()
        fd = self.open(r, os.O_WRONLY, 0)
        try:
            with host_errors():
                os.ftruncate(fd, length)
        finally:
            os.close(fd)
        if (notify := self._watched()) is not None:
            notify.about(r.guest, F.IN_MODIFY)


def _special_file_errno(kind: int) -> Errno:
    """Why a host file that is neither regular nor a directory does not open."""
    if kind in (st.S_IFCHR, st.S_IFBLK):
        return Errno.EACCES  # a `nodev` mount
    if kind == st.S_IFLNK:
        return Errno.ELOOP
    return Errno.ENXIO  # FIFO or socket
