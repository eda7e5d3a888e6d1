"""Signal syscalls: dispositions, masks, waiting for signals, returning from
handlers, and the interval timer that sends SIGALRM."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi.errno import Errno
from nommu.abi.signals import (
    NSIG,
    SI_TKILL,
    SS_DISABLE,
    SS_ONSTACK,
    DefaultAction,
    Signal,
    default_action,
)
from nommu.kernel import signal as ksignal
from nommu.kernel.channels import Paused
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.task import SigAction, ThreadGroup
from nommu.syscalls.table import syscall
from nommu.syscalls.time import read_timeout

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

ITIMERVAL = struct.Struct("<iiii")  # it_interval {sec, usec}, it_value {sec, usec}
ITIMER_REAL = 0


@syscall("rt_sigaction", "signal", "sigaction", "ptr", "size")
def sys_rt_sigaction(k: Kernel, t: Task, sig: int, act: int, oact: int, size: int) -> int:
    if size != 8 or not 1 <= sig <= NSIG:
        raise SyscallError(Errno.EINVAL)
    old = t.sighand.actions[sig]
    if act:
        handler, flags, restorer, mask = k.uspace.read_struct(S.SIGACTION, act)
        if sig in (Signal.SIGKILL, Signal.SIGSTOP):
            raise SyscallError(Errno.EINVAL)
        t.sighand.actions[sig] = SigAction(handler, flags, restorer, mask)
        ignored = default_action(sig) is DefaultAction.IGNORE and handler == F.SIG_DFL
        if handler == F.SIG_IGN or ignored:  # (discards what is pending)
            for task in t.group.tasks:
                ksignal.discard_signal(k, task, sig)
    if oact:
        k.uspace.write_struct(S.SIGACTION, oact, old.handler, old.flags, old.restorer, old.mask)
    return 0


@syscall("rt_sigprocmask", "sigprocmask_how", "sigset", "ptr", "size")
def sys_rt_sigprocmask(k: Kernel, t: Task, how: int, new: int, old: int, size: int) -> int:
    if size != 8:
        raise SyscallError(Errno.EINVAL)
    previous = t.sigmask
    if new:
        mask = int.from_bytes(k.uspace.read(new, 8), "little")
        if how == F.SIG_BLOCK:
            t.sigmask |= mask
        elif how == F.SIG_UNBLOCK:
            t.sigmask &= ~mask
        elif how == F.SIG_SETMASK:
            t.sigmask = mask
        else:
            raise SyscallError(Errno.EINVAL)
        t.sigmask &= ~ksignal.UNBLOCKABLE
    if old:
        k.uspace.write(old, previous.to_bytes(8, "little"))
    return 0


@syscall("rt_sigpending", "ptr", "size")
def sys_rt_sigpending(k: Kernel, t: Task, out: int, size: int) -> int:
    if size > 8:
        raise SyscallError(Errno.EINVAL)
    k.uspace.write(out, (t.pending & t.sigmask).to_bytes(8, "little")[:size])
    return 0


def sigtimedwait(k: Kernel, t: Task, uset: int, uinfo: int, uts: int, size: int, t64: bool) -> int:
    """Take one pending signal of the set off the queue, waiting for one if
    none is (until the timeout: EAGAIN); its number, its siginfo at `uinfo`.
    The signals waited for are normally blocked; their arrival wakes it."""
    if size != 8:
        raise SyscallError(Errno.EINVAL)
    wanted = int.from_bytes(k.uspace.read(uset, 8), "little") & ~ksignal.UNBLOCKABLE
    deadline = read_timeout(k, t, uts, t64, relative=True) if uts else None
    if t.pending & wanted:
        sig = ksignal.next_signal(t, wanted)
        info = ksignal.dequeue_signal(k, t, sig)
        if uinfo:
            k.uspace.write(uinfo, info.ljust(k.arch.SIGINFO_SIZE, b"\0"))
        return sig
    if deadline is not None and k.sched.clock() >= deadline:
        raise SyscallError(Errno.EAGAIN)
    t.blocking_call().sigwait = wanted
    raise Blocked(Paused(t.tid), deadline)


@syscall("rt_sigtimedwait", "sigset", "ptr", "ptr", "size")
def sys_rt_sigtimedwait(k: Kernel, t: Task, uset: int, uinfo: int, uts: int, size: int) -> int:
    return sigtimedwait(k, t, uset, uinfo, uts, size, t64=False)


@syscall("rt_sigtimedwait_time64", "sigset", "ptr", "ptr", "size")
def sys_rt_sigtimedwait_time64(
    k: Kernel, t: Task, uset: int, uinfo: int, uts: int, size: int
) -> int:
    return sigtimedwait(k, t, uset, uinfo, uts, size, t64=True)


def queued_info(k: Kernel, t: Task, pid: int, sig: int, uinfo: int) -> bytes:
    """rt_(tg)sigqueueinfo's siginfo: a process may not pretend to be kill(),
    tgkill() or the kernel (si_code >= 0 or SI_TKILL) except to itself."""
    ksignal.check_signal(sig)
    info = k.uspace.read(uinfo, k.arch.SIGINFO_SIZE)
    (code,) = struct.unpack_from("<i", info, 8)
    if (code >= 0 or code == SI_TKILL) and pid != t.pid:
        raise SyscallError(Errno.EPERM)
    return info


@syscall("rt_sigqueueinfo", "pid_t", "signal", "ptr")
def sys_rt_sigqueueinfo(k: Kernel, t: Task, pid: int, sig: int, uinfo: int) -> int:
    info = queued_info(k, t, pid, sig, uinfo)
    group = k.groups.get(pid)
    if group is None or group.wait_status is not None:
        raise SyscallError(Errno.ESRCH)
    ksignal.send_to_group(k, group, sig, info)
    return 0  # (EAGAIN when the queue is full: see kernel/signal.py)


@syscall("rt_tgsigqueueinfo", "pid_t", "int", "signal", "ptr")
def sys_rt_tgsigqueueinfo(k: Kernel, t: Task, tgid: int, tid: int, sig: int, uinfo: int) -> int:
    info = queued_info(k, t, tgid, sig, uinfo)
    target = k.tasks.get(tid)
    if tgid <= 0 or tid <= 0:
        raise SyscallError(Errno.EINVAL)
    if target is None or target.pid != tgid or not target.alive:
        raise SyscallError(Errno.ESRCH)
    ksignal.send_to_task(k, target, sig, info)
    return 0


@syscall("rt_sigsuspend", "sigset", "size")
def sys_rt_sigsuspend(k: Kernel, t: Task, mask: int, size: int) -> int:
    """Wait for a signal with `mask` blocked meanwhile; always -EINTR."""
    if size != 8:
        raise SyscallError(Errno.EINVAL)
    if t.saved_sigmask is None:
        t.saved_sigmask = t.sigmask
    t.sigmask = int.from_bytes(k.uspace.read(mask, 8), "little") & ~ksignal.UNBLOCKABLE
    raise Blocked(Paused(t.tid))


@syscall("pause")
def sys_pause(k: Kernel, t: Task) -> int:
    raise Blocked(Paused(t.tid))


@syscall("rt_sigreturn", ret="none")
def sys_rt_sigreturn(k: Kernel, t: Task) -> None:
    ksignal.sigreturn(k, t, rt=True)
    k.cpu.stop()


@syscall("sigreturn", ret="none")
def sys_sigreturn(k: Kernel, t: Task) -> None:
    ksignal.sigreturn(k, t, rt=False)
    k.cpu.stop()


@syscall("sigaltstack", "ptr", "ptr")
def sys_sigaltstack(k: Kernel, t: Task, ss: int, old: int) -> int:
    sp, flags, size = t.altstack
    on = sp <= k.cpu.reg_read(k.arch.SP_REG) < sp + size
    if old:
        k.uspace.write_struct(S.STACK_T, old, sp, SS_ONSTACK if on else flags, size)
    if ss:
        new_sp, new_flags, new_size = k.uspace.read_struct(S.STACK_T, ss)
        if on:
            raise SyscallError(Errno.EPERM)
        if new_flags not in (0, SS_DISABLE):
            raise SyscallError(Errno.EINVAL)
        if not new_flags & SS_DISABLE and new_size < 2048:  # MINSIGSTKSZ
            raise SyscallError(Errno.ENOMEM)
        t.altstack = (new_sp, new_flags, new_size)
    return 0


# -- the real-time interval timer (alarm, setitimer ITIMER_REAL) --------------------


def _arm(k: Kernel, group: ThreadGroup, value: float, interval: float) -> None:
    if group.itimer is not None:
        group.itimer.cancelled = True
        group.itimer = None
    group.itimer_interval = interval
    if value > 0:
        when = k.sched.clock() + value
        group.itimer = k.sched.add_timer(when, lambda: _expire(k, group))


def _expire(k: Kernel, group: ThreadGroup) -> None:
    group.itimer = None
    if group.wait_status is not None:
        return
    ksignal.send_to_group(k, group, Signal.SIGALRM)
    if group.itimer_interval > 0:
        _arm(k, group, group.itimer_interval, group.itimer_interval)


def _remaining(k: Kernel, group: ThreadGroup) -> float:
    if group.itimer is None:
        return 0.0
    return max(0.0, group.itimer.when - k.sched.clock())


@syscall("alarm", "uint")
def sys_alarm(k: Kernel, t: Task, seconds: int) -> int:
    left = _remaining(k, t.group)
    _arm(k, t.group, float(seconds), 0.0)
    return int(left + 0.999999) if left else 0


def _timeval(sec: int, usec: int) -> float:
    if sec < 0 or not 0 <= usec < 1_000_000:
        raise SyscallError(Errno.EINVAL)
    return sec + usec / 1e6


def _pack_itimer(k: Kernel, group: ThreadGroup) -> tuple[int, int, int, int]:
    left, every = _remaining(k, group), group.itimer_interval
    return (int(every), int(every % 1 * 1e6), int(left), int(left % 1 * 1e6))


@syscall("setitimer", "int", "ptr", "ptr")
def sys_setitimer(k: Kernel, t: Task, which: int, new: int, old: int) -> int:
    if which != ITIMER_REAL:
        raise SyscallError(Errno.EINVAL, "only ITIMER_REAL")
    if old:
        k.uspace.write_struct(ITIMERVAL, old, *_pack_itimer(k, t.group))
    if new:
        isec, iusec, vsec, vusec = k.uspace.read_struct(ITIMERVAL, new)
        _arm(k, t.group, _timeval(vsec, vusec), _timeval(isec, iusec))
    return 0


@syscall("getitimer", "int", "ptr")
def sys_getitimer(k: Kernel, t: Task, which: int, out: int) -> int:
    if which != ITIMER_REAL:
        raise SyscallError(Errno.EINVAL)
    k.uspace.write_struct(ITIMERVAL, out, *_pack_itimer(k, t.group))
    return 0
