"""Does a vfork parent see what its child stored? (`nommu check`'s precise rule.)

POSIX lets a vfork child do two things: execve() and _exit(). Every store
it makes before that lands in its parent's memory, but most such stores are
harmless: the commonest correct idiom fills an argv array in the caller's
frame and execs, and the parent never looks at those slots again. What
breaks a program is a store whose value the parent later *reads*: a counter
it prints, a stdio buffer it flushes, a local it returns.

So a child's store (outside its own part of the stack) is not reported at
once. It is remembered byte by byte (`ChildStore`: the kind, the message and
the child's stack at the store, one per kind and instruction), and when the
child execs or exits and its parent resumes, a `ParentWatch` follows the
parent's loads and stores of those bytes:

* a load of a byte the child left, before the parent stored to it, is the
  finding (with the child's stack at the store, the parent's at the vfork,
  and the parent's at the load);
* a store by the parent to the byte ends the watch for it: the child's value
  is gone unseen;
* a byte of the parent's stack below its stack pointer (seen at each of its
  syscalls) is dead: the parent writes it before it can read it;
* a store never read (overwritten, dead, or still there when the parent
  execs or exits) becomes a note.

Return addresses and saved frame pointers of the parent's frames are not
handled here: the checker reports those at once (the parent needs them).
The watch uses read and write hooks on the pages concerned; code translated
while a read hook exists is slow (Unicorn sends all its accesses through a
helper), so the watch drops its hooks, and that code, as soon as nothing is
left to watch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.trace.unwind import Stack

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.mm import MemoryMap
    from nommu.kernel.task import Task
    from nommu.machine.cpu import WatchHook


@dataclass(eq=False)
class ChildStore:
    """The stores of one kind made by one instruction of a vfork child into
    its parent's memory, until the parent shows whether it reads them."""

    kind: str
    message: str
    comm: str  # the child's name then (it may exec afterwards)
    stack: Stack  # the child's, at the first such store
    notes: list[str]
    count: int = 1
    observed: bool = False


@dataclass(eq=False)
class ParentWatch:
    """The bytes a vfork child left in its parent's memory (byte -> store),
    followed from the moment the parent resumes."""

    parent: Task
    mm: MemoryMap
    pending: dict[int, ChildStore]
    stack_lo: int
    stack_hi: int
    context: object  # the checker's record of the vfork (for the findings' stacks)
    hooks: list[WatchHook] = field(default_factory=list)
    stores: list[ChildStore] = field(default_factory=list)  # each once

    def __post_init__(self) -> None:
        self.stores = list({id(s): s for s in self.pending.values()}.values())


# (watch, store, the reading task) -> None: report a store the parent read
OnRead = Callable[[ParentWatch, ChildStore, "Task"], None]


def page_runs(addresses: list[int]) -> list[tuple[int, int]]:
    """The runs of whole pages that hold `addresses`, as [begin, end) pairs."""
    runs: list[tuple[int, int]] = []
    for page in sorted({a & ~0xFFF for a in addresses}):
        if runs and runs[-1][1] == page:
            runs[-1] = (runs[-1][0], page + 0x1000)
        else:
            runs.append((page, page + 0x1000))
    return runs


def start(k: Kernel, w: ParentWatch, on_read: OnRead, skip: Callable[[Task], bool]) -> None:
    """Hook the parent's loads and stores of the watched bytes. `skip(t)` says
    a task sharing the parent's memory is not the parent (another vfork child)."""

    def reader(addr: int, size: int) -> None:
        t = k.current
        if t is None or t.mm is not w.mm or skip(t):
            return
        for a in range(addr, addr + size):
            s = w.pending.pop(a, None)
            if s is not None and not s.observed:
                s.observed = True
                on_read(w, s, t)
        if not w.pending:
            stop(k, w)

    def writer(addr: int, size: int, _value: int) -> None:
        t = k.current
        if t is None or t.mm is not w.mm or skip(t):
            return
        for a in range(addr, addr + size):
            w.pending.pop(a, None)
        if not w.pending:
            stop(k, w)

    for begin, end in page_runs(list(w.pending)):
        w.hooks.append(k.cpu.add_write_hook(begin, end, writer))
        w.hooks.append(k.cpu.add_read_hook(begin, end, reader))


def prune_stack(w: ParentWatch, sp: int) -> None:
    """The parent's stack pointer is `sp`: its stack below is dead (it must
    store before it can load there)."""
    for a in [a for a in w.pending if w.stack_lo <= a < sp]:
        del w.pending[a]


def stop(k: Kernel, w: ParentWatch) -> list[ChildStore]:
    """End the watch: remove the hooks, and the slow code made while they
    existed (once the CPU has stopped: this may run inside a hook); return
    the stores the parent never read."""
    if w.hooks:
        for hook in w.hooks:
            k.cpu.remove_hook(hook)
        w.hooks.clear()
        k.flush_code_later(k.ram.base, k.ram.end)
    w.pending.clear()
    return [s for s in w.stores if not s.observed]
