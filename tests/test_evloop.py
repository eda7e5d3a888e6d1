"""Event loops (issue 16): epoll, eventfd, timerfd, signalfd, POSIX timers,
inotify, and the accounting calls, each a guest program run natively and
under nommu (both memory models) with the same output."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers import Outcome, outcome_of

Differential = Callable[..., object]
PROGRAMS = ["epoll", "evfds", "ptimers", "inotify", "rusage", "memfd"]


def _passed(result: object) -> None:
    assert outcome_of(result) == Outcome("exit", 0)
    assert b": no\n" not in result.stdout  # type: ignore[attr-defined]


@pytest.mark.parametrize("program", PROGRAMS)
def test_event_program_matches_linux(differential: Differential, program: str) -> None:
    _passed(differential([f"/{program}"]))


@pytest.mark.parametrize("program", ["evfds", "ptimers", "rusage"])
def test_timers_run_on_the_virtual_clock(differential: Differential, program: str) -> None:
    """--deterministic: timerfd and POSIX timers expire on the virtual clock
    (sleeping costs no real time), CPU time is counted on it, and all still
    behave as Linux's."""
    _passed(differential([f"/{program}"], deterministic=True))
