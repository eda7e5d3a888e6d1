"""Pseudo-terminals (issue 16): /dev/ptmx and /dev/pts, the line discipline,
job control on the slave, and the --strace decoding of the terminal ioctls.

The differential tests run guest/src/pty.c natively (on the host's ptys)
and under nommu, both modes: the program prints what the master reads only
once the text it waits for has come, so the outputs compare byte for byte.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from nommu import Machine
from nommu.abi import termios as T
from nommu.abi.signals import Signal
from nommu.api import RunResult
from nommu.kernel.ldisc import LineDiscipline, Wait

Differential = Callable[..., RunResult]


def out_of(differential: Differential, mode: str) -> str:
    return differential(["./pty", mode]).stdout.decode()


def test_posix_openpt_unlockpt_ptsname(differential: Differential) -> None:
    """The slave is EIO until unlockpt; isatty/ttyname on both ends; the
    slave's default termios; the master reads EIO once the slave closed."""
    out = out_of(differential, "basics")
    assert "open slave while locked: EIO (I/O error)\n" in out
    assert "ttyname(slave) is ptsname: yes\n" in out
    assert "ttyname(master): /dev/ptmx\n" in out
    assert "iflag 02400 oflag 05 cflag 0277 lflag 0105073\n" in out
    assert "master read after the slave closed: -1 EIO\n" in out
    assert "master poll: POLLIN 0 POLLOUT 1 POLLHUP 1\n" in out


def test_cooked_lines_echo_and_erase(differential: Differential) -> None:
    """Canonical mode: a line is read whole, erase/kill/word-erase edit it
    and echo as backspace-space-backspace, ^D ends input, ^X echoes;
    tcflush empties either side's input."""
    out = out_of(differential, "cooked")
    assert 'slave read "ac\\n"\nmaster read "ab\\b \\bc\\r\\n"\n' in out
    assert 'slave read "one three\\n"\n' in out
    assert 'master read "q^A\\b \\b\\b \\b^Bz\\r\\n"\n' in out
    assert 'slave read "abc"\nmaster read "abc"\nslave read ""\n' in out
    assert 'master read "line1\\r\\nline2\\r\\n"\n' in out
    assert "slave FIONREAD after the flush: 0\nt" in out
    assert "master FIONREAD after the flush: 0\n" in out


def test_raw_mode_and_vmin_vtime(differential: Differential) -> None:
    out = out_of(differential, "raw")
    assert 'slave read "a\\rb<03><7f>"\nmaster has echo: 0\n' in out
    assert "VMIN 0 VTIME 2, nothing typed: 0\n" in out
    assert "VMIN 5 VTIME 1, two typed: 2\n" in out
    assert "non-blocking read of nothing: -1 EAGAIN\n" in out


def test_isig_and_window_size_signal_the_foreground(differential: Differential) -> None:
    """^C, ^\\ and ^Z typed on the master, and TIOCSWINSZ, signal the child
    session's foreground group; ^C kills it under the default action."""
    out = out_of(differential, "signals")
    for sig in ("SIGINT", "SIGQUIT", "SIGTSTP", "SIGWINCH"):
        assert f'master read "got {sig}\\r\\nready\\r\\n"\n' in out
    assert 'master read "size 24 x 80\\r\\n"\n' in out
    assert "child: killed by SIGINT\n" in out


def test_master_close_hangs_up_the_slave(differential: Differential) -> None:
    out = out_of(differential, "hangup")
    assert "read: -1 EIO\nSIGHUP: 1 SIGCONT: 1\nread again: 0\nwrite: -1 EIO\n" in out
    assert "controlling terminal: none\n" in out
    assert "poll: IN 1 OUT 1 ERR 1 HUP 1\n" in out


def test_job_control_on_the_slave(differential: Differential) -> None:
    """Background reads stop with SIGTTIN (EIO when ignored), background
    writes with TOSTOP stop with SIGTTOU, tcsetpgrp moves the foreground,
    and waitpid(WUNTRACED) reports the stops; a stopped group orphaned by
    its session leader's exit gets SIGHUP (and so closes the slave)."""
    out = out_of(differential, "jobs")
    assert "background reader: stopped by SIGTTIN" in out
    assert "read data\\r\\nreader: exited 0" in out
    assert "foreground reader: stopped by SIGTSTP" in out  # ^Z typed on the master
    assert "background read: EIO\\r\\n" in out
    assert "background writer with TOSTOP: stopped by SIGTTOU" in out
    assert "background writer ignoring SIGTTOU: exited 0" in out
    assert "the stopped reader ends with its leader: master read: EIO\n" in out


def test_a_shell_on_the_slave(differential: Differential) -> None:
    """The bundled shell, started on the slave with setsid + TIOCSCTTY,
    runs commands typed on the master; ^C interrupts cat; ^D ends it."""
    out = out_of(differential, "shell")
    assert 'master read "echo hello\\r\\nhello\\r\\n$ "\n' in out
    assert 'master read "echo $((6 * 7)) > /dev/tty\\r\\n42\\r\\n$ "\n' in out
    assert 'master read "^C\\r\\n$ "\n' in out
    assert "isatty(0)=yes" in out
    assert "then the master reads -1 EIO\nshell: exited 0\n" in out


def test_strace_decodes_pty_ioctls(guest_root: Path) -> None:
    trace = io.StringIO()
    Machine(root=guest_root, hints=False, strace=trace).run(["/pty", "basics"], capture=True)
    text = trace.getvalue()
    assert ", TIOCGPTN, [0]) = 0\n" in text
    assert ", TIOCSPTLCK, [0]) = 0\n" in text
    assert ", TCGETS, {c_iflag=ICRNL|IXON, c_oflag=OPOST|ONLCR, c_cflag=0xbf, " in text
    assert ", TIOCGPGRP, 0x" in text  # (failed: the pointer as it was)


# -- the line discipline alone ------------------------------------------------------


def discipline() -> tuple[LineDiscipline, bytearray, list[int]]:
    echoed, signals = bytearray(), []
    return LineDiscipline(echoed.extend, signals.append), echoed, signals


def test_erase_without_echoe_echoes_the_erase_character() -> None:
    ld, echoed, _ = discipline()
    ld.termios.lflag &= ~T.ECHOE
    ld.receive(b"ab\x7f\n", 0.0)
    assert ld.read(100, 0.0, None) == b"a\n"
    assert echoed == b"ab^?\r\n"


def test_signal_character_flushes_unless_noflsh() -> None:
    ld, echoed, signals = discipline()
    ld.receive(b"partial\x03", 0.0)
    assert signals == [Signal.SIGINT] and not ld.edit and echoed.endswith(b"^C")
    ld.termios.lflag |= T.NOFLSH
    ld.receive(b"kept\x1c", 0.0)
    assert signals[-1] == Signal.SIGQUIT and ld.edit == b"kept"


def test_ixon_stops_and_restarts_output() -> None:
    ld, _, _ = discipline()
    ld.receive(b"\x13", 0.0)
    assert ld.stopped and not ld.edit
    ld.receive(b"\x11", 0.0)
    assert not ld.stopped


def test_leaving_canonical_mode_makes_the_typed_line_readable() -> None:
    ld, _, _ = discipline()
    ld.receive(b"one\ntw", 0.0)
    ld.set_termios(T.Termios(lflag=0, cc=T.INIT_CC))
    assert ld.read(100, 0.0, None) == b"one\ntw"
    assert ld.read(100, 0.0, None) == Wait()


def test_controlling_terminal(differential: Differential) -> None:
    """A session leader opening the slave without O_NOCTTY takes it; /dev/tty
    opens it; TIOCNOTTY gives it up, TIOCSCTTY takes it back; another
    session cannot take it (EPERM); the leader's exit sends SIGHUP to the
    foreground group."""
    out = out_of(differential, "ctty")
    assert "opening without O_NOCTTY made it the controlling terminal: yes\n" in out
    assert "/dev/tty is a terminal: yes\n" in out
    assert "/dev/tty without a controlling terminal fails: yes\n" in out
    assert "another session's TIOCSCTTY: EPERM\n" in out
    assert "waiter got SIGHUP (foreground group of an exiting leader)\n" in out


def test_bulk_transfer_waits_for_room_both_ways(differential: Differential) -> None:
    """100000 bytes typed through a raw pty to a process (clone) on the
    slave and written back: the master's writer and the slave's writer
    each wait when the other side's queue is full; poll wakes on both."""
    out = out_of(differential, "bulk")
    assert "sent 100000, got back 100000\nthe bytes came back unchanged: yes\n" in out


def test_a_canonical_line_past_the_queue_keeps_its_end() -> None:
    """A line longer than the input queue: the excess is dropped, the newline
    still ends it (so neither side waits for the other)."""
    ld, _, _ = discipline()
    ld.termios.lflag &= ~T.ECHO
    ld.receive(b"x" * 5000 + b"\n", 0.0)
    line = ld.read(10000, 0.0, None)
    assert isinstance(line, bytes) and len(line) == 4096 and line.endswith(b"x\n")


def test_echo_details_as_linux_has_them() -> None:
    """(Checked against Linux's n_tty.) Raw mode: a NL byte echoes as ^J,
    Enter (CR, made NL by ICRNL) as a newline; canonical without ECHOCTL: a
    control character echoes as itself and its erasure echoes nothing;
    KILL without ECHOKE echoes ^U and a newline; ECHONL echoes newlines
    alone; REPRINT shows ^R and the line again."""
    ld, echoed, _ = discipline()
    ld.termios.lflag &= ~T.ICANON
    ld.receive(b"a\nb\rc\x01", 0.0)
    assert echoed == b"a^Jb\r\nc^A" and ld.read(100, 0.0, None) == b"a\nb\nc\x01"
    base = T.Termios().lflag
    for lflag, typed, echo, line in [
        (base & ~T.ECHOCTL, b"x\x7f\x01\x7fy\x15z\n", b"x\b \b\x01y\b \bz\r\n", b"z\n"),
        (base & ~T.ECHOKE, b"kill\x15me\n", b"kill^U\r\nme\r\n", b"me\n"),
        (base & ~T.ECHO | T.ECHONL, b"quiet\n", b"\r\n", b"quiet\n"),
        (base, b"ab\x12c\n", b"ab^R\r\nabc\r\n", b"abc\n"),
    ]:
        ld.termios.lflag = lflag
        echoed.clear()
        ld.receive(typed, 0.0)
        assert (bytes(echoed), ld.read(100, 0.0, None)) == (echo, line)


def test_erasing_tabs_lnext_and_empty_lines_as_linux_has_them() -> None:
    """(The echoes are Linux's, recorded on a host pty.) A tab erases back to
    where it began, counting the prompt the program wrote before the line;
    ^V makes ^C an ordinary character; KILL on an empty line echoes nothing."""
    for prompt, typed, echo, line in [
        (b"$ ", b"ab\tc\x7f\x7f\x7f\n", b"ab\tc\b \b\b\b\b\b\b \b\r\n", b"a\n"),
        (b"abc\n12345", b"\x01\t\x7f\x7f\n", b"^A\t\b\b \b\b \b\r\n", b"\n"),
        (b"", b"word\t\x17\x17\n", b"word\t" + b"\b" * 4 + b"\b \b" * 4 + b"\r\n", b"\n"),
        (b"", b"a\x16\x03b\n", b"a^\b^Cb\r\n", b"a\x03b\n"),
        (b"", b"A\x15\x15B\n", b"A\b \bB\r\n", b"B\n"),
    ]:
        ld, echoed, signals = discipline()
        ld.output(prompt)
        ld.receive(typed, 0.0)
        assert (bytes(echoed), ld.read(100, 0.0, None), signals) == (echo, line, [])


def test_xtabs_expands_tabs_on_output_and_echo() -> None:
    """(Linux's output, recorded on a host pty.) busybox telnetd sets XTABS."""
    ld, echoed, _ = discipline()
    ld.termios.oflag |= T.XTABS
    assert ld.output(b"ab\tc\n\td\x08\te\r\tf") == b"ab      c\r\n        d\x08        e\r        f"
    ld.receive(b"x\ty\n", 0.0)  # (typed after "f", at column 9)
    assert echoed == b"x      y\r\n"


def test_packet_mode(differential: Differential) -> None:
    """TIOCPKT: data comes after a 0 byte; ^S/^Q and tcflow on the slave
    (STOP 4, START 8) and tcflush (FLUSHREAD|FLUSHWRITE 3) come alone, with
    POLLPRI."""
    out = out_of(differential, "packet")
    assert 'poll: 1, POLLPRI 0; packet "<00>hi"\n' in out
    assert 'poll: 1, POLLPRI 1; packet "<04>"\npoll: 1, POLLPRI 1; packet "\\b"\n' in out
    assert 'poll: 1, POLLPRI 1; packet "<03>"\n' in out
