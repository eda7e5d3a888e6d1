"""eventfd/eventfd2 and signalfd/signalfd4: counters and signals as files
(kernel/eventfd.py, kernel/signalfd.py; timerfd is with the timers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.kernel.channels import SignalQueued
from nommu.kernel.errors import SyscallError
from nommu.kernel.eventfd import EventFd
from nommu.kernel.signal import UNBLOCKABLE
from nommu.kernel.signalfd import SignalFd
from nommu.syscalls.fs import s32
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task


def _eventfd(k: Kernel, t: Task, count: int, flags: int) -> int:
    if flags & ~(F.EFD_SEMAPHORE | F.EFD_CLOEXEC | F.EFD_NONBLOCK):
        raise SyscallError(Errno.EINVAL)
    efd = EventFd(k.sched, count, flags & (F.EFD_SEMAPHORE | F.EFD_NONBLOCK))
    return t.files.install(efd, cloexec=bool(flags & F.EFD_CLOEXEC))


@syscall("eventfd", "uint", ret="fd")
def sys_eventfd(k: Kernel, t: Task, count: int) -> int:
    return _eventfd(k, t, count, 0)


@syscall("eventfd2", "uint", "efd_flags", ret="fd")
def sys_eventfd2(k: Kernel, t: Task, count: int, flags: int) -> int:
    return _eventfd(k, t, count, flags)


def _signalfd(k: Kernel, t: Task, fd: int, mask: int, size: int, flags: int) -> int:
    """A new signalfd for the signals of the set at `mask` (fd -1), or a new
    set for the signalfd `fd` (EINVAL if it is not one)."""
    if size != 8 or flags & ~(F.SFD_CLOEXEC | F.SFD_NONBLOCK):
        raise SyscallError(Errno.EINVAL)
    signals = int.from_bytes(k.uspace.read(mask, 8), "little") & ~UNBLOCKABLE
    if s32(fd) == -1:
        sfd = SignalFd(k, signals, flags & F.SFD_NONBLOCK)
        return t.files.install(sfd, cloexec=bool(flags & F.SFD_CLOEXEC))
    f = t.files.get_a(fd, SignalFd)
    f.mask = signals
    k.sched.wakeup(SignalQueued(t.pid))  # (what is readable may have changed)
    return fd


@syscall("signalfd", "fd", "sigset", "size", ret="fd")
def sys_signalfd(k: Kernel, t: Task, fd: int, mask: int, size: int) -> int:
    return _signalfd(k, t, fd, mask, size, 0)


@syscall("signalfd4", "fd", "sigset", "size", "sfd_flags", ret="fd")
def sys_signalfd4(k: Kernel, t: Task, fd: int, mask: int, size: int, flags: int) -> int:
    return _signalfd(k, t, fd, mask, size, flags)
