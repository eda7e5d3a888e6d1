"""Memory protection without an MMU: the stores a board lets through, seen.

A no-MMU board protects nothing. A recursion that outgrows its stack writes
into whatever block lies below it (for a program's stack block: the end of
its own image, where libc keeps malloc's state), and any process can store
into any other's memory. nommu lets such stores land, as the board does, but
it notices each kind once, at the storing instruction, using the CPU's TLB
as a board's MPU uses its regions: the TLB fill (machine/tlb.py calls the
no-MMU model's `_physical`, kernel/nommu_model.py) grants write permission
only on pages the running task may write, so a store anywhere else stops
the CPU before it happens. The kernel's trap handler gives the fault
(through the memory model's `store_refused`) to `Mpu.store_fault`, which
says what the store did, tells whoever listens (`nommu run`: a one-line
hint; `nommu check`: a finding), lets the page be written from then on,
and the task runs the store again: it lands.

What a task may write: the pages of the regions in its memory map (its
program, its stack, its mmaps, the shared memory it attached; threads and a
vfork child share their map). A store into a block that belongs to someone
else is `write-foreign-memory`; into memory no one owns (freed, or never
allocated), `write-free-memory`.

Stacks. Each stack (a program's stack block, a thread's stack) is a
`StackArea`, and a store below one by a task running on it, at or just
below its stack pointer (a push), is `stack-overflow`, whatever it hit.
Its own memory, which the
task may write, usually lies below a stack block (the program's image), so
the pages are watched in two steps, for nothing in the common case: while
the stack is shallow, its lowest page (the tripwire) is not writable; a
store there means the stack is deep, and from then on the page below the
stack (the guard) is not writable instead. A store to the guard by a task
whose stack pointer is there too is the overflow; any other store
there means the stack is shallow again (the tripwire comes back). A frame
larger than a page can skip the guard: then only a store into memory the
task may not write shows the overflow.

Switching tasks: write permission depends on the running process, so with
`per_process` (`nommu check`) the TLB is flushed when the CPU moves to a
task with another memory map (a vfork child or a thread shares its
parent's: no flush). That flush costs the refills of the next task's pages:
half as much again on a pipe ping-pong between two processes. So `nommu
run` does without it: there a store into another process's page is caught
unless the TLB still holds that page writable from when its owner last ran
(it is flushed at every exec, exit and free, and on the TLB's own
schedule). Stack overflows and stores into free memory do not depend on
who runs, and are always caught. The TLB is flushed when memory is freed
(a page written before may now be no one's).

`stack_guard` (--stack-guard) makes an overflow a SIGSEGV at the faulting
store, as an MPU guard region would; the other stores always land.

ARM (a Cortex-M) has the same detection through the same fill; there the
TLB's pages are 1 KiB and a fill inside a Thumb IT block needs a repair
(machine/tlb.py, `ArmArch.data_fill_repair`). A board's MPU works the same
way: a region without write access, a MemManage fault at the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.mm import MemoryMap
    from nommu.kernel.task import Task

PAGE = 0x1000
# A store below a stack is the stack's own (an overflow) when it is at or
# above the stack pointer, or just below it: a push or call stores below the
# stack pointer it starts from (the CPU's state is from before the instruction).
PUSH_SLACK = 64


@dataclass(eq=False)
class StackArea:
    """One stack: [lo, hi), used by `task` (and a vfork child borrowing it)."""

    lo: int
    hi: int
    task: Task
    origin: str  # where its size came from, in words
    advice: str  # how to make it larger
    deep: bool = False  # the tripwire went off: the guard page is watched instead
    overflowed: bool = False  # reported once; no longer watched

    @property
    def size(self) -> int:
        return self.hi - self.lo

    @property
    def tripwire(self) -> int:
        return self.lo & ~(PAGE - 1)

    @property
    def guard(self) -> int:
        return self.tripwire - PAGE


@dataclass(frozen=True)
class Violation:
    """A store a board would let through silently."""

    kind: str  # "stack-overflow", "write-foreign-memory" or "write-free-memory"
    task: Task
    address: int
    pc: int
    sp: int
    area: StackArea | None  # the stack that overflowed (stack-overflow)
    hit: str  # what the store hit, in words ("free memory", "process 3's stack block...")
    owner: int  # pid owning the block hit (0: the kernel or no one)


@dataclass(eq=False)
class Mpu:
    """Which pages the running task may write, and what the other stores did."""

    k: Kernel
    stack_guard: bool = False  # an overflow is SIGSEGV (an MPU guard region)
    per_process: bool = False  # flush at each switch of memory map: every foreign store
    areas: dict[int, StackArea] = field(default_factory=dict)  # by the owner's tid
    armed: set[int] = field(default_factory=set)  # pages no store reaches without a stop
    granted: dict[int, set[int]] = field(default_factory=dict)  # id(mm) -> pages let through
    running: Task | None = None  # the task on the CPU (None: booting, any store goes)
    tlb_mm: MemoryMap | None = None  # whose write permissions the TLB holds
    writable: set[int] = field(default_factory=set)  # pages the TLB may hold writable
    last: Violation | None = None  # the last violation (for the fault report)

    # -- the TLB fill asks -------------------------------------------------------

    def may_write(self, page: int) -> bool:
        """Whether the running task may store to `page` without a stop."""
        if page in self.armed:
            return False
        t = self.running
        if t is None:
            return True
        mm = t.mm
        for r in mm.regions:
            if r.start <= page < r.top:
                return True
        granted = self.granted.get(id(mm))
        return granted is not None and page in granted

    def filled(self, page: int) -> None:
        """The TLB was given `page` writable (kept until `revoke` flushes it)."""
        self.writable.add(page)

    def revoke(self, first: int, end: int) -> None:
        """No TLB entry may let a store into [first, end) through any more: drop
        those that might (taking protection away needs that; giving it, never),
        page by page when the CPU can, else by flushing the TLB."""
        pages = [page for page in self.writable if first <= page < end]
        if not pages:
            return
        if self.k.cpu.drop_tlb_pages(pages):
            self.writable.difference_update(pages)
        else:
            self.writable.clear()
            self.k.tlb.flush()

    # -- the kernel tells ----------------------------------------------------------

    def switched(self, prev: Task | None, t: Task) -> None:
        """`t` now runs (after `prev`): its process's write permissions must be
        the TLB's. (The no-MMU model's `switch_space`: called at every switch.)"""
        self.running = t
        if self.per_process and t.mm is not self.tlb_mm:
            self.tlb_mm = t.mm
            self.revoke(0, 1 << 32)

    def freed(self, start: int, size: int) -> None:
        """Memory went back to the allocator: no TLB entry may still allow it."""
        self.revoke(start, start + size)

    def add_stack(self, t: Task, lo: int, hi: int, origin: str, advice: str) -> None:
        """`t` runs on a new stack [lo, hi) (exec, or a thread with its own)."""
        self.drop_stack(t)
        area = StackArea(lo, hi, t, origin, advice)
        self.areas[t.tid] = area
        self._arm(area.tripwire)

    def drop_stack(self, t: Task) -> StackArea | None:
        """`t` no longer runs on its stack (exec, exit)."""
        area = self.areas.pop(t.tid, None)
        if area is not None:
            self.armed.discard(area.tripwire)
            self.armed.discard(area.guard)
        return area

    def forget_mm(self, mm: MemoryMap) -> None:
        self.granted.pop(id(mm), None)
        if self.tlb_mm is mm:
            self.tlb_mm = None

    # -- a store stopped -------------------------------------------------------

    def store_fault(self, t: Task, address: int, pc: int) -> bool:
        """A store by `t` at `pc` to `address` (in RAM) stopped the CPU. Returns
        True if it may now run again (and land), False for a SIGSEGV."""
        page = address & ~(PAGE - 1)
        sp = self.k.cpu.reg_read(self.k.arch.SP_REG)
        area = self.stack_of(t, sp)
        if area is not None and sp - PUSH_SLACK <= address < area.lo:
            return self._overflow(t, area, address, pc, sp)
        if page in self.armed:
            self._disarm(page)  # a tripwire (the stack is deep) or a guard (shallow again)
        if not self.may_write(page):
            self._wild(t, address, pc, sp)
        return True

    def stack_of(self, t: Task, sp: int) -> StackArea | None:
        """The stack `t` runs on, judged by its stack pointer `sp` (a vfork
        child runs on its parent's): the area holding `sp`, or just above it."""
        own = self.areas.get(t.tid)
        if own is not None and own.lo - 16 * PAGE <= sp < own.hi:
            return own
        near = [a for a in self.areas.values() if a.lo - 16 * PAGE <= sp < a.hi]
        return max((a for a in near if a.task.mm is t.mm), key=lambda a: a.lo, default=None)

    def _arm(self, page: int) -> None:
        """Stores to `page` stop from now on."""
        self.armed.add(page)
        self.revoke(page, page + PAGE)

    def _deepen(self, area: StackArea) -> None:
        area.deep = True
        self.armed.discard(area.tripwire)
        if area.guard >= self.k.ram.base:
            self._arm(area.guard)

    def _shallow(self, area: StackArea) -> None:
        area.deep = False
        self.armed.discard(area.guard)
        self._arm(area.tripwire)

    def _disarm(self, page: int) -> None:
        """A store to a watched page that is no overflow: move the watch."""
        for area in self.areas.values():
            if page == area.tripwire and not area.deep:
                self._deepen(area)
            elif page == area.guard and area.deep:
                self._shallow(area)

    def _overflow(self, t: Task, area: StackArea, address: int, pc: int, sp: int) -> bool:
        """The stack overflowed: no longer watch it (the first store tells);
        the store lands unless guarded."""
        if not area.overflowed:
            area.overflowed = True
            self.armed.discard(area.guard)
            self.armed.discard(area.tripwire)
        owner, hit = self.describe(t, address)
        self._tell(Violation("stack-overflow", t, address, pc, sp, area, hit, owner))
        if self.stack_guard:
            return False
        self._grant(t, address)
        return True

    def _wild(self, t: Task, address: int, pc: int, sp: int) -> None:
        """A store into memory `t` may not write: report it; it lands. (A child
        of clone() without CLONE_VM has no memory of its own and runs in its
        parent's: that is the clone's problem, not each store's.)"""
        if not t.mm.regions:
            self._grant(t, address)
            return
        block = self.k.alloc.block_at(address)
        kind = "write-free-memory" if block is None else "write-foreign-memory"
        owner, hit = self.describe(t, address)
        self._tell(Violation(kind, t, address, pc, sp, None, hit, owner))
        self._grant(t, address)

    def _grant(self, t: Task, address: int) -> None:
        page = address & ~(PAGE - 1)
        self.granted.setdefault(id(t.mm), set()).add(page)

    def _tell(self, v: Violation) -> None:
        self.last = v
        self.k.events.memory_violation(v)
        from nommu.trace.memhint import hint  # (the words need the program's symbols)

        hint(self.k, v)

    # -- words ---------------------------------------------------------------------

    def describe(self, t: Task, address: int) -> tuple[int, str]:
        """(owner pid, what is at `address`): the block and its owner."""
        block = self.k.alloc.block_at(address)
        if block is None:
            return 0, f"free memory at {address:#x} (no one's: freed or never allocated)"
        span = f"{block.start:#x}-{block.end:#x}"
        if block.owner == 0:
            return 0, f"the kernel's {block.kind} block {span}"
        owner = self.k.groups.get(block.owner)
        who = f"process {block.owner}"
        task = owner.tasks[0] if owner is not None and owner.tasks else None
        if task is not None:
            who += f" ({task.comm})"
        whose = "its own" if block.owner == t.pid else f"{who}'s"
        return block.owner, f"{whose} {block.kind} block {span}"


def stack_origin(given: int, size: int) -> tuple[str, str]:
    """(where a program's stack size came from, how to change it)."""
    if given:
        origin = "the size in the program's PT_GNU_STACK header (-Wl,-z,stack-size)"
    else:
        origin = "the default: the program's PT_GNU_STACK header gives no size"
    return origin, f"link with -Wl,-z,stack-size=N (N > {size}) for a larger stack"
