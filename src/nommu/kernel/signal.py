"""Signals: sending, default actions, and delivery to handlers.

Sending a signal marks it pending on a thread, with its siginfo. Standard
signals (1-31) do not queue: a second SIGCHLD before the first is handled
is one SIGCHLD. Real-time signals (SIGRTMIN..SIGRTMAX, 32-64) do: each send
is one more delivery with its own siginfo (sigqueue's value), up to
RLIMIT_SIGPENDING queued at once, past which sigqueue and tgkill fail with
EAGAIN (and kill makes the signal pending without queueing another).
Pending signals are taken lowest number first, those sent to the thread
itself (tkill, raise) before those sent to its process (kill), as from
Linux's two pending queues; unlike Linux, a process's signal is queued on
one of its threads when it is sent.

If nobody handles a signal that is not blocked, the default action happens
at once: terminate (the process's wait status records the signal), stop,
continue, or nothing. A blocked signal is never ignored at once: its
disposition may change before it is unblocked, and sigwait may take it.

Delivery happens on the way back to user mode, as in Linux: when a syscall
returns, or when the scheduler is about to resume a task. The kernel then
pushes a signal frame (laid out by the architecture, `k.arch`) holding the interrupted
registers and the blocked mask, and enters the handler; the handler returns
into sa_restorer, which calls (rt_)sigreturn to put everything back.

A signal that arrives while its thread sleeps in a syscall wakes it. The
syscall then either restarts after the handler (SA_RESTART, for calls that
may restart) or fails with EINTR; a write that had moved some bytes returns
their count instead.

Faults (SIGSEGV, SIGILL, SIGFPE from the CPU) are forced: if the thread
blocks or ignores them, the default action (death) is taken instead.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import SIG_DFL, SIG_IGN
from nommu.abi.signals import (
    CLD_CONTINUED,
    CLD_EXITED,
    CLD_KILLED,
    CLD_STOPPED,
    NSIG,
    SA_NOCLDSTOP,
    SA_NODEFER,
    SA_ONSTACK,
    SA_RESETHAND,
    SA_RESTART,
    SA_RESTORER,
    SA_SIGINFO,
    SI_USER,
    SIGRTMIN,
    SS_DISABLE,
    SS_ONSTACK,
    DefaultAction,
    Signal,
    default_action,
)
from nommu.kernel.channels import SignalQueued, VforkDone
from nommu.kernel.errors import SyscallError
from nommu.kernel.task import DEFAULT_ACTION, SigAction, Task, TaskState, ThreadGroup

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel

UNBLOCKABLE = (1 << (Signal.SIGKILL - 1)) | (1 << (Signal.SIGSTOP - 1))

# Syscalls that return EINTR after a handler even under SA_RESTART (signal(7)).
NEVER_RESTART = {
    "nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "pause", "rt_sigsuspend",
    "sigsuspend", "poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6",
    "pselect6_time64", "epoll_wait", "epoll_pwait", "epoll_pwait2", "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
}  # fmt: skip


def bit(sig: int) -> int:
    return 1 << (sig - 1)


def check_signal(sig: int) -> None:
    if not 0 <= sig <= NSIG:
        raise SyscallError(Errno.EINVAL)


def siginfo(sig: int, code: int = SI_USER, pid: int = 0, status: int = 0, addr: int = 0) -> bytes:
    """A struct siginfo: the kill/chld fields (si_pid, si_uid: always 0, si_status),
    or the fault address."""
    head = struct.pack("<iii", sig, 0, code)
    body = struct.pack("<I", addr) if addr else struct.pack("<iIi", pid, 0, status)
    return head + body


def child_siginfo(sig: int, pid: int, wstatus: int) -> bytes:
    """The siginfo of the signal a process's end sends its parent (SIGCHLD)."""
    if wstatus & 0x7F:  # killed by a signal
        return siginfo(sig, CLD_KILLED, pid, wstatus & 0x7F)
    return siginfo(sig, CLD_EXITED, pid, wstatus >> 8 & 0xFF)


# -- sending --------------------------------------------------------------------


def send_to_group(k: Kernel, group: ThreadGroup, sig: int, info: bytes | None = None) -> None:
    """Send `sig` to a process: the first thread not blocking it takes it
    (else one waiting for it in sigtimedwait, else the first)."""
    live = [t for t in group.tasks if t.alive]
    if sig == 0 or not live:
        return
    target = next((t for t in live if not t.sigmask & bit(sig)), None)
    target = target or next((t for t in live if _waits_for(t, sig)), live[0])
    send_to_task(k, target, sig, info, shared=True)


def send_to_task(
    k: Kernel, t: Task, sig: int, info: bytes | None = None, shared: bool = False
) -> None:
    """Make `sig` pending on `t`, or take its default action right away.

    A real-time signal sent with an `info` whose si_code is negative
    (sigqueue, tgkill) fails with EAGAIN when the queue is full."""
    if not t.alive or sig == 0:
        return
    action = t.sighand.actions[sig]
    uncatchable = sig in (Signal.SIGKILL, Signal.SIGSTOP)
    if sig == Signal.SIGCONT:
        _continue(k, t.group)
    if uncatchable or not t.sigmask & bit(sig):
        if uncatchable or action.handler == SIG_DFL:
            if default_action(sig) is not DefaultAction.IGNORE:
                take_default(k, t, sig)
            return
        if action.handler == SIG_IGN:
            return
    _enqueue(k, t, sig, info or siginfo(sig), shared)
    wanted = not t.sigmask & bit(sig) or _waits_for(t, sig)
    if wanted and t.state is TaskState.SLEEPING and interruptible(t):
        k.sched.wake_task(t)


def _waits_for(t: Task, sig: int) -> bool:
    """Whether `t` sleeps in rt_sigtimedwait for `sig`."""
    return t.blocked is not None and bool(t.blocked.sigwait & bit(sig))


def _enqueue(k: Kernel, t: Task, sig: int, info: bytes, shared: bool = False) -> None:
    """Add one instance of `sig` to `t`'s pending signals (see the module doc).
    An empty queue with the pending bit set is a signal whose siginfo was lost."""
    queues = t.shared_sigqueue if shared else t.sigqueue
    queue = queues.setdefault(sig, [])
    if sig < SIGRTMIN:
        if not queue:
            queue.append(info)  # (a standard signal already pending absorbs the new one)
    else:
        if k.rt_signals_queued < sigpending_limit(k, t.group):
            queue.append(info)
            k.rt_signals_queued += 1
        elif struct.unpack_from("<i", info, 8)[0] != SI_USER:
            if not queue:
                del queues[sig]
            raise SyscallError(Errno.EAGAIN)
        # (else kill() past the limit: pending, but its siginfo is lost)
    t.pending |= bit(sig)
    k.sched.wakeup(SignalQueued(t.pid))  # (signalfd readers and their epolls)


def sigpending_limit(k: Kernel, group: ThreadGroup) -> int:
    """RLIMIT_SIGPENDING of a process: by default, as Linux sizes it, the
    same as RLIMIT_NPROC."""
    limit = group.sigpending_limit
    return k.config.max_tasks if limit is None else limit


def next_signal(t: Task, among: int) -> int:
    """The pending signal of the set `among` to take first: the lowest sent to
    the thread, else the lowest sent to its process; 0 if none."""
    for queues in (t.sigqueue, t.shared_sigqueue):
        ready = [sig for sig in queues if among & bit(sig)]
        if ready:
            return min(ready)
    rest = t.pending & among  # (pending without a siginfo: not expected)
    return (rest & -rest).bit_length()


def dequeue_signal(k: Kernel, t: Task, sig: int) -> bytes:
    """Take the oldest instance of pending `sig` off `t`; its siginfo."""
    queues = t.sigqueue if sig in t.sigqueue else t.shared_sigqueue
    queue = queues.get(sig)
    info = siginfo(sig)  # (its siginfo was lost: past the limit)
    if queue:
        info = queue.pop(0)
        if sig >= SIGRTMIN:
            k.rt_signals_queued -= 1
    if not queue:
        queues.pop(sig, None)
        if sig not in t.sigqueue and sig not in t.shared_sigqueue:
            t.pending &= ~bit(sig)
    return info


def discard_signal(k: Kernel, t: Task, sig: int) -> None:
    """Forget every pending instance of `sig` (its disposition became ignore)."""
    for queues in (t.sigqueue, t.shared_sigqueue):
        dropped = queues.pop(sig, [])
        if sig >= SIGRTMIN:
            k.rt_signals_queued -= len(dropped)
    t.pending &= ~bit(sig)


def flush_signals(k: Kernel, t: Task) -> None:
    """`t` exits: whatever is pending on it goes with it."""
    for sig in list(t.sigqueue) + list(t.shared_sigqueue):
        discard_signal(k, t, sig)
    t.pending = 0


def interruptible(t: Task) -> bool:
    """A vfork parent's wait is only killable (TASK_KILLABLE): signals wait."""
    return not isinstance(t.channel, VforkDone)


def take_default(k: Kernel, t: Task, sig: int) -> None:
    """The default action of `sig` for `t`'s process."""
    from nommu.kernel.exit import do_group_exit, signal_status

    act = default_action(sig)
    if act in (DefaultAction.TERMINATE, DefaultAction.CORE):
        k.events.killed(t, sig)
        # No core file is ever written (RLIMIT_CORE is 0), so no WCOREDUMP bit.
        do_group_exit(k, t, signal_status(sig))
    elif act is DefaultAction.STOP:
        for task in t.group.tasks:
            if task.alive and task.state is not TaskState.STOPPED:
                k.sched.stop_task(task)
        _notify_parent(k, t.group, 0x7F | sig << 8, CLD_STOPPED, sig)


def _continue(k: Kernel, group: ThreadGroup) -> None:
    stopped = [task for task in group.tasks if task.state is TaskState.STOPPED]
    for task in stopped:
        k.sched.add(task)
    if stopped:
        _notify_parent(k, group, 0xFFFF, CLD_CONTINUED, Signal.SIGCONT)


def _notify_parent(k: Kernel, group: ThreadGroup, status: int, code: int, sig: int) -> None:
    """A process stopped or continued: its parent's wait may report it
    (WUNTRACED, WCONTINUED), and it gets SIGCHLD unless SA_NOCLDSTOP."""
    from nommu.kernel.channels import ChildEvent

    group.stop_status = status
    parent = group.parent
    if parent is None or not parent.tasks:
        return
    k.sched.wakeup(ChildEvent(parent.tgid))
    if not parent.leader.sighand.actions[Signal.SIGCHLD].flags & SA_NOCLDSTOP:
        send_to_group(k, parent, Signal.SIGCHLD, siginfo(Signal.SIGCHLD, code, group.tgid, sig))


def force_signal(k: Kernel, t: Task, sig: int, info: bytes) -> None:
    """A signal caused by the task's own fault (SIGSEGV, SIGILL, SIGFPE...).

    It cannot be ignored or blocked: if the task would not take it, the
    disposition is reset to the default, which ends the process
    (force_sig_fault in Linux).
    """
    action = t.sighand.actions[sig]
    if action.handler in (SIG_DFL, SIG_IGN) or t.sigmask & bit(sig):
        k.events.fatal_fault(t, sig)  # (the front end explains it: trace/fault.py)
        take_default(k, t, sig)
        return
    _enqueue(k, t, sig, info)


# -- delivery -------------------------------------------------------------------


def deliverable(t: Task) -> int:
    return t.pending & ~t.sigmask


def deliver(k: Kernel, t: Task, pc: int) -> int:
    """Enter the handler of the lowest deliverable signal; return the new pc.

    `t`'s registers must be live in the CPU; `pc` is where it would resume.
    As Linux does on the way back to user mode, this repeats while signals
    the handler's mask leaves unblocked are pending: each frame goes on top
    of the last, so the handler entered last runs first.
    """
    while deliverable(t) and t.alive:
        sig = next_signal(t, deliverable(t))
        info = dequeue_signal(k, t, sig)
        action = t.sighand.actions[sig]
        if action.handler == SIG_IGN:
            continue
        if action.handler == SIG_DFL:
            take_default(k, t, sig)
            if not t.alive:
                return pc
            continue
        pc = _interrupt_syscall(k, t, action, pc)
        pc = _enter_handler(k, t, sig, action, info, pc)
    return pc


def _interrupt_syscall(k: Kernel, t: Task, action: SigAction, pc: int) -> int:
    """A handler interrupts a syscall that slept: it returns what it has done
    (a write that moved some bytes returns their count, as Linux's pipes and
    terminals do; FUTEX_LOCK_PI handed the lock returns 0; a terminal read
    that the hangup ended fails with EIO), or runs again after
    the handler (SA_RESTART, for calls that may restart; always, for
    FUTEX_LOCK_PI), or fails with EINTR."""
    call, t.blocked = t.blocked, None
    if call is None:
        return pc
    if call.done or call.result is not None:  # (done: it returns what it did)
        set_syscall_result(k, call.done or call.result or 0)
        return pc + int(k.arch.SYSCALL_INSN_LEN)
    name = k.arch.SYSCALL_NAMES.get(call.nr, "")
    if call.lock_pi or (action.flags & SA_RESTART and name not in NEVER_RESTART):
        return pc  # EIP still points at the syscall instruction: it runs again
    set_syscall_result(k, -Errno.EINTR)
    return pc + int(k.arch.SYSCALL_INSN_LEN)


def set_syscall_result(k: Kernel, result: int) -> None:
    """What the syscall being left returns, put in the result register now:
    signal delivery saves the registers in the frame before the syscall hook
    would write it. (-errno for an error, as the dispatcher makes it.)"""
    k.cpu.reg_write(k.arch.RESULT_REG, result & 0xFFFFFFFF)


def _enter_handler(k: Kernel, t: Task, sig: int, action: SigAction, info: bytes, pc: int) -> int:
    cpu = k.cpu
    sp = cpu.reg_read(k.arch.SP_REG)
    ss_sp, ss_flags, ss_size = t.altstack
    on_alt = ss_sp <= sp < ss_sp + ss_size
    if action.flags & SA_ONSTACK and not ss_flags & SS_DISABLE and not on_alt:
        sp = ss_sp + ss_size
    blocked = t.saved_sigmask if t.saved_sigmask is not None else t.sigmask
    t.saved_sigmask = None
    restorer = action.restorer if action.flags & SA_RESTORER else 0
    altstack = (ss_sp, SS_ONSTACK if on_alt else ss_flags, ss_size)
    siginfo = info if action.flags & SA_SIGINFO else None
    frame = k.arch.signal_frame(
        cpu, pc, sp, sig, action.handler, restorer, siginfo, blocked, altstack
    )
    try:
        for addr, data in frame.writes:
            k.uspace.write(addr, data)
    except SyscallError:  # no room for the frame: the process dies (force_sigsegv)
        take_default(k, t, Signal.SIGSEGV)
        return pc
    # (Without SA_RESTORER the handler returns through code just written on the
    # stack: uspace.write dropped any code translated there before.)
    k.arch.enter_signal_handler(cpu, frame)
    t.sigmask |= action.mask | (0 if action.flags & SA_NODEFER else bit(sig))
    t.sigmask &= ~UNBLOCKABLE
    if action.flags & SA_RESETHAND:
        t.sighand.actions[sig] = DEFAULT_ACTION
    k.events.signal_delivered(t, sig, action.handler)
    return int(action.handler)


def sigreturn(k: Kernel, t: Task, rt: bool) -> None:
    """Put back the registers and mask a signal frame saved."""
    mask = k.arch.sigreturn(k.cpu, k.uspace.read, rt)
    t.sigmask = mask & ~UNBLOCKABLE
