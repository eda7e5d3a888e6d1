"""What one run may use beyond RAM: wall-clock time and output, and which
limits it ran into.

* `--timeout SECONDS` is wall-clock time, whatever the guest's clocks say
  (under `--deterministic` they are virtual). A kernel timer at the deadline
  wakes an idle scheduler; a task that spins without a syscall is stopped
  from outside at the deadline (the slice the run loop gives it never
  reaches past it). Either way the run loop sees `out_of_time()` and ends
  the run: every task is killed and the run reports "timeout after N s".
* `--max-output BYTES` counts what the guest writes to nommu's own stdout
  and stderr (and /dev/tty) together. Past it a write fails as one past
  RLIMIT_FSIZE does: the write that reaches the limit is cut short, the next
  fails with EFBIG and its writer gets SIGXFSZ, which by default ends it
  ("File size limit exceeded"). A guest that ignores SIGXFSZ goes on
  without output. Files in the root are not counted.
* The process limit (`--max-procs`, `KernelConfig.max_tasks`) is enforced
  where tasks are made (kernel/fork.py): vfork and clone fail with EAGAIN.

Every limit the run reached is noted once, for the command line to report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.task import TaskState

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel

INF = float("inf")


@dataclass(eq=False)
class OutputLimit:
    """How many more bytes the guest may write to nommu's output (None: no limit)."""

    remaining: int | None = None
    reached: bool = False

    def allow(self, size: int) -> int:
        """How many of `size` bytes a write may pass on now; EFBIG if none."""
        if self.remaining is None or size == 0:
            return size
        if self.remaining <= 0:
            self.reached = True
            raise SyscallError(Errno.EFBIG)
        return min(size, self.remaining)

    def wrote(self, size: int) -> None:
        if self.remaining is not None:
            self.remaining -= size


@dataclass(eq=False)
class Limits:
    """The run's time and output limits, and the limits it ran into."""

    k: Kernel
    timeout: float | None = None
    output: OutputLimit = field(default_factory=OutputLimit)
    deadline: float = INF  # time.monotonic() at which the run ends
    timed_out: bool = False
    reached: dict[str, str] = field(default_factory=dict)  # key -> one-line report

    def note(self, key: str, text: str) -> None:
        """Remember that the run reached a limit (reported once, at the end)."""
        self.reached.setdefault(key, text)

    def start(self) -> None:
        """The run begins: arm the --timeout watchdog."""
        if self.timeout is None:
            return
        self.deadline = time.monotonic() + self.timeout
        if self.k.virtual_clock is None:  # a virtual clock never waits for real time
            self.k.sched.add_timer(
                self.k.sched.clock() + self.timeout, self._time_up, watchdog=True
            )

    def _time_up(self) -> None:
        """The watchdog timer: stop the CPU, and make the scheduler return a task
        (it only returns runnable ones) so that the run loop sees the flag."""
        self.timed_out = True
        self.k.cpu.stop()
        for t in self.k.tasks.values():
            if t.state is TaskState.SLEEPING:
                self.k.sched.wake_task(t)
                return

    def out_of_time(self) -> bool:
        if not self.timed_out and time.monotonic() >= self.deadline:
            self.timed_out = True
        if self.timed_out:
            self.note("timeout", f"timeout after {self.timeout:g} s")
        return self.timed_out

    def clamp(self, slice_: tuple[float, float]) -> tuple[float, float]:
        """A slice (preempt_at, force_at) that does not reach past the deadline."""
        preempt_at, force_at = slice_
        deadline = self.deadline
        if force_at <= deadline:  # (the usual case: no --timeout, or not near it)
            return slice_
        return min(preempt_at, deadline), deadline
