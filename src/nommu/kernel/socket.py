"""Sockets: the open file every address family shares, and its queues.

A `Socket` is an open file (so read, write, poll, dup, close-on-exec and
inheritance across vfork+exec work as for any file) holding what every
family needs:

* a receive queue of `Message`s (data, passed descriptors, the sender's
  credentials and address), bounded by the socket's receive buffer;
* for connection-oriented types (SOCK_STREAM, SOCK_SEQPACKET) a `peer`, the
  socket at the other end, and for a listening socket the queue of
  connections waiting for accept();
* the `shutdown` bits (RCV_SHUTDOWN: nothing more will arrive; SEND_SHUTDOWN:
  nothing more may be sent), a pending error (SO_ERROR), the options.

Connections are made whole at connect() time, as Linux's AF_UNIX does and as
TCP over loopback effectively does: the listener's family makes the server
end (`Family.accept_child`), pairs it with the client, and queues it for
accept(); data may flow before it is accepted.

What differs between families lives in a `Family` object: addresses (their
format and namespace: path names, ports), finding the socket an address
names, and a few TCP rules (`tcp`: a reset when a socket closes with unread
data, a first write after the peer closed that succeeds).

Waiting: each socket has one wait channel, `SockWait`. A task sleeps on the
channel of the socket it uses; whoever changes that socket's state (queues
data on it, empties its peer's queue, closes its peer, connects to it)
wakes it, and the woken call looks again.

Buffered bytes are kernel memory: `Network.charge` counts them against the
machine's RAM (kernel/net.py).
"""

from __future__ import annotations

import stat as st
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nommu.abi import flags as F
from nommu.abi import net as N
from nommu.abi.errno import Errno
from nommu.abi.flags import POLLERR, POLLHUP, POLLIN, POLLOUT
from nommu.abi.structs import StatInfo
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.files import OpenFile, put_file
from nommu.kernel.statfs import StatFs, pseudo_fs

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.net import Network
    from nommu.kernel.task import Task

POLLRDHUP = 0x2000
SIOCOUTQ, SIOCATMARK = 0x5411, 0x8905
RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK = 1, 2, 3
SOCKFS_MAGIC = 0x534F434B
DEFAULT_BUF = 212992  # net.core.rmem_default / wmem_default
MAX_BUF = 212992  # net.core.rmem_max / wmem_max (setsockopt doubles what it is given)
MIN_RCVBUF, MIN_SNDBUF = 2304, 4608  # SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF
MAX_DGRAM_QLEN = 10  # net.unix.max_dgram_qlen
Cred = tuple[int, int, int]  # pid, uid, gid (struct ucred)


class State:
    """Where a socket is in its life (Linux's sk_state, reduced)."""

    UNCONNECTED = "unconnected"
    LISTENING = "listening"
    CONNECTED = "connected"
    CONNECTING = "connecting"  # a non-blocking TCP connect not yet seen by the caller
    CLOSED = "closed"  # it was connected; the connection is over


@dataclass(eq=False, slots=True)
class Message:
    """What one send queued: data (a stream reader may take part of it),
    descriptors passed with SCM_RIGHTS, and who sent it."""

    data: bytes
    files: list[OpenFile] | None = None
    cred: Cred | None = None
    addr: Any = None  # the sender's address (datagrams)


@dataclass(frozen=True, slots=True, eq=False)
class SockWait:
    """The wait channel of one socket (compared by identity)."""

    ino: int

    def __str__(self) -> str:
        return f"socket:[{self.ino}]"


class Family:
    """What an address family (AF_UNIX, AF_INET, AF_INET6) decides.

    Addresses are family values (`parse` makes one from a guest sockaddr,
    `encode` the reverse); each family keeps its own namespace of bound
    sockets."""

    domain = 0
    tcp = False  # TCP's rules on close and on writing to a closed peer

    def parse(self, raw: bytes, cwd: str = "/") -> Any:
        """A guest sockaddr as an address of this family (`cwd`: where a
        relative AF_UNIX path is)."""
        raise SyscallError(Errno.EINVAL)

    def encode(self, addr: Any) -> bytes:
        return N.SA_FAMILY.pack(self.domain)

    def bind(self, sock: Socket, addr: Any) -> None:
        raise SyscallError(Errno.EOPNOTSUPP)

    def autobind(self, sock: Socket) -> None:
        """Give an unbound socket an address of the kernel's choice."""

    def implicit_bind(self, sock: Socket, dest: Any = None) -> None:
        """Before a connect or send (to `dest`) or listen: bind if the family
        does that implicitly."""

    def dgram_connect(self, sock: Socket, addr: Any) -> Any:
        """connect() of a datagram socket: check `addr`, return the default
        destination to keep."""
        self.datagram_target(sock, addr)
        self.implicit_bind(sock, addr)
        return addr

    def sender_name(self, sock: Socket, dest: Any) -> Any:
        """The source address a datagram to `dest` carries."""
        return sock.local

    def unbind(self, sock: Socket) -> None:
        """The socket is being released: its address is free again."""

    def listener(self, sock: Socket, addr: Any) -> Socket:
        """The listening socket `addr` names (ECONNREFUSED if none)."""
        raise SyscallError(Errno.ECONNREFUSED)

    def datagram_target(self, sock: Socket, addr: Any) -> Socket | None:
        """The socket a datagram to `addr` goes to (None: it is dropped)."""
        return None

    def accept_child(self, listener: Socket, client: Socket, addr: Any) -> Socket:
        """The server end of a new connection from `client` to `addr`; sets
        the names of both ends."""
        raise SyscallError(Errno.EOPNOTSUPP)

    def peer_name(self, sock: Socket) -> Any:
        return sock.remote


class Socket(OpenFile):
    """A socket as an open file. See the module docstring."""

    def __init__(self, net: Network, family: Family, type_: int, proto: int, flags: int) -> None:
        super().__init__(F.O_RDWR | flags, "")
        self.net = net
        self.family = family
        self.type = type_
        self.proto = proto
        self.stream = type_ == N.SOCK_STREAM  # (bytes, not messages)
        self.connection_based = type_ != N.SOCK_DGRAM  # (stream and seqpacket)
        self.ino = net.k.next_ino()
        self.path = f"socket:[{self.ino}]"
        self.wait = SockWait(self.ino)
        self.state = State.UNCONNECTED
        self.local: Any = None  # bound address
        self.remote: Any = None  # connected address (datagram default destination)
        self.peer: Socket | None = None
        self.rq: deque[Message] = deque()
        self.rq_bytes = 0
        self.backlog: deque[Socket] = deque()
        self.backlog_max = 0
        self.shutdown = 0
        self.err = 0
        self.peer_gone = False  # TCP: the peer closed; our next write brings back a reset
        self.cred: Cred | None = None  # SO_PEERCRED
        self.owner: Cred = (0, 0, 0)  # who made it, listened or connected (SO_PEERCRED of the peer)
        self.passcred = False
        self.reuseaddr = False
        self.rcvbuf = DEFAULT_BUF
        self.sndbuf = DEFAULT_BUF
        self.opts: dict[tuple[int, int], bytes] = {}  # other options: stored, read back
        self.released = False
        self.connecting = False  # a non-blocking TCP connect the caller has not seen finish
        self.v6only = False
        self.rcvtimeo = self.sndtimeo = 0.0  # SO_RCVTIMEO, SO_SNDTIMEO in seconds (0: none)

    @property
    def nonblocking(self) -> bool:
        return bool(self.flags & F.O_NONBLOCK)

    def wake(self) -> None:
        self.net.k.sched.wakeup(self.wait)

    def wait_or_again(self, flags: int, timeout: float = 0.0) -> Blocked:
        """What a call that must wait raises: EAGAIN if it may not block, or
        once `timeout` seconds (SO_RCVTIMEO, SO_SNDTIMEO) have passed."""
        if self.nonblocking or flags & N.MSG_DONTWAIT:
            raise SyscallError(Errno.EAGAIN)
        if not timeout:
            return Blocked(self.wait)
        return Blocked(self.wait, self.net.deadline(timeout))

    def take_error(self) -> int:
        """SO_ERROR: the pending error, cleared by reading it."""
        err, self.err = self.err, 0
        return err

    # -- connecting --------------------------------------------------------

    def listen(self, backlog: int) -> None:
        if not self.connection_based:
            raise SyscallError(Errno.EOPNOTSUPP)
        if self.state not in (State.UNCONNECTED, State.LISTENING) or self.connecting:
            raise SyscallError(Errno.EINVAL)
        if self.local is None:
            if self.family.domain == N.AF_UNIX:
                raise SyscallError(Errno.EINVAL)  # no listening on an unbound name
            self.family.implicit_bind(self)
        self.state = State.LISTENING
        self.owner = self.net.cred()
        self.backlog_max = max(0, min(backlog, 4096))

    def connect(self, addr: Any) -> None:
        """Connect to the listener at `addr`, or (datagrams) set the default
        destination. A full accept queue makes the caller wait."""
        if not self.connection_based:
            self.remote = self.family.dgram_connect(self, addr)
            return
        if self.state == State.CONNECTED:
            raise SyscallError(Errno.EISCONN)
        if self.state != State.UNCONNECTED:
            raise SyscallError(Errno.EINVAL)
        server = self.family.listener(self, addr)
        if len(server.backlog) > server.backlog_max:
            if self.family.tcp:  # (TCP: the SYN is dropped and sent again later)
                raise Blocked(server.wait)
            self.wait_or_again(0)
            raise Blocked(server.wait)
        child = self.family.accept_child(server, self, addr)
        pair(self, child)
        self.owner = self.net.cred()
        self.cred, child.cred, child.owner = server.owner, self.owner, server.owner
        server.backlog.append(child)
        server.wake()

    def accept(self) -> Socket:
        if self.state != State.LISTENING:
            raise SyscallError(Errno.EINVAL)
        if not self.backlog:
            raise self.wait_or_again(0, self.rcvtimeo)
        child = self.backlog.popleft()
        self.wake()  # (room in the queue for a waiting connect)
        return child

    # -- sending -----------------------------------------------------------

    def check_send(self) -> Socket:
        """The socket to queue on for a connected send, or the error to raise."""
        if self.err and self.family.tcp:
            raise SyscallError(Errno(self.take_error()))
        if self.shutdown & SEND_SHUTDOWN:
            raise SyscallError(Errno.EPIPE)
        peer = self.peer
        if peer is None:
            if self.state == State.CLOSED:
                raise SyscallError(Errno.EPIPE)
            raise SyscallError(Errno.EPIPE if self.family.tcp else Errno.ENOTCONN)
        return peer

    def send(self, msg: Message, flags: int) -> int:
        """Queue (part of, for a stream) `msg`; return the bytes taken."""
        if self.connection_based:
            return self.send_connected(msg, flags)
        return self.send_datagram(msg, flags)

    def send_connected(self, msg: Message, flags: int) -> int:
        if self.peer_gone and not self.err and not self.shutdown & SEND_SHUTDOWN:
            self.net.reset_by_peer(self)  # TCP: the closed peer answers with a reset
            return len(msg.data)
        peer = self.check_send()
        room = peer.rcvbuf - peer.rq_bytes
        size = len(msg.data)
        if not self.stream:
            if size > self.sndbuf:
                raise SyscallError(Errno.EMSGSIZE)
            if room < size and peer.rq:
                raise self.wait_or_again(flags, self.sndtimeo)
        elif room <= 0:
            raise self.wait_or_again(flags, self.sndtimeo)
        else:
            size = min(size, room)
        if size < len(msg.data):
            msg = Message(msg.data[:size], msg.files, msg.cred)
        peer.enqueue(msg)
        return size

    def send_datagram(self, msg: Message, flags: int) -> int:
        if msg.addr is None and self.peer is not None:
            return self.send_to_pair(msg, flags)
        addr = msg.addr if msg.addr is not None else self.remote
        unix = self.family.domain == N.AF_UNIX
        if addr is None and self.state == State.CLOSED:
            raise SyscallError(Errno.ECONNREFUSED)
        if addr is None:
            raise SyscallError(Errno.ENOTCONN if unix else Errno.EDESTADDRREQ)
        if self.err and not unix:
            raise SyscallError(Errno(self.take_error()))  # (an ICMP error came back)
        if self.shutdown & SEND_SHUTDOWN:
            raise SyscallError(Errno.EPIPE)
        if len(msg.data) > self.family_max_datagram():
            raise SyscallError(Errno.EMSGSIZE)
        self.family.implicit_bind(self)
        target = self.family.datagram_target(self, addr)
        msg.addr = self.family.sender_name(self, addr)
        if target is None:
            if not unix and addr == self.remote:
                self.err = Errno.ECONNREFUSED  # port unreachable, reported to a connected socket
            return len(msg.data)
        if unix and target.remote is not None and target.remote != self.local:
            raise SyscallError(Errno.EPERM)  # it is connected to someone else
        if self.receiver_full(target, len(msg.data)):
            if not unix:
                return len(msg.data)  # UDP: a full receiver drops it
            self.wait_or_again(flags)
            raise Blocked(self.net.dgram_room)
        target.enqueue(msg)
        return len(msg.data)

    def receiver_full(self, target: Socket, size: int) -> bool:
        """Whether a datagram of `size` bytes must wait (UDP: is dropped): the
        receiver's buffer is full, or (AF_UNIX, net.unix.max_dgram_qlen) more
        than 10 datagrams from others wait on a receiver not connected to us."""
        if target.rq_bytes + size > target.rcvbuf and target.rq:
            return True
        unix = self.family.domain == N.AF_UNIX
        to_us = target.remote is not None and target.remote == self.local
        return unix and len(target.rq) > MAX_DGRAM_QLEN and not to_us

    def send_to_pair(self, msg: Message, flags: int) -> int:
        """A datagram socketpair: straight to the other end."""
        peer = self.peer
        assert peer is not None
        if len(msg.data) > self.family_max_datagram():
            raise SyscallError(Errno.EMSGSIZE)
        if peer.rq_bytes + len(msg.data) > peer.rcvbuf and peer.rq:
            raise self.wait_or_again(flags, self.sndtimeo)
        msg.addr = self.local
        peer.enqueue(msg)
        return len(msg.data)

    def family_max_datagram(self) -> int:
        return 65507 if self.family.domain != N.AF_UNIX else self.sndbuf - 32

    def enqueue(self, msg: Message) -> None:
        """Put `msg` on this socket's receive queue (kernel memory: charged)."""
        if self.shutdown & RCV_SHUTDOWN and self.connection_based:
            return  # (a reader that shut down receives nothing more)
        self.net.charge(len(msg.data))
        for f in msg.files or ():
            f.refs += 1  # (in flight: the queue holds them)
        self.rq.append(msg)
        self.rq_bytes += len(msg.data)
        self.wake()

    # -- receiving ---------------------------------------------------------

    def recv(self, count: int, flags: int) -> tuple[bytes, list[Message], int]:
        """Take up to `count` bytes: (data, the messages they came from,
        MSG_* flags for msg_flags). Raises EAGAIN/Blocked when nothing is
        there yet; (b"", [], 0) is end of file."""
        if not self.rq:
            self.nothing_to_read(flags)
            return b"", [], 0
        if self.stream:
            return self.recv_stream(count, flags)
        msg = self.rq[0]
        if not flags & N.MSG_PEEK:
            self.dequeue()
        data = msg.data[:count]
        return data, [msg], N.MSG_TRUNC if len(msg.data) > count else 0

    def nothing_to_read(self, flags: int) -> None:
        """The queue is empty: an error, end of file (return), or wait."""
        if self.err:
            raise SyscallError(Errno(self.take_error()))
        if self.shutdown & RCV_SHUTDOWN:
            return
        if self.state == State.LISTENING:
            raise SyscallError(Errno.EINVAL if not self.family.tcp else Errno.ENOTCONN)
        if self.connection_based and self.state != State.CONNECTED:
            if self.state == State.CLOSED:
                return
            raise SyscallError(Errno.ENOTCONN if self.family.tcp else Errno.EINVAL)
        raise self.wait_or_again(flags, self.rcvtimeo)

    def recv_stream(self, count: int, flags: int) -> tuple[bytes, list[Message], int]:
        """A stream read: bytes across queued sends, but never past a send that
        carried descriptors, nor gluing sends with different credentials.
        The messages returned are what was taken of each (with its
        descriptors: still the queue's under MSG_PEEK)."""
        rq = self.rq
        first = rq[0]
        if len(rq) == 1 and not first.files and not flags & N.MSG_PEEK:
            take = first.data[:count]  # (the common case: one send waiting)
            self.consume(first, len(take))
            return take, [first], 0
        out: list[bytes] = []
        msgs: list[Message] = []
        got = 0
        for msg in list(rq):
            if got >= count or (msgs and (msg.files or self._new_writer(msgs[0], msg))):
                break
            take = msg.data[: count - got]
            out.append(take)
            msgs.append(Message(take, msg.files, msg.cred, msg.addr))
            got += len(take)
            if not flags & N.MSG_PEEK:
                self.consume(msg, len(take))
            if msgs[-1].files:
                break
        return b"".join(out), msgs, 0

    def _new_writer(self, first: Message, msg: Message) -> bool:
        return self.passcred and msg.cred != first.cred

    def consume(self, msg: Message, n: int) -> None:
        """A stream reader took `n` bytes from the front message."""
        if n >= len(msg.data):
            self.dequeue()
            return
        msg.data = msg.data[n:]
        self.rq_bytes -= n
        self.net.uncharge(n)
        msg.files = None  # (the reader took them with the first bytes)
        self.room_made()

    def dequeue(self) -> Message:
        msg = self.rq.popleft()
        self.rq_bytes -= len(msg.data)
        self.net.uncharge(len(msg.data))
        self.room_made()
        return msg

    def room_made(self) -> None:
        """Writers to this socket may go on: they sleep on their own sockets."""
        if self.peer is not None:
            self.peer.wake()
        elif not self.connection_based:
            self.net.k.sched.wakeup(self.net.dgram_room)

    # -- shutting down and closing -----------------------------------------

    def do_shutdown(self, how: int) -> None:
        if how not in (N.SHUT_RD, N.SHUT_WR, N.SHUT_RDWR):
            raise SyscallError(Errno.EINVAL)
        settled = (State.CONNECTED, State.CLOSED, State.LISTENING)
        if self.family.tcp and self.connection_based and self.state not in settled:
            raise SyscallError(Errno.ENOTCONN)  # (AF_UNIX does not check)
        mode = how + 1  # SHUT_RD -> RCV_SHUTDOWN, SHUT_WR -> SEND, SHUT_RDWR -> both
        self.shutdown |= mode
        peer = self.peer
        if peer is not None and (mode & SEND_SHUTDOWN or not self.family.tcp):
            # the peer learns: nothing more comes (a FIN); AF_UNIX mirrors SHUT_RD too
            peer.shutdown |= (RCV_SHUTDOWN if mode & SEND_SHUTDOWN else 0) | (
                SEND_SHUTDOWN if mode & RCV_SHUTDOWN and not self.family.tcp else 0
            )
            peer.wake()
        self.wake()

    def release(self) -> None:
        """The last descriptor closed: tell the peer, drop what is queued."""
        self.teardown(reset=bool(self.rq))

    def teardown(self, reset: bool) -> None:
        """Close the socket for good: its queue (and the descriptors in it) is
        dropped, connections waiting for accept are closed (TCP: reset), the
        peer sees end of file (`reset`: ECONNRESET), the address is free."""
        self.released = True
        for msg in self.rq:
            drop_files(msg)
        self.net.uncharge(self.rq_bytes)
        self.rq.clear()
        self.rq_bytes = 0
        for child in self.backlog:
            child.teardown(reset=self.family.tcp or bool(child.rq))
        self.backlog.clear()
        self.close_connection(reset)
        self.family.unbind(self)
        self.wake()

    def close_connection(self, reset: bool) -> None:
        """Leave the connection: the peer sees end of file (or, after a
        reset, ECONNRESET)."""
        peer, self.peer = self.peer, None
        if self.state in (State.CONNECTED, State.CONNECTING):
            self.state = State.CLOSED
        if peer is None:
            return
        peer.peer = None
        peer.state = State.CLOSED
        if not self.connection_based:
            pass  # (a datagram pair: the survivor's sends now fail with ECONNREFUSED)
        elif reset:
            peer.err = Errno.ECONNRESET
            peer.shutdown = SHUTDOWN_MASK
        elif self.family.tcp:
            peer.shutdown |= RCV_SHUTDOWN
            peer.peer_gone = not peer.shutdown & SEND_SHUTDOWN
        else:
            peer.shutdown = SHUTDOWN_MASK
        peer.wake()

    # -- the file interface ------------------------------------------------

    def read(self, count: int) -> bytes:
        rq = self.rq
        if len(rq) == 1 and self.stream and not rq[0].files:  # (the common case, directly)
            msg = rq[0]
            data = msg.data
            if len(data) > count:
                data, msg.data = data[:count], data[count:]
            else:
                rq.popleft()
            self.rq_bytes -= len(data)
            self.net.uncharge(len(data))
            self.room_made()
            return data
        data, msgs, _ = self.recv(count, 0)
        for msg in msgs:
            if msg.files:
                drop_files(msg)  # (read() cannot take descriptors: they are closed)
        return data

    def write(self, data: bytes) -> int:
        peer = self.peer
        if self.stream and peer is not None and not (self.shutdown | self.err | self.peer_gone):
            room = peer.rcvbuf - peer.rq_bytes  # (the common case, taken directly)
            if room > 0 and not peer.shutdown & RCV_SHUTDOWN:
                if len(data) > room:
                    data = data[:room]
                elif not data:
                    return 0
                peer.enqueue(Message(data, None, self.net.cred()))
                return len(data)
        if not data and self.stream:
            return 0
        return self.send(Message(data, None, self.net.cred()), 0)

    def poll(self) -> int:
        mask = POLLERR if self.err else 0
        if self.shutdown == SHUTDOWN_MASK:
            mask |= POLLHUP
        if self.shutdown & RCV_SHUTDOWN:
            mask |= POLLIN | POLLRDHUP
        if self.rq or self.backlog:
            mask |= POLLIN
        if self.connection_based and self.state in (State.UNCONNECTED, State.CLOSED):
            mask |= POLLHUP
        if self.state in (State.LISTENING, State.CONNECTING):
            return mask
        if self.writable_now():
            mask |= POLLOUT
        return mask

    def writable_now(self) -> bool:
        if self.shutdown & SEND_SHUTDOWN:
            return self.family.tcp
        peer = self.peer
        if peer is None:
            return not self.connection_based or self.family.tcp or self.state == State.CLOSED
        return peer.rq_bytes < peer.rcvbuf

    def poll_channels(self) -> tuple[object, ...]:
        if not self.connection_based:
            return (self.wait, self.net.dgram_room)
        return (self.wait,)

    def ioctl(self, k: Kernel, t: Task, req: int, arg: int) -> int:
        """FIONREAD (SIOCINQ): bytes waiting (a datagram socket: the next
        datagram's); SIOCOUTQ: bytes not yet taken (none: sends are queued on
        the receiver at once); FIONBIO sets O_NONBLOCK; SIOCATMARK: no
        out-of-band data, ever."""
        if req == F.FIONREAD:
            if self.state == State.LISTENING:
                raise SyscallError(Errno.EINVAL)
            waiting = self.rq_bytes if self.stream or not self.rq else len(self.rq[0].data)
            k.uspace.write_u32(arg, waiting)
        elif req in (SIOCOUTQ, SIOCATMARK):
            k.uspace.write_u32(arg, 0)
        elif req == F.FIONBIO:
            on = k.uspace.read_u32(arg)
            self.flags = self.flags | F.O_NONBLOCK if on else self.flags & ~F.O_NONBLOCK
        else:
            raise SyscallError(Errno.ENOTTY)
        return 0

    def stat(self) -> StatInfo:
        return StatInfo(8, self.ino, st.S_IFSOCK | 0o777, 1, 0, 0, 0, 0, 4096, 0, 0, 0, 0)

    def statfs(self) -> StatFs:
        return pseudo_fs(SOCKFS_MAGIC)

    def lseek(self, offset: int, whence: int) -> int:
        raise SyscallError(Errno.ESPIPE)


def pair(a: Socket, b: Socket) -> None:
    """Connect two sockets to each other."""
    a.peer, b.peer = b, a
    a.state = b.state = State.CONNECTED
    a.wake()


def drop_files(msg: Message) -> None:
    """The descriptors a message carried will never be received: close them."""
    if msg.files:
        for f in msg.files:
            put_file(f)
        msg.files = None
