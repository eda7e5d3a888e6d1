"""Fault reports: what a crashed guest did, in words a person can act on.

nommu: process 3 (crash_segv) killed by SIGSEGV (Segmentation fault)
  write to 0x00000001: no memory there (RAM is 0x40000000-0x42000000)
  at 0x40001196 <main+0x16>: mov dword ptr [eax], 0x2a
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi.signals import SHELL_DESCRIPTIONS, signal_name
from nommu.kernel.events import EventSink
from nommu.machine.cpu import StopKind
from nommu.trace import symbols

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task


def disassemble(k: Kernel, pc: int) -> str:
    """The instruction at `pc`, or '' if it cannot be read or decoded."""
    try:
        import capstone

        arch, *modes = (getattr(capstone, name) for name in k.arch.DISASSEMBLER)
        mode = 0
        for bits in modes:
            mode |= bits
        code = k.uspace.read(pc, 16)
        for insn in capstone.Cs(arch, mode).disasm(code, pc):
            return f"{insn.mnemonic} {insn.op_str}".strip()
    except Exception:  # noqa: BLE001 (a report line is best effort: no capstone, no bytes)
        return ""
    return "(undecodable bytes)"


def fault_lines(k: Kernel, t: Task, sig: int) -> list[str]:
    """The report for `t`, killed by `sig` after the CPU fault in k.last_fault."""
    desc = SHELL_DESCRIPTIONS.get(sig, "")
    lines = [
        f"process {t.pid} ({t.comm}) killed by {signal_name(sig)}" + (f" ({desc})" if desc else "")
    ]
    if k.last_fault is None:
        return lines
    _, stop, _ = k.last_fault
    insn = disassemble(k, stop.pc)
    if stop.kind is StopKind.MEMORY_FAULT:
        lines.append(k.memory.explain_fault(t, stop.address, stop.access))
    else:
        lines.append(f"  CPU exception {stop.trapno}: {k.arch.TRAP_NAMES.get(stop.trapno, '?')}")
    sym = symbols.describe(t.mm.image, t.mm.load_base, stop.pc)
    lines.append(
        f"  at {stop.pc:#010x}" + (f" <{sym}>" if sym else "") + (f": {insn}" if insn else "")
    )
    if stop.kind is StopKind.TRAP and (why := k.arch.explain_trap(stop.trapno, insn)):
        lines.append(f"  {why}")
    return lines


def report_fault(k: Kernel, t: Task, sig: int) -> None:
    for line in fault_lines(k, t, sig):
        print(
            f"nommu: {line}" if not line.startswith(" ") else f"       {line}", file=k.config.stderr
        )


class FaultReport(EventSink):
    """The front end's event sink: a process killed by a CPU fault gets its
    report on the machine's stderr (the kernel only raises the event)."""

    def __init__(self, k: Kernel) -> None:
        self.k = k

    def fatal_fault(self, t: Task, sig: int) -> None:
        report_fault(self.k, t, sig)
