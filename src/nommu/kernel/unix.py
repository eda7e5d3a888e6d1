"""AF_UNIX: local sockets, named by a path or in the abstract namespace.

* A path name (sun_path not starting with a NUL) is a socket file in the
  guest's file system: bind() creates it (S_IFSOCK, so stat and ls show it;
  EADDRINUSE if the name exists), unlink() removes it, and connect() finds
  the bound socket through it (by the file's identity, so a renamed or
  hard-linked name still reaches it; a socket file nobody has bound in this
  machine gives ECONNREFUSED, as one left over from an earlier boot does).
  The file stays after the socket is closed, as in Linux.
* An abstract name (sun_path[0] == 0) is a byte string of the given length
  in a table of the machine; it goes away with its socket.
* An unbound socket that must have a name (SO_PASSCRED, listen) gets an
  abstract one of five hex digits, as Linux's autobind does.
"""

from __future__ import annotations

import os
import stat as st
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi import net as N
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.hostfs import host_errors
from nommu.kernel.socket import Family, Socket

if TYPE_CHECKING:
    from nommu.kernel.net import Network
    from nommu.kernel.vfs import Resolved

SUN_PATH_OFFSET = 2  # offsetof(struct sockaddr_un, sun_path)


@dataclass(frozen=True, slots=True)
class UnixAddr:
    """A sun_path as given (with its leading NUL if abstract), and the
    directory a relative path name is resolved in."""

    name: bytes
    cwd: str = field(default="/", compare=False)

    @property
    def abstract(self) -> bool:
        return self.name[:1] == b"\0"


class UnixFamily(Family):
    domain = N.AF_UNIX

    def __init__(self, net: Network) -> None:
        self.net = net
        self.abstract: dict[bytes, Socket] = {}
        self.paths: dict[tuple[int, int], Socket] = {}  # socket file (dev, ino) -> socket
        self.bound_files: dict[Socket, tuple[int, int]] = {}
        self.next_auto = 0

    # -- addresses -----------------------------------------------------------

    def parse(self, raw: bytes, cwd: str = "/") -> UnixAddr | None:
        """A guest sockaddr_un; None for an empty name (bind: autobind)."""
        if len(raw) < SUN_PATH_OFFSET or N.SA_FAMILY.unpack_from(raw)[0] != N.AF_UNIX:
            raise SyscallError(Errno.EINVAL)
        path = raw[SUN_PATH_OFFSET : SUN_PATH_OFFSET + N.UNIX_PATH_MAX]
        if not path:
            return None
        if path[0] != 0:
            path = path.split(b"\0", 1)[0]
        return UnixAddr(path, cwd)

    def encode(self, addr: UnixAddr | None) -> bytes:
        head = N.SA_FAMILY.pack(N.AF_UNIX)
        if addr is None:
            return head
        return head + addr.name + (b"" if addr.abstract else b"\0")

    # -- the namespace -------------------------------------------------------

    def bind(self, sock: Socket, addr: UnixAddr | None) -> None:
        if sock.local is not None:
            raise SyscallError(Errno.EINVAL)
        if addr is None:
            self.autobind(sock)
            return
        if addr.abstract:
            if addr.name in self.abstract:
                raise SyscallError(Errno.EADDRINUSE)
            self.abstract[addr.name] = sock
        else:
            key = self._make_socket_file(addr)
            self.paths[key] = sock
            self.bound_files[sock] = key
        sock.local = addr

    def _make_socket_file(self, addr: UnixAddr) -> tuple[int, int]:
        """mknod the socket file; its host identity is the key connect() finds."""
        k = self.net.k
        r = self._resolve(addr, follow=False)
        if r.exists or r.device is not None:
            raise SyscallError(Errno.EADDRINUSE)
        if r.proc is not None or r.shm is not None:
            raise SyscallError(Errno.EACCES if r.proc is not None else Errno.EOPNOTSUPP)
        k.hostfs.check_writable()
        umask = k.current.fs.umask if k.current is not None else 0o022
        with k.hostfs.at(r) as (d, name), host_errors():
            os.mknod(name, st.S_IFSOCK | (0o777 & ~umask), dir_fd=d)
            info = os.stat(name, dir_fd=d, follow_symlinks=False)
        return (info.st_dev, info.st_ino)

    def _resolve(self, addr: UnixAddr, follow: bool) -> Resolved:
        try:
            path = os.fsdecode(addr.name)
        except UnicodeDecodeError:
            raise SyscallError(Errno.ENOENT) from None
        return self.net.k.vfs.resolve(addr.cwd, path, follow=follow)

    def autobind(self, sock: Socket) -> None:
        while True:
            self.next_auto = (self.next_auto + 1) & 0xFFFFF
            name = b"\0" + b"%05x" % self.next_auto
            if name not in self.abstract:
                break
        self.abstract[name] = sock
        sock.local = UnixAddr(name)

    def implicit_bind(self, sock: Socket, dest: object = None) -> None:
        if sock.local is None and sock.passcred:
            self.autobind(sock)  # (so the receiver can tell who sent it)

    def unbind(self, sock: Socket) -> None:
        addr = sock.local
        if addr is None:
            return
        if addr.abstract:
            if self.abstract.get(addr.name) is sock:
                del self.abstract[addr.name]
        else:
            key = self.bound_files.pop(sock, None)
            if key is not None and self.paths.get(key) is sock:
                del self.paths[key]

    def lookup(self, addr: UnixAddr) -> Socket:
        """The socket bound to `addr` (ENOENT: no such file; ECONNREFUSED:
        not a socket this machine has bound)."""
        if addr.abstract:
            found = self.abstract.get(addr.name)
        else:
            r = self._resolve(addr, follow=True)
            if not r.exists or r.proc is not None or r.shm is not None or r.device:
                raise SyscallError(Errno.ENOENT if not r.exists else Errno.ECONNREFUSED)
            info = self.net.k.hostfs.lstat(r)
            if not st.S_ISSOCK(info.st_mode):
                raise SyscallError(Errno.ECONNREFUSED)
            found = self.paths.get((info.st_dev, info.st_ino))
        if found is None or found.released:
            raise SyscallError(Errno.ECONNREFUSED)
        return found

    def listener(self, sock: Socket, addr: UnixAddr) -> Socket:
        server = self.lookup(addr)
        if server.type != sock.type:  # (an abstract name is looked up with its type)
            raise SyscallError(Errno.ECONNREFUSED if addr.abstract else Errno.EPROTOTYPE)
        if server.state != "listening":
            raise SyscallError(Errno.ECONNREFUSED)
        return server

    def dgram_connect(self, sock: Socket, addr: UnixAddr) -> UnixAddr:
        target = self.datagram_target(sock, addr)
        self.implicit_bind(sock)
        return target.local if target is not None else addr

    def datagram_target(self, sock: Socket, addr: UnixAddr) -> Socket | None:
        target = self.lookup(addr)
        if target.type != sock.type:
            raise SyscallError(Errno.EPROTOTYPE)
        return target

    def accept_child(self, listener: Socket, client: Socket, addr: UnixAddr) -> Socket:
        child = Socket(self.net, self, listener.type, listener.proto, 0)
        child.passcred = listener.passcred
        child.local, child.remote = listener.local, client.local
        client.remote = listener.local
        return child

    def peer_name(self, sock: Socket) -> UnixAddr | None:
        peer = sock.peer
        name: UnixAddr | None = peer.local if peer is not None else sock.remote
        return name
