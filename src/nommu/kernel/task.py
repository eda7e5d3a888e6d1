"""Tasks and processes.

A `Task` is what the scheduler runs: one thread of execution with its own
registers (saved in `ctx` while it is off the CPU). A process is a thread
group (`ThreadGroup`): the tasks that share a pid (tgid), a parent, children
and an exit status. What a task *uses* is held through shared objects, as in
Linux, so that clone() flags decide what is shared and what is copied:

    CLONE_VM       -> task.mm      (MemoryMap: the regions it owns)
    CLONE_FILES    -> task.files   (FdTable)
    CLONE_FS       -> task.fs      (FsContext: the current directory, umask)
    CLONE_SIGHAND  -> task.sighand (SigHand: the signal handlers)
    CLONE_THREAD   -> task.group   (ThreadGroup)

On a no-MMU machine every task's memory is the same physical memory anyway;
`mm` only records who owns which blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from nommu.abi.signals import NSIG, Signal

if TYPE_CHECKING:
    from nommu.kernel.files import FdTable
    from nommu.kernel.mm import MemoryMap
    from nommu.kernel.posix_timers import PosixTimer
    from nommu.kernel.sched import KTimer
    from nommu.kernel.tty import Tty
    from nommu.machine.cpu import CpuContext


class TaskState(Enum):
    RUNNABLE = "R"  # on the run queue or on the CPU
    SLEEPING = "S"  # parked on a wait channel
    STOPPED = "T"  # stopped by a signal
    ZOMBIE = "Z"  # exited, waiting for its parent to reap it
    DEAD = "X"  # gone


# (a tuple looked up once: `Task.alive` runs at every task switch, and each
# `TaskState.X` is an attribute lookup on the enum class)
_GONE = (TaskState.ZOMBIE, TaskState.DEAD)


@dataclass(eq=False)
class FsContext:
    """The current directory and umask (shared under CLONE_FS)."""

    cwd: str = "/"
    umask: int = 0o022

    def copy(self) -> FsContext:
        return FsContext(self.cwd, self.umask)


@dataclass(frozen=True, slots=True)
class SigAction:
    handler: int = 0  # SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


DEFAULT_ACTION = SigAction()  # SIG_DFL (immutable: every default slot may share it)


@dataclass(eq=False)
class SigHand:
    """Signal dispositions (shared under CLONE_SIGHAND)."""

    actions: list[SigAction] = field(default_factory=lambda: [DEFAULT_ACTION] * (NSIG + 1))

    def copy(self) -> SigHand:
        return SigHand(list(self.actions))


@dataclass(eq=False)
class ThreadGroup:
    """A process: the tasks that share one pid."""

    tgid: int
    parent: ThreadGroup | None
    pgid: int
    sid: int
    tasks: list[Task] = field(default_factory=list)
    children: list[ThreadGroup] = field(default_factory=list)
    exit_signal: int = Signal.SIGCHLD  # sent to the parent when this process ends
    wait_status: int | None = None  # set when the last task has exited
    reaped: bool = False
    group_exit_code: int | None = None  # exit_group() in progress
    vfork_child: bool = False  # created by vfork/CLONE_VFORK, not yet exec'd or exited
    itimer: KTimer | None = None  # ITIMER_REAL / alarm(): sends SIGALRM
    itimer_interval: float = 0.0
    semadj: dict[tuple[int, int], int] = field(default_factory=dict)  # SEM_UNDO: (set, num) -> adj
    sigpending_limit: int | None = None  # setrlimit(RLIMIT_SIGPENDING); None: the default
    posix_timers: dict[int, PosixTimer] = field(default_factory=dict)  # timer_create, by id
    next_timer_id: int = 0
    # CPU accounting (kernel/accounting.py): reaped children's totals, memory
    children_cputime: float = 0.0
    children_maxrss_kb: int = 0
    peak_rss_kb: int = 0  # the largest its memory was when a task left it
    final_rss_kb: int = 0
    tty: Tty | None = None  # the session's controlling terminal (kernel/tty.py)
    # A stop (0x7f | signal << 8) or continue (0xffff) that wait has not
    # reported yet (WUNTRACED, WCONTINUED).
    stop_status: int | None = None

    @property
    def leader(self) -> Task:
        return self.tasks[0]

    @property
    def zombie(self) -> bool:
        return self.wait_status is not None and not self.reaped


class BlockedCall:
    """A syscall that slept and runs again each time its task is woken.

    A blocking call does not wait inside the kernel: it raises `Blocked`, the
    task's PC is rewound onto the syscall instruction and the call is made
    anew after each wakeup (xv6's way; Linux's -ERESTARTSYS is the same idea).
    What the call must remember from one run to the next is kept here, and
    nowhere else, from the first time it sleeps until it returns for good (or
    a signal handler interrupts it): `Task.blocked` is this record, or None
    when the task is not in the middle of such a call.

    (A plain class whose defaults are class attributes: made on every sleep,
    it costs one empty instance, not a constructor storing each field.)
    """

    nr: int = 0  # which syscall (a handler restarts it or fails it with EINTR by its name)
    done: int = 0  # bytes a write already moved: interrupted, it returns this count
    woken: bool = False  # FUTEX_WAKE (or an unlock handing over a PI lock) chose this waiter
    bitset: int = 0xFFFFFFFF  # FUTEX_WAIT_BITSET: the FUTEX_WAKE_BITSETs that may wake it
    sem: tuple[int, bool] | None = None  # semop waits on (counter, for zero): GETNCNT/GETZCNT
    lock_pi: bool = False  # FUTEX_LOCK_PI: a handler never fails it with EINTR (it runs again)
    result: int | None = None  # it finished while asleep (an unlock handed it a PI lock)
    sigwait: int = 0  # rt_sigtimedwait: the (blocked) signals whose arrival wakes it


@dataclass(eq=False)
class Task:
    tid: int
    group: ThreadGroup
    mm: MemoryMap
    files: FdTable
    fs: FsContext
    sighand: SigHand
    comm: str = ""
    ctx: CpuContext | None = None
    pc: int = 0
    fresh_regs: list[tuple[int, int]] | None = None  # a new program's first registers
    state: TaskState = TaskState.RUNNABLE
    channel: object | None = None  # what a SLEEPING task waits for
    deadline: float | None = None  # when a timed sleep ends (monotonic seconds)
    blocked: BlockedCall | None = None  # the syscall it slept in and will run again
    tls: list[bytes] = field(default_factory=lambda: [bytes(8)] * 3)
    clear_child_tid: int = 0
    vfork_done: Task | None = None  # the parent suspended until we exec or exit
    own_stack: bool = False  # created by clone with a new stack pointer
    reload_tls: bool = False  # GS must be loaded again when it next runs (new thread)
    sigmask: int = 0
    pending: int = 0  # bit (signo - 1) set: signal waiting for delivery
    # The siginfo of each pending signal, in order of arrival: those sent to
    # this thread (tkill), and those sent to its process that it took (kill).
    sigqueue: dict[int, list[bytes]] = field(default_factory=dict)
    shared_sigqueue: dict[int, list[bytes]] = field(default_factory=dict)
    saved_sigmask: int | None = None  # sigsuspend's mask to restore after the handler
    altstack: tuple[int, int, int] = (0, 2, 0)  # sigaltstack: sp, flags (SS_DISABLE), size
    timer: KTimer | None = None  # wakes a timed sleep
    robust_list: int = 0  # set_robust_list: the head of its robust futex list
    cputime: float = 0.0  # seconds on the CPU (kernel/accounting.py)

    def blocking_call(self) -> BlockedCall:
        """The record of the call this task is about to sleep in (see
        BlockedCall), made on its first sleep."""
        if self.blocked is None:
            self.blocked = BlockedCall()
        return self.blocked

    @property
    def pid(self) -> int:
        return self.group.tgid

    @property
    def alive(self) -> bool:
        return self.state not in _GONE

    def describe(self) -> str:
        return f"{self.tid} ({self.comm})"
