"""i386: how x87 instructions reach the software FPU (arch/x87.py).

Unicorn 2.1's x87 is QEMU 5.0's: right for loads, stores and + - * /, but
its status word never gets OE, UE or PE, 0/0 reports ZE instead of IE, FSQRT
leaves C1 alone (so a double-rounding fix that reads C1, as musl's sqrt
does, goes wrong), and FPREM, FPREM1, F2XM1, FYL2X, FYL2XP1 and FPATAN work
in double precision. Two ways around it, both handing an instruction to
`emulate`, which runs it in software on the FPU state read out of Unicorn
and writes the state back:

* fixups (the default): the few instructions Unicorn gets wrong have fixed
  encodings (D9 F0, D9 F1 ...). Every place such bytes occur in a program's
  code gets a one-address code hook: it fires only if an instruction
  really starts there, costs nothing anywhere else, and emulates the
  instruction instead of letting Unicorn run it;
* exact mode: CR0.EM set, as on a CPU without an FPU, so every x87
  instruction raises #NM (trap 7) with EIP at it, and the kernel emulates
  it, as Linux's math-emu does. Exact but slow. EM also makes the SSE
  instructions #UD; musl's fenv code touches MXCSR (LDMXCSR/STMXCSR) when
  the CPU has SSE, so those two are emulated as well.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unicorn.unicorn_py3.unicorn import uclib
from unicorn.x86_const import (
    UC_X86_REG_CR0,
    UC_X86_REG_EAX,
    UC_X86_REG_EBP,
    UC_X86_REG_EBX,
    UC_X86_REG_ECX,
    UC_X86_REG_EDI,
    UC_X86_REG_EDX,
    UC_X86_REG_EFLAGS,
    UC_X86_REG_EIP,
    UC_X86_REG_ESI,
    UC_X86_REG_ESP,
    UC_X86_REG_FDP,
    UC_X86_REG_FIP,
    UC_X86_REG_FOP,
    UC_X86_REG_FP0,
    UC_X86_REG_FPCW,
    UC_X86_REG_FPSW,
    UC_X86_REG_FPTAG,
    UC_X86_REG_MXCSR,
    UC_X86_REG_ST0,
    UC_X86_REG_ST1,
)

from nommu.arch import x87
from nommu.arch.x87 import FpuState

if TYPE_CHECKING:
    from nommu.machine.cpu import Cpu

USER_CS = 0x23  # the code selector Linux gives user programs (FNSTENV stores it)
CR0_EM = 1 << 2  # no FPU: every x87 instruction raises #NM
TRAP_DEVICE_NOT_AVAILABLE = 7  # #NM
TRAP_FLOATING_POINT = 16  # #MF

# The second byte of each D9 instruction Unicorn computes wrongly.
FIXUP_OPCODES = {
    0xF0: "f2xm1",
    0xF1: "fyl2x",
    0xF3: "fpatan",
    0xF5: "fprem1",
    0xF8: "fprem",
    0xF9: "fyl2xp1",
    0xFA: "fsqrt",
}

_GPRS = {
    "eax": UC_X86_REG_EAX, "ecx": UC_X86_REG_ECX, "edx": UC_X86_REG_EDX,
    "ebx": UC_X86_REG_EBX, "esp": UC_X86_REG_ESP, "ebp": UC_X86_REG_EBP,
    "esi": UC_X86_REG_ESI, "edi": UC_X86_REG_EDI,
}  # fmt: skip

Read = Callable[[int, int], bytes]
Write = Callable[[int, bytes], None]


class MemoryBus:
    """The FPU's view of guest memory: the kernel's user-access functions."""

    def __init__(self, read: Read, write: Write) -> None:
        self.read = read
        self.write = write


def set_math_emulation(cpu: Cpu, on: bool) -> None:
    """CR0.EM: on, every x87 instruction traps to the kernel (exact mode)."""
    cr0 = cpu.reg_read(UC_X86_REG_CR0)
    cpu.reg_write(UC_X86_REG_CR0, (cr0 | CR0_EM) if on else (cr0 & ~CR0_EM))


def fixup_sites(code: bytes, base: int) -> list[int]:
    """Addresses in `code` (loaded at `base`) where a faulty instruction
    could start: every D9 byte followed by one of FIXUP_OPCODES."""
    sites = []
    at = code.find(0xD9)
    while at >= 0:
        if at + 1 < len(code) and code[at + 1] in FIXUP_OPCODES:
            sites.append(base + at)
        at = code.find(0xD9, at + 1)
    return sites


# -- the FPU state in Unicorn ----------------------------------------------------------

_buffer = (ctypes.c_uint64 * 2)()  # an 80-bit register: significand, then sign and exponent


def _read_raw(cpu: Cpu, reg: int) -> int:
    uclib.uc_reg_read(cpu._h, reg, _buffer)
    return (_buffer[1] & 0xFFFF) << 64 | _buffer[0]


def _write_raw(cpu: Cpu, reg: int, value: int) -> None:
    _buffer[0], _buffer[1] = value & 0xFFFF_FFFF_FFFF_FFFF, value >> 64
    uclib.uc_reg_write(cpu._h, reg, _buffer)


class Registers:
    """The eight physical data registers, each read from the CPU when first
    used (most instructions touch one or two); remembers which were set."""

    def __init__(self, cpu: Cpu) -> None:
        self.cpu = cpu
        self.values: list[int | None] = [None] * 8
        self.changed: set[int] = set()

    def __getitem__(self, i: int) -> int:
        value = self.values[i]
        if value is None:
            value = self.values[i] = _read_raw(self.cpu, UC_X86_REG_FP0 + i)
        return value

    def __setitem__(self, i: int, value: int) -> None:
        self.values[i] = value
        self.changed.add(i)


def read_state(cpu: Cpu, pointers: bool = False) -> FpuState:
    """The FPU's state as the CPU holds it (FPi are the physical registers).
    The last-instruction pointers only if `pointers` (FNSTENV, FNSAVE)."""
    tags = cpu.reg_read(UC_X86_REG_FPTAG)
    state = FpuState(
        cw=cpu.reg_read(UC_X86_REG_FPCW) & 0xFFFF,
        sw=cpu.reg_read(UC_X86_REG_FPSW) & 0xFFFF,
        empty=[(tags >> (2 * i)) & 3 == x87.TAG_EMPTY for i in range(8)],
        regs=Registers(cpu),
        fcs=USER_CS,
    )
    if pointers:
        state.fip = cpu.reg_read(UC_X86_REG_FIP) & 0xFFFFFFFF
        state.fop = cpu.reg_read(UC_X86_REG_FOP) & 0x7FF
        state.fdp = cpu.reg_read(UC_X86_REG_FDP) & 0xFFFFFFFF
    return state


def write_state(cpu: Cpu, state: FpuState, before: Emulated, everything: bool = False) -> None:
    """Put `state` back: the registers it changed (all, if `everything`),
    and the status, tag and control words that changed. (The
    last-instruction pointers are not kept: see README.)"""
    regs = state.regs
    assert isinstance(regs, Registers)
    for i in range(8) if everything else sorted(regs.changed):
        _write_raw(cpu, UC_X86_REG_FP0 + i, regs[i])
    if everything or state.sw != before.sw:
        cpu.reg_write(UC_X86_REG_FPSW, state.sw)  # (also sets TOP)
    if everything or state.empty != before.empty:
        cpu.reg_write(UC_X86_REG_FPTAG, sum(3 << 2 * i for i in range(8) if state.empty[i]))
    if everything or state.cw != before.cw:
        cpu.reg_write(UC_X86_REG_FPCW, state.cw)


# -- running one instruction ----------------------------------------------------------------


@dataclass(slots=True)
class Emulated:
    """An instruction run in software, not yet written back to the CPU."""

    state: FpuState  # the FPU after it
    cw: int  # the control, status and tag words before it
    sw: int
    empty: list[bool]
    outcome: x87.Outcome
    following: int  # the address of the next instruction


SAVES_POINTERS = {(0xD9, 6), (0xDD, 6)}  # FNSTENV, FNSAVE


def compute(cpu: Cpu, pc: int, code: bytes, bus: MemoryBus, gs_base: Callable[[], int]) -> Emulated:
    """Run the x87 instruction at `pc` (its bytes start `code`) in software,
    on the FPU state read from the CPU. Raises x87.FloatingPointError (#MF:
    an unmasked exception is pending) or x87.InvalidOpcode (#UD); a bad
    memory operand raises whatever `bus` raises."""
    insn = x87.decode(code, lambda name: cpu.reg_read(_GPRS[name]), _segments(gs_base))
    if insn is None:
        raise x87.InvalidOpcode
    pointers = insn.address is not None and (insn.opcode, insn.reg) in SAVES_POINTERS
    state = read_state(cpu, pointers)
    cw, sw, empty = state.cw, state.sw, list(state.empty)
    eflags = (lambda: cpu.reg_read(UC_X86_REG_EFLAGS)) if insn.opcode in (0xDA, 0xDB) else None
    outcome = x87.execute(state, insn, bus, eflags() if eflags else 0, pc)
    return Emulated(state, cw, sw, empty, outcome, pc + insn.length)


def commit(cpu: Cpu, done: Emulated, everything: bool = False) -> None:
    """Write an emulated instruction's effects into the CPU (`everything`:
    the whole FPU state, not just what the instruction changed)."""
    if everything:
        for i in range(8):
            done.state.regs[i]  # (read what is not read yet: it is written back as it was)
    write_state(cpu, done.state, done, everything)
    if done.outcome.eflags is not None:
        mask, bits = done.outcome.eflags
        eflags = cpu.reg_read(UC_X86_REG_EFLAGS)
        cpu.reg_write(UC_X86_REG_EFLAGS, (eflags & ~mask) | bits)
    if done.outcome.ax is not None:
        eax = cpu.reg_read(UC_X86_REG_EAX)
        cpu.reg_write(UC_X86_REG_EAX, (eax & ~0xFFFF) | done.outcome.ax)


FWAIT = 0x9B


def stretchable(insn: x87.Instruction) -> bool:
    """Whether a stretch may take `insn` in: not if it needs what a stretch
    does not carry (the instruction pointers, EFLAGS)."""
    if insn.address is not None:
        return (insn.opcode, insn.reg) not in SAVES_POINTERS
    return not (insn.opcode in (0xDA, 0xDB) and insn.reg < 4)  # FCMOVcc reads EFLAGS


STRETCH = 64  # x87 instructions run per trap at most


def emulate(
    cpu: Cpu, pc: int, fetch: Callable[[int], bytes], bus: MemoryBus, gs_base: Callable[[], int]
) -> int:
    """Run the x87 instruction at `pc` and the ones right after it, a whole
    stretch of floating-point code for one trap; -> the address where the
    CPU goes on. The first instruction's exceptions propagate (as in
    `compute`); one from a later instruction ends the stretch before it
    (it traps again when the CPU gets there)."""
    done = compute(cpu, pc, fetch(pc), bus, gs_base)
    state, pc = done.state, done.following
    for _ in range(STRETCH):
        if done.outcome.eflags is not None or done.outcome.ax is not None:
            break  # (the next instruction may read them: let the CPU have them first)
        try:
            code = fetch(pc)
            if code[0] == FWAIT and not state.sw & x87.ES:
                pc += 1
                continue
            insn = x87.decode(code, lambda name: cpu.reg_read(_GPRS[name]), _segments(gs_base))
            if (
                insn is None
                or (insn.opcode, insn.reg) in SAVES_POINTERS
                or insn.opcode in (0xDA, 0xDB)
            ):
                break  # not x87, or needs what a stretch does not carry (pointers, EFLAGS)
            done.outcome = x87.execute(state, insn, bus, 0, pc)
        except Exception:  # #MF, #UD, a bad address: the CPU gets there and traps
            break
        pc += insn.length
    commit(cpu, done)
    return pc


def _segments(gs_base: Callable[[], int]) -> Callable[[str], int]:
    return lambda segment: gs_base() if segment == "gs" else 0


def emulate_mxcsr(
    cpu: Cpu, pc: int, code: bytes, bus: MemoryBus, gs_base: Callable[[], int]
) -> int | None:
    """LDMXCSR/STMXCSR (0F AE /2, /3), which CR0.EM turns into #UD: done
    here. -> the next instruction's address, or None if `code` is neither."""
    prefix = 1 if code[:1] in (b"\x26", b"\x2e", b"\x36", b"\x3e", b"\x64", b"\x65") else 0
    body = code[prefix:]
    if body[:2] != b"\x0f\xae" or len(body) < 3 or body[2] >= 0xC0:
        return None
    if (body[2] >> 3) & 7 not in (2, 3):
        return None
    # Decode the ModRM operand as if it were an x87 instruction's (same addressing).
    insn = x87.decode(
        code[:prefix] + b"\xd9" + body[2:],
        lambda name: cpu.reg_read(_GPRS[name]),
        _segments(gs_base),
    )
    if insn is None or insn.address is None:
        return None
    if (body[2] >> 3) & 7 == 2:
        cpu.reg_write(UC_X86_REG_MXCSR, int.from_bytes(bus.read(insn.address, 4), "little"))
    else:
        bus.write(insn.address, (cpu.reg_read(UC_X86_REG_MXCSR) & 0xFFFFFFFF).to_bytes(4, "little"))
    return pc + insn.length + 1


def set_pc(cpu: Cpu, pc: int) -> None:
    """From a hook: go on at `pc` (through the library, which makes Unicorn
    leave the current block and resume there)."""
    cpu.reg_write(UC_X86_REG_EIP, pc)


# -- fixups: the instruction runs on the CPU, then its result is put right --------------


@dataclass(frozen=True, slots=True)
class SqrtFix:
    """FSQRT's operand: its result is right, C1 and PE are set from it."""

    operand: int


@dataclass(frozen=True, slots=True)
class RemainderFix:
    """FPREM/FPREM1's right result and condition bits."""

    result: int
    condition: int


Fix = SqrtFix | RemainderFix | Emulated


def fixup_compute(cpu: Cpu, pc: int, code: bytes, bus: MemoryBus) -> Fix:
    """Before the faulty instruction at `pc` runs: what to put right after it.
    FSQRT and FPREM/FPREM1 on ordinary numbers take integer fast paths."""
    opcode = code[1]
    if opcode == 0xFA and cpu.reg_read(UC_X86_REG_FPCW) & x87.PE:  # (PE masked)
        operand = _read_raw(cpu, UC_X86_REG_ST0)
        number = x87.unpack(operand)
        if number is not None and number[0] == 0:  # a positive number: no IE, no DE
            return SqrtFix(operand)
    if opcode in (0xF8, 0xF5):
        fast = x87.fast_fprem(
            _read_raw(cpu, UC_X86_REG_ST0), _read_raw(cpu, UC_X86_REG_ST1), opcode == 0xF5
        )
        if fast is not None:
            return RemainderFix(*fast)
    return compute(cpu, pc, code, bus, lambda: 0)


def fixup_commit(cpu: Cpu, fix: Fix) -> None:
    """After the instruction ran on the CPU: write the right outcome over it."""
    if isinstance(fix, Emulated):
        commit(cpu, fix, everything=True)
        return
    sw = cpu.reg_read(UC_X86_REG_FPSW)
    if isinstance(fix, RemainderFix):
        _write_raw(cpu, UC_X86_REG_ST0, fix.result)
        cpu.reg_write(UC_X86_REG_FPSW, (sw & ~x87.CONDITION) | fix.condition)
        return
    rounding = x87.sqrt_rounding(fix.operand, _read_raw(cpu, UC_X86_REG_ST0))
    if rounding is not None:
        up, inexact = rounding
        sw = (sw & ~x87.C1) | (x87.C1 if up else 0) | (x87.PE if inexact else 0)
        cpu.reg_write(UC_X86_REG_FPSW, sw)
