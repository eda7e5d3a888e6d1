"""Time syscalls: clocks, sleeping, and the timeouts other syscalls take.

i386 has two generations of time syscalls: the old ones with a 32-bit
time_t (clock_gettime, nanosleep...) and the *_time64 ones musl uses first
since 1.2 (64-bit seconds). Both read and write through the same code with
a different struct layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi.errno import Errno
from nommu.kernel.accounting import process_time
from nommu.kernel.channels import Timer
from nommu.kernel.errors import Blocked, SyscallError
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

NSEC = 1_000_000_000


def clock_now(k: Kernel, t: Task, clock: int) -> float:
    """Seconds on `clock` (EINVAL for clocks Linux does not have)."""
    if clock in (F.CLOCK_REALTIME, F.CLOCK_REALTIME_COARSE):
        return k.config.clock_realtime()
    if clock in (
        F.CLOCK_MONOTONIC,
        F.CLOCK_MONOTONIC_RAW,
        F.CLOCK_MONOTONIC_COARSE,
        F.CLOCK_BOOTTIME,
    ):
        return k.config.clock_monotonic() - k.boot_monotonic + 1000.0
    if clock in (F.CLOCK_PROCESS_CPUTIME_ID, F.CLOCK_THREAD_CPUTIME_ID):
        k.config.clock_monotonic()  # (a reading moves the virtual clock: time passes)
        k.sched.charge(t)  # (its CPU time up to now: kernel/accounting.py)
        return t.cputime if clock == F.CLOCK_THREAD_CPUTIME_ID else process_time(t.group)
    raise SyscallError(Errno.EINVAL)


def read_timespec(k: Kernel, addr: int, time64: bool) -> float:
    """A struct timespec from the guest, in seconds; EINVAL if malformed."""
    sec, nsec = k.uspace.read_struct(S.TIMESPEC64 if time64 else S.TIMESPEC32, addr)
    if not 0 <= nsec < NSEC or sec < 0:
        raise SyscallError(Errno.EINVAL)
    return sec + nsec / NSEC


def write_timespec(k: Kernel, addr: int, seconds: float, time64: bool) -> None:
    ns = int(seconds * NSEC)
    fmt = S.TIMESPEC64 if time64 else S.TIMESPEC32
    k.uspace.write_struct(fmt, addr, ns // NSEC, ns % NSEC)


def read_timeout(
    k: Kernel, t: Task, addr: int, time64: bool, relative: bool, realtime: bool = False
) -> float:
    """A timeout argument as a monotonic deadline, kept across syscall restarts."""
    if t.blocked is not None and t.deadline is not None:
        return t.deadline
    value = read_timespec(k, addr, time64)
    now = k.sched.clock()
    if relative:
        return now + value
    current = k.config.clock_realtime() if realtime else clock_now(k, t, F.CLOCK_MONOTONIC)
    return now + max(0.0, value - current)


@syscall("clock_gettime", "clockid", "struct_out")
def sys_clock_gettime(k: Kernel, t: Task, clock: int, tp: int) -> int:
    write_timespec(k, tp, clock_now(k, t, clock), time64=False)
    return 0


@syscall("clock_gettime64", "clockid", "struct_out")
def sys_clock_gettime64(k: Kernel, t: Task, clock: int, tp: int) -> int:
    write_timespec(k, tp, clock_now(k, t, clock), time64=True)
    return 0


@syscall("clock_getres", "clockid", "struct_out")
def sys_clock_getres(k: Kernel, t: Task, clock: int, tp: int) -> int:
    clock_now(k, t, clock)
    if tp:
        k.uspace.write_struct(S.TIMESPEC32, tp, 0, 1)
    return 0


@syscall("clock_getres_time64", "clockid", "struct_out")
def sys_clock_getres_time64(k: Kernel, t: Task, clock: int, tp: int) -> int:
    clock_now(k, t, clock)
    if tp:
        k.uspace.write_struct(S.TIMESPEC64, tp, 0, 1)
    return 0


@syscall("gettimeofday", "struct_out", "ptr")
def sys_gettimeofday(k: Kernel, t: Task, tv: int, tz: int) -> int:
    if tv:
        us = int(k.config.clock_realtime() * 1_000_000)
        k.uspace.write_struct(S.TIMEVAL32, tv, us // 1_000_000, us % 1_000_000)
    if tz:
        k.uspace.write(tz, bytes(8))
    return 0


@syscall("time", "ptr")
def sys_time(k: Kernel, t: Task, tloc: int) -> int:
    now = int(k.config.clock_realtime())
    if tloc:
        k.uspace.write_u32(tloc, now)
    return now


def do_sleep(k: Kernel, t: Task, deadline: float) -> int:
    """Sleep until the monotonic `deadline` (nanosleep and friends)."""
    if k.sched.clock() >= deadline:
        return 0
    raise Blocked(Timer(t.tid), deadline)


@syscall("nanosleep", "timespec", "ptr")
def sys_nanosleep(k: Kernel, t: Task, req: int, rem: int) -> int:
    return do_sleep(k, t, read_timeout(k, t, req, time64=False, relative=True))


def _clock_nanosleep(k: Kernel, t: Task, clock: int, flags: int, req: int, time64: bool) -> int:
    if clock == F.CLOCK_THREAD_CPUTIME_ID:
        raise SyscallError(Errno.EINVAL)
    clock_now(k, t, clock)
    absolute = bool(flags & F.TIMER_ABSTIME)
    realtime = clock in (F.CLOCK_REALTIME, F.CLOCK_REALTIME_COARSE)
    return do_sleep(k, t, read_timeout(k, t, req, time64, not absolute, realtime))


@syscall("clock_nanosleep", "clockid", "hex", "timespec", "ptr")
def sys_clock_nanosleep(k: Kernel, t: Task, clock: int, flags: int, req: int, rem: int) -> int:
    return _clock_nanosleep(k, t, clock, flags, req, time64=False)


@syscall("clock_nanosleep_time64", "clockid", "hex", "timespec64", "ptr")
def sys_clock_nanosleep_time64(
    k: Kernel, t: Task, clock: int, flags: int, req: int, rem: int
) -> int:
    return _clock_nanosleep(k, t, clock, flags, req, time64=True)
