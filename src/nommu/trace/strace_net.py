"""`--strace` for socket calls: addresses, messages, options and flags.

    socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3
    connect(3, {sa_family=AF_UNIX, sun_path="/tmp/s"}, 110) = 0
    sendmsg(3, {msg_name=NULL, msg_iov=[{"hi", 2}], msg_control=[{SOL_SOCKET,
        SCM_RIGHTS, [4]}], msg_flags=0}, MSG_NOSIGNAL) = 2
    socketcall(SYS_SOCKET, [AF_INET, SOCK_STREAM, 0]) = 3

`IN` holds formatters of arguments as the call is made (each gets the
kernel, the value, all arguments and its index); `OUT` those of arguments
the call fills, read after it returns (they also get the result).
socketcall(2)'s argument array is shown with the kinds of the call it names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nommu.abi import net as N
from nommu.abi import structs as S

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel

STRSIZE = 32
In = Callable[["Kernel", int, Sequence[int], int], str]
Out = Callable[["Kernel", int, Sequence[int], int, int], str]


def _flags(value: int, names: dict[int, str], zero: str = "0") -> str:
    parts = [name for bit, name in names.items() if value & bit]
    rest = value & ~sum(names)
    if rest:
        parts.append(hex(rest))
    return "|".join(parts) or zero


def _quote(data: bytes, more: bool = False) -> str:
    text = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\x{b:02x}" for b in data)
    return f'"{text}"' + ("..." if more else "")


def sockaddr(raw: bytes) -> str:
    """A sockaddr as strace shows it."""
    if len(raw) < 2:
        return "{sa_family=AF_UNSPEC}" if not raw else "{...}"
    family = int.from_bytes(raw[:2], "little")
    name = N.AF_NAMES.get(family, str(family))
    if family == N.AF_UNIX and len(raw) > 2:
        path = raw[2:]
        if path[:1] == b"\0":
            return f"{{sa_family={name}, sun_path=@{_quote(path[1:])}}}"
        shown = _quote(path.split(b"\0", 1)[0])
        return f"{{sa_family={name}, sun_path={shown}}}"
    if family == N.AF_INET and len(raw) >= 8:
        port = int.from_bytes(raw[2:4], "big")
        ip = ".".join(map(str, raw[4:8]))
        return f'{{sa_family={name}, sin_port=htons({port}), sin_addr=inet_addr("{ip}")}}'
    if family == N.AF_INET6 and len(raw) >= 24:
        port = int.from_bytes(raw[2:4], "big")
        ip6 = ipaddress.IPv6Address(raw[8:24])
        return f'{{sa_family={name}, sin6_port=htons({port}), sin6_addr="{ip6}"}}'
    return f"{{sa_family={name}}}"


def _sockaddr_in(k: Kernel, v: int, args: Sequence[int], i: int) -> str:
    if not v:
        return "NULL"
    return sockaddr(k.uspace.read(v, min(args[i + 1], N.MAX_SOCKADDR)))


def _sockaddr_out(k: Kernel, v: int, args: Sequence[int], i: int, result: int) -> str:
    """An address the call wrote; its length is at the next argument."""
    if not v or not args[i + 1]:
        return "NULL"
    length = k.uspace.read_u32(args[i + 1])
    return sockaddr(k.uspace.read(v, min(length, N.MAX_SOCKADDR)))


def _iov(k: Kernel, iov: int, count: int, limit: int | None) -> str:
    parts = []
    for j in range(min(count, 8)):
        base, n = k.uspace.read_struct(S.IOVEC, iov + 8 * j)
        shown = n if limit is None else max(0, min(n, limit))
        if limit is not None:
            limit -= shown
        data = k.uspace.read(base, min(shown, STRSIZE))
        parts.append(f"{{{_quote(data, shown > STRSIZE)}, {n}}}")
    return "[" + ", ".join(parts) + ("..." if count > 8 else "") + "]"


def _cmsgs(k: Kernel, ctl: int, length: int) -> str:
    raw = k.uspace.read(ctl, min(length, 512)) if ctl and length else b""
    parts, at = [], 0
    while at + N.CMSGHDR.size <= len(raw):
        clen, level, kind = N.CMSGHDR.unpack_from(raw, at)
        if clen < N.CMSGHDR.size:
            break
        body = raw[at + N.CMSGHDR.size : at + clen]
        lname = N.LEVEL_NAMES.get(level, str(level))
        if level == N.SOL_SOCKET and kind == N.SCM_RIGHTS:
            fds = [
                int.from_bytes(body[j : j + 4], "little", signed=True)
                for j in range(0, len(body) - 3, 4)
            ]
            parts.append(f"{{{lname}, SCM_RIGHTS, {fds}}}")
        elif level == N.SOL_SOCKET and kind == N.SCM_CREDENTIALS and len(body) >= 12:
            pid, uid, gid = N.UCRED.unpack_from(body)
            parts.append(f"{{{lname}, SCM_CREDENTIALS, {{pid={pid}, uid={uid}, gid={gid}}}}}")
        else:
            parts.append(f"{{{lname}, {kind}, {clen - N.CMSGHDR.size} bytes}}")
        at += N.cmsg_align(clen)
    return "[" + ", ".join(parts) + "]"


def msghdr(k: Kernel, v: int, limit: int | None) -> str:
    """A struct msghdr (`limit`: bytes received, to show only those)."""
    name, namelen, iov, iovlen, ctl, ctllen, flags = k.uspace.read_struct(N.MSGHDR, v)
    shown_name = (
        sockaddr(k.uspace.read(name, min(namelen, N.MAX_SOCKADDR))) if name and namelen else "NULL"
    )
    return (
        f"{{msg_name={shown_name}, msg_namelen={namelen}, msg_iov={_iov(k, iov, iovlen, limit)}, "
        f"msg_iovlen={iovlen}, msg_control={_cmsgs(k, ctl, ctllen)}, msg_controllen={ctllen}, "
        f"msg_flags={_flags(flags, N.MSG_NAMES)}}}"
    )


def _sock_type(k: Kernel, v: int, args: Sequence[int], i: int) -> str:
    kind = N.SOCK_NAMES.get(v & N.SOCK_TYPE_MASK, str(v & N.SOCK_TYPE_MASK))
    extra = {N.SOCK_NONBLOCK: "SOCK_NONBLOCK", N.SOCK_CLOEXEC: "SOCK_CLOEXEC"}
    rest = _flags(v & ~N.SOCK_TYPE_MASK, extra, "")
    if not v & N.SOCK_TYPE_MASK:
        return rest or "0"
    return kind + ("|" + rest if rest else "")


def _sock_opt(k: Kernel, v: int, args: Sequence[int], i: int) -> str:
    names = {N.SOL_SOCKET: N.SO_NAMES, N.IPPROTO_TCP: N.TCP_NAMES}.get(args[i - 1], {})
    return names.get(v, str(v))


def _socketcall_args(
    k: Kernel, v: int, args: Sequence[int], i: int, result: int | None = None
) -> str:
    """The argument array of socketcall(2), shown as the named call's arguments."""
    from nommu.syscalls.table import REGISTRY

    call = N.SOCKETCALLS.get(args[0])
    if call is None:
        return hex(v)
    row = REGISTRY.get(call)
    n = N.SOCKETCALL_NARGS[args[0]]
    raw = k.uspace.read(v, 4 * n)
    values = [int.from_bytes(raw[j : j + 4], "little") for j in range(0, len(raw), 4)]
    kinds = list(row.args[:n]) if row is not None else ["hex"] * n
    shown = []
    for j, kind in enumerate(kinds):
        out = OUT.get(kind)
        if result is not None and result >= 0 and out is not None:
            shown.append(out(k, values[j], values, j, result))
        else:
            fmt = ALL_IN.get(kind)
            shown.append(fmt(k, values[j], values, j) if fmt else str(values[j]))
    return "[" + ", ".join(shown) + "]"


IN: dict[str, In] = {
    "sock_domain": lambda k, v, a, i: N.AF_NAMES.get(v, str(v)),
    "sock_type": _sock_type,
    "sockaddr": _sockaddr_in,
    "sockaddr_out": lambda k, v, a, i: hex(v) if v else "NULL",
    "msg_flags": lambda k, v, a, i: _flags(v, N.MSG_NAMES),
    "msghdr_in": lambda k, v, a, i: msghdr(k, v, None),
    "msghdr_out": lambda k, v, a, i: hex(v),
    "sock_level": lambda k, v, a, i: N.LEVEL_NAMES.get(v, str(v)),
    "sock_opt": _sock_opt,
    "shut_how": lambda k, v, a, i: {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}.get(v, str(v)),
    "socketcall": lambda k, v, a, i: "SYS_" + N.SOCKETCALLS.get(v, str(v)).upper(),
    "socketcall_args": _socketcall_args,
}

OUT: dict[str, Out] = {
    "sockaddr_out": _sockaddr_out,
    "msghdr_out": lambda k, v, a, i, r: msghdr(k, v, r),
    "socketcall_args": _socketcall_args,
}

# every kind's formatter: trace/strace.py puts its own in
ALL_IN: dict[str, Callable[[Kernel, int, Any, int], str]] = dict(IN)
