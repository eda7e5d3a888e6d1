"""What happens when the CPU hands control back to the kernel.

The CPU stops for three reasons: a syscall asked it to (the task blocked,
exited, exec'd, or yielded), its time slice ran out, or the guest faulted.
For a fault the kernel does what Linux's trap handlers do: turn the CPU
exception into a signal for the task (SIGSEGV for a bad address, SIGILL for
an invalid opcode, SIGFPE for a divide error) and, when that signal kills
it, tell the person exactly what went wrong and where.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from nommu.abi.signals import SI_KERNEL, Signal
from nommu.kernel import signal as ksignal
from nommu.kernel.errors import SyscallError
from nommu.kernel.task import Task, TaskState
from nommu.machine.cpu import Stop, StopKind

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel


def handle_stop(k: Kernel, t: Task, stop: Stop) -> None:
    """Bring `t` up to date after its slice, and requeue it if it may go on."""
    if stop.kind is not StopKind.STOPPED:
        handle_fault(k, t, stop)
        return
    if not t.alive:
        return
    if t.fresh_regs is None:  # (after execve the new program's entry is already set)
        t.pc = stop.pc  # (a blocked syscall has rewound it to the syscall instruction)
    if t.state is TaskState.RUNNABLE:
        k.sched.requeue(t)


def oom_kill(k: Kernel, t: Task) -> None:
    """MMU mode: a page fault found no free frame. As Linux's out-of-memory
    killer does, kill the faulting process (SIGKILL) and say so."""
    k.limits.note(f"oom:{t.pid}", f"out of memory: killed process {t.pid} ({t.comm})")
    ksignal.force_signal(k, t, Signal.SIGKILL, ksignal.siginfo(Signal.SIGKILL))


def fault_signal(k: Kernel, stop: Stop) -> Signal:
    if stop.kind is StopKind.MEMORY_FAULT:
        return Signal.SIGSEGV
    sig: Signal = k.arch.TRAP_SIGNALS.get(stop.trapno, Signal.SIGSEGV)
    return sig


SEGV_MAPERR, SEGV_ACCERR = 1, 2


def fault_info(k: Kernel, t: Task, stop: Stop, sig: int) -> bytes:
    """The siginfo a fault handler sees: si_code and the faulting address.

    SEGV_ACCERR when the page is mapped but its protection refused the access
    (MMU mode only: without an MMU nothing in RAM is protected)."""
    if stop.kind is StopKind.MEMORY_FAULT:
        refused = k.memory.protection_fault(t, stop.address)
        code = SEGV_ACCERR if refused else SEGV_MAPERR
        return ksignal.siginfo(sig, code=code, addr=stop.address)
    code = {Signal.SIGFPE: 1, Signal.SIGILL: 2}.get(Signal(sig), SI_KERNEL)
    return ksignal.siginfo(sig, code=code, addr=stop.pc)


def exact_fault_address(k: Kernel, t: Task, stop: Stop) -> int:
    """The TLB reports the faulting page; the instruction tells the address."""
    try:
        code = k.uspace.read(stop.pc, 16)
    except SyscallError:
        return stop.address
    tls_base = k.arch.thread_pointer(k.cpu, t.tls)
    address: int = k.arch.fault_address(code, stop.pc, k.cpu.reg_read, stop.address, tls_base)
    return address


def _store_let_through(k: Kernel, t: Task, stop: Stop) -> bool:
    """A store to RAM the TLB refused: without an MMU only because the task
    may not write there (kernel/mpu.py), and then it lands, as on a board,
    unless it is a stack overflow under --stack-guard. (With an MMU the model
    says no: a page fault.)"""
    ram = k.ram
    if stop.access != "write" or not ram.base <= stop.address < ram.end:
        return False
    return k.memory.store_refused(t, stop.address, stop.pc)


def handle_fault(k: Kernel, t: Task, stop: Stop) -> None:
    """A CPU exception in `t`: it becomes a signal, forced on the task."""
    t.pc = stop.pc
    if k.memory.out_of_memory(t):
        oom_kill(k, t)
        return
    if stop.kind is StopKind.MEMORY_FAULT:
        stop = dataclasses.replace(stop, address=exact_fault_address(k, t, stop))
        if _store_let_through(k, t, stop):
            k.sched.requeue(t)  # (it runs the store again, which lands now)
            return
    sig = fault_signal(k, stop)
    k.last_fault = (t, stop, sig)
    ksignal.force_signal(k, t, sig, fault_info(k, t, stop, sig))
    if t.alive and t.state is TaskState.RUNNABLE:
        k.sched.requeue(t)
