"""CPU time accounting: how long each task has had the CPU.

The scheduler's two ways of giving a task the CPU, the run loop and the
handoff at the end of a syscall, each charge the time since the CPU was
last charged to the task that had it (`Scheduler.charge`); nothing is added
to the syscall path itself. All of it is counted as user time: the machine
does not tell guest instructions from the kernel's work for them (measuring
every syscall would slow every syscall down), so system times read 0.

Per process, a task's time stays in its `ThreadGroup` after the task ends
(the group keeps its tasks); a child's total (its own and its waited-for
children's) is added to its parent's `children_cputime` when the parent
reaps it, as Linux does at wait.

The clock is the real one (time.perf_counter), or under `--deterministic`
the virtual clock read without advancing it, so times stay reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nommu.kernel.task import Task, ThreadGroup


@dataclass(frozen=True, slots=True)
class Usage:
    """What getrusage, times and wait4 report: seconds of CPU, peak memory."""

    user: float
    system: float
    maxrss_kb: int


def process_time(group: ThreadGroup) -> float:
    """The CPU time of every task the process had, live or ended."""
    return sum(t.cputime for t in group.tasks)


def rss_kb(group: ThreadGroup) -> int:
    live = [t for t in group.tasks if t.alive]
    return live[0].mm.total() // 1024 if live else group.final_rss_kb


def self_usage(group: ThreadGroup) -> Usage:
    return Usage(process_time(group), 0.0, max(rss_kb(group), group.peak_rss_kb))


def children_usage(group: ThreadGroup) -> Usage:
    return Usage(group.children_cputime, 0.0, group.children_maxrss_kb)


def thread_usage(t: Task) -> Usage:
    return Usage(t.cputime, 0.0, t.mm.total() // 1024)


def reaped(parent: ThreadGroup, child: ThreadGroup) -> Usage:
    """`child` was waited for: its totals join its parent's children times.
    Returns the child's usage (wait4's rusage)."""
    total = process_time(child) + child.children_cputime
    rss = max(child.final_rss_kb, child.peak_rss_kb, child.children_maxrss_kb)
    parent.children_cputime += total
    parent.children_maxrss_kb = max(parent.children_maxrss_kb, rss)
    return Usage(total, 0.0, rss)
