"""timerfd: an interval timer read as a file.

read(8 bytes) returns how many times the timer expired since it was last
read or set (a u64), waiting for the first expiry if there was none (EAGAIN
when non-blocking); the file is readable while that count is not zero.
Setting the timer (timerfd_settime) clears the count.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.flags import POLLIN
from nommu.kernel.anon import AnonFile
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.timers import IntervalTimer

if TYPE_CHECKING:
    from nommu.kernel.sched import Scheduler

U64 = struct.Struct("<Q")


@dataclass(frozen=True, slots=True, eq=False)
class TimerfdExpired:
    """Wait channel: a timerfd's timer expired."""

    def __str__(self) -> str:
        return "read from a timerfd (not expired yet)"


class TimerFd(AnonFile):
    def __init__(self, sched: Scheduler, clock: int, flags: int) -> None:
        super().__init__(flags | F.O_RDWR, "[timerfd]")
        self.sched = sched
        self.clock = clock
        self.ticks = 0  # expirations not read yet
        self.expired = TimerfdExpired()
        self.timer = IntervalTimer(sched, self._expire)

    def _expire(self, periods: int) -> None:
        self.ticks += periods
        self.sched.wakeup(self.expired)

    def settime(self, when: float | None, interval: float) -> None:
        self.ticks = 0
        self.timer.arm(when, interval)

    def read(self, count: int) -> bytes:
        if count < U64.size:
            raise SyscallError(Errno.EINVAL)
        self.timer.expire_due()
        if self.ticks == 0:
            if self.flags & F.O_NONBLOCK:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(self.expired)
        ticks, self.ticks = self.ticks, 0
        return U64.pack(ticks)

    def poll(self) -> int:
        self.timer.expire_due()
        return POLLIN if self.ticks else 0

    def poll_channels(self) -> tuple[object, ...]:
        return (self.expired,)

    def release(self) -> None:
        self.timer.disarm()
