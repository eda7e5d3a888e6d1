"""Event loops (issue 16): epoll, eventfd, timerfd, signalfd, POSIX timers,
inotify, and the accounting calls, each a guest program run natively and
under nommu (both memory models) with the same output."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import Outcome, outcome_of

from nommu import Machine
from nommu.kernel.kernel import Kernel, KernelConfig
from nommu.kernel.task import TaskState

Differential = Callable[..., object]
PROGRAMS = ["epoll", "evfds", "ptimers", "inotify", "rusage", "memfd"]


def _passed(result: object) -> None:
    assert outcome_of(result) == Outcome("exit", 0)
    assert b": no\n" not in result.stdout  # type: ignore[attr-defined]


@pytest.mark.parametrize("program", PROGRAMS)
def test_event_program_matches_linux(differential: Differential, program: str) -> None:
    _passed(differential([f"/{program}"]))


@pytest.mark.parametrize("program", ["evfds", "ptimers"])
def test_timers_run_on_the_virtual_clock(differential: Differential, program: str) -> None:
    """--deterministic: timerfd and POSIX timers expire on the virtual clock
    (sleeping costs no real time) and still behave as Linux's."""
    _passed(differential([f"/{program}"], deterministic=True))


def test_cpu_time_is_counted_on_the_virtual_clock(run_nommu: Callable[..., object]) -> None:
    """--deterministic: CPU time is counted on the virtual clock, which moves
    as the guest reads it, so a child spinning until it has used 60 ms of
    CPU time ends, and its time reaches its parent at wait. (i386 only: the
    spin is 60000 clock readings.)"""
    _passed(run_nommu(["/rusage"], deterministic=True))


def test_strace_decodes_the_event_calls(guest_root: Path) -> None:
    """--strace names the flags and shows struct epoll_event (in and out),
    struct itimerspec and struct sigevent."""
    trace = io.StringIO()
    for program in ("epoll", "evfds", "ptimers", "memfd"):
        Machine(root=guest_root, hints=False, strace=trace).run([f"/{program}"], capture=True)
    text = trace.getvalue()
    assert "epoll_create1(O_CLOEXEC) = 3\n" in text
    assert "EPOLL_CTL_ADD, 6, {events=EPOLLIN|EPOLLET, data=0x2}) = 0\n" in text
    assert "[{events=EPOLLIN, data=0x7}], 4, 5000, NULL, 8) = 1\n" in text
    assert "eventfd2(3, EFD_CLOEXEC|EFD_NONBLOCK) = 3\n" in text
    assert "it_value={tv_sec=0, tv_nsec=200000000}}" in text
    assert "sigev_signo=SIGUSR1, sigev_notify=SIGEV_SIGNAL}" in text
    assert "sigev_notify=SIGEV_THREAD_ID, sigev_notify_thread_id=" in text
    assert 'memfd_create("test", MFD_CLOEXEC|MFD_ALLOW_SEALING) = 3\n' in text


def test_a_timer_due_while_idle_is_no_deadlock(tmp_path: Path) -> None:
    """The scheduler finds nothing to run and goes idle; a timer that comes due
    just then wakes a task. That task runs: it is no deadlock (this raced
    with short timers, e.g. a timerfd or POSIX timer, under load)."""
    k = Kernel(KernelConfig(mem=4 << 20, root=str(tmp_path)))
    woken = SimpleNamespace(state=TaskState.RUNNABLE)
    k.sched.add_timer(k.sched.clock(), lambda: k.sched.runqueue.append(woken))  # type: ignore[arg-type]
    k.sched._idle()
    assert k.sched.runqueue[0] is woken


def _epoll_on_stdin(argv: list[str], cwd: Path) -> str:
    """Run `argv` with a pipe on its stdin, write a line once it is waiting
    (the pipe stays open: no hang-up), and return its output."""
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    time.sleep(0.5)
    proc.stdin.write(b"hello\n")
    proc.stdin.flush()
    out = proc.stdout.read()
    proc.stdin.close()
    proc.wait(timeout=60)
    return out.decode()


def test_epoll_wakes_on_host_input(guest_root: Path, native_ok: None) -> None:
    """Input arriving from the host (a pipe on nommu's stdin: a host
    descriptor the scheduler watches with select) wakes epoll_wait, level
    and edge triggered, as the same program sees it natively."""
    native = _epoll_on_stdin(["./epoll", "stdin"], guest_root)
    cli = [sys.executable, "-m", "nommu", "run", "--no-hints", "--root", str(guest_root)]
    assert _epoll_on_stdin([*cli, "/epoll", "stdin"], guest_root) == native
    assert "stdin, level: 1 1:0x1\n" in native


def _with_closed_pipe(argv: list[str], cwd: Path) -> str:
    r, w = os.pipe()
    os.write(w, b"hello\n")
    os.close(w)
    try:
        out = subprocess.run(argv, cwd=cwd, stdin=r, capture_output=True, timeout=120).stdout
    finally:
        os.close(r)
    return out.decode()


def test_host_pipe_hang_up_is_reported(guest_root: Path, native_ok: None) -> None:
    """A host pipe on stdin whose writer is gone: poll and epoll see
    EPOLLHUP with the data, as on Linux (the host's own poll bits)."""
    native = _with_closed_pipe(["./epoll", "stdin"], guest_root)
    cli = [sys.executable, "-m", "nommu", "run", "--no-hints", "--root", str(guest_root)]
    assert _with_closed_pipe([*cli, "/epoll", "stdin"], guest_root) == native
    assert "stdin, level: 1 1:0x11\n" in native


def test_deterministic_runs_repeat_exactly(guest_root: Path) -> None:
    """--deterministic: timers, timerfds and epoll waits give the same trace
    every time (they run on the virtual clock)."""
    traces = []
    for _ in range(2):
        trace = io.StringIO()
        m = Machine(root=guest_root, hints=False, strace=trace, deterministic=True, seed=3)
        for program in ("ptimers", "evfds"):
            m.run([f"/{program}"], capture=True)
        traces.append(trace.getvalue())
    assert traces[0] == traces[1]
    assert "timer_settime" in traces[0]
