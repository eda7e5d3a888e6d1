"""Self-modifying code and the fast store path (machine/mmu.py).

Data pages get TLB entries without execute permission, so that Unicorn lets
their stores go the fast way; pages code was fetched from keep execute, so
every store to them is checked against translated code. These programs
rewrite code the CPU has already translated, in the ways that could slip
past that check, and must see the new code every time, as natively.
"""

from __future__ import annotations

from collections.abc import Callable

from nommu.api import RunResult

Differential = Callable[..., RunResult]


def test_rewritten_code_always_runs_new(differential: Differential) -> None:
    result = differential(["/smc", "300"])
    out = result.stdout.decode()
    assert out.count(": 0 stale") == 4, out
    assert "fresh code: 7 then 8" in out


def test_futex_keys_across_fork(
    differential: Differential, mmu: bool, run_nommu: Callable[..., RunResult]
) -> None:
    """With an MMU a private futex word is per process (a wake in the parent
    does not reach the child's copy) and a MAP_SHARED word is one word in
    both, also when its page is first touched after fork."""
    if not mmu:
        result = run_nommu(["/futex_fork"])
        assert result.stdout.startswith(b"fork: EINVAL"), result
        return
    result = differential(["/futex_fork"])
    assert result.stdout.decode().splitlines() == [
        "private word: the parent's wake woke 0; the child's wait timed out",
        "private word, non-private op: the parent's wake woke 0; the child's wait timed out",
        "MAP_SHARED word: the parent's wake woke 1; the child's wait was woken",
    ]
