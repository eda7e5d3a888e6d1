"""inotify: events about files, for changes made inside the guest.

Two halves:

* `FsNotify`, one per machine, holds every watch, keyed by the inode watched
  (the host file's (st_dev, st_ino): a watch follows the file, not its name).
  The file operations report what they did to it, in one place each:
  `HostFs` for what is done by name (create, delete, rename, chmod,
  utimes, truncate) and `HostFile` for what is done through an open file
  (open, read, write, close). Nothing is looked up unless a watch exists,
  so with no inotify instance the file calls cost one attribute test.
* `Inotify`, the open file inotify_init returns: its watches (numbered from
  1) and its queue of struct inotify_event records, read whole; a read
  waits while the queue is empty.

An event about a file goes to watches on the file itself and to watches on
its directory (with the file's name), the directory's first, as Linux's
fsnotify does. An event equal to the last one still queued is merged into
it. Changes made on the host behind the machine's back are not seen.
Deviations: IN_DELETE_SELF comes when the last name goes (not at the last
close of a file still open); reading a directory sends no IN_ACCESS.
"""

from __future__ import annotations

import os
import stat as st
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.flags import POLLIN
from nommu.kernel.anon import AnonFile
from nommu.kernel.errors import Blocked, SyscallError

if TYPE_CHECKING:
    from nommu.kernel.sched import Scheduler

EVENT = struct.Struct("<iIII")  # wd, mask, cookie, len (then the name, NUL-padded)
MAX_QUEUED = 16384  # max_queued_events: then one IN_Q_OVERFLOW
Key = tuple[int, int]


@dataclass(eq=False)
class Watch:
    owner: Inotify
    wd: int
    key: Key
    mask: int


@dataclass(frozen=True, slots=True, eq=False)
class InotifyQueued:
    """Wait channel: an event was queued on an inotify instance."""

    def __str__(self) -> str:
        return "read from inotify (no events)"


class FsNotify:
    """Every inotify watch of the machine, and the hooks that feed them."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.watches: dict[Key, list[Watch]] = {}
        self._cookie = 0

    @property
    def watching(self) -> bool:
        return bool(self.watches)

    def next_cookie(self) -> int:
        self._cookie += 1
        return self._cookie

    def key_of(self, host: str) -> tuple[Key, bool] | None:
        """(inode key, is a directory) of a host path, None if it is gone."""
        try:
            s = os.stat(host, follow_symlinks=False)
        except OSError:
            return None
        return (s.st_dev, s.st_ino), st.S_ISDIR(s.st_mode)

    def host_of(self, guest: str) -> str:
        return self.root + guest if guest != "/" else self.root

    # -- delivering ----------------------------------------------------------

    def to_inode(self, key: Key, mask: int, name: bytes = b"", cookie: int = 0) -> None:
        """Queue `mask` (IN_ISDIR aside) to the watches of inode `key` that want it."""
        for w in list(self.watches.get(key, ())):
            if w.mask & mask & F.IN_ALL_EVENTS:
                w.owner.queue(w.wd, mask, cookie, name)
                if w.mask & F.IN_ONESHOT:
                    self.remove(w)

    def about(self, guest: str, mask: int, key: tuple[Key, bool] | None = None) -> None:
        """An event about the file at guest path `guest` (`key`: its inode, if
        known already): to its directory's watches with its name, then its own."""
        host = self.host_of(guest)
        key = key or self.key_of(host)
        if key is None:
            return
        inode, is_dir = key
        mask |= F.IN_ISDIR if is_dir else 0
        parent = self.key_of(os.path.dirname(host)) if guest != "/" else None
        if parent is not None:
            self.to_inode(parent[0], mask, os.fsencode(os.path.basename(guest)))
        self.to_inode(inode, mask)

    def gone(self, key: Key) -> None:
        """The inode lost its last name: IN_DELETE_SELF, then its watches go."""
        self.to_inode(key, F.IN_DELETE_SELF)  # (no IN_ISDIR on this one, as Linux)
        for w in list(self.watches.get(key, ())):
            self.remove(w)

    def remove(self, w: Watch) -> None:
        """Drop a watch; its instance gets IN_IGNORED."""
        watches = self.watches.get(w.key, [])
        if w in watches:
            watches.remove(w)
            if not watches:
                del self.watches[w.key]
            w.owner.forget(w)

    # -- hooks: what the file operations call (only while `watching`) ---------

    def created(self, guest: str) -> None:
        self.about(guest, F.IN_CREATE)

    def removed(self, guest: str, before: tuple[Key, bool] | None, nlink: int) -> None:
        """unlink or rmdir of `guest`, whose inode was `before`."""
        if before is None:
            return
        key, is_dir = before
        if not is_dir:
            self.to_inode(key, F.IN_ATTRIB)  # (its link count changed)
        parent = self.key_of(os.path.dirname(self.host_of(guest)))
        if parent is not None:
            name = os.fsencode(os.path.basename(guest))
            self.to_inode(parent[0], F.IN_DELETE | (F.IN_ISDIR if is_dir else 0), name)
        if is_dir or nlink <= 1:
            self.gone(key)

    def moved(self, old: str, new: str, before: tuple[Key, bool] | None) -> None:
        if before is None:
            return
        key, is_dir = before
        isdir = F.IN_ISDIR if is_dir else 0
        cookie = self.next_cookie()
        for guest, mask in ((old, F.IN_MOVED_FROM), (new, F.IN_MOVED_TO)):
            parent = self.key_of(os.path.dirname(self.host_of(guest)))
            if parent is not None:
                name = os.fsencode(os.path.basename(guest))
                self.to_inode(parent[0], mask | isdir, name, cookie)
        self.to_inode(key, F.IN_MOVE_SELF)

    def file_event(self, guest: str, fd: int, mask: int) -> None:
        """An event through an open file (host descriptor `fd`)."""
        try:
            s = os.fstat(fd)
        except OSError:
            return
        self.about(guest, mask, ((s.st_dev, s.st_ino), st.S_ISDIR(s.st_mode)))


@dataclass(eq=False)
class _Queued:
    wd: int
    mask: int
    cookie: int
    name: bytes

    def pack(self) -> bytes:
        if not self.name:
            return EVENT.pack(self.wd, self.mask, self.cookie, 0)
        size = (len(self.name) + 1 + EVENT.size - 1) // EVENT.size * EVENT.size
        return EVENT.pack(self.wd, self.mask, self.cookie, size) + self.name.ljust(size, b"\0")


@dataclass(eq=False)
class _State:
    watches: dict[int, Watch] = field(default_factory=dict)
    events: list[_Queued] = field(default_factory=list)
    next_wd: int = 1


class Inotify(AnonFile):
    """An inotify instance, as an open file."""

    def __init__(self, fsn: FsNotify, sched: Scheduler, flags: int) -> None:
        super().__init__(flags | F.O_RDONLY, "inotify")
        self.fsn, self.sched = fsn, sched
        self.state = _State()
        self.queued = InotifyQueued()

    def add_watch(self, key: Key, mask: int) -> int:
        """Watch inode `key` for the events of `mask` (IN_MASK_ADD: in addition
        to those watched already; IN_MASK_CREATE: EEXIST if watched)."""
        for w in self.state.watches.values():
            if w.key == key:
                if mask & F.IN_MASK_CREATE:
                    raise SyscallError(Errno.EEXIST)
                w.mask = (w.mask if mask & F.IN_MASK_ADD else 0) | mask
                return w.wd
        w = Watch(self, self.state.next_wd, key, mask)
        self.state.next_wd += 1
        self.state.watches[w.wd] = w
        self.fsn.watches.setdefault(key, []).append(w)
        return w.wd

    def rm_watch(self, wd: int) -> None:
        w = self.state.watches.get(wd)
        if w is None:
            raise SyscallError(Errno.EINVAL)
        self.fsn.remove(w)

    def forget(self, w: Watch) -> None:
        """`w` was dropped (rm_watch, IN_ONESHOT, its file gone): IN_IGNORED."""
        if self.state.watches.pop(w.wd, None) is not None:
            self.queue(w.wd, F.IN_IGNORED, 0, b"")

    def queue(self, wd: int, mask: int, cookie: int, name: bytes) -> None:
        events = self.state.events
        event = _Queued(wd, mask, cookie, name)
        if events and events[-1].__dict__ == event.__dict__:
            return  # the same as the last unread event: merged
        if len(events) >= MAX_QUEUED:
            if events[-1].mask != F.IN_Q_OVERFLOW:
                events.append(_Queued(-1, F.IN_Q_OVERFLOW, 0, b""))
            return
        events.append(event)
        self.sched.wakeup(self.queued)

    def read(self, count: int) -> bytes:
        events = self.state.events
        if not events:
            if self.flags & F.O_NONBLOCK:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(self.queued)
        out = bytearray()
        while events and len(out) + len(events[0].pack()) <= count:
            out += events.pop(0).pack()
        if not out:
            raise SyscallError(Errno.EINVAL)  # not even the first event fits
        return bytes(out)

    def nread(self) -> int:
        return sum(len(e.pack()) for e in self.state.events)

    def poll(self) -> int:
        return POLLIN if self.state.events else 0

    def poll_channels(self) -> tuple[object, ...]:
        return (self.queued,)

    def release(self) -> None:
        for w in list(self.state.watches.values()):
            watches = self.fsn.watches.get(w.key, [])
            if w in watches:
                watches.remove(w)
                if not watches:
                    del self.fsn.watches[w.key]
        self.state.watches.clear()
