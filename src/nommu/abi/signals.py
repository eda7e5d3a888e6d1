"""Linux i386 signal numbers and their default actions (signal(7))."""

from __future__ import annotations

from enum import Enum, IntEnum


class Signal(IntEnum):
    SIGHUP = 1
    SIGINT = 2
    SIGQUIT = 3
    SIGILL = 4
    SIGTRAP = 5
    SIGABRT = 6
    SIGBUS = 7
    SIGFPE = 8
    SIGKILL = 9
    SIGUSR1 = 10
    SIGSEGV = 11
    SIGUSR2 = 12
    SIGPIPE = 13
    SIGALRM = 14
    SIGTERM = 15
    SIGSTKFLT = 16
    SIGCHLD = 17
    SIGCONT = 18
    SIGSTOP = 19
    SIGTSTP = 20
    SIGTTIN = 21
    SIGTTOU = 22
    SIGURG = 23
    SIGXCPU = 24
    SIGXFSZ = 25
    SIGVTALRM = 26
    SIGPROF = 27
    SIGWINCH = 28
    SIGIO = 29
    SIGPWR = 30
    SIGSYS = 31


NSIG = 64  # signals 1..64; 32..64 are the real-time signals
SIGRTMIN = 32  # the kernel's first real-time signal (libc keeps a few for itself)

# sigaction(2) sa_flags
SA_NOCLDSTOP = 0x00000001
SA_NOCLDWAIT = 0x00000002
SA_SIGINFO = 0x00000004
SA_RESTORER = 0x04000000
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000

# sigaltstack(2) ss_flags
SS_ONSTACK = 1
SS_DISABLE = 2

# siginfo si_code: who sent it (negative: from user space), and for SIGCHLD why
SI_USER = 0
SI_KERNEL = 0x80
SI_QUEUE = -1
SI_TKILL = -6
CLD_EXITED, CLD_KILLED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 5, 6


class DefaultAction(Enum):
    TERMINATE = "terminate"
    CORE = "core"  # terminate and (on a real system) dump core
    IGNORE = "ignore"
    STOP = "stop"
    CONTINUE = "continue"


_CORE = {
    Signal.SIGQUIT,
    Signal.SIGILL,
    Signal.SIGTRAP,
    Signal.SIGABRT,
    Signal.SIGBUS,
    Signal.SIGFPE,
    Signal.SIGSEGV,
    Signal.SIGXCPU,
    Signal.SIGXFSZ,
    Signal.SIGSYS,
}
_IGNORE = {Signal.SIGCHLD, Signal.SIGURG, Signal.SIGWINCH}
_STOP = {Signal.SIGSTOP, Signal.SIGTSTP, Signal.SIGTTIN, Signal.SIGTTOU}


def default_action(signo: int) -> DefaultAction:
    """What the kernel does with a signal nobody handles."""
    if signo in _CORE:
        return DefaultAction.CORE
    if signo in _IGNORE:
        return DefaultAction.IGNORE
    if signo in _STOP:
        return DefaultAction.STOP
    if signo == Signal.SIGCONT:
        return DefaultAction.CONTINUE
    return DefaultAction.TERMINATE


def signal_name(signo: int) -> str:
    """SIGSEGV, or SIGRT3 for real-time signals, or the bare number."""
    try:
        return Signal(signo).name
    except ValueError:
        return f"SIGRT{signo - 32}" if 32 <= signo <= NSIG else str(signo)


# What a shell prints for a process killed by a signal (bash's wording).
SHELL_DESCRIPTIONS: dict[int, str] = {
    Signal.SIGHUP: "Hangup",
    Signal.SIGINT: "Interrupt",
    Signal.SIGQUIT: "Quit",
    Signal.SIGILL: "Illegal instruction",
    Signal.SIGTRAP: "Trace/breakpoint trap",
    Signal.SIGABRT: "Aborted",
    Signal.SIGBUS: "Bus error",
    Signal.SIGFPE: "Floating point exception",
    Signal.SIGKILL: "Killed",
    Signal.SIGUSR1: "User defined signal 1",
    Signal.SIGSEGV: "Segmentation fault",
    Signal.SIGUSR2: "User defined signal 2",
    Signal.SIGPIPE: "Broken pipe",
    Signal.SIGALRM: "Alarm clock",
    Signal.SIGTERM: "Terminated",
    Signal.SIGSYS: "Bad system call",
    Signal.SIGXCPU: "CPU time limit exceeded",
    Signal.SIGXFSZ: "File size limit exceeded",
}
