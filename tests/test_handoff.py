"""Task switches inside the syscall hook (Scheduler.handoff).

A syscall that blocks hands the CPU to the next runnable task without
returning from Unicorn; these tests pin down that it happens, and that what
the run loop would have done between tasks (timers, --timeout, tracing,
signals) still happens.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import nommu_cli

from nommu import Machine
from nommu.machine.cpu import Cpu


@pytest.fixture
def cpu_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the times the run loop starts the CPU (`Cpu.run`)."""
    calls: list[int] = []
    real = Cpu.run

    def counted(self: Cpu, pc: int, preempt_at: float, force_at: float) -> object:
        calls.append(pc)
        return real(self, pc, preempt_at, force_at)

    monkeypatch.setattr(Cpu, "run", counted)
    yield calls


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["/futex_pingpong", "500"], b"futex_pingpong: 500 round trips ok\n"),
        (["/pingpong", "500"], b"pingpong: 500 round trips ok\n"),
        (["/pingpong", "500", "--", "/pingpong"], b"pingpong: 500 round trips ok\n"),
    ],
    ids=["futex-threads", "pipe-clone", "pipe-spawn"],
)
def test_blocking_hands_the_cpu_over_in_place(
    guest_root: Path, cpu_runs: list[int], argv: list[str], expect: bytes
) -> None:
    """500 round trips are 1000+ switches; with handoffs the CPU is started
    only a handful of times (start, thread creation, exec, exit)."""
    result = Machine(root=guest_root, hints=False).run(argv, capture=True)
    assert result.stdout == expect and result.exit_code == 0, result
    assert len(cpu_runs) < 40, f"the CPU was started {len(cpu_runs)} times"


def test_tracing_takes_the_run_loop(guest_root: Path, cpu_runs: list[int]) -> None:
    """Under --strace every switch goes through the run loop (the trace's
    order of lines is the run loop's order), and the result is the same."""
    trace = io.StringIO()
    result = Machine(root=guest_root, hints=False, strace=trace).run(
        ["/futex_pingpong", "50"], capture=True
    )
    assert result.stdout == b"futex_pingpong: 50 round trips ok\n", result
    assert len(cpu_runs) >= 100
    assert trace.getvalue().count("futex(") >= 200


def test_timeout_stops_tasks_that_only_hand_over(guest_root: Path) -> None:
    """Two threads that do nothing but wake each other never return to the
    run loop by themselves: the --timeout watchdog (a kernel timer) must still
    fire, from the handoff."""
    start = time.monotonic()
    proc = nommu_cli(
        "run", "--timeout", "1", "--root", str(guest_root), "/futex_pingpong", "100000000",
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 124, proc.stderr
    assert "timeout after 1 s" in proc.stderr
    assert time.monotonic() - start < 30


def test_alarm_reaches_tasks_that_only_hand_over(differential: Callable[..., object]) -> None:
    """alarm(1) while two threads wake each other forever: the timer fires
    and SIGALRM is delivered (its handler ends the game), as natively."""
    result = differential(["/futex_pingpong", "--alarm"])
    assert result.stdout == b"futex_pingpong: stopped by SIGALRM\n"  # type: ignore[attr-defined]


def test_pause_when_the_timer_is_already_due(differential: Callable[..., object]) -> None:
    """The process goes to sleep in pause() just as its timer comes due: the
    handoff finds the timer due, and the woken task (the same one, with
    SIGALRM pending) must go back to the run loop to take the signal, not be
    handed the CPU again to re-run pause (which spun forever)."""
    result = differential(["/alarm_spin", "30"])
    assert result.stdout == b"alarm_spin: 30 pauses, each ended by SIGALRM\n"  # type: ignore[attr-defined]


def test_woken_thread_runs_while_its_waker_spins(differential: Callable[..., object]) -> None:
    """A thread woken (FUTEX_WAKE, a signal, pthread_cancel) while another
    runs alone gets the CPU within a slice, though the waker then spins
    without a syscall: the wakeup ends the waker's unbounded slice."""
    result = differential(["/wake_spin"])
    assert result.stdout.count(b": yes\n") == 3  # type: ignore[attr-defined]
