"""poll/ppoll/select/pselect on pipes and files with timeouts: same as Linux."""

from __future__ import annotations

from collections.abc import Callable

from helpers import Outcome, outcome_of

Differential = Callable[..., object]


def test_poll_and_select(differential: Differential) -> None:
    result = differential(["/pollsel", "./hello"])
    assert outcome_of(result) == Outcome("exit", 0)
    out = result.stdout.decode()  # type: ignore[attr-defined]
    assert ": no\n" not in out
    assert "poll wakes when a child writes: yes" in out
