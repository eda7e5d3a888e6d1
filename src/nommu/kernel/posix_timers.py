"""POSIX per-process timers (timer_create, timer_settime, ...).

A process's timers are numbered from 0. Each expiry notifies as its struct
sigevent asked:

* SIGEV_SIGNAL: a signal to the process, with a siginfo of si_code SI_TIMER
  carrying the timer id, the sigev_value and the overrun;
* SIGEV_THREAD_ID: the same signal to one thread of the process (musl's
  SIGEV_THREAD is built on it: a helper thread waits for the signal in
  sigwaitinfo and calls the function);
* SIGEV_NONE: nothing (timer_gettime still counts down).

Overruns: while the timer's last signal is still pending (blocked, or not
delivered yet), further expiries queue nothing; they raise the overrun count
carried in that pending siginfo instead. timer_getoverrun returns the
overrun of the last signal delivered. The siginfo is queued as a bytearray
the timer keeps, so it can update the count in place while it waits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.kernel.timers import IntervalTimer

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task, ThreadGroup

SI_TIMER = -2
DELAYTIMER_MAX = 0x7FFFFFFF
_TIMER_INFO = struct.Struct("<iiiiii")  # signo errno code, _tid _overrun _sigval
_OVERRUN_AT = 16


@dataclass(eq=False)
class PosixTimer:
    id: int
    clock: int
    notify: int  # SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID (SIGEV_THREAD: as SIGNAL)
    signo: int
    value: int  # sigev_value, 32 bits
    group: ThreadGroup
    thread: Task | None  # SIGEV_THREAD_ID's target
    timer: IntervalTimer = field(init=False)
    info: bytearray | None = None  # the siginfo last queued
    delivered_overrun: int = 0  # overrun of the signal delivered before `info`


def create(k: Kernel, t: Task, clock: int, notify: int, signo: int, value: int) -> PosixTimer:
    """A new, disarmed timer of `t`'s process, with the lowest free id from
    where the last one was taken (the caller sets SIGEV_THREAD_ID's `thread`)."""
    group = t.group
    ident = group.next_timer_id
    while ident in group.posix_timers:
        ident = (ident + 1) & 0x7FFFFFFF
    group.next_timer_id = (ident + 1) & 0x7FFFFFFF
    pt = PosixTimer(ident, clock, notify, signo, value, group, None)
    pt.timer = IntervalTimer(k.sched, lambda periods: _expire(k, pt, periods))
    group.posix_timers[ident] = pt
    return pt


def _expire(k: Kernel, pt: PosixTimer, periods: int) -> None:
    from nommu.kernel.signal import send_to_group, send_to_task

    if pt.notify == F.SIGEV_NONE or pt.group.wait_status is not None:
        return
    if pt.info is not None and _still_queued(pt, pt.info):
        (overrun,) = struct.unpack_from("<i", pt.info, _OVERRUN_AT)
        struct.pack_into("<i", pt.info, _OVERRUN_AT, min(overrun + periods, DELAYTIMER_MAX))
        return
    if pt.info is not None:
        pt.delivered_overrun = _overrun_of(pt.info)
    info = bytearray(_TIMER_INFO.pack(pt.signo, 0, SI_TIMER, pt.id, periods - 1, pt.value))
    pt.info = info
    if pt.notify & F.SIGEV_THREAD_ID and pt.thread is not None:
        send_to_task(k, pt.thread, pt.signo, info)  # type: ignore[arg-type]
    else:
        send_to_group(k, pt.group, pt.signo, info)  # type: ignore[arg-type]


def _overrun_of(info: bytearray) -> int:
    return int(struct.unpack_from("<i", info, _OVERRUN_AT)[0])


def _still_queued(pt: PosixTimer, info: bytearray) -> bool:
    """Whether `info` (the siginfo object itself) waits in a pending queue."""
    for task in pt.group.tasks:
        for queues in (task.sigqueue, task.shared_sigqueue):
            if any(queued is info for queued in queues.get(pt.signo, ())):
                return True
    return False


def overrun(pt: PosixTimer) -> int:
    """timer_getoverrun: the overrun of the last signal delivered."""
    if pt.info is not None and not _still_queued(pt, pt.info):
        return _overrun_of(pt.info)
    return pt.delivered_overrun


def delete(pt: PosixTimer) -> None:
    pt.timer.disarm()
    pt.group.posix_timers.pop(pt.id, None)


def delete_all(group: ThreadGroup) -> None:
    """The process exits or execs: its timers go (exit_itimers)."""
    for pt in list(group.posix_timers.values()):
        delete(pt)
