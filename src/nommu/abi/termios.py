"""The guest's terminal ABI: `struct termios` and its flag bits (asm-generic/termbits.h).

The kernel's i386 `struct termios` is four 32-bit flag words, the line
discipline number and NCCS = 19 control characters: 36 bytes. (musl's own
struct is longer, but its tcgetattr passes it straight to TCGETS, which
fills only these first 36 bytes.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TERMIOS = struct.Struct("<IIIIB19s")
NCCS = 19

# c_cc indices
VINTR, VQUIT, VERASE, VKILL, VEOF, VTIME, VMIN, VSWTC = 0, 1, 2, 3, 4, 5, 6, 7
VSTART, VSTOP, VSUSP, VEOL, VREPRINT, VDISCARD, VWERASE, VLNEXT, VEOL2 = range(8, 17)

# c_iflag
IGNBRK, BRKINT, IGNPAR, PARMRK, INPCK, ISTRIP = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
INLCR, IGNCR, ICRNL, IUCLC, IXON, IXANY, IXOFF = 0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000
IMAXBEL, IUTF8 = 0x2000, 0x4000

# c_oflag
OPOST, OLCUC, ONLCR, OCRNL, ONOCR, ONLRET = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
TABDLY, XTABS = 0x1800, 0x1800  # XTABS (TAB3): tabs go out as spaces

# c_cflag
B38400, CSIZE, CS8, CREAD, HUPCL = 0xF, 0x30, 0x30, 0x80, 0x400

# c_lflag
ISIG, ICANON, ECHO, ECHOE, ECHOK, ECHONL = 0x1, 0x2, 0x8, 0x10, 0x20, 0x40
NOFLSH, TOSTOP, ECHOCTL, ECHOPRT, ECHOKE, IEXTEN = 0x80, 0x100, 0x200, 0x400, 0x800, 0x8000

# The control characters of a new terminal (INIT_C_CC): ^C ^\ DEL ^U ^D, TIME 0,
# MIN 1, then ^Q ^S ^Z, EOL none, ^R ^O ^W ^V.
INIT_CC = bytes(
    [0x03, 0x1C, 0x7F, 0x15, 0x04, 0, 1, 0, 0x11, 0x13, 0x1A, 0, 0x12, 0x0F, 0x17, 0x16, 0, 0, 0]
)


@dataclass(slots=True)
class Termios:
    """One terminal's settings, as TCGETS/TCSETS move them."""

    iflag: int = ICRNL | IXON
    oflag: int = OPOST | ONLCR
    cflag: int = B38400 | CS8 | CREAD
    lflag: int = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
    line: int = 0
    cc: bytes = INIT_CC

    def pack(self) -> bytes:
        return TERMIOS.pack(self.iflag, self.oflag, self.cflag, self.lflag, self.line, self.cc)

    @classmethod
    def unpack(cls, raw: bytes) -> Termios:
        iflag, oflag, cflag, lflag, line, cc = TERMIOS.unpack(raw)
        return cls(iflag, oflag, cflag, lflag, line, cc)
