"""AF_INET and AF_INET6: the machine's loopback network, fully emulated.

The machine has one network interface, lo, holding 127.0.0.0/8 and ::1.
TCP and UDP between guest sockets never touch the host: a connection is two
kernel sockets paired in memory (kernel/socket.py), a datagram is a message
put on the receiver's queue. Destinations outside the loopback are
unreachable (ENETUNREACH), unless the run allows outgoing connections
through host sockets (`--net host`, kernel/hostnet.py).

Addresses are (ip, port), the ip always as 16 bytes: an IPv4 address is
kept in its v4-mapped form ::ffff:a.b.c.d, so AF_INET and AF_INET6 sockets
share one port table per protocol, as Linux's do: a dual-stack [::]:80
listener takes IPv4 connections too, unless IPV6_V6ONLY is set.

Ports: binding port 0, or connecting, sending or listening unbound, takes
an ephemeral port from 32768-60999 (Linux's ip_local_port_range), handed
out in order, so runs are repeatable (and so under --deterministic).
Binding a port another socket holds on an overlapping address is
EADDRINUSE, unless both set SO_REUSEADDR and (TCP) the holder is not
listening. (TIME_WAIT is not modelled: a closed connection frees its port
at once.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from nommu.abi import net as N
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.socket import Family, Socket, State

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.net import Network

InetAddr = tuple[bytes, int]  # (16-byte ip, port)
MAPPED = bytes(10) + b"\xff\xff"
ANY4 = MAPPED + bytes(4)
ANY6 = bytes(16)
LOOPBACK4 = MAPPED + bytes((127, 0, 0, 1))
LOOPBACK6 = bytes(15) + b"\x01"
EPHEMERAL = range(32768, 61000)


def is_v4(ip: bytes) -> bool:
    return ip[:12] == MAPPED


def is_any(ip: bytes) -> bool:
    return ip in (ANY4, ANY6)


def is_local(ip: bytes) -> bool:
    """An address of this machine (lo: 127.0.0.0/8, ::1; or a wildcard,
    which as a destination means the machine itself)."""
    return is_any(ip) or ip == LOOPBACK6 or (is_v4(ip) and ip[12] == 127)


class PortTable:
    """Bound sockets by protocol and port, shared by AF_INET and AF_INET6."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.bound: dict[tuple[int, int], list[Socket]] = {}  # (type, port) -> sockets
        self.next_port = 0

    def holders(self, type_: int, port: int) -> list[Socket]:
        return self.bound.get((type_, port), [])

    def ephemeral(self, type_: int) -> int:
        for _ in EPHEMERAL:
            port = EPHEMERAL[self.next_port % len(EPHEMERAL)]
            self.next_port += 1
            if not self.holders(type_, port):
                return port
        raise SyscallError(Errno.EADDRNOTAVAIL)

    def add(self, sock: Socket, port: int) -> None:
        self.bound.setdefault((sock.type, port), []).append(sock)

    def remove(self, sock: Socket) -> None:
        if sock.local is None:
            return
        key = (sock.type, sock.local[1])
        holders = self.bound.get(key)
        if holders is not None and sock in holders:
            holders.remove(sock)
            if not holders:
                del self.bound[key]


def versions(sock: Socket) -> set[int]:
    """Which IP versions a bound socket receives (a dual-stack wildcard: both)."""
    ip = sock.local[0]
    if is_v4(ip):
        return {4}
    if ip == ANY6 and not sock.v6only:
        return {4, 6}
    return {6}


def receives(sock: Socket, ip: bytes) -> bool:
    """Whether `sock`, bound, takes traffic addressed to `ip`."""
    own: bytes = sock.local[0]
    if is_any(own):
        return (4 if is_v4(ip) else 6) in versions(sock)
    return own == ip


def overlaps(a: Socket, b: Socket) -> bool:
    """Whether two bound sockets would share some address (same port)."""
    ia: bytes = a.local[0]
    ib: bytes = b.local[0]
    if is_any(ia) or is_any(ib):
        return bool(versions(a) & versions(b))
    return ia == ib


class InetFamily(Family):
    tcp = True  # (consulted only for connection-based, that is SOCK_STREAM, sockets)

    def __init__(self, net: Network, domain: int) -> None:
        self.net = net
        self.domain = domain
        self.ports = net.ports

    # -- addresses -----------------------------------------------------------

    def parse(self, raw: bytes, cwd: str = "/") -> InetAddr:
        if len(raw) < 2:
            raise SyscallError(Errno.EINVAL)
        family = N.SA_FAMILY.unpack_from(raw)[0]
        if self.domain == N.AF_INET:
            if len(raw) < N.SOCKADDR_IN.size:
                raise SyscallError(Errno.EINVAL)
            if family not in (N.AF_INET, N.AF_UNSPEC):
                raise SyscallError(Errno.EAFNOSUPPORT)
            _, port, ip4 = N.SOCKADDR_IN.unpack_from(raw)
            return MAPPED + ip4, int.from_bytes(port, "big")
        if len(raw) < 24:  # (the old sockaddr_in6, without sin6_scope_id)
            raise SyscallError(Errno.EINVAL)
        if family != N.AF_INET6:
            raise SyscallError(Errno.EAFNOSUPPORT)
        _, port, _, ip6, _ = N.SOCKADDR_IN6.unpack_from(raw.ljust(N.SOCKADDR_IN6.size, b"\0"))
        return ip6, int.from_bytes(port, "big")

    def encode(self, addr: InetAddr | None) -> bytes:
        ip, port = addr if addr is not None else (ANY4 if self.domain == N.AF_INET else ANY6, 0)
        if self.domain == N.AF_INET:
            return N.SOCKADDR_IN.pack(N.AF_INET, port.to_bytes(2, "big"), ip[12:])
        return N.SOCKADDR_IN6.pack(N.AF_INET6, port.to_bytes(2, "big"), 0, ip, 0)

    # -- binding -------------------------------------------------------------

    def bind(self, sock: Socket, addr: InetAddr) -> None:
        if sock.local is not None:
            raise SyscallError(Errno.EINVAL)
        ip, port = addr
        if self.domain == N.AF_INET6 and is_v4(ip) and sock.v6only:
            raise SyscallError(Errno.EINVAL)
        if not is_local(ip):
            raise SyscallError(Errno.EADDRNOTAVAIL)
        self._take(sock, ip, port)

    def _take(self, sock: Socket, ip: bytes, port: int) -> None:
        if port == 0:
            port = self.ports.ephemeral(sock.type)
        sock.local = (ip, port)
        for other in self.ports.holders(sock.type, port):
            if overlaps(sock, other) and not self._may_share(sock, other):
                sock.local = None
                raise SyscallError(Errno.EADDRINUSE)
        self.ports.add(sock, port)

    @staticmethod
    def _may_share(sock: Socket, other: Socket) -> bool:
        if not (sock.reuseaddr and other.reuseaddr):
            return False
        return sock.type != N.SOCK_STREAM or other.state != State.LISTENING

    def autobind(self, sock: Socket) -> None:
        any_ip = ANY4 if self.domain == N.AF_INET else ANY6
        self._take(sock, any_ip, 0)

    def implicit_bind(self, sock: Socket, dest: InetAddr | None = None) -> None:
        """Before connect/send/listen: an ephemeral port, and for a connection
        the source address lo answers from."""
        if sock.local is not None:
            return
        self.autobind(sock)
        if dest is not None:
            port = cast(InetAddr, sock.local)[1]  # (autobind just set it)
            sock.local = (self.source_for(dest[0]), port)

    def source_for(self, dest: bytes) -> bytes:
        """lo's source address for a destination: 127.0.0.1 or ::1."""
        if is_v4(dest):
            return LOOPBACK4
        return LOOPBACK6

    def unbind(self, sock: Socket) -> None:
        self.ports.remove(sock)

    # -- finding ---------------------------------------------------------------

    def destination(self, sock: Socket, addr: InetAddr) -> InetAddr:
        """Where traffic to `addr` goes: the wildcard means this machine."""
        ip, port = addr
        if self.domain == N.AF_INET6 and is_v4(ip) and sock.v6only:
            raise SyscallError(Errno.ENETUNREACH)
        if is_any(ip):
            ip = LOOPBACK4 if is_v4(ip) else LOOPBACK6
        if not is_local(ip):
            raise SyscallError(Errno.ENETUNREACH)
        return ip, port

    def find(self, type_: int, dest: InetAddr, listening: bool) -> Socket | None:
        """The socket bound to `dest` (a specific address before a wildcard)."""
        ip, port = dest
        best = None
        for s in self.ports.holders(type_, port):
            if (s.state == State.LISTENING) != listening or not receives(s, ip):
                continue
            if s.local[0] == ip:
                return s
            best = best or s
        return best

    def listener(self, sock: Socket, addr: InetAddr) -> Socket:
        server = self.find(N.SOCK_STREAM, self.destination(sock, addr), listening=True)
        if server is None:
            raise SyscallError(Errno.ECONNREFUSED)
        return server

    def datagram_target(self, sock: Socket, addr: InetAddr) -> Socket | None:
        dest = self.destination(sock, addr)
        if dest[1] == 0:
            raise SyscallError(Errno.EINVAL)
        target = self.find(N.SOCK_DGRAM, dest, listening=False)
        if target is not None and target.remote not in (None, self.sender_name(sock, addr)):
            return None  # connected to someone else: it drops the datagram
        return target

    def dgram_connect(self, sock: Socket, addr: InetAddr) -> InetAddr:
        dest = self.destination(sock, addr)
        self.implicit_bind(sock, dest)
        return dest

    def sender_name(self, sock: Socket, dest: InetAddr) -> InetAddr:
        ip, port = sock.local
        if is_any(ip):
            ip = self.source_for(self.destination(sock, dest)[0])
        return ip, port

    def accept_child(self, listener: Socket, client: Socket, addr: InetAddr) -> Socket:
        dest = self.destination(client, addr)
        self.implicit_bind(client, dest)
        client.remote = dest
        child = Socket(self.net, listener.family, listener.type, listener.proto, 0)
        child.v6only = listener.v6only
        child.local, child.remote = dest, client.local
        if listener.family.domain == N.AF_INET6 and client.family.domain == N.AF_INET:
            child.remote = (client.local[0], client.local[1])  # (shown v4-mapped)
        return child
