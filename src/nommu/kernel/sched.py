"""The scheduler: who runs next, sleeping and waking, the run loop and task switches.

One CPU, many tasks. The run loop (`run`) gives the CPU to one runnable task
for a time slice, and takes it back when the slice ends or a syscall changes
who should run (a task blocked, exited, exec'd, or created another). Tasks
are picked round-robin. A slice's end is not a Unicorn timeout: the CPU's
slice timer (machine/cpu.py) raises `cpu.preempt` at the slice's end, which
the next syscall obeys, and stops the CPU by force if none comes within a
grace period. `switch_to` loads a task's registers (and its address space
and TLS); `handoff` switches tasks at the end of a syscall without leaving
the CPU when the run loop would do nothing else.

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
from nommu.kernel.signal import deliver
from nommu.kernel.task import Task, TaskState
from nommu.kernel.traps import handle_stop

if TYPE_CHECKING:
    from nommu.kernel.hostnet import HostIo
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
        self.host_io: HostIo | None = None  # host sockets to poll (--publish, --net host)
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
        # CPU accounting (kernel/accounting.py): its clock (under --deterministic
        # the virtual one, read without moving it), and when it last charged
        vclock = kernel.virtual_clock
        self.cpu_clock: Callable[[], float] = (
            time.perf_counter if vclock is None else (lambda: vclock.now)
        )
        self._charged_at = self.cpu_clock()

    def charge(self, t: Task) -> None:
        """Add the time since the last charge to `t`, which had the CPU (the
        run loop calls this as a task leaves the CPU, readers of CPU time for
        themselves; `handoff` has these three lines written out: a change
        here goes there too)."""
        now = self.cpu_clock()
        t.cputime += now - self._charged_at
        self._charged_at = now

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
            if self.host_io is not None:
                self.host_io.poll(0)
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
        io_r, io_w = self.host_io.fds() if self.host_io is not None else ([], [])
        if not host_fds and not io_r and not io_w and all(e[2].watchdog for e in self._timers):
            sleeping = [t for t in self.k.tasks.values() if t.alive]
            raise Deadlock(sleeping)
        timeout = None
        if self._timers:
            timeout = max(0.0, self._timers[0][0] - self.clock())
        real_left = self.k.limits.deadline - time.monotonic()  # --timeout is real time
        if real_left != INF:
            timeout = max(0.0, real_left if timeout is None else min(timeout, real_left))
        clock = self.k.virtual_clock
        if clock is not None and not host_fds and not io_r and not io_w and self._timers:
            clock.advance_to(self._timers[0][0])  # virtual time: no real waiting
            return
        wake = self.k.terminal.wakeup_fd
        readers = [*host_fds, *io_r, *([wake] if wake >= 0 else [])]
        ready, writable, _ = select.select(readers, io_w, [], timeout)
        for fd in ready:
            if fd == wake:
                self.k.terminal.drain_wakeup()
            elif fd in host_fds:
                self.wakeup(HostReadable(fd))
        if self.host_io is not None and (ready or writable):
            self.host_io.ready(set(ready), set(writable))

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
        if self.runqueue or self.host_waits or self.host_io is not None:
            due = min(due, now + SLICE)
        if due == INF:
            return INF, INF
        return due, due + self.grace

    def requeue(self, task: Task) -> None:
        """The slice ended: back to the end of the line."""
        if task.state is TaskState.RUNNABLE:
            self.runqueue.append(task)

    # -- the run loop and task switches ---------------------------------------

    def run(self) -> None:
        """Run until the first process (init) has exited."""
        k, cpu, limits = self.k, self.k.cpu, self.k.limits
        limits.start()
        while not k.finished:
            if k.host_signals:
                k.terminal.forward_host_signals(k)
                continue
            t = self.pick()
            if limits.out_of_time():
                break  # --timeout: the caller kills what is left
            if t is None:
                continue  # a host signal (Ctrl-C) arrived while idle
            self.switch_to(t)
            if t.pending & ~t.sigmask:
                t.pc = deliver(k, t, t.pc)
                if not t.alive:
                    continue
                k.drop_written_code()
            self._charged_at = self.cpu_clock()
            stop = cpu.run(t.pc, *limits.clamp(self.slice_for(t)))
            t = k.current  # (a handoff may have switched tasks)
            assert t is not None
            self.charge(t)
            handle_stop(k, t, stop)
            k.drop_written_code()

    def switch_to(self, t: Task) -> None:
        """Load `t`'s registers into the CPU (saving whoever held it)."""
        k, cpu = self.k, self.k.cpu
        k.current = t
        prev = self.on_cpu
        if prev is t:
            return
        if prev is not None and prev.alive:
            if prev.ctx is None:
                prev.ctx = cpu.context_save()
            else:
                cpu.context_update(prev.ctx)
        k.memory.switch_space(prev, t)
        if t.fresh_regs is not None:
            cpu.context_restore(k.pristine)
            cpu.regs_write(t.fresh_regs)
            t.fresh_regs = None
        elif t.ctx is not None:
            cpu.context_restore(t.ctx)
        k.load_tls(t)
        self.on_cpu = t

    def handoff(self) -> None:
        """Switch tasks at the end of a syscall without leaving the CPU.

        Called (as the CPU's `on_reschedule`) when a syscall changed who should
        run: its task blocked, or its time slice is over. The plain way is to
        stop the CPU and let the run loop above pick the next task and switch
        to it, at the price of a return from Unicorn and a fresh start for each
        switch, most of what a futex or pipe round trip costs. When that turn
        of the loop would be nothing but a switch to the next runnable task (no
        timer due, no signal to deliver, no new program to start, no address
        space to change), it is done here instead: the outgoing task's
        registers are saved, the next one's loaded, and when the syscall hook
        returns the CPU simply goes on, running the other task. In every other
        case the CPU stops and the run loop does the work."""
        k = self.k
        cpu, t = k.cpu, k.current
        assert t is not None
        if self._timers:  # (the test is expire_timers' own, spared a call)
            self.expire_timers()  # (may wake a task, or ask the CPU to stop)
        nxt = queued = self.next_runnable()
        if nxt is None and t.state is TaskState.RUNNABLE:
            nxt = t  # preempted with nobody else to run: a fresh slice
        if nxt is None or not self._can_hand_to(t, nxt):
            cpu.stop()
            return
        t.pc = cpu.pc  # what handle_stop would record (a blocked call rewound it)
        # `charge(t)`, written out: this runs at every switch of a ping-pong
        now = self.cpu_clock()
        t.cputime += now - self._charged_at
        self._charged_at = now
        if queued is not None:
            if queued is not t:
                self.requeue(t)  # (if it can still run: to the back of the line)
            self.take(queued)  # (it may be `t` itself, woken by a timer just now)
        if nxt is not t:
            self.switch_to(nxt)
        cpu.new_slice(*k.limits.clamp(self.slice_for(nxt)))
        if nxt.blocked is not None:
            # It was woken in a syscall it slept in (its PC is on that syscall
            # instruction): the first thing it does is make that call again.
            # Make it from here, saving a trip through the CPU. If it changes
            # who runs again, the CPU's hook calls us once more.
            cpu.reenter_syscall(nxt.pc)
        elif nxt is not t:
            cpu.set_pc(nxt.pc)

    def _can_hand_to(self, t: Task, nxt: Task) -> bool:
        """Whether switching from `t` to `nxt` needs nothing the run loop does.
        (A task that died in this syscall has stopped the CPU already.)"""
        k = self.k
        if (
            k.cpu.stopping
            or k.tracer is not None  # (it may stop, and expects the loop's order)
            or k.seeded is not None  # (deterministic slices count syscalls)
            or k.host_signals
            or k.limits.timed_out
            or k.finished
            or nxt.pending & ~nxt.sigmask  # (a signal to deliver first, even to `t`)
        ):
            return False
        if nxt is t:
            return True
        return not (
            nxt.ctx is None
            or nxt.fresh_regs is not None
            or nxt.reload_tls
            # (one address space for all: a switch is free, no need to ask)
            or not (k.memory.virtual_is_physical or k.memory.switch_is_free(t, nxt))
        )
