"""The terminal: termios and window-size ioctls on nommu's own terminal.

When nommu's stdin/stdout is a terminal the guest sees that terminal: TCGETS
reads the host's settings in the guest's `struct termios` layout, TCSETS
changes them, TIOCGWINSZ reports the window size. The kernel's struct
termios on i386 is four 32-bit flag words, the line discipline byte and 19
control characters (36 bytes).
"""

from __future__ import annotations

import fcntl
import struct
import termios
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
        k.uspace.write_u32(arg, t.group.pgid)
        return 0
    if req == F.TIOCSPGRP:
        k.uspace.read_u32(arg)
        return 0
    raise SyscallError(Errno.EINVAL)
