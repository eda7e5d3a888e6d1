"""The line discipline (Linux's n_tty): what a terminal does to the bytes.

Between the device (the pty master, a serial line) and the processes
reading and writing the terminal sits the line discipline. It owns:

* input processing, as bytes arrive from the device (`receive`):
  ISTRIP, IGNCR/ICRNL/INLCR; with IXON, ^S/^Q stop and restart output;
  with ISIG, ^C/^\\/^Z raise SIGINT/SIGQUIT/SIGTSTP in the foreground
  process group (and flush the queues unless NOFLSH); with ICANON, line
  editing: ERASE, KILL, WERASE and REPRINT edit the line being typed,
  LNEXT (^V) makes the next character an ordinary one, and a line becomes
  readable only when it ends (newline, EOL, EOL2 or EOF, which itself is
  not passed on);
* echo (ECHO, ECHOE, ECHOK, ECHOKE, ECHONL, ECHOCTL): what is typed goes
  back out, control characters as ^X, erasures as backspace-space-backspace
  (a tab as the backspaces back to where it started: the discipline
  follows the cursor's column through all output for that);
* reading (`read`): a whole line at most in canonical mode; otherwise by the
  VMIN/VTIME rules (see `Wait`);
* output processing of what programs write (`output`): with OPOST, ONLCR
  turns "\\n" into "\\r\\n", OCRNL "\\r" into "\\n", and XTABS tabs into
  spaces.

The discipline is pure bookkeeping: it never sleeps and knows no process.
What it produces goes to two callbacks its terminal gives it: `emit`
(bytes for the device: echoes) and `isig` (a signal for the foreground
process group).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nommu.abi import termios as T
from nommu.abi.signals import Signal

N_TTY_BUF_SIZE = 4096  # the input queue's size; a canonical line holds one less


@dataclass(frozen=True, slots=True)
class Wait:
    """A read finds too little: wait for more input, until `deadline` (on the
    clock `read` is given) if it is set."""

    deadline: float | None = None


class LineDiscipline:
    """One terminal's input queue, editing state and settings (see the module doc)."""

    def __init__(self, emit: Callable[[bytes], None], isig: Callable[[int], None]) -> None:
        self.termios = T.Termios()
        self.emit = emit  # echoes, to the device
        self.isig = isig  # a signal for the foreground process group
        self.lines: deque[bytes] = deque()  # finished lines (canonical) or none
        self.edit = bytearray()  # the line being typed, or (raw) all pending input
        self.stopped = False  # output stopped by ^S (IXON)
        self.last_rx = 0.0  # when the last byte arrived (the clock `receive` is given)
        self.lnext = False  # ^V came: the next character is taken literally
        self.column = 0  # the cursor's column, as output moved it
        self.canon_column = 0  # ... where the line being typed started

    # -- settings --------------------------------------------------------------

    def lflag(self, bit: int) -> bool:
        return bool(self.termios.lflag & bit)

    def cc(self, index: int) -> int:
        return self.termios.cc[index]

    def set_termios(self, new: T.Termios) -> None:
        """TCSETS: leaving canonical mode makes every pending byte readable;
        entering it puts them back into the line being typed."""
        was_canon = self.lflag(T.ICANON)
        self.termios = new
        if was_canon and not self.lflag(T.ICANON):
            self.edit[0:0] = b"".join(self.lines)
            self.lines.clear()
        if not self.termios.iflag & T.IXON:
            self.stopped = False

    # -- input -----------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> None:
        """Bytes typed on the device (written to the pty master)."""
        for c in data:
            self._receive_char(c)
        if data:
            self.last_rx = now

    def room(self) -> int:
        """How many more bytes the input queue takes before the device must wait."""
        return N_TTY_BUF_SIZE - len(self.edit) - sum(len(x) for x in self.lines)

    def _receive_char(self, c: int) -> None:
        t = self.termios
        if t.iflag & T.ISTRIP:
            c &= 0x7F
        if self.lnext:
            self.lnext = False
            self._ordinary(c, newline_typed=False)
            return
        typed = c
        if c == 0x0D:
            if t.iflag & T.IGNCR:
                return
            if t.iflag & T.ICRNL:
                c = 0x0A
        elif c == 0x0A and t.iflag & T.INLCR:
            c = 0x0D
        if c and t.iflag & T.IXON and c in (self.cc(T.VSTART), self.cc(T.VSTOP)):
            self.stopped = c == self.cc(T.VSTOP)
            return
        if self.lflag(T.ISIG) and c and self._signal_char(c):
            return
        if self.lflag(T.ICANON) and c and self._canon_special(c):
            return
        self._ordinary(c, newline_typed=typed == 0x0D)

    def _signal_char(self, c: int) -> bool:
        """^C, ^\\, ^Z: the signal, then the queues flushed and the char echoed."""
        sig = {
            self.cc(T.VINTR): Signal.SIGINT,
            self.cc(T.VQUIT): Signal.SIGQUIT,
            self.cc(T.VSUSP): Signal.SIGTSTP,
        }.get(c)
        if sig is None:
            return False
        self.isig(sig)
        if not self.lflag(T.NOFLSH):
            self.flush_input()
        self.stopped = False
        if self.lflag(T.ECHO):
            self._echo_char(c)
        return True

    def _canon_special(self, c: int) -> bool:
        """The editing and line-ending characters of canonical mode."""
        if c in (self.cc(T.VERASE), self.cc(T.VKILL)) or (
            self.lflag(T.IEXTEN) and c == self.cc(T.VWERASE)
        ):
            self._erase(c)
            return True
        if self.lflag(T.IEXTEN) and c == self.cc(T.VLNEXT):
            self.lnext = True
            if self.lflag(T.ECHO) and self.lflag(T.ECHOCTL):
                self._emit_raw(b"^\b")  # (the next character's echo covers it)
            return True
        if self.lflag(T.IEXTEN) and c == self.cc(T.VREPRINT) and self.lflag(T.ECHO):
            self._echo_char(c)
            self._echo_raw(0x0A)
            for typed in self.edit:
                self._echo_char(typed)
            return True
        if c == 0x0A:
            if self.lflag(T.ECHO) or self.lflag(T.ECHONL):
                self._echo_raw(c)
            self._end_line(b"\n")
            return True
        if c == self.cc(T.VEOF):
            self._end_line(b"")  # (EOF itself is not passed on)
            return True
        if c in (self.cc(T.VEOL), self.cc(T.VEOL2) if self.lflag(T.IEXTEN) else -1):
            if self.lflag(T.ECHO):
                self._echo_char(c)
            self._end_line(bytes([c]))
            return True
        return False

    def _ordinary(self, c: int, newline_typed: bool) -> None:
        """Any other byte joins the input. Echoed, a newline the Enter key
        made (CR turned into NL by ICRNL) is a newline; a NL byte itself,
        in raw mode, shows as ^J under ECHOCTL, as Linux has it."""
        canon = self.lflag(T.ICANON)
        if canon and len(self.edit) >= N_TTY_BUF_SIZE - 1:
            return  # a full line takes nothing but its end
        if self.lflag(T.ECHO):
            if not self.edit:
                self.canon_column = self.column
            if c == 0x0A and newline_typed:
                self._echo_raw(c)
            else:
                self._echo_char(c)
        self.edit.append(c)

    def _end_line(self, end: bytes) -> None:
        self.lines.append(bytes(self.edit) + end)
        self.edit.clear()

    def _erase(self, c: int) -> None:
        """ERASE takes back one character, WERASE a word, KILL the whole line
        (on an empty line, nothing happens and nothing is echoed)."""
        if not self.edit:
            return
        echo = self.lflag(T.ECHO)
        if c == self.cc(T.VKILL) and not (
            self.lflag(T.ECHOK) and self.lflag(T.ECHOKE) and self.lflag(T.ECHOE)
        ):
            self.edit.clear()
            if echo:
                self._echo_char(c)
                if self.lflag(T.ECHOK):
                    self._echo_raw(0x0A)
            return
        seen_word = False
        while self.edit:
            prev = self.edit[-1]
            if c == self.cc(T.VWERASE) and c != self.cc(T.VERASE):
                if chr(prev).isalnum() or prev == ord("_"):
                    seen_word = True
                elif seen_word:
                    break
            del self.edit[-1]
            if echo:
                self._echo_erase(c, prev)
            if c == self.cc(T.VERASE):
                break

    def _echo_erase(self, c: int, prev: int) -> None:
        if c == self.cc(T.VERASE) and not self.lflag(T.ECHOE):
            self._echo_char(c)
        elif prev == 0x09:
            self._emit_raw(b"\b" * self._tab_width())
        else:
            if _control(prev) and self.lflag(T.ECHOCTL):
                self._emit_raw(b"\b \b")  # (a control character was echoed as two: ^X)
            if not _control(prev) or self.lflag(T.ECHOCTL):
                self._emit_raw(b"\b \b")

    def _tab_width(self) -> int:
        """How many columns the tab just erased took: to the next multiple of
        8 from the columns echoed since the previous tab (or since the line
        began, at canon_column)."""
        used = 0
        for c in reversed(self.edit):
            if c == 0x09:
                break
            if not _control(c):
                used += 1
            elif self.lflag(T.ECHOCTL):
                used += 2
        else:
            used += self.canon_column
        return 8 - (used & 7)

    # -- echo ------------------------------------------------------------------

    def _echo_char(self, c: int) -> None:
        """Echo one typed character: a control character as ^X under ECHOCTL."""
        if self.lflag(T.ECHOCTL) and _control(c) and c != 0x09:
            self._emit_raw(bytes([ord("^"), c ^ 0x40]))
        else:
            self._echo_raw(c)

    def _echo_raw(self, c: int) -> None:
        self.emit(self.output(bytes([c])))

    def _emit_raw(self, data: bytes) -> None:
        """Echo bytes that need no output processing (^X, erasures)."""
        self._track(data)
        self.emit(data)

    # -- reading ---------------------------------------------------------------

    def available(self) -> int:
        """FIONREAD: how many bytes a read could take now."""
        if self.lflag(T.ICANON):
            return sum(len(x) for x in self.lines)
        return len(self.edit)

    def readable(self) -> bool:
        """Whether a read would return at once (poll's POLLIN)."""
        if self.lflag(T.ICANON):
            return bool(self.lines)
        vmin, vtime = self.cc(T.VMIN), self.cc(T.VTIME)
        return len(self.edit) >= (vmin if vmin and not vtime else 1)

    def read(self, count: int, now: float, deadline: float | None) -> bytes | Wait:
        """Take input for a read of `count` bytes, or say how long to wait.

        Canonical: one line (or its first `count` bytes). Otherwise VMIN and
        VTIME decide: MIN bytes (or `count`, if fewer), waiting as long as it
        takes (TIME 0); whatever came within TIME tenths of a second of the
        read's start (MIN 0); or, once a first byte came, MIN bytes or what
        came until TIME passed without another byte. `deadline` is the one
        the last Wait gave (None on the first try)."""
        if self.lflag(T.ICANON):
            return self._read_line(count) if self.lines else Wait()
        vmin, vtime = self.cc(T.VMIN), self.cc(T.VTIME) / 10
        if len(self.edit) >= max(min(vmin, count), 1) or (vmin == 0 and vtime == 0):
            return self._take(count)
        if vtime == 0:
            return Wait()
        if vmin == 0:  # a timer from the start of the read
            deadline = deadline if deadline is not None else now + vtime
            return self._take(count) if now >= deadline else Wait(deadline)
        if not self.edit:
            return Wait()  # (the inter-byte timer starts with the first byte)
        deadline = self.last_rx + vtime
        return self._take(count) if now >= deadline else Wait(deadline)

    def _read_line(self, count: int) -> bytes:
        line = self.lines.popleft()
        if len(line) > count:
            self.lines.appendleft(line[count:])
            line = line[:count]
        return line

    def _take(self, count: int) -> bytes:
        data = bytes(self.edit[:count])
        del self.edit[:count]
        return data

    def flush_input(self) -> None:
        self.lines.clear()
        self.edit.clear()

    # -- output ----------------------------------------------------------------

    def output(self, data: bytes) -> bytes:
        """What a program's write puts on the device (OPOST processing)."""
        o = self.termios.oflag
        if not o & T.OPOST:
            return data
        if o & T.ONLCR:
            data = data.replace(b"\n", b"\r\n") if b"\n" in data else data
        if o & T.OCRNL and not o & T.ONLCR:
            data = data.replace(b"\r", b"\n")
        elif o & T.OCRNL:
            data = b"\r\n".join(part.replace(b"\r", b"\n") for part in data.split(b"\r\n"))
        if o & T.TABDLY == T.XTABS and b"\t" in data:
            data = self._expand_tabs(data)
        self._track(data)
        return data

    def _expand_tabs(self, data: bytes) -> bytes:
        """XTABS: each tab as the spaces to the next multiple of 8."""
        out = bytearray()
        start = self.column
        for piece in data.split(b"\t")[:-1]:
            self._track(piece)
            out += piece + b" " * (8 - (self.column & 7))
            self.column = (self.column | 7) + 1
        self.column = start  # (the caller follows the column through all of it)
        return bytes(out) + data.rsplit(b"\t", 1)[1]

    def _track(self, data: bytes) -> None:
        """Follow the cursor's column through bytes sent to the device:
        carriage return to 0, a tab to the next multiple of 8, a backspace
        one back, a printable character one on; a line end also marks where
        the next line starts (canon_column)."""
        cr = data.rfind(b"\r")
        if cr >= 0:  # (only what follows the last carriage return matters)
            self.column = self.canon_column = 0
            data = data[cr + 1 :]
        column = self.column
        for c in data:
            if c == 0x0A:
                self.canon_column = column
            elif c == 0x09:
                column = (column | 7) + 1
            elif c == 0x08:
                column = max(column - 1, 0)
            elif not _control(c):
                column += 1
        self.column = column


def _control(c: int) -> bool:
    """iscntrl() of the kernel's ctype: C0, DEL and C1."""
    return c < 0x20 or 0x7F <= c < 0xA0
