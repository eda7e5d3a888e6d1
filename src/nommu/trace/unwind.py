"""Guest call stacks: frame-pointer chains, and stack scanning where there are none.

The programs nommu ships are built with -fno-omit-frame-pointer: each of
their functions starts `push %ebp; mov %esp,%ebp`, after which [ebp] holds
the caller's ebp and [ebp+4] the return address into the caller. musl's own
code is built without frame pointers and without unwind tables, and may use
%ebp as an ordinary register (a six-argument syscall passes its last argument
there). So the walk has two modes:

* in a function without a frame pointer (libc), the next frame is the first
  word up the stack that is a return address: it points into the program's
  code just after a call instruction whose target, for a direct call, is the
  function we are in;
* in a function with one (the program's own), the ebp chain. When %ebp was
  in use as a register on the way, the value the libc function saved is
  found below the return address into the frame-pointer function.

The result is a list of `StackFrame`s: frame 0 is an exact address (the
syscall, the store, the faulting instruction); the others are return
addresses. Reading never faults: a word outside the stack ends the walk.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from nommu.loaders.elf import PF_X, ElfImage
from nommu.trace import symbols

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

MAX_FRAMES = 32
SCAN_WORDS = 512  # how far up the stack to look for one frameless function's caller
WINDOW = 16384  # bytes of stack read at once
PROLOGUE_SEARCH = 16  # PIC code fetches its GOT address before `push %ebp`


@dataclass(frozen=True, slots=True)
class StackFrame:
    pc: int  # exact for frame 0, else a return address
    slot: int = 0  # where on the stack that return address was (0: frame 0, or a register)
    frame: int = 0  # this function's frame pointer, when it has one


@dataclass(frozen=True, slots=True)
class Stack:
    """A walked stack, with what is needed to name its frames later."""

    frames: tuple[StackFrame, ...]
    image: ElfImage | None
    load_base: int
    exe: str
    exact: bool = True  # frame 0 is the instruction itself (not a return address)

    @property
    def pcs(self) -> tuple[int, ...]:
        return tuple(f.pc for f in self.frames)


@dataclass
class _Code:
    """An image's executable ranges (link addresses) and what is known of them."""

    image: ElfImage
    ranges: list[tuple[int, int, int]]  # (start, end, file offset) of each PF_X segment
    starts: list[int]
    calls: dict[int, tuple[bool, int | None]] = field(default_factory=dict)
    prologues: dict[int, int] = field(default_factory=dict)  # function -> frame_setup

    def bytes_before(self, link: int, n: int) -> bytes:
        i = bisect.bisect_right(self.starts, link - 1) - 1
        if i < 0:
            return b""
        start, end, off = self.ranges[i]
        if not start < link <= end:
            return b""
        lo = max(start, link - n)
        return self.image.data[off + lo - start : off + link - start]

    def bytes_at(self, link: int, n: int) -> bytes:
        i = bisect.bisect_right(self.starts, link) - 1
        if i < 0 or link >= self.ranges[i][1]:
            return b""
        start, end, off = self.ranges[i]
        return self.image.data[off + link - start : off + min(link + n, end) - start]

    def is_code(self, link: int) -> bool:
        i = bisect.bisect_right(self.starts, link) - 1
        return i >= 0 and link < self.ranges[i][1]


@lru_cache(maxsize=64)
def _code(image: ElfImage) -> _Code:
    ranges = sorted(
        (s.vaddr, s.vaddr + s.filesz, s.offset) for s in image.segments if s.flags & PF_X
    )
    return _Code(image, ranges, [r[0] for r in ranges])


class Unwinder:
    """Walks stacks of one task's program, reading the stack in [lo, hi)."""

    def __init__(self, k: Kernel, t: Task, lo: int, hi: int) -> None:
        self.k = k
        self.arch = k.arch
        self.image = t.mm.image
        self.base = t.mm.load_base
        self.exe = t.mm.exe
        self.lo, self.hi = lo, hi
        self.code = _code(self.image) if self.image is not None else None
        self.symtab = symbols.table(self.image) if self.image is not None else None
        self._window = b""
        self._window_at = 0

    # -- reading ---------------------------------------------------------------

    def word(self, addr: int) -> int | None:
        """The stack word at `addr`, or None outside the stack."""
        if not self.lo <= addr <= self.hi - 4 or addr & 3:
            return None
        off = addr - self._window_at
        if not 0 <= off <= len(self._window) - 4:
            self._window_at = addr
            try:
                self._window = self.k.uspace.read(addr, min(WINDOW, self.hi - addr))
            except Exception:  # noqa: BLE001 (an unreadable stack ends the walk, never the run)
                self._window = b""
                return None
            off = 0
        return int.from_bytes(self._window[off : off + 4], "little")

    def call_at(self, ret: int) -> tuple[bool, int | None]:
        """Is `ret` a return address (just after a call)? And the call's target."""
        if self.code is None:
            return False, None
        link = ret - self.base
        known = self.code.calls.get(link)
        if known is None:
            if not self.code.is_code(link - 1):
                known = (False, None)
            else:
                is_call, target = self.arch.call_before(
                    self.code.bytes_before(link, self.arch.MAX_CALL_LEN), link
                )
                known = (is_call, None if target is None else target + self.base)
            self.code.calls[link] = known
        return known

    def function(self, pc: int) -> symbols.Symbol | None:
        if self.symtab is None:
            return None
        found = symbols.find(self.symtab, pc - self.base)
        return found[0] if found is not None else None

    def has_frame(self, fn: symbols.Symbol | None) -> bool:
        """Does `fn` set up a frame pointer?"""
        return self.frame_setup(fn) > 0

    def frame_setup(self, fn: symbols.Symbol | None) -> int:
        """Bytes from the start of `fn` to the end of its `push %ebp; mov
        %esp,%ebp` (PIC code may fetch its GOT address first), or 0 if none."""
        if fn is None or self.code is None:
            return 0
        known = self.code.prologues.get(fn.addr)
        if known is None:
            prologue = self.arch.FRAME_PROLOGUE
            head = self.code.bytes_at(fn.addr, PROLOGUE_SEARCH)
            at = head.find(prologue)
            known = self.code.prologues[fn.addr] = at + len(prologue) if at >= 0 else 0
        return known

    def valid_fp(self, fp: int | None, above: int) -> bool:
        """Could `fp` be a frame pointer of a frame above stack address `above`?"""
        if fp is None or fp < above:
            return False
        ret = self.word(fp + self.arch.RETURN_ADDRESS_OFFSET)
        return ret is not None and self.call_at(ret)[0]

    # -- walking ---------------------------------------------------------------

    def stack(self, pc: int, sp: int, fp: int, ret_regs: tuple[int, ...] = ()) -> Stack:
        """The stack of code at `pc` with stack pointer `sp` and %ebp `fp`.
        `ret_regs`: register values that may hold frame 0's return address
        (a vfork stub keeps it out of the shared stack)."""
        frames = self.walk(pc, sp, fp, ret_regs)
        return Stack(tuple(frames), self.image, self.base, self.exe)

    def walk(self, pc: int, sp: int, fp: int, ret_regs: tuple[int, ...] = ()) -> list[StackFrame]:
        frames = [StackFrame(pc)]
        fn = self.function(pc)
        if _outermost(fn):
            return frames
        setup = self.frame_setup(fn)
        past_prologue = setup and fn is not None and pc - self.base >= fn.addr + setup
        if past_prologue and self.valid_fp(fp, sp):  # %ebp is this function's frame
            frames[0] = StackFrame(pc, 0, fp)
            return self._chain(frames, fp)
        for value in ret_regs:
            is_call, target = self.call_at(value)
            if is_call and fn is not None and target in (None, fn.addr + self.base):
                frames.append(StackFrame(value))
                fn = self.function(value - 1)
                if _outermost(fn):
                    return frames
                break
        return self._scan(frames, fn, sp, fp)

    def _scan(
        self, frames: list[StackFrame], fn: symbols.Symbol | None, sp: int, fp: int
    ) -> list[StackFrame]:
        """Frameless functions: find each caller by scanning up from `sp`."""
        start = sp
        while len(frames) < MAX_FRAMES:
            if len(frames) > 1 and self.has_frame(fn):
                owner = self._frame_of(frames[-1].slot, start, fp)
                if owner is None:
                    break
                frames[-1] = StackFrame(frames[-1].pc, frames[-1].slot, owner)
                return self._chain(frames, owner)
            found = self._caller(start, fn)
            if found is None:
                break
            slot, ret = found
            frames.append(StackFrame(ret, slot))
            fn = self.function(ret - 1)
            if _outermost(fn):
                break
            start = slot + 4
        return frames

    def _caller(self, start: int, fn: symbols.Symbol | None) -> tuple[int, int] | None:
        """The first return address at or above `start` from a call of `fn`
        (directly, or of a stub that jumps to it); failing that, the nearest
        return address from any call (a function pointer, a tail call). With
        no name for `fn` (a syscall stub), the first return address."""
        fallback = None
        want = None if fn is None else fn.addr + self.base
        for slot in range(start, min(start + 4 * SCAN_WORDS, self.hi - 3), 4):
            value = self.word(slot)
            if value is None:
                break
            is_call, target = self.call_at(value)
            if not is_call:
                continue
            if want is None or target == want or self._jumps_to(target, want):
                return slot, value
            fallback = fallback or (slot, value)
        return fallback

    def _jumps_to(self, target: int | None, want: int) -> bool:
        """Is `target` a stub whose first instruction jumps to `want`
        (musl's malloc is `jmp __libc_malloc_impl`)?"""
        if target is None or self.code is None:
            return False
        jump: int | None = self.arch.jump_target(self.code.bytes_at(target - self.base, 5), target)
        return jump == want

    def _frame_of(self, ret_slot: int, low: int, fp: int) -> int | None:
        """The frame pointer of the function a return address at `ret_slot`
        returns into: %ebp itself, or where a libc function saved it."""
        if self.valid_fp(fp, ret_slot + 4):
            return fp
        for slot in range(ret_slot - 4, low - 4, -4):
            value = self.word(slot)
            if value is not None and self.valid_fp(value, ret_slot + 4):
                return value
        return None

    def _chain(self, frames: list[StackFrame], fp: int) -> list[StackFrame]:
        """Follow saved frame pointers; drop back to scanning at a frameless caller."""
        ra_off = self.arch.RETURN_ADDRESS_OFFSET
        while len(frames) < MAX_FRAMES:
            ret = self.word(fp + ra_off)
            if ret is None or not self.call_at(ret)[0]:
                break
            frames.append(StackFrame(ret, fp + ra_off))
            caller_fp = self.word(fp + self.arch.SAVED_FP_OFFSET)
            fn = self.function(ret - 1)
            if _outermost(fn):
                break
            if not self.has_frame(fn):
                return self._scan(frames, fn, fp + ra_off + 4, caller_fp or 0)
            if caller_fp is None or not self.valid_fp(caller_fp, fp + ra_off + 4):
                break
            frames[-1] = StackFrame(ret, fp + ra_off, caller_fp)
            fp = caller_fp
        return frames


def _outermost(fn: symbols.Symbol | None) -> bool:
    """Walks end at main(): what is below it is the C library's start-up."""
    return fn is not None and fn.name == "main"


def stack_bounds(k: Kernel, t: Task, sp: int) -> tuple[int, int]:
    """The memory block holding stack address `sp` (its whole block, so a
    vfork child's walk reaches its parent's frames)."""
    area = k.memory.area_at(t, sp)
    return (area.start, area.end) if area is not None else (sp, sp + 4096)


def current_stack(k: Kernel, t: Task, pc: int | None = None, ret_regs: bool = False) -> Stack:
    """The stack of `t`, whose registers the CPU holds now (at a syscall, a
    watched store, or a fault); `pc` overrides the CPU's."""
    cpu, arch = k.cpu, k.arch
    sp = cpu.reg_read(arch.SP_REG)
    lo, hi = stack_bounds(k, t, sp)
    regs = tuple(cpu.reg_read(r) for r in arch.VFORK_RETURN_REGS) if ret_regs else ()
    at = cpu.pc if pc is None else pc
    return Unwinder(k, t, lo, hi).stack(at, sp, cpu.reg_read(arch.FRAME_REG), regs)
