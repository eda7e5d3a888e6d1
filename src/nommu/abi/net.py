"""The socket ABI of i386 Linux: address families, socket types, options,
message flags, and the layouts of sockaddr, msghdr and cmsghdr.

Values are Linux's (include/linux/socket.h, include/uapi/asm-generic/socket.h,
include/uapi/linux/in.h, in6.h, tcp.h, net.h), as the guest passes them.
"""

from __future__ import annotations

import struct

# Address families (the ones nommu has, then names for the rest in traces)
AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6 = 0, 1, 2, 10
AF_NETLINK, AF_PACKET = 16, 17
AF_NAMES = {0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK"}
AF_NAMES |= {17: "AF_PACKET", 4: "AF_IPX", 5: "AF_APPLETALK", 9: "AF_X25", 15: "AF_KEY"}

# Socket types; socket() and socketpair() also take these flags in `type`
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET = 1, 2, 3, 4, 5
SOCK_TYPE_MASK = 0xF
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000
SOCK_NAMES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 5: "SOCK_SEQPACKET"}

# Protocols
IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPV6 = 0, 6, 17, 41

# shutdown(2)
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2

# Option levels and options
SOL_SOCKET = 1
SOL_TCP = IPPROTO_TCP
SO_DEBUG, SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_DONTROUTE, SO_BROADCAST = 1, 2, 3, 4, 5, 6
SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_OOBINLINE, SO_NO_CHECK, SO_PRIORITY = 7, 8, 9, 10, 11, 12
SO_LINGER, SO_BSDCOMPAT, SO_REUSEPORT, SO_PASSCRED, SO_PEERCRED = 13, 14, 15, 16, 17
SO_RCVLOWAT, SO_SNDLOWAT, SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD = 18, 19, 20, 21
SO_ACCEPTCONN, SO_PEERSEC, SO_SNDBUFFORCE, SO_RCVBUFFORCE = 30, 31, 32, 33
SO_PROTOCOL, SO_DOMAIN = 38, 39
SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW = 66, 67  # with a 64-bit timeval (musl tries these first)
SO_NAMES = {
    1: "SO_DEBUG", 2: "SO_REUSEADDR", 3: "SO_TYPE", 4: "SO_ERROR", 5: "SO_DONTROUTE",
    6: "SO_BROADCAST", 7: "SO_SNDBUF", 8: "SO_RCVBUF", 9: "SO_KEEPALIVE",
    10: "SO_OOBINLINE", 12: "SO_PRIORITY", 13: "SO_LINGER", 15: "SO_REUSEPORT",
    16: "SO_PASSCRED", 17: "SO_PEERCRED", 18: "SO_RCVLOWAT", 19: "SO_SNDLOWAT",
    20: "SO_RCVTIMEO", 21: "SO_SNDTIMEO", 30: "SO_ACCEPTCONN", 38: "SO_PROTOCOL",
    39: "SO_DOMAIN", 66: "SO_RCVTIMEO_NEW", 67: "SO_SNDTIMEO_NEW",
}  # fmt: skip
TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT = 1, 2, 3, 4, 5, 6
TCP_NAMES = {1: "TCP_NODELAY", 2: "TCP_MAXSEG", 3: "TCP_CORK", 4: "TCP_KEEPIDLE"}
TCP_NAMES |= {5: "TCP_KEEPINTVL", 6: "TCP_KEEPCNT"}
IPV6_V6ONLY = 26
IP_TOS, IP_TTL = 1, 2
LEVEL_NAMES = {SOL_SOCKET: "SOL_SOCKET", IPPROTO_TCP: "SOL_TCP", IPPROTO_IP: "SOL_IP"}
LEVEL_NAMES |= {IPPROTO_IPV6: "SOL_IPV6", IPPROTO_UDP: "SOL_UDP"}

# send/recv flags
MSG_OOB, MSG_PEEK, MSG_DONTROUTE, MSG_CTRUNC, MSG_TRUNC = 0x1, 0x2, 0x4, 0x8, 0x20
MSG_DONTWAIT, MSG_EOR, MSG_WAITALL, MSG_NOSIGNAL = 0x40, 0x80, 0x100, 0x4000
MSG_MORE, MSG_CMSG_CLOEXEC = 0x8000, 0x40000000
MSG_NAMES = {
    0x1: "MSG_OOB", 0x2: "MSG_PEEK", 0x4: "MSG_DONTROUTE", 0x8: "MSG_CTRUNC",
    0x20: "MSG_TRUNC", 0x40: "MSG_DONTWAIT", 0x80: "MSG_EOR", 0x100: "MSG_WAITALL",
    0x4000: "MSG_NOSIGNAL", 0x8000: "MSG_MORE", 0x40000000: "MSG_CMSG_CLOEXEC",
}  # fmt: skip

# Control messages (SOL_SOCKET level)
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
SCM_MAX_FD = 253  # descriptors one SCM_RIGHTS message may carry

# socketcall(2) call numbers (include/uapi/linux/net.h)
SOCKETCALLS = {
    1: "socket", 2: "bind", 3: "connect", 4: "listen", 5: "accept", 6: "getsockname",
    7: "getpeername", 8: "socketpair", 9: "send", 10: "recv", 11: "sendto",
    12: "recvfrom", 13: "shutdown", 14: "setsockopt", 15: "getsockopt", 16: "sendmsg",
    17: "recvmsg", 18: "accept4", 19: "recvmmsg", 20: "sendmmsg",
}  # fmt: skip
SOCKETCALL_NARGS = {1: 3, 2: 3, 3: 3, 4: 2, 5: 3, 6: 3, 7: 3, 8: 4, 9: 4, 10: 4, 11: 6}
SOCKETCALL_NARGS |= {12: 6, 13: 2, 14: 5, 15: 5, 16: 3, 17: 3, 18: 4, 19: 5, 20: 4}

# Layouts
MAX_SOCKADDR = 128  # sizeof(struct sockaddr_storage)
SA_FAMILY = struct.Struct("<H")
SOCKADDR_IN = struct.Struct("<H2s4s8x")  # family, port (big-endian), address
SOCKADDR_IN6 = struct.Struct("<H2sI16sI")  # family, port, flowinfo, address, scope_id
UNIX_PATH_MAX = 108  # sun_path's size; sockaddr_un is 110 bytes
MSGHDR = struct.Struct("<IIIIIII")  # name, namelen, iov, iovlen, control, controllen, flags
MMSGHDR = struct.Struct("<IIIIIIII")  # a msghdr and msg_len
CMSGHDR = struct.Struct("<Iii")  # cmsg_len, cmsg_level, cmsg_type (then the data, 4-aligned)
UCRED = struct.Struct("<iII")  # pid, uid, gid
LINGER = struct.Struct("<ii")


def cmsg_align(n: int) -> int:
    return (n + 3) & ~3
