"""i386: the registers, the `int $0x80` syscall ABI, the GDT and TLS.

This module is i386's `Arch` (arch/base.py says what each name here is for);
the syscall numbers are in i386_syscalls.py, the signal frames in
i386_signal.py, the x87 fixes in i386_x87.py.

Syscall ABI (arch/x86/entry/entry_32.S): number in EAX, arguments in EBX, ECX,
EDX, ESI, EDI, EBP, result in EAX (-4095..-1 is -errno).

TLS: i386 Linux gives each thread three GDT slots (entries 6-8,
GDT_ENTRY_TLS_MIN..MAX) that `set_thread_area` fills from a `struct
user_desc`; musl then loads `%gs` with `entry*8 + 3`. There is one GDT in
memory, so on a context switch the incoming thread's three descriptors are
written into it. Unicorn runs the guest at CPL 0, so the stack segment needs
a DPL-0 descriptor of its own (entry 15); the TLS descriptors keep DPL 3 as
Linux writes them, which a CPL-0 load through an RPL-3 selector accepts.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unicorn import UC_ARCH_X86, UC_MODE_32
from unicorn.x86_const import (
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
    UC_X86_REG_GDTR,
    UC_X86_REG_GS,
    UC_X86_REG_SS,
)

from nommu.abi import structs
from nommu.abi.errno import Errno
from nommu.abi.signals import Signal
from nommu.arch import i386_signal, i386_syscalls, i386_x87
from nommu.arch.base import ReadUser, Registers, SignalFrame
from nommu.kernel.errors import SyscallError

if TYPE_CHECKING:
    from nommu.machine.cpu import Cpu

NAME = "i386"
ELF_MACHINE = 3  # EM_386
UC_ARCH = UC_ARCH_X86
UC_MODE = UC_MODE_32
WORD = 4
PLATFORM = "i686"
UTS_MACHINE = "i686"  # uname's machine (the 32-bit kernel's: UTS_MACHINE of arch/x86)
HWCAP = 0x078BFBFD  # CPUID.1:EDX of Unicorn's default CPU (fpu .. sse2), as Linux reports it
# Physical RAM starts at 1 GiB: page 0 stays unmapped (NULL faults) and
# addresses look like a 3G/1G split's user space.
RAM_BASE = 0x40000000

PC_REG = UC_X86_REG_EIP
SP_REG = UC_X86_REG_ESP
RESULT_REG = UC_X86_REG_EAX
SYSCALL_TRAP = 0x80
SYSCALL_INSN_LEN = 2  # `int $0x80` is CD 80: rewinding by this re-executes the syscall
SYSCALL_NUMBERS = i386_syscalls.SYSCALL_NUMBERS
SYSCALL_NAMES = i386_syscalls.SYSCALL_NAMES
NO_ENTRY = i386_syscalls.NO_ENTRY
SIGINFO_SIZE = i386_signal.SIGINFO_SIZE
SYSCALL_REGS: tuple[int, ...] = (
    UC_X86_REG_EAX,
    UC_X86_REG_EBX,
    UC_X86_REG_ECX,
    UC_X86_REG_EDX,
    UC_X86_REG_ESI,
    UC_X86_REG_EDI,
    UC_X86_REG_EBP,
)
GENERAL_REGS = {
    "eax": UC_X86_REG_EAX,
    "ebx": UC_X86_REG_EBX,
    "ecx": UC_X86_REG_ECX,
    "edx": UC_X86_REG_EDX,
    "esi": UC_X86_REG_ESI,
    "edi": UC_X86_REG_EDI,
    "ebp": UC_X86_REG_EBP,
    "esp": UC_X86_REG_ESP,
    "eip": UC_X86_REG_EIP,
    "eflags": UC_X86_REG_EFLAGS,
}
# Unicorn's register array (CPUX86State.regs, QEMU order: eax ecx edx ebx esp
# ebp esi edi, then r8-r15, then eip), found at run time by machine/cpu.py.
WINDOW_REGS: tuple[int, ...] = (
    UC_X86_REG_EAX,
    UC_X86_REG_ECX,
    UC_X86_REG_EDX,
    UC_X86_REG_EBX,
    UC_X86_REG_ESP,
    UC_X86_REG_EBP,
    UC_X86_REG_ESI,
    UC_X86_REG_EDI,
)
# The syscall registers' places in it: eax (nr), ebx, ecx, edx, esi, edi, ebp
SYSCALL_WINDOW_INDEX: tuple[int, ...] = (0, 3, 1, 2, 6, 7, 5)
WINDOW_PC_INDEX = 16
WINDOW_WORD = 8  # CPUX86State.regs holds 64-bit slots
UC_CPU_MODEL: int | None = None  # Unicorn's default x86 CPU
PC_TAG = 0  # code addresses carry no mode bit
DISASSEMBLER: tuple[str, ...] = (
    "CS_ARCH_X86",
    "CS_MODE_32",
)  # capstone's names for the fault reports
SYSCALL_ARG_ORDER: dict[str, tuple[int, ...]] = {}  # every call takes its registers in order
STAT64 = structs.STAT64
FLOCK64 = structs.FLOCK64
EPOLL_EVENT = struct.Struct("<IQ")  # packed on x86 (__EPOLL_PACKED): 12 bytes
STATFS64_SIZES: tuple[int, ...] = (84,)  # sizeof(struct statfs64), packed
OPEN_FLAGS: dict[int, int] = {}  # the generic values
IPC_PARSE_VERSION = False  # its semctl, msgctl, shmctl (394-...) are the IPC_64 ones
# Unicorn's helper for the invlpg instruction, helper_invlpg(env, address): it
# drops one page from the TLB. The register window starts at env (CPUX86State
# begins with the general registers, EAX first), so it can be called with it.
TLB_PAGE_HELPER = "helper_invlpg_x86_64"
TLB_HELPER_TAKES = "env"
UC_TLB_PAGE = 0x1000  # (as the kernel's pages)
FRAME_REG = UC_X86_REG_EBP
FLAGS_REG = UC_X86_REG_EFLAGS
TLS_REG = UC_X86_REG_GS
fpu = i386_x87  # the x87 fixes the kernel's math emulation applies

TRAP_DIVIDE = 0
TRAP_INVALID_OPCODE = 6
TRAP_GENERAL_PROTECTION = 13

# Which signal each CPU exception becomes (arch/x86/kernel/traps.c).
TRAP_SIGNALS: dict[int, Signal] = {
    0: Signal.SIGFPE,  # divide error
    1: Signal.SIGTRAP,  # debug
    3: Signal.SIGTRAP,  # int3
    4: Signal.SIGSEGV,  # overflow (into)
    5: Signal.SIGSEGV,  # bound range
    6: Signal.SIGILL,  # invalid opcode
    11: Signal.SIGBUS,  # segment not present
    12: Signal.SIGBUS,  # stack segment fault
    13: Signal.SIGSEGV,  # general protection
    14: Signal.SIGSEGV,  # page fault
    16: Signal.SIGFPE,  # x87 error
    17: Signal.SIGBUS,  # alignment check
    19: Signal.SIGFPE,  # SIMD floating point
}
TRAP_NAMES: dict[int, str] = {
    0: "divide error",
    1: "debug trap",
    3: "breakpoint (int3)",
    4: "overflow",
    5: "bound range exceeded",
    6: "invalid opcode",
    11: "segment not present",
    12: "stack segment fault",
    13: "general protection fault",
    14: "page fault",
    16: "x87 floating-point error",
    17: "alignment check",
    19: "SIMD floating-point exception",
}

# -- GDT ------------------------------------------------------------------

GDT_ENTRIES = 32
GDT_SIZE = GDT_ENTRIES * 8
GDT_ENTRY_TLS_MIN = 6
GDT_ENTRY_TLS_ENTRIES = 3
GDT_ENTRY_KERNEL_DS = 15
KERNEL_DS = GDT_ENTRY_KERNEL_DS * 8  # RPL 0: the selector SS uses at CPL 0
USER_DESC = struct.Struct("<IIII")  # entry_number, base_addr, limit, flag bits


def _descriptor(base: int, limit: int, access: int, flags: int) -> bytes:
    """Pack one 8-byte segment descriptor."""
    lo = (limit & 0xFFFF) | ((base & 0xFFFF) << 16)
    hi = ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) | (flags << 20)
    hi |= base & 0xFF000000
    return struct.pack("<II", lo, hi)


EMPTY_DESCRIPTOR = bytes(8)


@dataclass(frozen=True, slots=True)
class UserDesc:
    """struct user_desc, as set_thread_area reads and writes it."""

    entry_number: int
    base_addr: int
    limit: int
    seg_32bit: int
    contents: int
    read_exec_only: int
    limit_in_pages: int
    seg_not_present: int
    useable: int

    @classmethod
    def unpack(cls, raw: bytes) -> UserDesc:
        entry, base, limit, bits = USER_DESC.unpack(raw)
        return cls(
            entry,
            base,
            limit,
            bits & 1,
            (bits >> 1) & 3,
            (bits >> 3) & 1,
            (bits >> 4) & 1,
            (bits >> 5) & 1,
            (bits >> 6) & 1,
        )

    def is_empty(self) -> bool:
        """Linux's LDT_empty()/LDT_zero(): a request to clear the slot."""
        zero = (
            self.base_addr,
            self.limit,
            self.contents,
            self.seg_32bit,
            self.limit_in_pages,
            self.useable,
        ) == (0, 0, 0, 0, 0, 0)
        return zero and ((self.read_exec_only, self.seg_not_present) in ((1, 1), (0, 0)))

    def descriptor(self) -> bytes:
        """The GDT descriptor fill_ldt() makes from this request (DPL 3)."""
        if self.is_empty():
            return EMPTY_DESCRIPTOR
        seg_type = ((self.read_exec_only ^ 1) << 1) | (self.contents << 2) | 1
        access = seg_type | 0x10 | (3 << 5) | ((self.seg_not_present ^ 1) << 7)
        flags = self.useable | (self.seg_32bit << 2) | (self.limit_in_pages << 3)
        return _descriptor(self.base_addr, self.limit, access, flags)


def tls_base(descriptor: bytes) -> int:
    """The segment base a TLS descriptor holds."""
    lo, hi = (int(x) for x in struct.unpack("<II", descriptor))
    return (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000)


def initial_tls() -> list[bytes]:
    """A new program's TLS state: its three GDT slots, empty."""
    return [EMPTY_DESCRIPTOR] * GDT_ENTRY_TLS_ENTRIES


def set_tls(tls: list[bytes], read: ReadUser, arg: int) -> int:
    """set_thread_area (and clone's CLONE_SETTLS): install the descriptor the
    struct user_desc at `arg` asks for in one of the thread's slots `tls`;
    return its entry number (entry -1 asks for a free one)."""
    desc = UserDesc.unpack(read(arg, USER_DESC.size))
    entry = desc.entry_number
    if entry == 0xFFFFFFFF:
        free = [i for i, d in enumerate(tls) if d == EMPTY_DESCRIPTOR]
        if not free:
            raise SyscallError(Errno.ESRCH)
        entry = GDT_ENTRY_TLS_MIN + free[0]
    if not GDT_ENTRY_TLS_MIN <= entry < GDT_ENTRY_TLS_MIN + GDT_ENTRY_TLS_ENTRIES:
        raise SyscallError(Errno.EINVAL)
    tls[entry - GDT_ENTRY_TLS_MIN] = desc.descriptor()
    return entry


def write_tls(cpu: Cpu, gdt_addr: int, tls: list[bytes]) -> None:
    """Put a thread's TLS descriptors in the GDT at physical `gdt_addr` (there
    is one GDT: a context switch writes the incoming thread's slots)."""
    cpu.ram.write(gdt_addr + 8 * GDT_ENTRY_TLS_MIN, b"".join(tls))


def reload_tls(cpu: Cpu) -> None:
    """Reload %gs, so the CPU's cached segment base follows a changed GDT slot.
    (The cached base is part of each task's saved registers, so an ordinary
    switch needs no reload; a new thread or set_thread_area does.)"""
    gs = cpu.reg_read(TLS_REG)
    if gs:
        cpu.reg_write(TLS_REG, gs)


def thread_pointer(cpu: Cpu, tls: list[bytes]) -> int:
    """The base of the running thread's %gs segment, its TLS (0 if %gs
    selects no TLS slot)."""
    slot = (cpu.reg_read(TLS_REG) >> 3) - GDT_ENTRY_TLS_MIN
    if not 0 <= slot < len(tls):
        return 0
    return tls_base(tls[slot])


def install_tables(cpu: Cpu, gdt_addr: int, linear: int | None = None) -> None:
    """Write the GDT at physical `gdt_addr`, point GDTR at it (at the virtual
    address `linear` when an MMU translates) and load SS."""
    gdt = bytearray(GDT_SIZE)
    kernel_ds = _descriptor(0, 0xFFFFF, 0x93, 0xC)  # flat data, DPL 0, 4 KiB pages, 32-bit
    gdt[KERNEL_DS : KERNEL_DS + 8] = kernel_ds
    cpu.ram.write(gdt_addr, gdt)
    base = gdt_addr if linear is None else linear
    cpu.uc.reg_write(UC_X86_REG_GDTR, (0, base, GDT_SIZE - 1, 0))
    cpu.uc.reg_write(UC_X86_REG_SS, KERNEL_DS)


def reset_fpu(cpu: Cpu) -> None:
    """The x87 and SSE state a new program starts with on Linux (fpstate_init):
    control word 0x37f (exceptions masked, 64-bit precision), every register
    empty, MXCSR 0x1f80. (Unicorn's own reset leaves the control word 0:
    single precision, which prints 1.0/3 as 0.33333334326744079590.)"""
    i386_signal.clear_fpu(cpu.uc)


# -- signal frames (the layouts are in i386_signal.py) ---------------------------


def signal_frame(
    cpu: Cpu,
    pc: int,
    sp: int,
    sig: int,
    handler: int,
    restorer: int,
    info: bytes | None,
    blocked: int,
    altstack: tuple[int, int, int],
) -> SignalFrame:
    """The rt frame (with `info`) or the old frame, below the FPU state, below `sp`."""
    frames = i386_signal
    context = frames.read_context(cpu.reg_read, pc)
    fpstate_at = context[frames._FPSTATE] = frames.fpstate_addr(sp)
    fpstate = frames.save_fpu(cpu.uc)
    if info is not None:
        frame = frames.rt_frame(
            fpstate_at, sig, handler, restorer, info, context, blocked, altstack
        )
    else:
        frame = frames.old_frame(fpstate_at, sig, handler, restorer, context, blocked)
    return SignalFrame(((frame.addr, frame.data), (fpstate_at, fpstate)), frame.regs)


def enter_signal_handler(cpu: Cpu, frame: SignalFrame) -> None:
    """The handler's registers, and a clean FPU (fpu__clear_user_states)."""
    cpu.regs_write(frame.regs)
    i386_signal.clear_fpu(cpu.uc)


def sigreturn(cpu: Cpu, read: ReadUser, rt: bool) -> int:
    """Restore what the frame at ESP saved; return the saved signal mask."""
    frames = i386_signal
    esp = cpu.reg_read(SP_REG)
    if rt:
        base = frames.rt_frame_addr(esp)
        context = read(base + frames.RT_UC_MCONTEXT, frames.SIGCONTEXT.size)
        mask = int.from_bytes(read(base + frames.RT_UC_SIGMASK, 8), "little")
    else:
        base = frames.old_frame_addr(esp)
        context = read(base + frames.OLD_SC, frames.SIGCONTEXT.size)
        mask = int.from_bytes(read(base + frames.OLD_MASK, 4), "little")
    flags = cpu.reg_read(FLAGS_REG)
    fpstate = frames.SIGCONTEXT.unpack(context)[frames._FPSTATE]
    if fpstate:  # (0: the handler cleared it; Linux then starts the FPU afresh)
        frames.restore_fpu(cpu.uc, read(fpstate, frames.FPSTATE_SIZE))
    else:
        frames.clear_fpu(cpu.uc)
    cpu.regs_write(frames.restore(context, flags))
    return mask


def finish_stopped_instruction(cpu: Cpu) -> None:
    """Nothing: with precise stops (machine/cpu.py) a stop from the slice
    timer lands between instructions."""


def explain_trap(trapno: int, insn: str) -> str:
    """Nothing to add: the trap's name says it (the x87 is emulated)."""
    return ""


def data_fill_repair(cpu: Cpu) -> Callable[[], None] | None:
    """Nothing: the state a fill restores (EIP, flags) is what the code has."""
    return None


def cpuinfo() -> str:
    """/proc/cpuinfo: the fields programs look for (x86's show_cpuinfo has
    many more)."""
    return (
        "processor\t: 0\nvendor_id\t: nommu\nmodel name\t: Unicorn i686 (no MMU)\n"
        "flags\t\t: fpu tsc cx8 cmov mmx sse sse2\n\n"
    )


def initial_registers(
    entry: int, sp: int, start_data: int = 0, fdpic: tuple[int, int, int] | None = None
) -> Registers:
    """Registers as ELF_PLAT_INIT leaves them for a new program on i386
    (`start_data` is not passed on i386, and nommu has no i386 FDPIC)."""
    regs = [(reg, 0) for reg in SYSCALL_REGS]
    return [
        *regs,
        (UC_X86_REG_ESP, sp),
        (UC_X86_REG_EIP, entry),
        (UC_X86_REG_EFLAGS, 0x202),
        (UC_X86_REG_GS, 0),
    ]


# -- the exact address of a memory fault --------------------------------------------

_CS_REGS: dict[str, int] = {
    "eax": UC_X86_REG_EAX, "ebx": UC_X86_REG_EBX, "ecx": UC_X86_REG_ECX,
    "edx": UC_X86_REG_EDX, "esi": UC_X86_REG_ESI, "edi": UC_X86_REG_EDI,
    "ebp": UC_X86_REG_EBP, "esp": UC_X86_REG_ESP,
}  # fmt: skip


def fault_address(
    code: bytes, pc: int, read_reg: Callable[[int], int], page: int, gs_base: int
) -> int:
    """The address a faulting instruction touched, within the faulting `page`.

    The CPU's TLB reports only the page that missed; the offset comes from
    decoding the instruction's memory operand (base + index*scale + disp,
    plus the GS segment base for TLS accesses). Stack pushes (push, call)
    touch ESP-4. If nothing decodes to that page, the page itself is returned.
    """
    try:
        from capstone import CS_ARCH_X86, CS_MODE_32, Cs
        from capstone.x86 import X86_OP_MEM

        md = Cs(CS_ARCH_X86, CS_MODE_32)
        md.detail = True
        insn = next(md.disasm(code, pc), None)
        if insn is None:
            return page
        candidates = []
        for op in insn.operands:
            if op.type != X86_OP_MEM:
                continue
            mem = op.mem
            addr = mem.disp
            if mem.base:
                addr += read_reg(_CS_REGS.get(insn.reg_name(mem.base), 0))
            if mem.index:
                addr += read_reg(_CS_REGS.get(insn.reg_name(mem.index), 0)) * mem.scale
            if mem.segment and insn.reg_name(mem.segment) == "gs":
                addr += gs_base
            candidates.append(addr & 0xFFFFFFFF)
        if insn.mnemonic in ("push", "call", "pushal", "pushfd"):
            candidates.append((read_reg(UC_X86_REG_ESP) - 4) & 0xFFFFFFFF)
        for addr in candidates:
            if addr & ~0xFFF == page & ~0xFFF:
                return int(addr)
    except Exception:  # decoding is best effort; the page is right anyway
        pass
    return page


# -- call stacks ----------------------------------------------------------------
# What the stack walker (trace/unwind.py) needs to know about i386 code: a
# function built with a frame pointer starts `push %ebp; mov %esp,%ebp`, after
# which [ebp] is the caller's ebp and [ebp+4] the return address; a return
# address is recognised by the call instruction that ends just before it.

FRAME_PROLOGUE = b"\x55\x89\xe5"  # push %ebp; mov %esp,%ebp
SAVED_FP_OFFSET = 0
RETURN_ADDRESS_OFFSET = WORD
MAX_CALL_LEN = 7
# Registers a vfork stub keeps its return address in while the stack is shared
# (musl: %edx, uClibc-ng: %ecx).
VFORK_RETURN_REGS: tuple[int, ...] = (UC_X86_REG_EDX, UC_X86_REG_ECX)


def call_before(code: bytes, ret: int) -> tuple[bool, int | None]:
    """Whether the bytes `code` that end at address `ret` end with a call.

    -> (True, target) for a direct call, (True, None) for an indirect one
    (through a register or memory), (False, None) otherwise. `code` holds the
    MAX_CALL_LEN bytes before `ret` (fewer near the start of the code).
    """
    n = len(code)
    if n >= 5 and code[-5] == 0xE8:
        return True, (ret + int.from_bytes(code[-4:], "little", signed=True)) & 0xFFFFFFFF
    for length in (2, 3, 4, 6, 7):
        if n >= length and _indirect_call(code[n - length :]):
            return True, None
    return False, None


def jump_target(code: bytes, at: int) -> int | None:
    """Where a `jmp rel32` / `jmp rel8` at address `at` (bytes `code`) goes."""
    if len(code) >= 5 and code[0] == 0xE9:
        return (at + 5 + int.from_bytes(code[1:5], "little", signed=True)) & 0xFFFFFFFF
    if len(code) >= 2 and code[0] == 0xEB:
        return (at + 2 + int.from_bytes(code[1:2], "little", signed=True)) & 0xFFFFFFFF
    return None


def _indirect_call(insn: bytes) -> bool:
    """`insn` is exactly one `call *r/m32` (FF /2), with an optional segment prefix."""
    if insn[0] in (0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65):
        insn = insn[1:]
    if len(insn) < 2 or insn[0] != 0xFF or (insn[1] >> 3) & 7 != 2:
        return False
    mod, rm = insn[1] >> 6, insn[1] & 7
    sib = rm == 4 and mod != 3
    disp = {0: 4 if (rm == 5 or (sib and len(insn) > 2 and insn[2] & 7 == 5)) else 0, 1: 1, 2: 4}
    return len(insn) == 2 + int(sib) + disp.get(mod, 0)
