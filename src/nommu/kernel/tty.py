"""The terminal: termios and window-size ioctls on nommu's own terminal.

When nommu's stdin/stdout is a terminal the guest sees that terminal: TCGETS
reads the host's settings in the guest's `struct termios` layout, TCSETS
changes them, TIOCGWINSZ reports the window size. The kernel's struct
termios on i386 is four 32-bit flag words, the line discipline byte and 19
control characters (36 bytes).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import termios
from types import FrameType
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError

if TYPE_CHECKING:
    from nommu.kernel.files import OpenFile
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

TERMIOS = struct.Struct("<IIIIB19s")
NCCS = 19


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
