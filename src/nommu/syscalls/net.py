"""Socket syscalls: socket, bind, connect, accept, send/recv and friends,
and i386's socketcall(2), which multiplexes them all through one number.

Thin handlers: they copy addresses, iovecs and control messages between
guest memory and kernel values, and call the socket (kernel/socket.py).
Blocking sends and MSG_WAITALL receives keep their progress in
`t.blocked.done` across re-executions, as write() does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nommu.abi import net as N
from nommu.abi import structs as S
from nommu.abi.errno import Errno
from nommu.abi.signals import Signal
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.files import OpenFile, put_file
from nommu.kernel.signal import send_to_task
from nommu.kernel.socket import (
    MAX_BUF,
    MIN_RCVBUF,
    MIN_SNDBUF,
    Message,
    Socket,
    State,
    pair,
)
from nommu.syscalls.fs import MAX_RW, iovecs, s32
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

Vecs = list[tuple[int, int]]


def get_socket(t: Task, fd: int) -> Socket:
    return t.files.get_a(fd, Socket, Errno.ENOTSOCK)


def read_addr(k: Kernel, t: Task, sock: Socket, addr: int, length: int) -> object:
    """A guest sockaddr, parsed by the socket's family."""
    if s32(length) < 0 or length > N.MAX_SOCKADDR:
        raise SyscallError(Errno.EINVAL)
    return sock.family.parse(k.uspace.read(addr, length), t.fs.cwd)


def write_addr(k: Kernel, addr: int, lenp: int, raw: bytes) -> None:
    """Copy an address out (cut to the caller's length), and its full length."""
    if not addr or not lenp:
        return
    room = s32(k.uspace.read_u32(lenp))
    if room < 0:
        raise SyscallError(Errno.EINVAL)
    k.uspace.write(addr, raw[:room])
    k.uspace.write_u32(lenp, len(raw))


# -- making sockets -----------------------------------------------------------

_TYPES = {
    N.AF_UNIX: {N.SOCK_STREAM: (0, 1), N.SOCK_DGRAM: (0, 1), N.SOCK_SEQPACKET: (0, 1)},
    N.AF_INET: {N.SOCK_STREAM: (0, N.IPPROTO_TCP), N.SOCK_DGRAM: (0, N.IPPROTO_UDP)},
}
_TYPES[N.AF_INET6] = _TYPES[N.AF_INET]


def new_socket(k: Kernel, domain: int, type_: int, proto: int) -> tuple[Socket, bool]:
    """A socket as socket(2) makes it; and whether it is close-on-exec."""
    kind = type_ & N.SOCK_TYPE_MASK
    if type_ & ~(N.SOCK_TYPE_MASK | N.SOCK_NONBLOCK | N.SOCK_CLOEXEC) or not 0 < kind <= 10:
        raise SyscallError(Errno.EINVAL)
    family = k.net.family(domain)
    if domain == N.AF_UNIX and kind == N.SOCK_RAW:
        kind = N.SOCK_DGRAM  # (as Linux's unix_create)
    protos = _TYPES[domain].get(kind)
    if protos is None:
        raise SyscallError(Errno.ESOCKTNOSUPPORT)
    if proto not in protos:
        raise SyscallError(Errno.EPROTONOSUPPORT)
    sock = Socket(k.net, family, kind, protos[-1] if domain != N.AF_UNIX else 0, 0)
    sock.flags |= type_ & N.SOCK_NONBLOCK
    sock.owner = k.net.cred()
    return sock, bool(type_ & N.SOCK_CLOEXEC)


@syscall("socket", "sock_domain", "sock_type", "int", ret="fd")
def sys_socket(k: Kernel, t: Task, domain: int, type_: int, proto: int) -> int:
    sock, cloexec = new_socket(k, domain, type_, proto)
    try:
        return t.files.install(sock, cloexec)
    except SyscallError:
        put_file(sock)
        raise


@syscall("socketpair", "sock_domain", "sock_type", "int", "ptr")
def sys_socketpair(k: Kernel, t: Task, domain: int, type_: int, proto: int, sv: int) -> int:
    k.uspace.read(sv, 8)  # EFAULT before anything is made
    a, cloexec = new_socket(k, domain, type_, proto)
    if domain != N.AF_UNIX:
        put_file(a)
        raise SyscallError(Errno.EOPNOTSUPP)
    b, _ = new_socket(k, domain, type_, proto)
    pair(a, b)
    a.cred, b.cred = a.owner, b.owner
    if len(t.files.fds) + 2 > t.files.limit:
        put_file(a)
        put_file(b)
        raise SyscallError(Errno.EMFILE)
    fa, fb = t.files.install(a, cloexec), t.files.install(b, cloexec)
    k.uspace.write(sv, fa.to_bytes(4, "little") + fb.to_bytes(4, "little"))
    return 0


# -- naming and connecting ----------------------------------------------------


@syscall("bind", "fd", "sockaddr", "int")
def sys_bind(k: Kernel, t: Task, fd: int, addr: int, length: int) -> int:
    sock = get_socket(t, fd)
    sock.family.bind(sock, read_addr(k, t, sock, addr, length))
    return 0


@syscall("listen", "fd", "int")
def sys_listen(k: Kernel, t: Task, fd: int, backlog: int) -> int:
    get_socket(t, fd).listen(s32(backlog))
    return 0


@syscall("connect", "fd", "sockaddr", "int")
def sys_connect(k: Kernel, t: Task, fd: int, addr: int, length: int) -> int:
    sock = get_socket(t, fd)
    target = read_addr(k, t, sock, addr, length)
    if sock.connecting:
        if sock.state == State.CONNECTING:  # (through the host: not answered yet)
            raise SyscallError(Errno.EALREADY) if sock.nonblocking else Blocked(sock.wait)
        return finish_connect(sock)
    if k.net.goes_to_host(sock, target):
        return connect_through_host(k, sock, target)
    if sock.stream and sock.family.tcp and sock.nonblocking:
        return start_connect(sock, target)
    sock.connect(target)
    return 0


def connect_through_host(k: Kernel, sock: Socket, target: object) -> int:
    """--net host: the connection is made by a host socket (kernel/hostnet.py);
    the caller waits for its answer, or (non-blocking) gets EINPROGRESS."""
    if sock.state != State.UNCONNECTED:
        raise SyscallError(Errno.EISCONN if sock.state == State.CONNECTED else Errno.EINVAL)
    assert k.net.host is not None
    k.net.host.connect(sock, target)  # type: ignore[arg-type]
    sock.connecting = True
    if sock.nonblocking:
        raise SyscallError(Errno.EINPROGRESS)
    raise Blocked(sock.wait)


def start_connect(sock: Socket, target: object) -> int:
    """A non-blocking TCP connect: EINPROGRESS, even on loopback (the handshake
    completes after connect returns); SO_ERROR and poll tell how it went."""
    if sock.state == State.CONNECTED:
        raise SyscallError(Errno.EISCONN)
    try:
        sock.connect(target)
    except SyscallError as err:
        if err.errno != Errno.ECONNREFUSED:
            raise
        sock.err = Errno.ECONNREFUSED
    except Blocked:
        pass  # (a full accept queue: nommu completes it anyway, past the backlog)
    sock.connecting = True
    raise SyscallError(Errno.EINPROGRESS)


def finish_connect(sock: Socket) -> int:
    """connect again after EINPROGRESS: 0 once connected, else the error."""
    sock.connecting = False
    if sock.state == State.CONNECTED:
        return 0
    raise SyscallError(Errno(sock.take_error() or Errno.ECONNABORTED))


def do_accept(k: Kernel, t: Task, fd: int, addr: int, lenp: int, flags: int) -> int:
    if flags & ~(N.SOCK_NONBLOCK | N.SOCK_CLOEXEC):
        raise SyscallError(Errno.EINVAL)
    sock = get_socket(t, fd)
    if not sock.connection_based:
        raise SyscallError(Errno.EOPNOTSUPP)
    child = sock.accept()
    child.flags |= flags & N.SOCK_NONBLOCK
    newfd = t.files.install(child, bool(flags & N.SOCK_CLOEXEC))
    write_addr(k, addr, lenp, child.family.encode(child.family.peer_name(child)))
    return newfd


@syscall("accept4", "fd", "sockaddr_out", "ptr", "sock_type")
def sys_accept4(k: Kernel, t: Task, fd: int, addr: int, lenp: int, flags: int) -> int:
    return do_accept(k, t, fd, addr, lenp, flags)


@syscall("getsockname", "fd", "sockaddr_out", "ptr")
def sys_getsockname(k: Kernel, t: Task, fd: int, addr: int, lenp: int) -> int:
    sock = get_socket(t, fd)
    k.uspace.read_u32(lenp)
    write_addr(k, addr, lenp, sock.family.encode(sock.local))
    return 0


@syscall("getpeername", "fd", "sockaddr_out", "ptr")
def sys_getpeername(k: Kernel, t: Task, fd: int, addr: int, lenp: int) -> int:
    sock = get_socket(t, fd)
    if sock.connection_based:
        if sock.state not in (State.CONNECTED, State.CLOSED):
            raise SyscallError(Errno.ENOTCONN)
    elif sock.remote is None and sock.peer is None:
        raise SyscallError(Errno.ENOTCONN)
    k.uspace.read_u32(lenp)
    write_addr(k, addr, lenp, sock.family.encode(sock.family.peer_name(sock)))
    return 0


@syscall("shutdown", "fd", "shut_how")
def sys_shutdown(k: Kernel, t: Task, fd: int, how: int) -> int:
    get_socket(t, fd).do_shutdown(how)
    return 0


# -- sending ------------------------------------------------------------------


def send_all(k: Kernel, t: Task, sock: Socket, msg: Message, flags: int) -> int:
    """Send `msg`: a blocking stream send returns only when all of it is
    queued (progress kept in `t.blocked.done` across waits, as write_all);
    EPIPE also raises SIGPIPE unless MSG_NOSIGNAL."""
    done = t.blocked.done if t.blocked is not None else 0
    data = msg.data
    try:
        while True:
            part = msg if not done else Message(data[done:], None, msg.cred, msg.addr)
            done += sock.send(part, flags)
            if done >= len(data) or not sock.stream:
                return done
    except Blocked:
        t.blocking_call().done = done
        raise
    except SyscallError as err:
        if err.errno == Errno.EPIPE and not flags & N.MSG_NOSIGNAL:
            send_to_task(k, t, Signal.SIGPIPE)
        if done and err.errno in (Errno.EAGAIN, Errno.EPIPE, Errno.ECONNRESET):
            return done
        raise


def gather(k: Kernel, vecs: Vecs) -> bytes:
    return b"".join(k.uspace.read(base, n) for base, n in vecs)


def do_sendto(
    k: Kernel, t: Task, fd: int, buf: int, size: int, flags: int, addr: int, alen: int
) -> int:
    sock = get_socket(t, fd)
    data = k.uspace.read(buf, min(size, MAX_RW))
    dest = read_addr(k, t, sock, addr, alen) if addr and not sock.connection_based else None
    if not data and sock.stream:
        sock.check_send()
        return 0
    return send_all(k, t, sock, Message(data, None, k.net.cred(), dest), flags)


@syscall("sendto", "fd", "buf_in", "size", "msg_flags", "sockaddr", "int")
def sys_sendto(
    k: Kernel, t: Task, fd: int, buf: int, size: int, flags: int, addr: int, alen: int
) -> int:
    return do_sendto(k, t, fd, buf, size, flags, addr, alen)


def control_in(
    k: Kernel, t: Task, sock: Socket, ctl: int, ctllen: int
) -> tuple[list[OpenFile], object]:
    """The control messages of a sendmsg: descriptors to pass, credentials."""
    raw = k.uspace.read(ctl, ctllen) if ctl and ctllen else b""
    files: list[OpenFile] = []
    cred = None
    at = 0
    while at + N.CMSGHDR.size <= len(raw):
        length, level, kind = N.CMSGHDR.unpack_from(raw, at)
        if length < N.CMSGHDR.size or at + length > len(raw):
            raise SyscallError(Errno.EINVAL)
        body = raw[at + N.CMSGHDR.size : at + length]
        if level != N.SOL_SOCKET or sock.family.domain != N.AF_UNIX:
            raise SyscallError(Errno.EINVAL)
        if kind == N.SCM_RIGHTS:
            fds = [
                int.from_bytes(body[i : i + 4], "little", signed=True)
                for i in range(0, len(body) - 3, 4)
            ]
            if len(files) + len(fds) > N.SCM_MAX_FD:
                raise SyscallError(Errno.EINVAL)
            files += [t.files.get(fd) for fd in fds]
        elif kind == N.SCM_CREDENTIALS and len(body) >= N.UCRED.size:
            cred = N.UCRED.unpack_from(body)
        else:
            raise SyscallError(Errno.EINVAL)
        at += N.cmsg_align(length)
    return files, cred


def read_msghdr(k: Kernel, addr: int) -> tuple[int, ...]:
    return k.uspace.read_struct(N.MSGHDR, addr)


def do_sendmsg(k: Kernel, t: Task, fd: int, msgp: int, flags: int) -> int:
    sock = get_socket(t, fd)
    name, namelen, iov, iovlen, ctl, ctllen, _ = read_msghdr(k, msgp)
    vecs = iovecs(k, iov, iovlen)
    dest = (
        read_addr(k, t, sock, name, namelen)
        if name and namelen and not sock.connection_based
        else None
    )
    files, cred = control_in(k, t, sock, ctl, ctllen)
    data = gather(k, vecs)
    if not data and sock.stream and not files:
        sock.check_send()
        return 0
    msg = Message(data, files or None, cred or k.net.cred(), dest)  # type: ignore[arg-type]
    return send_all(k, t, sock, msg, flags)


@syscall("sendmsg", "fd", "msghdr_in", "msg_flags")
def sys_sendmsg(k: Kernel, t: Task, fd: int, msgp: int, flags: int) -> int:
    return do_sendmsg(k, t, fd, msgp, flags)


@syscall("sendmmsg", "fd", "ptr", "uint", "msg_flags")
def sys_sendmmsg(k: Kernel, t: Task, fd: int, vec: int, vlen: int, flags: int) -> int:
    sent = 0
    for i in range(min(vlen, 1024)):
        entry = vec + i * N.MMSGHDR.size
        try:
            n = do_sendmsg(k, t, fd, entry, flags)
        except (SyscallError, Blocked):
            if sent:
                return sent
            raise
        k.uspace.write_u32(entry + N.MSGHDR.size, n)
        sent += 1
    return sent


# -- receiving ----------------------------------------------------------------


def scatter(k: Kernel, vecs: Vecs, data: bytes, offset: int) -> None:
    """Write `data` into the iovecs, starting `offset` bytes in."""
    pos = 0
    for base, n in vecs:
        if pos + n > offset and data:
            skip = max(0, offset - pos)
            chunk, data = data[: n - skip], data[n - skip :]
            k.uspace.write(base + skip, chunk)
        pos += n


def recv_into(
    k: Kernel, t: Task, sock: Socket, vecs: Vecs, flags: int
) -> tuple[int, list[Message], int]:
    """Receive into the iovecs: (bytes, messages taken, msg_flags). MSG_WAITALL
    on a stream waits for all of it, its progress kept like a blocking write's."""
    size = min(sum(n for _, n in vecs), MAX_RW)
    done = t.blocked.done if t.blocked is not None else 0
    waitall = flags & N.MSG_WAITALL and sock.stream and not flags & (N.MSG_PEEK | N.MSG_DONTWAIT)
    msgs: list[Message] = []
    try:
        while True:
            data, got, mflags = sock.recv(size - done, flags)
            scatter(k, vecs, data, done)
            done += len(data)
            msgs += got
            if not (waitall and data and done < size) or any(m.files for m in got):
                break
    except Blocked:
        for m in msgs:
            drop_taken(m, flags)
        t.blocking_call().done = done
        raise
    except SyscallError:
        if done:
            return done, msgs, 0
        raise
    if mflags & N.MSG_TRUNC and flags & N.MSG_TRUNC and msgs:
        done = len(msgs[0].data)  # (MSG_TRUNC asked: a datagram's real length)
    return done, msgs, mflags


def drop_taken(msg: Message, flags: int) -> None:
    """Descriptors taken off the queue that nobody receives are closed."""
    if msg.files and not flags & N.MSG_PEEK:
        for f in msg.files:
            put_file(f)
    msg.files = None


def do_recvfrom(
    k: Kernel, t: Task, fd: int, buf: int, size: int, flags: int, addr: int, lenp: int
) -> int:
    sock = get_socket(t, fd)
    k.uspace.read(buf, min(size, 1))
    n, msgs, _ = recv_into(k, t, sock, [(buf, k.uspace.span(buf, min(size, MAX_RW)))], flags)
    for m in msgs:
        drop_taken(m, flags)
    if addr and lenp and msgs:
        write_addr(k, addr, lenp, source_name(sock, msgs[0]))
    elif addr and lenp and not sock.connection_based:
        k.uspace.write_u32(lenp, 0)
    return n


def source_name(sock: Socket, msg: Message) -> bytes:
    """The address a received message came from, as recvfrom reports it."""
    if not sock.connection_based:
        return sock.family.encode(msg.addr)
    if sock.family.domain == N.AF_UNIX:
        return sock.family.encode(sock.family.peer_name(sock))
    return b""


@syscall("recvfrom", "fd", "buf_out", "size", "msg_flags", "sockaddr_out", "ptr")
def sys_recvfrom(
    k: Kernel, t: Task, fd: int, buf: int, size: int, flags: int, addr: int, lenp: int
) -> int:
    return do_recvfrom(k, t, fd, buf, size, flags, addr, lenp)


def control_out(
    k: Kernel, t: Task, sock: Socket, msgs: list[Message], room: int, flags: int
) -> tuple[bytes, int]:
    """The control messages a recvmsg returns (credentials, then descriptors,
    installed in the receiver's table), and MSG_CTRUNC if they did not fit."""
    out = b""
    trunc = 0
    if sock.passcred and msgs:
        pid, uid, gid = msgs[0].cred or (0, 65534, 65534)
        cmsg = N.CMSGHDR.pack(N.CMSGHDR.size + N.UCRED.size, N.SOL_SOCKET, N.SCM_CREDENTIALS)
        cmsg += N.UCRED.pack(pid, uid, gid)
        if len(cmsg) <= room:
            out += cmsg
        else:
            trunc = N.MSG_CTRUNC
    files = [f for m in msgs for f in (m.files or ())]
    if files:
        fit = max(0, (room - len(out) - N.CMSGHDR.size) // 4)
        if fit < len(files):
            trunc = N.MSG_CTRUNC
        fds = install_passed(t, files, fit, flags)
        if fds:
            out += N.CMSGHDR.pack(N.CMSGHDR.size + 4 * len(fds), N.SOL_SOCKET, N.SCM_RIGHTS)
            out += b"".join(fd.to_bytes(4, "little") for fd in fds)
    for m in msgs:
        m.files = None
    return out, trunc


def install_passed(t: Task, files: list[OpenFile], fit: int, flags: int) -> list[int]:
    """Install the first `fit` passed descriptors; close the others (unless
    peeking: then the queue still holds them, and the installed are new references)."""
    peek = flags & N.MSG_PEEK
    fds = []
    for i, f in enumerate(files):
        if i < fit:
            if peek:
                f.refs += 1
            try:
                fds.append(t.files.install(f, bool(flags & N.MSG_CMSG_CLOEXEC)))
            except SyscallError:
                put_file(f)
        elif not peek:
            put_file(f)
    return fds


def do_recvmsg(k: Kernel, t: Task, fd: int, msgp: int, flags: int) -> int:
    sock = get_socket(t, fd)
    name, namelen, iov, iovlen, ctl, ctllen, _ = read_msghdr(k, msgp)
    vecs = iovecs(k, iov, iovlen)
    n, msgs, mflags = recv_into(k, t, sock, vecs, flags)
    control, trunc = control_out(k, t, sock, msgs, ctllen if ctl else 0, flags)
    if control:
        k.uspace.write(ctl, control)
    if name and msgs:
        raw = source_name(sock, msgs[0])
        k.uspace.write(name, raw[: s32(namelen)] if s32(namelen) > 0 else b"")
        namelen = len(raw)
    elif not msgs or not name:
        namelen = 0
    mflags |= trunc | flags & N.MSG_CMSG_CLOEXEC  # (Linux hands that flag back)
    fields = (name, namelen, iov, iovlen, ctl, len(control), mflags)
    k.uspace.write_struct(N.MSGHDR, msgp, *fields)
    return n


@syscall("recvmsg", "fd", "msghdr_out", "msg_flags")
def sys_recvmsg(k: Kernel, t: Task, fd: int, msgp: int, flags: int) -> int:
    return do_recvmsg(k, t, fd, msgp, flags)


@syscall("recvmmsg", "fd", "ptr", "uint", "msg_flags", "ptr")
def sys_recvmmsg(k: Kernel, t: Task, fd: int, vec: int, vlen: int, flags: int, timeout: int) -> int:
    got = 0
    for i in range(min(vlen, 1024)):
        entry = vec + i * N.MMSGHDR.size
        try:
            n = do_recvmsg(k, t, fd, entry, flags | (N.MSG_DONTWAIT if got else 0))
        except (SyscallError, Blocked):
            if got:
                return got
            raise
        k.uspace.write_u32(entry + N.MSGHDR.size, n)
        got += 1
    return got


@syscall("recvmmsg_time64", "fd", "ptr", "uint", "msg_flags", "ptr")
def sys_recvmmsg_time64(
    k: Kernel, t: Task, fd: int, vec: int, vlen: int, flags: int, timeout: int
) -> int:
    return sys_recvmmsg(k, t, fd, vec, vlen, flags, timeout)


# -- options ------------------------------------------------------------------


def _int_opt(k: Kernel, val: int, length: int) -> int:
    if s32(length) < 4:
        raise SyscallError(Errno.EINVAL)
    return s32(k.uspace.read_u32(val))


def _buf_size(value: int, minimum: int) -> int:
    """SO_SNDBUF/SO_RCVBUF: the kernel doubles what it is given (for its own
    overhead), within [minimum, 2 * max]."""
    return max(minimum, min(max(value, 0), MAX_BUF) * 2)


@syscall("setsockopt", "fd", "sock_level", "sock_opt", "ptr", "int")
def sys_setsockopt(
    k: Kernel, t: Task, fd: int, level: int, name: int, val: int, length: int
) -> int:
    sock = get_socket(t, fd)
    if level == N.SOL_SOCKET:
        set_socket_option(k, sock, name, val, length)
    elif level == N.IPPROTO_TCP and sock.family.tcp and sock.stream:
        sock.opts[(level, name)] = _int_opt(k, val, length).to_bytes(4, "little", signed=True)
    elif level == N.IPPROTO_IPV6 and sock.family.domain == N.AF_INET6:
        value = _int_opt(k, val, length)
        if name == N.IPV6_V6ONLY:
            if sock.local is not None:
                raise SyscallError(Errno.EINVAL)
            sock.v6only = bool(value)
        sock.opts[(level, name)] = value.to_bytes(4, "little", signed=True)
    elif level == N.IPPROTO_IP and sock.family.domain in (N.AF_INET, N.AF_INET6):
        sock.opts[(level, name)] = k.uspace.read(val, min(max(s32(length), 0), 64))
    else:
        raise SyscallError(
            Errno.EOPNOTSUPP if sock.family.domain == N.AF_UNIX else Errno.ENOPROTOOPT
        )
    return 0


_STORED = {N.SO_KEEPALIVE, N.SO_BROADCAST, N.SO_DONTROUTE, N.SO_OOBINLINE, N.SO_PRIORITY}
_STORED |= {N.SO_REUSEPORT, N.SO_RCVLOWAT, N.SO_DEBUG, N.SO_LINGER}
_STORED |= {N.SO_SNDLOWAT, N.SO_BSDCOMPAT, N.SO_NO_CHECK}


def set_socket_option(k: Kernel, sock: Socket, name: int, val: int, length: int) -> None:
    if name == N.SO_REUSEADDR:
        sock.reuseaddr = bool(_int_opt(k, val, length))
    elif name == N.SO_PASSCRED:
        sock.passcred = bool(_int_opt(k, val, length))
    elif name in (N.SO_RCVBUF, N.SO_RCVBUFFORCE):
        sock.rcvbuf = _buf_size(_int_opt(k, val, length), MIN_RCVBUF)
    elif name in (N.SO_SNDBUF, N.SO_SNDBUFFORCE):
        sock.sndbuf = _buf_size(_int_opt(k, val, length), MIN_SNDBUF)
    elif name in _TIMEOUTS:
        set_timeout(k, sock, name, val, length)
    elif name in _STORED:
        if s32(length) < 0:
            raise SyscallError(Errno.EINVAL)
        raw = k.uspace.read(val, min(s32(length), 16))
        if name != N.SO_LINGER:
            raw = _int_opt(k, val, length).to_bytes(4, "little", signed=True)
        sock.opts[(N.SOL_SOCKET, name)] = raw
    else:
        raise SyscallError(Errno.ENOPROTOOPT)


_TIMEOUTS = {  # option -> (the timeval it takes, whether it is the receive timeout)
    N.SO_RCVTIMEO_OLD: (S.TIMEVAL32, True),
    N.SO_SNDTIMEO_OLD: (S.TIMEVAL32, False),
    N.SO_RCVTIMEO_NEW: (S.TIMESPEC64, True),  # (struct __kernel_sock_timeval: two s64)
    N.SO_SNDTIMEO_NEW: (S.TIMESPEC64, False),
}


def set_timeout(k: Kernel, sock: Socket, name: int, val: int, length: int) -> None:
    """SO_RCVTIMEO/SO_SNDTIMEO: a struct timeval; blocking calls give up with
    EAGAIN after it (0: never)."""
    layout, receive = _TIMEOUTS[name]
    if s32(length) < layout.size:
        raise SyscallError(Errno.EINVAL)
    sec, usec = k.uspace.read_struct(layout, val)
    if not 0 <= usec < 1_000_000:
        raise SyscallError(Errno.EDOM)
    seconds = max(0.0, sec + usec / 1e6)
    if receive:
        sock.rcvtimeo = seconds
    else:
        sock.sndtimeo = seconds


def timeout_option(sock: Socket, name: int) -> bytes:
    layout, receive = _TIMEOUTS[name]
    seconds = sock.rcvtimeo if receive else sock.sndtimeo
    usec = round(seconds * 1e6)
    return layout.pack(usec // 1_000_000, usec % 1_000_000)


def socket_option(sock: Socket, name: int) -> bytes:
    """The value getsockopt(SOL_SOCKET, name) reports."""
    ints = {
        N.SO_TYPE: sock.type,
        N.SO_ERROR: None,
        N.SO_REUSEADDR: int(sock.reuseaddr),
        N.SO_PASSCRED: int(sock.passcred),
        N.SO_RCVBUF: sock.rcvbuf,
        N.SO_SNDBUF: sock.sndbuf,
        N.SO_ACCEPTCONN: int(sock.state == State.LISTENING),
        N.SO_PROTOCOL: sock.proto,
        N.SO_DOMAIN: sock.family.domain,
    }
    if name == N.SO_ERROR:
        return sock.take_error().to_bytes(4, "little")
    if name in ints:
        return int(ints[name] or 0).to_bytes(4, "little")
    if name in _TIMEOUTS:
        return timeout_option(sock, name)
    if name == N.SO_PEERCRED:
        if sock.cred is None:
            return N.UCRED.pack(0, 0xFFFFFFFF, 0xFFFFFFFF)
        return N.UCRED.pack(*sock.cred)
    if name in _STORED:
        default = (
            bytes(8) if name in (N.SO_LINGER, N.SO_RCVTIMEO_OLD, N.SO_SNDTIMEO_OLD) else bytes(4)
        )
        if name == N.SO_RCVLOWAT or name == N.SO_SNDLOWAT:
            default = (1).to_bytes(4, "little")
        return sock.opts.get((N.SOL_SOCKET, name), default)
    raise SyscallError(Errno.ENOPROTOOPT)


@syscall("getsockopt", "fd", "sock_level", "sock_opt", "ptr", "ptr")
def sys_getsockopt(k: Kernel, t: Task, fd: int, level: int, name: int, val: int, lenp: int) -> int:
    sock = get_socket(t, fd)
    room = s32(k.uspace.read_u32(lenp))
    if room < 0:
        raise SyscallError(Errno.EINVAL)
    if level == N.SOL_SOCKET:
        raw = socket_option(sock, name)
    elif level == N.IPPROTO_TCP and sock.family.tcp and sock.stream:
        raw = sock.opts.get(
            (level, name), (0 if name != N.TCP_MAXSEG else 65483).to_bytes(4, "little")
        )
    elif level in (N.IPPROTO_IP, N.IPPROTO_IPV6) and sock.family.domain != N.AF_UNIX:
        raw = sock.opts.get(
            (level, name), int(name == N.IPV6_V6ONLY and sock.v6only).to_bytes(4, "little")
        )
    else:
        raise SyscallError(
            Errno.EOPNOTSUPP if sock.family.domain == N.AF_UNIX else Errno.ENOPROTOOPT
        )
    k.uspace.write(val, raw[:room])
    k.uspace.write_u32(lenp, min(room, len(raw)))
    return 0


# -- socketcall(2) ------------------------------------------------------------


# send, recv and accept: socketcall's, and system calls of their own on ARM


@syscall("send", "fd", "buf_in", "size", "msg_flags")
def sys_send(k: Kernel, t: Task, fd: int, buf: int, size: int, flags: int) -> int:
    return do_sendto(k, t, fd, buf, size, flags, 0, 0)


@syscall("recv", "fd", "buf_out", "size", "msg_flags")
def sys_recv(k: Kernel, t: Task, fd: int, buf: int, size: int, flags: int) -> int:
    return do_recvfrom(k, t, fd, buf, size, flags, 0, 0)


@syscall("accept", "fd", "sockaddr_out", "ptr")
def sys_accept(k: Kernel, t: Task, fd: int, addr: int, lenp: int) -> int:
    return do_accept(k, t, fd, addr, lenp, 0)


SOCKETCALL_HANDLERS: dict[int, Callable[..., int]] = {
    1: sys_socket, 2: sys_bind, 3: sys_connect, 4: sys_listen, 5: sys_accept,
    6: sys_getsockname, 7: sys_getpeername, 8: sys_socketpair, 9: sys_send, 10: sys_recv,
    11: sys_sendto, 12: sys_recvfrom, 13: sys_shutdown, 14: sys_setsockopt,
    15: sys_getsockopt, 16: sys_sendmsg, 17: sys_recvmsg, 18: sys_accept4,
    19: sys_recvmmsg, 20: sys_sendmmsg,
}  # fmt: skip


@syscall("socketcall", "socketcall", "socketcall_args")
def sys_socketcall(k: Kernel, t: Task, call: int, args: int) -> int:
    """The old multiplexer: call number, and a pointer to its arguments."""
    handler = SOCKETCALL_HANDLERS.get(call)
    if handler is None:
        raise SyscallError(Errno.EINVAL)
    raw = k.uspace.read(args, 4 * N.SOCKETCALL_NARGS[call])
    values = [int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)]
    return handler(k, t, *values)
