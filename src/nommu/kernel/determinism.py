"""Deterministic runs: the same program, the same trace, every time.

Three things make a run vary from one time to the next: the clock, random
bytes, and where the scheduler switches tasks. `--deterministic` replaces
all three:

* a virtual clock that starts at a fixed date and moves only when the guest
  looks at it (one microsecond per reading) or when every task sleeps (it
  jumps straight to the next timer: sleeping costs no real time);
* random bytes from a generator seeded with `--seed`;
* time slices counted in syscalls, not seconds: each slice lasts a number of
  syscalls drawn from the same seeded generator. Tasks switch only at
  syscalls, so a task that never makes one runs until it does (or until
  `--timeout`).
"""

from __future__ import annotations

import random

EPOCH = 1767225600.0  # 2026-01-01T00:00:00Z: what CLOCK_REALTIME starts at
TICK = 1e-6  # each reading of the clock advances it by this much


class VirtualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        self.now += TICK
        return self.now

    def realtime(self) -> float:
        return EPOCH + self.monotonic()

    def advance_to(self, when: float) -> None:
        """Every task sleeps: time jumps to the next deadline."""
        self.now = max(self.now, when)


class SeededRandom:
    """Random bytes and slice lengths from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self._bytes = random.Random(seed)
        self._slices = random.Random(seed ^ 0x5EED)

    def bytes(self, n: int) -> bytes:
        return self._bytes.randbytes(n)

    def slice_length(self) -> int:
        """Syscalls the next slice may make before the task is switched out."""
        return self._slices.randint(1, 64)
