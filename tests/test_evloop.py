"""Event loops (issue 16): epoll, eventfd, timerfd, signalfd, POSIX timers,
inotify, and the accounting calls, each a guest program run natively and
under nommu (both memory models) with the same output."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers import Outcome, outcome_of

Differential = Callable[..., object]


@pytest.mark.parametrize("program", ["epoll"])
def test_event_program_matches_linux(differential: Differential, program: str) -> None:
    result = differential([f"/{program}"])
    assert outcome_of(result) == Outcome("exit", 0)
    assert b": no\n" not in result.stdout  # type: ignore[attr-defined]
