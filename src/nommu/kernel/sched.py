"""The scheduler: who runs next, sleeping and waking, and the run loop.

One CPU, many tasks. The run loop gives the CPU to one runnable task for a
time slice (Unicorn's `timeout`, so no per-instruction cost), and takes it
back when the slice ends or a syscall changes who should run (a task
blocked, exited, exec'd, or created another). Tasks are picked round-robin.

Blocking is one primitive, as in xv6: `sleep(task, channel)` parks a task
on any hashable object and `wakeup(channel)` makes every task parked there
runnable again; the woken task re-executes the syscall that blocked, which
re-checks its condition. A sleep may carry a deadline; a task waiting for
host input (the terminal) has a `HostReadable` channel the idle loop
watches with select().

A wakeup is also how a file says its readiness may have changed (data
arrived in a pipe, a timer expired). Besides the tasks asleep on a channel,
`watch` lets kernel code hang a callback on it, called on every wakeup of
that channel: Linux's wait-queue entries with a function, which is how an
epoll instance learns of events on the files it watches (kernel/epoll.py)
without anybody sleeping on them.

When no task can run and nothing (a timer, host input) can ever wake one,
the machine is deadlocked: `Deadlock` is raised with the list of tasks and
what each waits for, instead of hanging.
"""

from __future__ import annotations

import heapq
import itertools
import select
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nommu.kernel.files import HostReadable
from nommu.kernel.task import Task, TaskState

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel

SLICE = 0.020  # seconds a task may run while others wait for the CPU
FORCE_GRACE = 0.100  # then, if it makes no syscall, it is stopped from outside
PRECISE_GRACE = 0.005  # ... sooner when Unicorn stops only between blocks (see machine/cpu.py)
INF = float("inf")


@dataclass(eq=False, slots=True)
class KTimer:
    """A kernel timer: `callback` runs at `when` unless cancelled first."""

    when: float
    callback: Callable[[], None]
    cancelled: bool = False
    watchdog: bool = False  # wakes nobody (--timeout): does not put off a deadlock report


class Deadlock(Exception):
    """Every task sleeps and nothing can wake any of them."""

    def __init__(self, tasks: list[Task]) -> None:
        super().__init__("deadlock")
        self.tasks = tasks


class Scheduler:
    def __init__(self, kernel: Kernel, clock: Callable[[], float] = time.monotonic) -> None:
        self.k = kernel
        self.clock = clock
        self.runqueue: deque[Task] = deque()
        self.sleepers: dict[object, list[Task]] = {}
        self.watchers: dict[object, list[Callable[[], None]]] = {}  # see `watch`
        self.host_waits = 0  # how many of those channels are host input (HostReadable)
        self._timers: list[tuple[float, int, KTimer]] = []
        self._seq = itertools.count()
        self.on_cpu: Task | None = None  # whose registers the CPU holds
        # How long past its end a slice may run before it is stopped by force.
        self.grace = PRECISE_GRACE if kernel.cpu.precise_stops else FORCE_GRACE
        # Ends the running slice when a wakeup makes another task runnable;
        # None when slices are counted in syscalls (deterministic mode).
        self._slice_timer = None if kernel.seeded is not None else kernel.cpu.timer
        if self._slice_timer is not None:
            self._slice_timer.contended_slice = (SLICE, self.grace)

    # -- sleeping and waking -------------------------------------------------

    def sleep(self, task: Task, channel: object, deadline: float | None = None) -> None:
        """Park `task` on `channel` (a tuple of channels: on each) until woken or `deadline`."""
        task.state = TaskState.SLEEPING
        task.channel = channel
        task.deadline = deadline
        for ch in channel if isinstance(channel, tuple) else (channel,):
            self.sleepers.setdefault(ch, []).append(task)
            if isinstance(ch, HostReadable):
                self.host_waits += 1
        if task in self.runqueue:
            self.runqueue.remove(task)
        if deadline is not None:
            task.timer = self.add_timer(deadline, lambda: self.wake_task(task))

    def add_timer(
        self, when: float, callback: Callable[[], None], watchdog: bool = False
    ) -> KTimer:
        """Call `callback` at monotonic time `when` (from the run loop)."""
        timer = KTimer(when, callback, watchdog=watchdog)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        if self.k.seeded is None:  # (deterministic slices are counted in syscalls)
            self.k.cpu.timer.shorten(when, when + self.grace)  # due within this slice?
        return timer

    def watch(self, channel: object, callback: Callable[[], None]) -> None:
        """Call `callback` on every wakeup of `channel` until `unwatch`.

        The callback runs inside the wakeup, so it must only note the event and
        wake others (it may call `wakeup` for its own channels)."""
        self.watchers.setdefault(channel, []).append(callback)

    def unwatch(self, channel: object, callback: Callable[[], None]) -> None:
        callbacks = self.watchers.get(channel)
        if callbacks is not None and callback in callbacks:
            callbacks.remove(callback)
            if not callbacks:
                del self.watchers[channel]

    def wakeup(self, channel: object) -> int:
        """Make every task sleeping on `channel` runnable (and tell its
        watchers); return how many tasks woke."""
        if self.watchers:  # (empty unless an epoll instance watches something)
            callbacks = self.watchers.get(channel)
            if callbacks:
                for callback in list(callbacks):
                    callback()
        tasks = self.sleepers.get(channel)
        if not tasks:
            return 0
        woken = list(tasks)
        for task in woken:
            self.wake_task(task)
        return len(woken)

    def wake_task(self, task: Task) -> None:
        """Wake one task wherever it sleeps (a timeout, a signal)."""
        if task.state is not TaskState.SLEEPING:
            return
        if task.timer is not None:
            task.timer.cancelled = True
            task.timer = None
        channel = task.channel
        for ch in channel if isinstance(channel, tuple) else (channel,):
            waiters = self.sleepers.get(ch)
            if waiters is not None and task in waiters:
                waiters.remove(task)
                if isinstance(ch, HostReadable):
                    self.host_waits -= 1
                if not waiters:
                    del self.sleepers[ch]
        task.state = TaskState.RUNNABLE
        task.channel = None
        self.runqueue.append(task)
        timer = self._slice_timer
        if timer is not None and not timer.contended:
            timer.contend()  # (the running task's slice must end: see there)

    def add(self, task: Task) -> None:
        """A new (or continued) task joins the run queue."""
        task.state = TaskState.RUNNABLE
        self.runqueue.append(task)

    def stop_task(self, task: Task) -> None:
        """SIGSTOP and friends: off the CPU until SIGCONT."""
        if task.state is TaskState.SLEEPING:
            self.wake_task(task)
        if task in self.runqueue:
            self.runqueue.remove(task)
        task.state = TaskState.STOPPED
        if task is self.k.current:
            self.k.cpu.stop()

    def remove(self, task: Task) -> None:
        """Take a task off every queue (it exited)."""
        if task.state is TaskState.SLEEPING:
            self.wake_task(task)
        if task in self.runqueue:
            self.runqueue.remove(task)
        if self.on_cpu is task:
            self.on_cpu = None

    # -- choosing ------------------------------------------------------------

    def next_runnable(self) -> Task | None:
        """The task `pick` would return now, left in the queue; None if none."""
        queue = self.runqueue
        while queue:
            task = queue[0]
            if task.state is TaskState.RUNNABLE:
                return task
            queue.popleft()  # (a stale entry: it slept or stopped since)
        return None

    def take(self, task: Task) -> None:
        """`task`, which `next_runnable` returned, goes on the CPU."""
        self.runqueue.remove(task)

    def pick(self) -> Task | None:
        """The next task to run, waiting (without spinning) if none is runnable.

        None if a signal to nommu itself (Ctrl-C) arrived while waiting."""
        while True:
            self.expire_timers()
            while self.runqueue:
                task = self.runqueue.popleft()
                if task.state is TaskState.RUNNABLE:
                    return task
            self._idle()
            if self.k.host_signals or self.k.limits.out_of_time():
                return None

    def expire_timers(self) -> None:
        if not self._timers:
            return
        now = self.clock()
        while self._timers and (self._timers[0][0] <= now or self._timers[0][2].cancelled):
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.cancelled = True
                timer.callback()

    def _idle(self) -> None:
        """Nothing runnable: wait for host input or the next timer, or report deadlock."""
        self.expire_timers()  # drops cancelled timers too
        if self.runqueue:
            return  # a timer that came due just now woke someone: no deadlock
        host_fds = [c.fd for c in self.sleepers if isinstance(c, HostReadable)]
        if not host_fds and all(entry[2].watchdog for entry in self._timers):
            sleeping = [t for t in self.k.tasks.values() if t.alive]
            raise Deadlock(sleeping)
        timeout = None
        if self._timers:
            timeout = max(0.0, self._timers[0][0] - self.clock())
        real_left = self.k.limits.deadline - time.monotonic()  # --timeout is real time
        if real_left != INF:
            timeout = max(0.0, real_left if timeout is None else min(timeout, real_left))
        clock = self.k.virtual_clock
        if clock is not None and not host_fds and self._timers:
            clock.advance_to(self._timers[0][0])  # virtual time: no real waiting
            return
        wake = self.k.terminal.wakeup_fd
        ready, _, _ = select.select([*host_fds, *([wake] if wake >= 0 else [])], [], [], timeout)
        for fd in ready:
            if fd == wake:
                self.k.terminal.drain_wakeup()
            else:
                self.wakeup(HostReadable(fd))

    def slice_for(self, task: Task) -> tuple[float, float]:
        """(preempt_at, force_at) for `task`'s slice, in monotonic seconds.

        Alone with nothing to wait for, a task runs until it makes a syscall
        that changes things. Otherwise its slice ends at its next syscall
        after SLICE, or by force after FORCE_GRACE more if it makes none."""
        if self.k.seeded is not None:  # deterministic: slices are counted in syscalls
            self.k.syscall_budget = self.k.seeded.slice_length()
            return INF, INF
        now = self.clock()
        due = self._timers[0][0] if self._timers else INF
        if self.runqueue or self.host_waits:
            due = min(due, now + SLICE)
        if due == INF:
            return INF, INF
        return due, due + self.grace

    def requeue(self, task: Task) -> None:
        """The slice ended: back to the end of the line."""
        if task.state is TaskState.RUNNABLE:
            self.runqueue.append(task)
