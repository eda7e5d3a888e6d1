"""Timer syscalls: timerfd_create/settime/gettime and the POSIX timers
(timer_create/settime/gettime/getoverrun/delete), with their *_time64 twins.

Both take a struct itimerspec (interval, then first expiry) and arm an
`IntervalTimer` (kernel/timers.py) on the scheduler's clock: a relative
expiry counts from now, an absolute one (TFD_TIMER_ABSTIME, TIMER_ABSTIME)
is a time on the timer's clock, turned into a deadline once, when set.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.signals import NSIG, Signal
from nommu.kernel import posix_timers
from nommu.kernel.errors import SyscallError
from nommu.kernel.posix_timers import PosixTimer
from nommu.kernel.timerfd import TimerFd
from nommu.kernel.timers import IntervalTimer
from nommu.syscalls.table import syscall
from nommu.syscalls.time import NSEC, clock_now

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

ITIMERSPEC32 = struct.Struct("<iiii")  # it_interval {sec, nsec}, it_value {sec, nsec}
ITIMERSPEC64 = struct.Struct("<qqqq")
SIGEVENT = struct.Struct("<iiii")  # sigev_value, sigev_signo, sigev_notify, sigev_notify_thread_id
TIMERFD_CLOCKS = {F.CLOCK_REALTIME, F.CLOCK_MONOTONIC, F.CLOCK_BOOTTIME, 8, 9}  # 8, 9: *_ALARM
TIMER_CLOCKS = TIMERFD_CLOCKS | {F.CLOCK_PROCESS_CPUTIME_ID, F.CLOCK_THREAD_CPUTIME_ID}
_BASE_CLOCK = {8: F.CLOCK_REALTIME, 9: F.CLOCK_BOOTTIME}  # the alarm clocks read as these


def read_itimerspec(k: Kernel, addr: int, time64: bool) -> tuple[float, float]:
    """(interval, value) in seconds; EINVAL for a malformed timespec."""
    isec, insec, vsec, vnsec = k.uspace.read_struct(ITIMERSPEC64 if time64 else ITIMERSPEC32, addr)
    for sec, nsec in ((isec, insec), (vsec, vnsec)):
        if sec < 0 or not 0 <= nsec < NSEC:
            raise SyscallError(Errno.EINVAL)
    return isec + insec / NSEC, vsec + vnsec / NSEC


def write_itimerspec(k: Kernel, addr: int, timer: IntervalTimer, time64: bool) -> None:
    """The time left and the interval of `timer`, as a struct itimerspec."""
    parts: list[int] = []
    for seconds in (timer.interval, timer.remaining()):
        ns = round(seconds * NSEC)
        parts += [ns // NSEC, ns % NSEC]
    k.uspace.write_struct(ITIMERSPEC64 if time64 else ITIMERSPEC32, addr, *parts)


def first_expiry(k: Kernel, t: Task, clock: int, value: float, absolute: bool) -> float | None:
    """When a timer set to `value` first expires, on the scheduler's clock
    (None: a zero value disarms it)."""
    if value == 0:
        return None
    now = k.sched.clock()
    if not absolute:
        return now + value
    return now + max(0.0, value - clock_now(k, t, _BASE_CLOCK.get(clock, clock)))


# -- timerfd ----------------------------------------------------------------------


@syscall("timerfd_create", "clockid", "fd_flags", ret="fd")
def sys_timerfd_create(k: Kernel, t: Task, clock: int, flags: int) -> int:
    if clock not in TIMERFD_CLOCKS or flags & ~(F.TFD_CLOEXEC | F.TFD_NONBLOCK):
        raise SyscallError(Errno.EINVAL)
    tfd = TimerFd(k.sched, clock, flags & F.TFD_NONBLOCK)
    return t.files.install(tfd, cloexec=bool(flags & F.TFD_CLOEXEC))


def _timerfd(t: Task, fd: int) -> TimerFd:
    return t.files.get_a(fd, TimerFd)


def _timerfd_settime(k: Kernel, t: Task, fd: int, flags: int, new: int, old: int, t64: bool) -> int:
    tfd = _timerfd(t, fd)
    if flags & ~(F.TFD_TIMER_ABSTIME | F.TFD_TIMER_CANCEL_ON_SET):
        raise SyscallError(Errno.EINVAL)
    interval, value = read_itimerspec(k, new, t64)
    if old:
        write_itimerspec(k, old, tfd.timer, t64)
    absolute = bool(flags & F.TFD_TIMER_ABSTIME)
    tfd.settime(first_expiry(k, t, tfd.clock, value, absolute), interval)
    return 0


@syscall("timerfd_settime", "fd", "tfd_settime_flags", "itimerspec", "ptr")
def sys_timerfd_settime(k: Kernel, t: Task, fd: int, flags: int, new: int, old: int) -> int:
    return _timerfd_settime(k, t, fd, flags, new, old, t64=False)


@syscall("timerfd_settime64", "fd", "tfd_settime_flags", "itimerspec64", "ptr")
def sys_timerfd_settime64(k: Kernel, t: Task, fd: int, flags: int, new: int, old: int) -> int:
    return _timerfd_settime(k, t, fd, flags, new, old, t64=True)


@syscall("timerfd_gettime", "fd", "ptr")
def sys_timerfd_gettime(k: Kernel, t: Task, fd: int, cur: int) -> int:
    write_itimerspec(k, cur, _timerfd(t, fd).timer, time64=False)
    return 0


@syscall("timerfd_gettime64", "fd", "ptr")
def sys_timerfd_gettime64(k: Kernel, t: Task, fd: int, cur: int) -> int:
    write_itimerspec(k, cur, _timerfd(t, fd).timer, time64=True)
    return 0


# -- POSIX timers -------------------------------------------------------------------


def _sigevent(k: Kernel, t: Task, sevp: int) -> tuple[int, int, int, Task | None]:
    """(notify, signo, value, target thread) from a struct sigevent; EINVAL
    for what Linux's good_sigevent refuses."""
    value, signo, notify, tid = k.uspace.read_struct(SIGEVENT, sevp)
    target = None
    if notify == F.SIGEV_THREAD_ID:
        target = k.tasks.get(tid)
        if target is None or target.group is not t.group or not target.alive:
            raise SyscallError(Errno.EINVAL)
    elif notify not in (F.SIGEV_SIGNAL, F.SIGEV_THREAD, F.SIGEV_NONE):
        raise SyscallError(Errno.EINVAL)
    if notify != F.SIGEV_NONE and not 1 <= signo <= NSIG:
        raise SyscallError(Errno.EINVAL)
    return notify, signo, value & 0xFFFFFFFF, target


@syscall("timer_create", "clockid", "sigevent", "ptr")
def sys_timer_create(k: Kernel, t: Task, clock: int, sevp: int, idp: int) -> int:
    if clock in (F.CLOCK_MONOTONIC_RAW, F.CLOCK_REALTIME_COARSE, F.CLOCK_MONOTONIC_COARSE):
        raise SyscallError(Errno.EOPNOTSUPP)
    if clock not in TIMER_CLOCKS:
        raise SyscallError(Errno.EINVAL)
    notify, signo, value, target = F.SIGEV_SIGNAL, int(Signal.SIGALRM), 0, None
    if sevp:
        notify, signo, value, target = _sigevent(k, t, sevp)
    pt = posix_timers.create(k, t, clock, notify, signo, value)
    pt.thread = target
    if not sevp:
        pt.value = pt.id  # no sigevent: SIGALRM, and sigev_value is the timer's id
    try:
        k.uspace.write_u32(idp, pt.id)
    except SyscallError:
        posix_timers.delete(pt)
        raise
    return 0


def _timer(t: Task, ident: int) -> PosixTimer:
    pt = t.group.posix_timers.get(ident)
    if pt is None:
        raise SyscallError(Errno.EINVAL)
    return pt


def _timer_settime(
    k: Kernel, t: Task, ident: int, flags: int, new: int, old: int, t64: bool
) -> int:
    pt = _timer(t, ident)
    if not new:
        raise SyscallError(Errno.EINVAL)
    interval, value = read_itimerspec(k, new, t64)
    if old:
        write_itimerspec(k, old, pt.timer, t64)
    absolute = bool(flags & F.TIMER_ABSTIME)
    pt.timer.arm(first_expiry(k, t, pt.clock, value, absolute), interval)
    return 0


@syscall("timer_settime", "int", "timer_flags", "itimerspec", "ptr")
def sys_timer_settime(k: Kernel, t: Task, ident: int, flags: int, new: int, old: int) -> int:
    return _timer_settime(k, t, ident, flags, new, old, t64=False)


@syscall("timer_settime64", "int", "timer_flags", "itimerspec64", "ptr")
def sys_timer_settime64(k: Kernel, t: Task, ident: int, flags: int, new: int, old: int) -> int:
    return _timer_settime(k, t, ident, flags, new, old, t64=True)


@syscall("timer_gettime", "int", "ptr")
def sys_timer_gettime(k: Kernel, t: Task, ident: int, cur: int) -> int:
    write_itimerspec(k, cur, _timer(t, ident).timer, time64=False)
    return 0


@syscall("timer_gettime64", "int", "ptr")
def sys_timer_gettime64(k: Kernel, t: Task, ident: int, cur: int) -> int:
    write_itimerspec(k, cur, _timer(t, ident).timer, time64=True)
    return 0


@syscall("timer_getoverrun", "int")
def sys_timer_getoverrun(k: Kernel, t: Task, ident: int) -> int:
    return posix_timers.overrun(_timer(t, ident))


@syscall("timer_delete", "int")
def sys_timer_delete(k: Kernel, t: Task, ident: int) -> int:
    posix_timers.delete(_timer(t, ident))
    return 0
