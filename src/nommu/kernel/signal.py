"""Signals: sending them and their default actions.

A signal sent to a process is either ignored, made pending for a handler,
or acted on by default: terminate (the wait status records the signal),
stop, or continue. SIGKILL and SIGSTOP cannot be caught or ignored.

Handler delivery (signal frames, sigreturn, EINTR and SA_RESTART) builds on
`pending`; until a handler is installed the default actions here decide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import SIG_DFL, SIG_IGN
from nommu.abi.signals import NSIG, DefaultAction, Signal, default_action
from nommu.kernel.errors import SyscallError
from nommu.kernel.task import Task, TaskState, ThreadGroup

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel


def check_signal(sig: int) -> None:
    if not 0 <= sig <= NSIG:
        raise SyscallError(Errno.EINVAL)


def send_to_group(k: Kernel, group: ThreadGroup, sig: int) -> None:
    """Deliver `sig` to a process (the thread that can take it)."""
    live = [t for t in group.tasks if t.alive]
    if sig == 0 or not live:
        return
    send_to_task(k, live[0], sig)


def send_to_task(k: Kernel, t: Task, sig: int) -> None:
    """Deliver `sig` to one thread: act by default, or leave it pending."""
    if not t.alive or sig == 0:
        return
    action = t.sighand.actions[sig]
    uncatchable = sig in (Signal.SIGKILL, Signal.SIGSTOP)
    if action.handler == SIG_IGN and not uncatchable:
        return
    if action.handler == SIG_DFL or uncatchable:
        _default(k, t, sig)
        return
    t.pending |= 1 << (sig - 1)
    if t.state is TaskState.SLEEPING:
        k.sched.wake_task(t)


def _default(k: Kernel, t: Task, sig: int) -> None:
    from nommu.kernel.exit import do_group_exit, signal_status

    act = default_action(sig)
    if act in (DefaultAction.TERMINATE, DefaultAction.CORE):
        k.events.killed(t, sig)
        do_group_exit(k, t, signal_status(sig, core=act is DefaultAction.CORE))
    elif act is DefaultAction.STOP:
        t.state = TaskState.STOPPED
    elif act is DefaultAction.CONTINUE and t.state is TaskState.STOPPED:
        k.sched.add(t)


def force_signal(k: Kernel, t: Task, sig: int) -> None:
    """A signal caused by the task's own fault (SIGSEGV, SIGILL, SIGFPE...).

    It cannot be ignored or blocked: if the task would not take it, the
    disposition is reset to the default, which ends the process
    (force_sig_fault in Linux).
    """
    from nommu.trace.fault import report_fault

    report_fault(k, t, sig)
    _default(k, t, sig)
