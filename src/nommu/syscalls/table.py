"""The syscall table: one row per syscall, the single source of truth.

A row names the Linux syscall, its handler and the kind of each argument.
The kinds drive both decoding for `--strace` (a "path" is printed as a
string, an "oflags" as O_RDONLY|O_CLOEXEC) and the number of registers the
dispatcher passes, so the two can never drift apart (Blink's SYSCALL rows).
Numbers come from the architecture (`k.arch.SYSCALL_NUMBERS`): rows are keyed
by name, so another architecture only brings its own numbering.

Argument kinds (see trace/strace.py for how each prints):
  int  uint  hex  ptr  fd  dirfd  path  str  size  mode  oflags  atflags
  buf_in (guest data, length in the next argument)  buf_out (filled by the call)
  iov_in  iov_out  struct_out  clone_flags  futex_op  signal  sigset
  ioctl_req  ioctl_arg (what the request points to, decoded after the call) ...
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
        arm_private,
        epoll,
        eventfiles,
        fs,
        inotify,
        ipc,
        locks,
        mem,
        memfd,
        misc,
        net,
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


DENSE_LIMIT = 0x1000  # numbers below index a list; above (ARM's 0xf0000 + n) a dict


def build_table(numbers: dict[str, int]) -> list[Syscall | None]:
    """The dispatch table for an architecture: index = syscall number. Rows
    for calls the architecture does not have (ARM EABI has no ipc, mmap or
    set_thread_area) are left out; so are its private calls (`build_private`)."""
    rows = load_handlers()
    dense = [nr for nr in numbers.values() if nr < DENSE_LIMIT]
    table: list[Syscall | None] = [None] * (max(dense) + 1)
    for name, row in rows.items():
        if numbers.get(name, DENSE_LIMIT) < DENSE_LIMIT:
            table[numbers[name]] = row
    return table


def build_private(numbers: dict[str, int]) -> dict[int, Syscall]:
    """The architecture's calls numbered far above the rest (ARM's private
    calls at 0xf0000 + n): number -> row, for those nommu implements."""
    rows = load_handlers()
    return {nr: rows[name] for name, nr in numbers.items() if nr >= DENSE_LIMIT and name in rows}
