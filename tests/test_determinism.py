"""--deterministic: a fixed clock, seeded random bytes and syscall-counted time
slices make two runs of the same program produce identical traces."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nommu import Machine


def traced(root: Path, argv: list[str], seed: int = 0) -> tuple[str, bytes, int]:
    trace = io.StringIO()
    result = Machine(root=root, hints=False, deterministic=True, seed=seed, strace=trace).run(
        argv, capture=True
    )
    assert result.stdout is not None
    return trace.getvalue(), result.stdout, result.returncode


@pytest.mark.parametrize(
    "argv",
    [
        ["/threads"],
        ["/spawn_chain", "30", "/exitcode"],
        ["/futex_pingpong", "50"],
        ["/pingpong", "50"],
        ["/rand"],
        ["/timeio"],
    ],
)
def test_two_runs_give_identical_traces(guest_root: Path, argv: list[str]) -> None:
    first = traced(guest_root, argv)
    second = traced(guest_root, argv)
    assert first[2] == 0, first[1]
    assert first == second


def test_the_seed_decides_the_interleaving(guest_root: Path) -> None:
    traces = {traced(guest_root, ["/threads"], seed)[0] for seed in range(4)}
    assert len(traces) > 1  # different seeds, different (but each correct) schedules
    for seed in range(4):
        _trace, out, status = traced(guest_root, ["/threads"], seed)
        assert status == 0 and b"counter=400000" in out


def test_random_bytes_come_from_the_seed(guest_root: Path) -> None:
    def random_bytes(seed: int) -> str:
        trace, _, _ = traced(guest_root, ["/rand"], seed)
        return "".join(line for line in trace.splitlines() if "getrandom" in line)

    assert random_bytes(1) == random_bytes(1)
    assert random_bytes(1) != random_bytes(2)


def test_sleeping_costs_no_real_time(guest_root: Path) -> None:
    """With the virtual clock, a sleep jumps time forward instead of waiting."""
    import time

    start = time.monotonic()
    _, out, status = traced(guest_root, ["/timeio"])
    assert status == 0 and b": no" not in out
    assert time.monotonic() - start < 10
