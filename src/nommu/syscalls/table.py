"""The syscall table: one row per syscall, the single source of truth.

A row names the Linux syscall, its handler and the kind of each argument.
The kinds drive both decoding for `--strace` (a "path" is printed as a
string, an "oflags" as O_RDONLY|O_CLOEXEC) and the number of registers the
dispatcher passes, so the two can never drift apart (Blink's SYSCALL rows).
Numbers come from the architecture (`arch.i386_syscalls`): rows are keyed
by name, so another architecture only brings its own numbering.

Argument kinds (see trace/strace.py for how each prints):
  int  uint  hex  ptr  fd  dirfd  path  str  size  mode  oflags  atflags
  buf_in (guest data, length in the next argument)  buf_out (filled by the call)
  iov_in  iov_out  struct_out  clone_flags  futex_op  signal  sigset ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True, slots=True)
class Syscall:
    name: str
    handler: Handler
    args: tuple[str, ...]
    ret: str = "int"  # "int", "hex" (addresses), "fd", "none" (never returns)

    @property
    def nargs(self) -> int:
        return len(self.args)


REGISTRY: dict[str, Syscall] = {}


def syscall(name: str, *args: str, ret: str = "int") -> Callable[[H], H]:
    """Register the decorated function as the handler of syscall `name`."""

    def register(fn: H) -> H:
        if name in REGISTRY:
            raise ValueError(f"syscall {name} registered twice")
        REGISTRY[name] = Syscall(name, fn, args, ret)
        return fn

    return register


def load_handlers() -> dict[str, Syscall]:
    """Import every handler module (they register themselves) and return the rows."""
    from nommu.syscalls import (  # noqa: F401
        epoll,
        eventfiles,
        fs,
        inotify,
        ipc,
        locks,
        mem,
        memfd,
        misc,
        poll,
        proc,
        rusage,
        signal,
        statfs,
        time,
        timers,
        utimes,
    )

    return REGISTRY


def build_table(numbers: dict[str, int]) -> list[Syscall | None]:
    """The dispatch table for an architecture: index = syscall number."""
    rows = load_handlers()
    table: list[Syscall | None] = [None] * (max(numbers.values()) + 1)
    for name, row in rows.items():
        if name not in numbers:
            raise ValueError(f"syscall {name} has no number on this architecture")
        table[numbers[name]] = row
    return table
