"""signalfd: pending signals read as a file instead of delivered to a handler.

A signalfd has a set of signals (its mask). Reading it takes pending signals
of that set off the reading thread (its own, then those sent to its process
that it holds), each as a 128-byte struct signalfd_siginfo, waiting for one
if none is pending; it is readable while one is. The signals are normally
blocked, or they would be delivered first. signalfd() on an existing
signalfd changes its mask.

Every signal queued on a thread of a process wakes the process's
`SignalQueued` channel (kernel/signal.py), which readers and epoll watch.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.flags import POLLIN
from nommu.abi.signals import SI_KERNEL, SI_USER, Signal
from nommu.kernel import signal as ksignal
from nommu.kernel.anon import AnonFile
from nommu.kernel.channels import SignalQueued
from nommu.kernel.errors import Blocked, SyscallError

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

SIGNALFD_SIGINFO_SIZE = 128
# ssi_signo errno code pid uid fd tid band overrun trapno status int, ptr utime stime addr
_SSI = struct.Struct("<IiiIIiIIIIiiQQQQ")
SI_TIMER = -2
_FAULTS = {Signal.SIGSEGV, Signal.SIGBUS, Signal.SIGILL, Signal.SIGFPE, Signal.SIGTRAP}


def signalfd_siginfo(info: bytes) -> bytes:
    """A queued struct siginfo as a struct signalfd_siginfo, by the layout
    its si_code implies (Linux's siginfo_layout)."""
    sig, err, code = struct.unpack_from("<iii", info)
    a, b, c, d, e = struct.unpack_from("<iIiii", bytes(info[12:]).ljust(20, b"\0"))
    pid = uid = tid = overrun = status = value = addr = utime = stime = 0
    if 0 < code < SI_KERNEL and sig == Signal.SIGCHLD:
        pid, uid, status, utime, stime = a, b, c, d, e
    elif 0 < code < SI_KERNEL and sig in _FAULTS:
        addr = a & 0xFFFFFFFF
    elif code == SI_TIMER:
        tid, overrun, value = a, b, c
    elif code < SI_USER:
        pid, uid, value = a, b, c
    else:
        pid, uid = a, b
    ptr = value & 0xFFFFFFFF
    fields = (sig, err, code, pid, uid, 0, tid, 0, overrun, 0, status, value)
    packed = _SSI.pack(*fields, ptr, utime, stime, addr)
    return packed.ljust(SIGNALFD_SIGINFO_SIZE, b"\0")


class SignalFd(AnonFile):
    def __init__(self, k: Kernel, mask: int, flags: int) -> None:
        super().__init__(flags | F.O_RDWR, "[signalfd]")
        self.k = k
        self.mask = mask

    def _reader(self) -> Task:
        t = self.k.current
        assert t is not None
        return t

    def read(self, count: int) -> bytes:
        if count < SIGNALFD_SIGINFO_SIZE:
            raise SyscallError(Errno.EINVAL)
        t = self._reader()
        out = bytearray()
        while len(out) + SIGNALFD_SIGINFO_SIZE <= count and t.pending & self.mask:
            sig = ksignal.next_signal(t, t.pending & self.mask)
            out += signalfd_siginfo(ksignal.dequeue_signal(self.k, t, sig))
        if out:
            return bytes(out)
        if self.flags & F.O_NONBLOCK:
            raise SyscallError(Errno.EAGAIN)
        raise Blocked(SignalQueued(t.pid))

    def poll(self) -> int:
        return POLLIN if self._reader().pending & self.mask else 0

    def poll_channels(self) -> tuple[object, ...]:
        return (SignalQueued(self._reader().pid),)
