"""Floating point the way a real x87 does it: the kernel's math emulation.

The CPU underneath (Unicorn) gets a few x87 instructions wrong (see
the architecture's `fpu`, arch/). The kernel puts them right in one of two ways, chosen
per machine (`--fpu`):

* "fixups" (the default, free for code that does not use those
  instructions): when a program's code is loaded, every place one of the
  faulty instructions may start gets a fixup that works out the right
  result in software and writes it over the CPU's;
* "exact": like Linux's math-emu on an FPU-less CPU, every x87 instruction
  traps (#NM) and is run in software, so the status word's flags (OE, UE,
  PE, IE for 0/0 ...) are those of a real x87 for every operation. Slow:
  each floating-point instruction costs tens of microseconds.

Code a program writes into memory itself (a JIT) is not scanned for fixups,
and a fixup is lost if the CPU stops for a task switch right between the
faulty instruction and the next (possible only where a translation block
ends there). In exact mode one trap runs the whole stretch of x87 code it
lands in, and FNSTENV stores no last-instruction pointers (0), like the
signal frame's FPU state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nommu.arch import x87
from nommu.kernel.errors import SyscallError

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel

FPU_MODES = ("fixups", "exact")
TRAP_PAGE_FAULT = 14


class MathEmulation:
    """The kernel's software FPU, wired into the CPU as `mode` says."""

    def __init__(self, k: Kernel, mode: str) -> None:
        self.k = k
        self.mode = mode
        self.fpu = k.arch.fpu
        self.pending: Any = None  # fixups: a result to write after the CPU ran the instruction
        self.pending_at: tuple[int, object] = (0, None)  # where to write it, for which task
        if self.fpu is None:  # (an architecture whose FPU needs nothing put right: ARM)
            self.mode = "none"
            return
        self.bus = self.fpu.MemoryBus(k.uspace.read, k.uspace.write)
        if mode == "exact":
            self.fpu.set_math_emulation(k.cpu, True)
            k.cpu.trap_handlers[self.fpu.TRAP_DEVICE_NOT_AVAILABLE] = self.device_not_available
            k.cpu.trap_handlers[k.arch.TRAP_INVALID_OPCODE] = self.invalid_opcode

    # -- exact mode: every x87 instruction -------------------------------------

    def device_not_available(self, pc: int) -> int | None:
        """#NM: run the x87 instruction at `pc`. -> None (done, the CPU goes
        on after it) or the trap the task gets instead (#MF, #UD, a fault)."""
        try:
            following = self.fpu.emulate(self.k.cpu, pc, self._fetch, self.bus, self._gs)
            self.fpu.set_pc(self.k.cpu, following)
        except x87.FloatingPointError:
            return int(self.fpu.TRAP_FLOATING_POINT)
        except x87.InvalidOpcode:
            return int(self.k.arch.TRAP_INVALID_OPCODE)
        except SyscallError:
            return TRAP_PAGE_FAULT
        return None

    def _fetch(self, pc: int) -> bytes:
        """The bytes an instruction at `pc` may span (fewer at the end of a page
        with nothing after it)."""
        try:
            return self.k.uspace.read(pc, 16)
        except SyscallError:
            return self.k.uspace.read(pc, min(16, 0x1000 - (pc & 0xFFF)))

    def invalid_opcode(self, pc: int) -> int | None:
        """#UD: with CR0.EM the MXCSR instructions musl's fenv uses land here."""
        try:
            code = self._fetch(pc)
            following = self.fpu.emulate_mxcsr(self.k.cpu, pc, code, self.bus, self._gs)
        except SyscallError:
            return TRAP_PAGE_FAULT
        if following is None:
            return int(self.k.arch.TRAP_INVALID_OPCODE)
        self.fpu.set_pc(self.k.cpu, following)
        return None

    def _gs(self) -> int:
        """The base of the running task's %gs segment (its TLS)."""
        t = self.k.current
        return 0 if t is None else self.k.arch.thread_pointer(self.k.cpu, t.tls)

    # -- fixups: only the instructions the CPU gets wrong -------------------------

    def forget_code(self, begin: int, end: int) -> None:
        """Without an MMU, [begin, end) is about to hold something new: its
        old fixups go. (With one, an address may hold code in another
        address space: fixups stay, and check the bytes when they fire.)"""
        if self.k.memory.virtual_is_physical:
            self.k.cpu.remove_fixups(begin, end)

    def code_loaded(self, base: int, code: bytes) -> None:
        """`code` was loaded at `base` to run: fix up its faulty instructions.

        A fixup cannot stop the CPU from running the instruction (nommu
        turns off Unicorn's mid-block exit checks, see machine/cpu.py), so it
        works in two steps: the hook on the instruction computes the right
        result, and a hook on the instruction after it (these instructions
        never jump) writes it over what the CPU computed."""
        if self.mode != "fixups":
            return
        # With an MMU, exec fills an address space that is not in force yet.
        retranslate = self.k.memory.virtual_is_physical
        for address in self.fpu.fixup_sites(code, base):
            self.k.cpu.add_fixup(address, self.fixup, retranslate=retranslate)
            self.k.cpu.add_fixup(address + 2, self.fixup, retranslate=retranslate)

    def fixup(self, pc: int) -> None:
        """An instruction starts at `pc`: first put right the one before it,
        if it was a faulty one; then, if this one is faulty (the memory may
        have changed since the scan), work out its right result."""
        pending, self.pending = self.pending, None
        if pending is not None and self.pending_at == (pc, self.k.current):
            self.fpu.fixup_commit(self.k.cpu, pending)
        code = self.k.uspace.read(pc, 2)
        if code[0] == 0xD9 and code[1] in self.fpu.FIXUP_OPCODES:
            try:
                self.pending = self.fpu.fixup_compute(self.k.cpu, pc, code, self.bus)
                self.pending_at = (pc + 2, self.k.current)
            except x87.FloatingPointError:
                return  # the CPU raises #MF itself
