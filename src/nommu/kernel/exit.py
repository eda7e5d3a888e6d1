"""Ending tasks and reaping them: exit, exit_group, kill-by-signal, wait4.

A task that exits releases what it used (its memory reference, which wakes
a vfork parent; its descriptor table; its clear_child_tid futex). When the
last task of a process is gone the process becomes a zombie holding only
its wait status, its children are handed to init (pid 1), and its parent is
woken in wait4. Reaping the zombie frees its pid.

Wait status encoding (what WEXITSTATUS and friends decode):
exited: `code << 8`; killed by a signal: `signo` (| 0x80 with a core dump).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import __WALL, __WCLONE, WCONTINUED, WNOHANG, WUNTRACED
from nommu.abi.signals import NSIG, Signal
from nommu.kernel import accounting
from nommu.kernel.accounting import Usage
from nommu.kernel.channels import ChildEvent
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.fork import mm_release
from nommu.kernel.posix_timers import delete_all
from nommu.kernel.sem import exit_sem
from nommu.kernel.signal import flush_signals
from nommu.kernel.task import Task, TaskState, ThreadGroup
from nommu.kernel.tty import disassociate, orphan_stopped_jobs

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel


def exit_status(code: int) -> int:
    return (code & 0xFF) << 8


def signal_status(signo: int, core: bool = False) -> int:
    return signo | (0x80 if core else 0)


def do_exit(k: Kernel, t: Task, status: int) -> None:
    """One task ends (exit(2)); the process ends with it if it was the last."""
    rss = t.mm.total() // 1024
    t.group.final_rss_kb = rss
    t.group.peak_rss_kb = max(t.group.peak_rss_kb, rss)
    mm_release(k, t, None)
    t.files.users -= 1
    if t.files.users == 0:
        t.files.close_all()
    t.state = TaskState.DEAD
    flush_signals(k, t)
    k.sched.remove(t)
    del k.tasks[t.tid]
    group = t.group
    k.events.task_exit(t, status)
    k.memory.task_gone(t)
    if all(not x.alive for x in group.tasks):
        _process_exit(k, group, status)
    if k.current is t:
        k.cpu.stop()


def do_group_exit(k: Kernel, t: Task, status: int) -> None:
    """exit_group(2) or a fatal signal: every thread of the process ends."""
    group = t.group
    group.group_exit_code = status
    for other in list(group.tasks):
        if other is not t and other.alive:
            do_exit(k, other, status)
    if t.alive:
        do_exit(k, t, status)


def _process_exit(k: Kernel, group: ThreadGroup, status: int) -> None:
    status = group.group_exit_code if group.group_exit_code is not None else status
    group.wait_status = status
    exit_sem(k, group)  # SEM_UNDO adjustments
    delete_all(group)  # POSIX timers
    if group.tty is not None:  # a session leader takes its terminal's session with it
        disassociate(k, group, on_exit=True)
    orphan_stopped_jobs(k, group)
    _reparent_children(k, group)
    parent = group.parent
    if parent is None:
        return
    k.sched.wakeup(ChildEvent(parent.tgid))
    if 0 < group.exit_signal <= NSIG:  # clone() takes any byte; do_notify_parent
        from nommu.kernel.signal import child_siginfo, send_to_group

        info = child_siginfo(group.exit_signal, group.tgid, status)
        send_to_group(k, parent, group.exit_signal, info)


def _reparent_children(k: Kernel, group: ThreadGroup) -> None:
    """Orphans are adopted by init (pid 1)."""
    init = k.init
    for child in group.children:
        child.parent = init
        if init is not None and init is not group:
            init.children.append(child)
            if child.zombie:
                k.sched.wakeup(ChildEvent(init.tgid))
    group.children = []


def _matches(t: Task, child: ThreadGroup, pid: int, options: int) -> bool:
    if pid > 0 and child.tgid != pid:
        return False
    if pid == 0 and child.pgid != t.group.pgid:
        return False
    if pid < -1 and child.pgid != -pid:
        return False
    if options & __WALL:
        return True
    clone_child = child.exit_signal != Signal.SIGCHLD
    return clone_child == bool(options & __WCLONE)


def do_wait(k: Kernel, t: Task, pid: int, options: int) -> tuple[int, int, Usage | None]:
    """wait4: reap a matching zombie child -> (pid, status, its CPU usage),
    or report one that stopped (WUNTRACED) or continued (WCONTINUED), with
    no usage; (0, 0, None) for WNOHANG."""
    group = t.group
    candidates = [c for c in group.children if _matches(t, c, pid, options)]
    if not candidates:
        raise SyscallError(Errno.ECHILD)
    for child in candidates:
        if child.zombie:
            assert child.wait_status is not None
            usage = reap(k, child)
            return child.tgid, child.wait_status, usage
    for child in candidates:
        status = child.stop_status
        if status is not None and options & (WCONTINUED if status == 0xFFFF else WUNTRACED):
            child.stop_status = None
            return child.tgid, status, None
    if options & WNOHANG:
        return 0, 0, None
    raise Blocked(ChildEvent(group.tgid))


def reap(k: Kernel, child: ThreadGroup) -> Usage | None:
    """Release a zombie: its pid is free again, and its CPU time is its
    parent's children time (returned: what wait4 reports)."""
    child.reaped = True
    usage = None
    if child.parent is not None:
        usage = accounting.reaped(child.parent, child)
        if child in child.parent.children:
            child.parent.children.remove(child)
    k.groups.pop(child.tgid, None)
    return usage


def kill_leftovers(k: Kernel) -> list[str]:
    """pid 1 is gone: kill whatever still runs (listed for the trace and report)."""
    live = [t for t in k.tasks.values() if t.state is not TaskState.DEAD]
    left = [f"{t.tid} ({t.comm}) {t.state.name.lower()}" for t in live]
    for t in live:
        if t.alive:
            k.events.killed(t, Signal.SIGKILL)
            do_group_exit(k, t, signal_status(Signal.SIGKILL))
    return left
