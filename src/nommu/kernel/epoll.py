"""epoll: an interest list of watched files, and which of them are ready.

An epoll instance is an open file holding items, one per (descriptor,
open file) pair added with EPOLL_CTL_ADD. Readiness comes from the same
place poll() gets it: each file's `poll()` bits. What epoll adds is being
told when those bits may have changed: an item watches its file's wait
channels (`poll_channels`, the ones poll() would sleep on) through the
scheduler's watch callbacks, and a wakeup on any of them

* marks the item as having had an event (what edge triggering reports), and
* wakes the instance's own channel, where epoll_wait sleeps and which an
  enclosing epoll instance watches in turn (nested epoll).

Collecting events (epoll_wait), items are looked at in order and each one
reported is moved to the end (so a small maxevents serves every item in
turn, as Linux's ready list does):

* level-triggered: reported whenever its file's poll() has a wanted bit
  (EPOLLERR and EPOLLHUP are always wanted);
* EPOLLET: reported only if an event arrived since it was last reported
  (or added or modified), and then only if a wanted bit holds;
* EPOLLONESHOT: after one report, the item is disabled until EPOLL_CTL_MOD.

An item goes away when its open file description is released (the last
descriptor for it closed), not when the descriptor it was added with is
closed while a dup of it lives: Linux's rule, which surprises people.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.kernel.anon import AnonFile
from nommu.kernel.errors import SyscallError
from nommu.kernel.files import HostReadable, OpenFile

if TYPE_CHECKING:
    from nommu.kernel.sched import Scheduler

# Bits of an item's mask that are not events (kept when EPOLLONESHOT fires).
PRIVATE_BITS = F.EPOLLONESHOT | F.EPOLLET | F.EPOLLWAKEUP | F.EPOLLEXCLUSIVE
# What EPOLLEXCLUSIVE may be combined with (Linux's EPOLLEXCLUSIVE_OK_BITS).
EXCLUSIVE_OK = (
    F.EPOLLIN | F.EPOLLOUT | F.EPOLLRDNORM | F.EPOLLRDBAND | F.EPOLLWRNORM | F.EPOLLWRBAND
) | (F.EPOLLERR | F.EPOLLHUP | F.EPOLLWAKEUP | F.EPOLLET | F.EPOLLEXCLUSIVE)
MAX_NESTS = 4  # how deep epoll instances may watch each other (EP_MAX_NESTS)


@dataclass(frozen=True, slots=True, eq=False)
class EpollReady:
    """Wait channel of one epoll instance: one of its items had an event."""

    id: int

    def __str__(self) -> str:
        return f"epoll_wait on anon_inode:[eventpoll] {self.id}"


def file_events(f: OpenFile) -> int:
    """`f`'s poll() bits in epoll terms (POLLIN implies EPOLLRDNORM, as a
    file's poll method reports it, and POLLOUT EPOLLWRNORM)."""
    bits = f.poll()
    if bits & F.EPOLLIN:
        bits |= F.EPOLLRDNORM
    if bits & F.EPOLLOUT:
        bits |= F.EPOLLWRNORM
    return bits


class EpItem:
    """One watched (descriptor, file) pair of an epoll instance."""

    def __init__(self, ep: Epoll, fd: int, file: OpenFile, events: int, data: int) -> None:
        self.ep, self.fd, self.file = ep, fd, file
        self.events, self.data = events, data
        self.pending = True  # an event since the last report (edge triggering)
        self.channels = file.poll_channels()
        self.notify: Callable[[], None] = self._on_wakeup
        for ch in self.channels:
            ep.sched.watch(ch, self.notify)

    def _on_wakeup(self) -> None:
        self.pending = True
        self.ep.sched.wakeup(self.ep.channel)

    def detach(self) -> None:
        for ch in self.channels:
            self.ep.sched.unwatch(ch, self.notify)

    def modify(self, events: int, data: int) -> None:
        self.events, self.data, self.pending = events, data, True

    def ready(self, consume: bool) -> int:
        """The events to report now (0: none); `consume` takes an edge."""
        if self.events & F.EPOLLET and not self.pending:
            return 0
        got = file_events(self.file) & (self.events | F.EPOLLERR | F.EPOLLHUP)
        if consume:
            self.pending = False
            if got and self.events & F.EPOLLONESHOT:
                self.events &= PRIVATE_BITS
        return got & ~PRIVATE_BITS


class Epoll(AnonFile):
    """An epoll instance, as an open file (it can itself be polled)."""

    def __init__(self, sched: Scheduler, flags: int, ident: int) -> None:
        super().__init__(flags, "[eventpoll]")
        self.sched = sched
        self.channel = EpollReady(ident)
        self.items: dict[tuple[int, OpenFile], EpItem] = {}

    # -- the interest list (epoll_ctl) --------------------------------------

    def add(self, fd: int, file: OpenFile, events: int, data: int) -> None:
        key = (fd, file)
        if key in self.items:
            raise SyscallError(Errno.EEXIST)
        if isinstance(file, Epoll):
            check_nesting(self, file)
        self.items[key] = EpItem(self, fd, file, events | F.EPOLLERR | F.EPOLLHUP, data)
        self.sched.wakeup(self.channel)  # (it may be ready already)

    def modify(self, fd: int, file: OpenFile, events: int, data: int) -> None:
        item = self._item(fd, file)
        if item.events & F.EPOLLEXCLUSIVE:
            raise SyscallError(Errno.EINVAL)
        item.modify(events | F.EPOLLERR | F.EPOLLHUP, data)
        self.sched.wakeup(self.channel)

    def delete(self, fd: int, file: OpenFile) -> None:
        self._item(fd, file).detach()
        del self.items[(fd, file)]

    def _item(self, fd: int, file: OpenFile) -> EpItem:
        item = self.items.get((fd, file))
        if item is None:
            raise SyscallError(Errno.ENOENT)
        return item

    # -- events (epoll_wait) ------------------------------------------------

    def collect(self, maxevents: int) -> list[tuple[int, int]]:
        """Up to `maxevents` (events, data) pairs of ready items (see the
        module doc), each reported item moved to the end of the list."""
        out: list[tuple[int, int]] = []
        for key, item in list(self.items.items()):
            if len(out) >= maxevents:
                break
            if item.file.refs <= 0:  # its file was closed: the item goes too
                item.detach()
                del self.items[key]
                continue
            got = item.ready(consume=True)
            if got:
                out.append((got, item.data))
                if len(self.items) > 1:
                    del self.items[key]
                    self.items[key] = item  # (to the back of the line)
        return out

    def poll(self) -> int:
        """Readable when some item has an event to report (nothing is taken)."""
        live = (i for i in self.items.values() if i.file.refs > 0)
        return F.EPOLLIN if any(i.ready(consume=False) for i in live) else 0

    def poll_channels(self) -> tuple[object, ...]:
        """Its own channel, and any host descriptor an item waits on (the
        scheduler only watches host input somebody sleeps on)."""
        host = [c for i in self.items.values() for c in i.channels if isinstance(c, HostReadable)]
        return (self.channel, *host) if host else (self.channel,)

    def nested(self) -> list[Epoll]:
        return [i.file for i in self.items.values() if isinstance(i.file, Epoll)]

    def release(self) -> None:
        for item in self.items.values():
            item.detach()
        self.items.clear()


def check_nesting(ep: Epoll, target: Epoll) -> None:
    """ELOOP if watching `target` from `ep` would close a loop or nest
    epoll instances more than MAX_NESTS deep (Linux's ep_loop_check)."""

    def depth(e: Epoll, level: int) -> int:
        if e is ep or level > MAX_NESTS:
            raise SyscallError(Errno.ELOOP)
        return 1 + max((depth(inner, level + 1) for inner in e.nested()), default=0)

    depth(target, 1)
