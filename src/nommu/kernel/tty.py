"""Terminals: the tty layer, job control, and nommu's own terminal.

A terminal the kernel drives itself (`Tty`: a pseudo-terminal's slave side,
kernel/pty.py) has a line discipline (kernel/ldisc.py) that cooks what is
typed, a window size, and a place in job control:

* a session may have one controlling terminal (`ThreadGroup.tty`, as
  Linux's signal->tty): its session leader takes it with TIOCSCTTY (or by
  opening it without O_NOCTTY), its processes inherit it, setsid leaves it;
* the terminal has one foreground process group (TIOCSPGRP/tcsetpgrp):
  ^C, ^\\ and ^Z signal that group, and SIGWINCH goes to it when the window
  size changes;
* a process of the session outside the foreground group that reads the
  terminal gets SIGTTIN (its group stops, and the read runs again once it
  continues); one that writes with TOSTOP set, or changes the settings,
  gets SIGTTOU; ignored or blocked, SIGTTIN makes the read fail with EIO and
  SIGTTOU lets the write through; an orphaned group gets EIO;
* when the terminal hangs up (the pty master closed), its session leader
  gets SIGHUP and SIGCONT and the session loses it; when the session leader
  exits, its foreground group gets SIGHUP; a stopped group that a process's
  exit leaves orphaned gets SIGHUP and SIGCONT.

nommu's own terminal (the host's, when stdin/stdout is one) is the console:
its line discipline is the host's, so TCGETS reads the host's settings in
the guest's `struct termios` layout, TCSETS changes them, TIOCGWINSZ reports
the window size; `Terminal` forwards the host's ^C to the guest's foreground
group.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import termios
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi import termios as T
from nommu.abi.errno import Errno
from nommu.abi.signals import Signal
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.ldisc import LineDiscipline

if TYPE_CHECKING:
    from nommu.kernel.files import OpenFile
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task, ThreadGroup

TERMIOS = T.TERMIOS
NCCS = T.NCCS


def _host_fd(f: OpenFile) -> int:
    fd = f.host_fd()
    if fd is None:
        raise SyscallError(Errno.ENOTTY)
    return fd


def _pack(attrs: list[object]) -> bytes:
    iflag, oflag, cflag, lflag, _ispeed, _ospeed, cc = attrs
    chars = bytes(c if isinstance(c, int) else ord(c) for c in cc)[:NCCS]  # type: ignore[attr-defined]
    return TERMIOS.pack(iflag, oflag, cflag, lflag, 0, chars.ljust(NCCS, b"\0"))


def _unpack(raw: bytes, old: list[object]) -> list[object]:
    iflag, oflag, cflag, lflag, _line, chars = TERMIOS.unpack(raw)
    cc = list(old[6])  # type: ignore[call-overload]
    for i, c in enumerate(chars[: len(cc)]):
        cc[i] = c if isinstance(cc[i], int) else bytes([c])
    return [iflag, oflag, cflag, lflag, old[4], old[5], cc]


def ioctl(k: Kernel, t: Task, f: OpenFile, req: int, arg: int) -> int:
    """Terminal ioctls on a descriptor that is a host terminal."""
    fd = _host_fd(f)
    if req == F.TCGETS:
        k.uspace.write(arg, _pack(termios.tcgetattr(fd)))
        return 0
    if req in (F.TCSETS, F.TCSETSW, F.TCSETSF):
        new = _unpack(k.uspace.read(arg, TERMIOS.size), termios.tcgetattr(fd))
        when = {F.TCSETS: termios.TCSANOW, F.TCSETSW: termios.TCSADRAIN}.get(req, termios.TCSAFLUSH)
        termios.tcsetattr(fd, when, new)  # type: ignore[arg-type]
        return 0
    if req == F.TIOCGWINSZ:
        raw = fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(S.WINSIZE.size))
        k.uspace.write(arg, raw)
        return 0
    if req == F.TIOCGPGRP:
        k.uspace.write_u32(arg, k.terminal.foreground)
        return 0
    if req == F.TIOCSPGRP:
        pgrp = k.uspace.read_u32(arg)
        if not any(g.pgid == pgrp for g in k.groups.values() if g.wait_status is None):
            raise SyscallError(Errno.EPERM)
        k.terminal.foreground = pgrp
        return 0
    raise SyscallError(Errno.EINVAL)


class Terminal:
    """nommu's own terminal and signals, as the guest machine sees them.

    While a run is active, signals sent to nommu itself are caught: Ctrl-C
    (SIGINT) and Ctrl-\\ (SIGQUIT) go to the guest's foreground process
    group, as a terminal driver would send them; SIGTERM and SIGHUP end the
    whole run. A self-pipe wakes the scheduler if it is idle. The host
    terminal's settings are saved at the start and restored at the end,
    whatever the guest did to them.
    """

    FORWARDED = (signal.SIGINT, signal.SIGQUIT)
    FATAL = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.foreground = 1  # the foreground process group (TIOCSPGRP)
        self.wakeup_fd = -1
        self._wakeup_w = -1
        self._saved_attrs: list[object] | None = None
        self._old: dict[int, object] = {}
        self._old_wakeup = -1
        self._kernel: Kernel | None = None

    def attach(self, k: Kernel) -> None:
        """Start catching nommu's signals for `k` (main thread only)."""
        self._kernel = k
        with contextlib.suppress(termios.error, OSError):
            if os.isatty(0):
                self._saved_attrs = termios.tcgetattr(0)

        def on_signal(signo: int, frame: FrameType | None) -> None:
            k.host_signals.append(signo)
            k.cpu.stop()

        try:
            for signo in (*self.FORWARDED, *self.FATAL):
                self._old[signo] = signal.signal(signo, on_signal)
            r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self.wakeup_fd, self._wakeup_w = r, w
            k.cpu.timer.wakeup_fd = r
            self._old_wakeup = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        except ValueError:  # not the main thread: leave signals alone
            self._restore_handlers()

    def detach(self) -> None:
        """Put nommu's signal handling and the terminal back as they were."""
        self._restore_handlers()
        self._cpu_timer_fd_off()
        if self._saved_attrs is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(0, termios.TCSADRAIN, self._saved_attrs)  # type: ignore[arg-type]
        for fd in (self.wakeup_fd, self._wakeup_w):
            if fd >= 0:
                os.close(fd)
        self.wakeup_fd = self._wakeup_w = -1

    def _cpu_timer_fd_off(self) -> None:
        if self._kernel is not None:
            self._kernel.cpu.timer.wakeup_fd = -1

    def _restore_handlers(self) -> None:
        for signo, handler in self._old.items():
            signal.signal(signo, handler)  # type: ignore[arg-type]
        self._old.clear()
        if self._wakeup_w >= 0:
            signal.set_wakeup_fd(self._old_wakeup)

    def drain_wakeup(self) -> None:
        if self.wakeup_fd >= 0:
            with contextlib.suppress(OSError):
                os.read(self.wakeup_fd, 512)

    def forward_host_signals(self, k: Kernel) -> None:
        """Act on the signals nommu received since the last look."""
        from nommu.kernel.exit import do_group_exit, signal_status
        from nommu.kernel.signal import send_to_group

        signals, k.host_signals[:] = list(k.host_signals), []
        self.drain_wakeup()
        for signo in signals:
            groups = [g for g in k.groups.values() if g.wait_status is None]
            if signo in self.FORWARDED:
                for g in groups:
                    if g.pgid == self.foreground:
                        send_to_group(k, g, signo)
            else:  # SIGTERM/SIGHUP to nommu: the machine shuts down
                for g in sorted(groups, key=lambda g: g.tgid != 1):
                    live = [t for t in g.tasks if t.alive]
                    if live:
                        do_group_exit(k, live[0], signal_status(signo))


# -- terminals the kernel drives ---------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class TtyChannel:
    """Wait channel of one terminal queue: compared by identity, like a pipe's."""

    what: str

    def __str__(self) -> str:
        return self.what


@dataclass(frozen=True, slots=True)
class JobStop:
    """A background read or write that signalled its process group: nothing
    wakes it but a signal (it runs again when the group continues)."""

    tid: int

    def __str__(self) -> str:
        return "stopped by job control"


TtyIoctl = Callable[["Kernel", "Task", "OpenFile", "Tty", bool, int], int]


class Tty:
    """A terminal the kernel drives: line discipline, window size, job control.

    `transmit` puts bytes on the device (for a pty: where the master reads);
    the line discipline's echoes go there too.
    """

    def __init__(
        self,
        k: Kernel,
        name: str,
        rdev: int,
        transmit: Callable[[bytes], None],
        discard: Callable[[], None],
    ) -> None:
        self.k = k
        self.name = name  # "/dev/pts/0"
        self.rdev = rdev  # its device number (/proc/PID/stat's tty_nr)
        self.ldisc = LineDiscipline(transmit, self.interrupt)
        self.discard = discard  # drops the output not yet taken off the line
        self.winsize = bytes(S.WINSIZE.size)
        self.session = 0  # the session it is the controlling terminal of (0: none)
        self.pgrp = 0  # its foreground process group (0: none)
        self.hung_up = False
        self.readable = TtyChannel(f"read from {name}")  # readers wait here
        self.writable = TtyChannel(f"write to {name}")  # ... and writers

    def interrupt(self, sig: int) -> None:
        """^C, ^\\ or ^Z typed (ISIG): the foreground group gets the signal
        and, unless NOFLSH, the output still queued is thrown away (the
        line discipline flushes its input itself)."""
        self.signal_foreground(sig)
        if not self.ldisc.lflag(T.NOFLSH):
            self.discard()
        self.k.sched.wakeup(self.writable)

    def signal_foreground(self, sig: int) -> None:
        if self.pgrp:
            signal_pgrp(self.k, self.pgrp, sig)

    def hangup(self) -> None:
        """The line is gone (a pty's master closed): its session leader gets
        SIGHUP and SIGCONT, every process of the session loses it, readers
        and writers wake to find it hung up (a read that was waiting fails
        with EIO; one made afterwards returns 0)."""
        from nommu.kernel.signal import send_to_group

        self.hung_up = True
        for task in list(self.k.sched.sleepers.get(self.readable, ())):
            if task.channel is self.readable and task.blocked is not None:
                task.blocked.result = -Errno.EIO  # a read asleep ends with EIO, signal or not
        for g in session_members(self.k, self.session):
            if g.tty is self:
                g.tty = None
            if g.sid == g.tgid:
                send_to_group(self.k, g, Signal.SIGHUP)
                send_to_group(self.k, g, Signal.SIGCONT)
        self.session = self.pgrp = 0
        self.k.sched.wakeup(self.readable)
        self.k.sched.wakeup(self.writable)


def live_groups(k: Kernel) -> list[ThreadGroup]:
    return [g for g in k.groups.values() if g.wait_status is None]


def session_members(k: Kernel, sid: int) -> list[ThreadGroup]:
    return [g for g in live_groups(k) if sid and g.sid == sid]


def signal_pgrp(k: Kernel, pgid: int, sig: int) -> None:
    from nommu.kernel.signal import send_to_group

    for g in live_groups(k):
        if g.pgid == pgid:
            send_to_group(k, g, sig)


def orphaned(k: Kernel, pgid: int) -> bool:
    """POSIX's orphaned process group: no member has a parent in another
    group of the same session (init does not count), so no job-control
    shell is left to continue it if it stops."""
    for g in live_groups(k):
        p = g.parent
        if g.pgid != pgid or p is None or p.wait_status is not None or p.tgid == 1:
            continue
        if p.pgid != pgid and p.sid == g.sid:
            return False
    return True


def orphan_stopped_jobs(k: Kernel, group: ThreadGroup) -> None:
    """`group` exits: each process group its exit orphans (its own, if its
    parent was the link to the session; its children's) that has a
    stopped member gets SIGHUP, then SIGCONT, since no job-control shell is
    left to continue it (Linux's kill_orphaned_pgrp)."""
    from nommu.kernel.task import TaskState

    pgids = {c.pgid for c in group.children if c.pgid != group.pgid and c.sid == group.sid}
    p = group.parent
    if p is not None and p.pgid != group.pgid and p.sid == group.sid:
        pgids.add(group.pgid)
    for pgid in sorted(pgids):
        members = [g for g in live_groups(k) if g.pgid == pgid]
        stopped = any(t.state is TaskState.STOPPED for g in members for t in g.tasks)
        if stopped and orphaned(k, pgid):
            signal_pgrp(k, pgid, Signal.SIGHUP)
            signal_pgrp(k, pgid, Signal.SIGCONT)


def job_control(k: Kernel, t: Task, tty: Tty, sig: int) -> None:
    """Let `t` read (SIGTTIN) or write/reconfigure (SIGTTOU) its terminal,
    or stop its process group as the module doc says (tty_check_change)."""
    from nommu.kernel.signal import bit

    g = t.group
    if g.tty is not tty or not tty.pgrp or g.pgid == tty.pgrp:
        return
    if t.sighand.actions[sig].handler == F.SIG_IGN or t.sigmask & bit(sig):
        if sig == Signal.SIGTTIN:
            raise SyscallError(Errno.EIO)
        return
    if orphaned(k, g.pgid):
        raise SyscallError(Errno.EIO)
    signal_pgrp(k, g.pgid, sig)
    raise Blocked(JobStop(t.tid))


def set_ctty(k: Kernel, t: Task, tty: Tty, steal: bool, readable: bool) -> None:
    """TIOCSCTTY: a session leader without a terminal takes `tty`; it must
    not control another session (unless `steal`: root may take it)."""
    g = t.group
    if g.sid == g.tgid and tty.session == g.sid:
        return
    if g.sid != g.tgid or g.tty is not None or not readable:
        raise SyscallError(Errno.EPERM)
    if tty.session:
        if not steal:
            raise SyscallError(Errno.EPERM)
        for other in session_members(k, tty.session):
            if other.tty is tty:
                other.tty = None
    tty.session, tty.pgrp, g.tty = g.sid, g.pgid, tty


def open_sets_ctty(t: Task, tty: Tty) -> None:
    """open() without O_NOCTTY: a session leader with no terminal takes a
    terminal that has no session."""
    g = t.group
    if g.sid == g.tgid and g.tty is None and not tty.session:
        tty.session, tty.pgrp, g.tty = g.sid, g.pgid, tty


def disassociate(k: Kernel, g: ThreadGroup, on_exit: bool) -> None:
    """The session leader leaves its terminal (TIOCNOTTY, or its exit): the
    foreground group gets SIGHUP (and SIGCONT, if not on exit), and the
    whole session loses the terminal."""
    tty = g.tty
    if tty is None or g.sid != g.tgid:
        g.tty = None
        return
    pgrp = tty.pgrp
    if pgrp:
        signal_pgrp(k, pgrp, Signal.SIGHUP)
        if not on_exit:
            signal_pgrp(k, pgrp, Signal.SIGCONT)
    for other in session_members(k, g.sid):
        if other.tty is tty:
            other.tty = None
    g.tty = None
    tty.session = tty.pgrp = 0


def tty_ioctl(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, req: int, arg: int) -> int:
    """The requests every kernel terminal answers, on its slave side or (as
    Linux does: they act on the slave) through its master."""
    if tty.hung_up and not master:
        raise SyscallError(Errno.ENOTTY if req == F.TIOCSPGRP else Errno.EIO)
    handler = _TTY_IOCTLS.get(req)
    if handler is None:
        raise SyscallError(Errno.ENOTTY)
    return handler(k, t, f, tty, master, arg)


def _tcgets(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    k.uspace.write(arg, tty.ldisc.termios.pack())
    return 0


def _tcsets(flush: bool) -> TtyIoctl:
    def tcsets(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
        new = T.Termios.unpack(k.uspace.read(arg, T.TERMIOS.size))
        job_control(k, t, tty, Signal.SIGTTOU)
        if flush:
            tty.ldisc.flush_input()
        tty.ldisc.set_termios(new)
        k.sched.wakeup(tty.readable)  # (what is readable may have changed)
        k.sched.wakeup(tty.writable)
        return 0

    return tcsets


def _getwinsz(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    k.uspace.write(arg, tty.winsize)
    return 0


def _setwinsz(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    new = k.uspace.read(arg, S.WINSIZE.size)
    if new != tty.winsize:
        tty.winsize = new
        tty.signal_foreground(Signal.SIGWINCH)
    return 0


def _ctty_check(t: Task, tty: Tty, master: bool) -> None:
    """Asked on the slave side, these need it to be the caller's terminal."""
    if not master and t.group.tty is not tty:
        raise SyscallError(Errno.ENOTTY)


def _getpgrp(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    _ctty_check(t, tty, master)
    k.uspace.write_u32(arg, tty.pgrp)
    return 0


def _getsid(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    _ctty_check(t, tty, master)
    if not tty.session:
        raise SyscallError(Errno.ENOTTY)
    k.uspace.write_u32(arg, tty.session)
    return 0


def _setpgrp(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    """tcsetpgrp: only on the caller's own terminal, to a group of its session
    (from the background: SIGTTOU first, as for a write with TOSTOP)."""
    try:
        job_control(k, t, tty, Signal.SIGTTOU)
    except SyscallError as err:
        raise SyscallError(Errno.ENOTTY if err.errno == Errno.EIO else err.errno) from None
    if t.group.tty is not tty or tty.session != t.group.sid:
        raise SyscallError(Errno.ENOTTY)
    pgrp = k.uspace.read_u32(arg)
    if pgrp & 0x80000000:
        raise SyscallError(Errno.EINVAL)
    members = [g for g in live_groups(k) if g.pgid == pgrp]
    if not members:
        raise SyscallError(Errno.ESRCH)
    if members[0].sid != tty.session:
        raise SyscallError(Errno.EPERM)
    tty.pgrp = pgrp
    return 0


def _sctty(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    set_ctty(k, t, tty, steal=arg == 1, readable=f.readable)
    return 0


def _notty(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    if t.group.tty is not tty:
        raise SyscallError(Errno.ENOTTY)
    disassociate(k, t.group, on_exit=False)
    return 0


def _nonblocking(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    on = k.uspace.read_u32(arg)
    f.flags = f.flags | F.O_NONBLOCK if on else f.flags & ~F.O_NONBLOCK
    return 0


def _nothing(k: Kernel, t: Task, f: OpenFile, tty: Tty, master: bool, arg: int) -> int:
    """tcdrain, tcsendbreak: output is never held back, and a pty has no line to break."""
    return 0


_TTY_IOCTLS: dict[int, TtyIoctl] = {
    F.TCGETS: _tcgets,
    F.TCSETS: _tcsets(flush=False),
    F.TCSETSW: _tcsets(flush=False),
    F.TCSETSF: _tcsets(flush=True),
    F.TIOCGWINSZ: _getwinsz,
    F.TIOCSWINSZ: _setwinsz,
    F.TIOCGPGRP: _getpgrp,
    F.TIOCSPGRP: _setpgrp,
    F.TIOCGSID: _getsid,
    F.TIOCSCTTY: _sctty,
    F.TIOCNOTTY: _notty,
    F.FIONBIO: _nonblocking,
    F.TCSBRK: _nothing,
    F.TCSBRKP: _nothing,
}
