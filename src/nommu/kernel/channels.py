"""Wait channels: what a sleeping task waits for.

Each is a small frozen (hashable) value; two tasks waiting for the same
thing sleep on equal channels and are woken together. The repr is what a
deadlock report shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChildEvent:
    """wait4: a child of process `pid` changed state."""

    pid: int

    def __str__(self) -> str:
        return f"wait4 for a child of {self.pid}"


@dataclass(frozen=True, slots=True)
class VforkDone:
    """A vfork parent waits until child `pid` calls execve or exits."""

    pid: int

    def __str__(self) -> str:
        return f"vfork: suspended until child {self.pid} calls execve or _exit"


class FutexKey(int):
    """FUTEX_WAIT on the word at the address this is (one physical address
    space: no mm in the key). An int, so that the hashing every wait and
    wake does costs no Python call; no other channel is an int."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"futex wait on {self:#x}"

    __repr__ = __str__


@dataclass(frozen=True, slots=True)
class PrivateFutexKey:
    """With an MMU: FUTEX_WAIT on private memory, the word at `addr` in one
    address space (`mm`, its identity). Other processes' same address is
    another word; a MAP_SHARED word is keyed by its physical address."""

    mm: int
    addr: int

    def __str__(self) -> str:
        return f"futex wait on {self.addr:#x}"


@dataclass(frozen=True, slots=True)
class Timer:
    """nanosleep and friends: only the deadline wakes it."""

    tid: int

    def __str__(self) -> str:
        return "sleep"


@dataclass(frozen=True, slots=True)
class Paused:
    """pause/sigsuspend: only a signal wakes it."""

    tid: int

    def __str__(self) -> str:
        return "waiting for a signal"


@dataclass(frozen=True, slots=True)
class SignalQueued:
    """signalfd: a signal was queued on a thread of process `pid` (every
    queued signal wakes this; signalfd readers and epoll wait on it)."""

    pid: int

    def __str__(self) -> str:
        return f"signalfd read (no signal of its set pending for {self.pid})"
