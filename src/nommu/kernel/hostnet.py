"""Reaching the host's network, only when the run allows it.

Without options nothing a guest does touches a host socket. Two openings:

* `--publish HOST_PORT:GUEST_PORT` (TCP): nommu listens on the host's
  127.0.0.1:HOST_PORT; each connection made there becomes a connection to
  the guest socket listening on GUEST_PORT, as if a guest client had made it
  (docker's -p, qemu's hostfwd). No guest listener yet: the host connection
  is closed.
* `--net host`: a guest TCP connect() to an address outside the loopback
  goes out through a host socket.

Either way the guest end is an ordinary guest socket whose peer is a
`HostPeer`: a kernel socket no descriptor refers to, standing for the host
connection. What the guest sends to it is written to the host socket at once
(what the host cannot take yet waits in its queue); what the host sends is
queued on the guest socket while it has room. A `HostLink` ties the two.

The scheduler polls the host sockets (`HostIo`): with select() when every
task sleeps (so a guest server blocked in accept() waits for the host
without spinning, and is not a deadlock), and at each turn of the run loop
otherwise (time slices are bounded while host sockets are open).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
from typing import TYPE_CHECKING, cast

from nommu.abi import net as N
from nommu.abi.errno import Errno, from_host
from nommu.kernel.errors import NommuError, SyscallError
from nommu.kernel.inet import LOOPBACK4, InetAddr, InetFamily, is_v4
from nommu.kernel.socket import RCV_SHUTDOWN, Message, Socket, State, pair

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel

READ_CHUNK = 65536


class HostPeer(Socket):
    """The kernel's stand-in for a host connection: the guest socket's peer."""

    link: HostLink | None = None

    def enqueue(self, msg: Message) -> None:
        """The guest sent `msg`: on to the host (what does not fit waits)."""
        super().enqueue(msg)
        if self.link is not None:
            self.link.flush()

    def wake(self) -> None:
        """The guest end changed (it shut down, closed, or reset)."""
        if self.link is not None and not self.link.closed:
            self.link.guest_changed()


class HostLink:
    """One guest socket <-> one host socket."""

    def __init__(self, io: HostIo, host: socket.socket, peer: HostPeer, guest: Socket) -> None:
        self.io, self.host, self.peer, self.guest = io, host, peer, guest
        self.connecting = False  # a --net host connect not yet answered
        self.host_eof = False
        self.closed = False
        peer.link = self

    def fileno(self) -> int:
        return self.host.fileno()

    def wants_read(self) -> bool:
        return not self.connecting and not self.host_eof and self.guest_has_room()

    def wants_write(self) -> bool:
        return self.connecting or bool(self.peer.rq)

    def guest_has_room(self) -> bool:
        g = self.peer.peer
        return g is not None and g.rq_bytes < g.rcvbuf

    def flush(self) -> None:
        """Write what the guest queued to the host socket, as much as it takes."""
        peer = self.peer
        while peer.rq and not self.connecting:
            msg = peer.rq[0]
            try:
                n = self.host.send(msg.data)
            except BlockingIOError:
                return
            except OSError:
                self.reset()
                return
            peer.consume(msg, n)
        if peer.shutdown & RCV_SHUTDOWN and not peer.rq:
            self.guest_done()

    def guest_changed(self) -> None:
        peer = self.peer
        if peer.err == Errno.ECONNRESET:  # the guest closed with unread data: a reset
            self.host.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            self.close()
        elif peer.shutdown & RCV_SHUTDOWN:
            self.flush()

    def guest_done(self) -> None:
        """The guest will send no more: a FIN to the host; all gone: close."""
        if self.closed:
            return
        with contextlib.suppress(OSError):
            self.host.shutdown(socket.SHUT_WR)
        if self.peer.peer is None:
            self.close()  # the guest socket is gone: nothing more either way

    def readable(self) -> None:
        """The host sent something (or closed): queue it for the guest."""
        guest = self.peer.peer
        room = guest.rcvbuf - guest.rq_bytes if guest is not None else READ_CHUNK
        try:
            data = self.host.recv(max(1, min(READ_CHUNK, room)))
        except BlockingIOError:
            return
        except OSError:
            self.reset()
            return
        if not data:
            self.host_eof = True
            if guest is not None:
                self.peer.do_shutdown(N.SHUT_WR)  # the guest reads end of file
            else:
                self.close()
            return
        if guest is not None:
            self.peer.send_connected(Message(data), N.MSG_DONTWAIT)

    def writable(self) -> None:
        if self.connecting:
            self.connected()
        self.flush()

    def connected(self) -> None:
        """A --net host connect finished: the guest socket is connected, or fails."""
        self.connecting = False
        err = self.host.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        guest = self.guest
        if guest.released:  # (closed while waiting: nobody wants the connection)
            self.close()
            return
        if err:
            guest.err = from_host(OSError(err, os.strerror(err)))
            guest.state = State.UNCONNECTED
            guest.wake()
            self.close()
            return
        pair(guest, self.peer)

    def reset(self) -> None:
        """The host connection failed: the guest sees ECONNRESET."""
        self.peer.close_connection(reset=True)
        self.close()

    def close(self) -> None:
        """Close the host socket; the stand-in goes too (its port is free)."""
        if not self.closed:
            self.closed = True
            self.host.close()
            self.io.links.discard(self)
            self.peer.teardown(reset=False)


class HostIo:
    """The host sockets of a run, polled by the scheduler."""

    def __init__(self, k: Kernel, publish: list[tuple[int, int]], outgoing: bool) -> None:
        self.k = k
        self.outgoing = outgoing
        self.listeners: dict[socket.socket, int] = {}  # host listener -> guest port
        self.links: set[HostLink] = set()
        for host_port, guest_port in publish:
            self.listeners[self._listen(host_port)] = guest_port

    @staticmethod
    def _listen(port: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as err:
            s.close()
            raise NommuError(
                f"--publish: cannot listen on host port {port}: {err.strerror}"
            ) from None
        s.listen(64)
        s.setblocking(False)
        return s

    # -- polling ---------------------------------------------------------------

    def fds(self) -> tuple[list[int], list[int]]:
        """Host descriptors to wait for: (readable, writable)."""
        r = [s.fileno() for s in self.listeners]
        r += [link.fileno() for link in self.links if link.wants_read()]
        w = [link.fileno() for link in self.links if link.wants_write()]
        return r, w

    def poll(self, timeout: float | None = 0.0) -> None:
        """Handle whatever host socket is ready (waiting up to `timeout`)."""
        r, w = self.fds()
        if not r and not w:
            return
        ready_r, ready_w, _ = select.select(r, w, [], timeout)
        self.ready(set(ready_r), set(ready_w))

    def ready(self, r: set[int], w: set[int]) -> None:
        for listener, guest_port in list(self.listeners.items()):
            if listener.fileno() in r:
                self._accept(listener, guest_port)
        for link in list(self.links):
            if link.closed:
                continue
            if link.fileno() in w:
                link.writable()
            if not link.closed and link.fileno() in r:
                link.readable()

    # -- --publish -------------------------------------------------------------

    def _accept(self, listener: socket.socket, guest_port: int) -> None:
        try:
            host, _ = listener.accept()
        except OSError:
            return
        host.setblocking(False)
        inet = cast(InetFamily, self.k.net.family(N.AF_INET))
        server = inet.find(N.SOCK_STREAM, (LOOPBACK4, guest_port), listening=True)
        if server is None:
            host.close()  # nobody listens there: the host client sees the connection close
            return
        peer = HostPeer(self.k.net, inet, N.SOCK_STREAM, N.IPPROTO_TCP, 0)
        child = inet.accept_child(server, peer, (LOOPBACK4, guest_port))
        self.links.add(HostLink(self, host, peer, child))
        pair(peer, child)
        child.cred = peer.owner = (0, 0, 0)
        server.backlog.append(child)
        server.wake()

    # -- --net host ------------------------------------------------------------

    def connect(self, sock: Socket, addr: InetAddr) -> None:
        """A guest TCP connect to a non-loopback address, through a host socket."""
        ip, port = addr
        v4 = is_v4(ip)
        host = socket.socket(socket.AF_INET if v4 else socket.AF_INET6, socket.SOCK_STREAM)
        host.setblocking(False)
        target = (
            (socket.inet_ntop(socket.AF_INET, ip[12:]), port)
            if v4
            else (socket.inet_ntop(socket.AF_INET6, ip), port)
        )
        code = host.connect_ex(target)
        if code not in (0, errno.EINPROGRESS):
            host.close()
            raise SyscallError(from_host(OSError(code, os.strerror(code))))
        self.k.net.family(sock.family.domain).implicit_bind(sock, (LOOPBACK4 if v4 else ip, 0))
        peer = HostPeer(self.k.net, sock.family, N.SOCK_STREAM, N.IPPROTO_TCP, 0)
        peer.local = sock.remote = addr
        link = HostLink(self, host, peer, sock)
        link.connecting = True
        sock.state = State.CONNECTING
        self.links.add(link)

    def shutdown(self) -> None:
        """The run is over: close every host socket."""
        for link in list(self.links):
            link.close()
        for listener in self.listeners:
            listener.close()
        self.listeners.clear()
