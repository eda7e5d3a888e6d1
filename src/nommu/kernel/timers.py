"""Interval timers on the scheduler's clock: what timerfd and POSIX timers
(timer_create) are built on.

An `IntervalTimer` is armed with a first expiry (a time on the scheduler's
monotonic clock, `Scheduler.clock`) and an interval (0: it fires once).
Each expiry calls `on_expire(n)`, n being how many periods ended since the
last call (more than 1 when the machine was busy: the overrun). The clock is
the kernel's, so under `--deterministic` it is the virtual clock and timers
cost no real time.

The kernel timer behind it is only a wakeup: whoever looks at the timer
first calls `expire_due`, so that an expiry already in the past is seen
even if the run loop has not run the kernel timer yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nommu.kernel.sched import KTimer, Scheduler


class IntervalTimer:
    def __init__(self, sched: Scheduler, on_expire: Callable[[int], None]) -> None:
        self.sched = sched
        self.on_expire = on_expire
        self.when: float | None = None  # the next expiry; None: disarmed
        self.interval = 0.0
        self._ktimer: KTimer | None = None

    def arm(self, when: float | None, interval: float) -> None:
        """Expire first at `when` (None disarms), then every `interval` seconds."""
        self._cancel()
        self.when, self.interval = when, interval
        if when is not None:
            self._ktimer = self.sched.add_timer(when, self.expire_due)

    def disarm(self) -> None:
        self.arm(None, 0.0)

    def remaining(self) -> float:
        """Seconds until the next expiry (0 when disarmed)."""
        self.expire_due()
        if self.when is None:
            return 0.0
        return max(self.when - self.sched.clock(), 1e-9)

    def expire_due(self) -> None:
        """Run the expiries that are due (from the kernel timer, or early)."""
        when = self.when
        if when is None:
            return
        now = self.sched.clock()
        if now < when:
            return
        self._cancel()
        if self.interval > 0:
            periods = 1 + int((now - when) // self.interval)
            self.when = when + periods * self.interval
            self._ktimer = self.sched.add_timer(self.when, self.expire_due)
        else:
            periods, self.when = 1, None
        self.on_expire(periods)

    def _cancel(self) -> None:
        if self._ktimer is not None:
            self._ktimer.cancelled = True
            self._ktimer = None
