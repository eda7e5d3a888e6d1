"""The machine's network stack: its address families and what they share.

One `Network` per kernel holds the AF_UNIX namespace (kernel/unix.py), the
loopback IPv4/IPv6 network with its port tables (kernel/inet.py), and the
accounting of socket buffers.

No-MMU fact kept: socket buffers are kernel memory, taken from the same RAM
as programs. Linux charges every queued skb to its socket and allocates it
from the page allocator; here the bytes queued on all sockets together are
backed by "sockbuf" blocks of the physical allocator, taken in CHUNK-sized
pieces as the total grows and given back as it shrinks (one piece of slack
kept). A send that needs a
new piece when RAM has no free run that long fails with ENOBUFS, as
Linux's allocation failure does. (Linux also counts per-skb overhead; here
only the data bytes count.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import net as N
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.socket import SHUTDOWN_MASK, Cred, Family, Socket

if TYPE_CHECKING:
    from nommu.kernel.alloc import Block
    from nommu.kernel.hostnet import HostIo
    from nommu.kernel.kernel import Kernel

CHUNK = 64 << 10  # how much RAM socket buffers take or give back at a time


class DgramRoom:
    """Wait channel: a datagram receiver somewhere made room (one for the
    machine; unconnected senders do not know which socket they wait on)."""

    def __str__(self) -> str:
        return "send to a full datagram socket"


class Network:
    """The families and the shared state of the machine's sockets."""

    def __init__(self, k: Kernel) -> None:
        from nommu.kernel.inet import InetFamily, PortTable
        from nommu.kernel.unix import UnixFamily

        self.k = k
        self.queued = 0  # bytes in every receive queue
        self.blocks: list[Block] = []  # RAM backing them
        self.backed = 0  # bytes those blocks hold
        self.dgram_room = DgramRoom()
        self.ports = PortTable(k)
        self.families: dict[int, Family] = {
            N.AF_UNIX: UnixFamily(self),
            N.AF_INET: InetFamily(self, N.AF_INET),
            N.AF_INET6: InetFamily(self, N.AF_INET6),
        }
        self.host: HostIo | None = None  # host sockets, if the run allows any (kernel/hostnet.py)

    def family(self, domain: int) -> Family:
        fam = self.families.get(domain)
        if fam is None:
            raise SyscallError(Errno.EAFNOSUPPORT)
        return fam

    def cred(self) -> Cred:
        """The calling process's credentials (pid, uid, gid): nommu's guests
        all run as root."""
        t = self.k.current
        return (t.pid if t is not None else 0, 0, 0)

    def deadline(self, timeout: float) -> float:
        """When a socket wait of `timeout` seconds (SO_RCVTIMEO...) by the
        current task ends: fixed when it first sleeps, kept across its
        re-executions; EAGAIN once it has passed."""
        t = self.k.current
        now = self.k.sched.clock()
        if t is not None and t.blocked is not None and t.deadline is not None:
            deadline = t.deadline
        else:
            deadline = now + timeout
        if now >= deadline:
            raise SyscallError(Errno.EAGAIN)
        return deadline

    def goes_to_host(self, sock: Socket, addr: object) -> bool:
        """Whether a connect to `addr` leaves the machine (--net host: a TCP
        connect to an address outside the loopback)."""
        from nommu.kernel.inet import is_local

        if self.host is None or not self.host.outgoing or not sock.stream:
            return False
        if sock.family.domain not in (N.AF_INET, N.AF_INET6):
            return False
        return not is_local(addr[0])  # type: ignore[index]

    def open_host(self, publish: list[tuple[int, int]], outgoing: bool) -> None:
        """Let the run reach host sockets (--publish, --net host)."""
        from nommu.kernel.hostnet import HostIo

        self.host = HostIo(self.k, publish, outgoing)
        self.k.sched.host_io = self.host

    def shutdown(self) -> None:
        """The run is over: close the host sockets."""
        if self.host is not None:
            self.host.shutdown()

    # -- kernel memory -------------------------------------------------------

    def charge(self, n: int) -> None:
        """`n` more bytes are queued: back them with RAM (ENOBUFS if none)."""
        self.queued += n
        while self.queued > self.backed:
            try:
                self.blocks.append(self.k.alloc.alloc(CHUNK, 0, "sockbuf"))
            except SyscallError:
                self.queued -= n
                raise SyscallError(Errno.ENOBUFS) from None
            self.backed += CHUNK

    def uncharge(self, n: int) -> None:
        """`n` queued bytes were taken. One CHUNK more than needed is kept,
        so that a ping-pong of small messages does not allocate and free a
        block on every round trip."""
        self.queued -= n
        while self.queued <= self.backed - 2 * CHUNK:
            self.k.alloc.free(self.blocks.pop())
            self.backed -= CHUNK

    # -- TCP -----------------------------------------------------------------

    def reset_by_peer(self, sock: Socket) -> None:
        """A TCP write reached a peer that had closed: it answers with a reset.
        The data is lost; the next write fails with EPIPE (and SIGPIPE)."""
        sock.peer_gone = False
        sock.err = Errno.EPIPE
        sock.shutdown = SHUTDOWN_MASK
        sock.wake()
