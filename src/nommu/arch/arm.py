"""ARM: a Cortex-M (Thumb-2) CPU, the EABI `svc #0` syscall ABI and TLS.

This module's `ArmArch` objects are ARM's `Arch` (arch/base.py says what
each name is for): one per CPU model (`CPUS`), Cortex-M7 by default. The
syscall numbers are in arm_syscalls.py, the signal frames in arm_signal.py.

The CPU (Unicorn 2.1): `UC_MODE_THUMB` with the CPU model set before the
engine starts (`UC_MODE_MCLASS` would always give a Cortex-M33). M7 has a
double-precision FPU (d0-d15), M4 and M33 single precision, M3 none (an FP
instruction traps there, as on the chip). Cortex-A9 is the A-profile
reference: the same Thumb-2 code, plus the cp15 thread-pointer register.

Memory: the M profile's default memory map makes 0x40000000-0x5FFFFFFF
(peripherals) and everything from 0xA0000000 execute-never, so RAM sits at
0x60000000, the external-RAM region where code may run (up to 1 GiB).
Page 0 stays unmapped: a NULL access faults. The CPU translates through
the kernel's TLB fill, as i386 does, so the no-MMU MPU (kernel/mpu.py)
watches ARM stores too; Unicorn's ARM TLB pages are 1 KiB
(`fault_address`), and a fill inside an IT block needs `data_fill_repair`.

Syscall ABI (arch/arm/kernel/entry-common.S, EABI): `svc #0` with the number
in r7, arguments in r0-r6, the result in r0. A 64-bit argument takes an
even/odd register pair, so a call whose 64-bit argument would start in an
odd register skips one: pread64(fd, buf, count, pad, pos_lo, pos_hi).
`SYSCALL_ARG_ORDER` says, for those calls, where each of the generic
handler's arguments is. The private calls 0xf0001-0xf0006 (set_tls,
get_tls, cacheflush...) are syscalls/arm_private.py.

TLS: the thread pointer is one word (what set_tls and clone's CLONE_SETTLS
set). musl built for ARMv7 reads it with `mrc p15, 0, rX, c13, c0, 3`
(TPIDRURO). A Cortex-M has no cp15: the instruction raises a NOCP
UsageFault, which real hardware cannot survive. nommu emulates it (the
trap handler writes the thread pointer into rX and skips the instruction)
so Debian's musl programs run, and `nommu check` reports each place that
does it (`cortex-m-tls`). On the A profile the CPU reads the register
itself.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unicorn import UC_ARCH_ARM, UC_MODE_THUMB
from unicorn.arm_const import (
    UC_ARM_REG_C1_C0_2,
    UC_ARM_REG_C13_C0_3,
    UC_ARM_REG_CPSR,
    UC_ARM_REG_D0,
    UC_ARM_REG_EPSR,
    UC_ARM_REG_FPEXC,
    UC_ARM_REG_FPSCR,
    UC_ARM_REG_LR,
    UC_ARM_REG_PC,
    UC_ARM_REG_R0,
    UC_ARM_REG_R1,
    UC_ARM_REG_R2,
    UC_ARM_REG_R3,
    UC_ARM_REG_R4,
    UC_ARM_REG_R5,
    UC_ARM_REG_R7,
    UC_ARM_REG_SP,
    UC_ARM_REG_XPSR,
    UC_CPU_ARM_CORTEX_A9,
    UC_CPU_ARM_CORTEX_M3,
    UC_CPU_ARM_CORTEX_M4,
    UC_CPU_ARM_CORTEX_M7,
    UC_CPU_ARM_CORTEX_M33,
)
from unicorn.unicorn_py3.unicorn import uclib

from nommu.abi.flags import ARM_OFLAGS
from nommu.abi.signals import Signal
from nommu.arch import arm_signal as frames
from nommu.arch import arm_syscalls
from nommu.arch.base import ReadUser, Registers, SignalFrame

if TYPE_CHECKING:
    from nommu.machine.cpu import Cpu

# r0-r12, sp, lr, pc in Unicorn's numbering (r0-r12 are consecutive there)
GPRS = [UC_ARM_REG_R0 + i for i in range(13)] + [UC_ARM_REG_SP, UC_ARM_REG_LR, UC_ARM_REG_PC]

# QEMU's ARM exception numbers, as Unicorn's interrupt hook reports them
TRAP_UDEF = 1  # undefined instruction
TRAP_SWI = 2  # svc
TRAP_PREFETCH_ABORT = 3  # instruction fetch refused (e.g. from an execute-never region)
TRAP_DATA_ABORT = 4
TRAP_BKPT = 7
TRAP_NOCP = 17  # v7-M: coprocessor instruction without that coprocessor (cp15, or no FPU)
TRAP_INVSTATE = 18  # v7-M: ARM-state (non-Thumb) execution attempted
TRAP_STKOF = 19
TRAP_UNALIGNED = 22
EPSR_THUMB = 1 << 24  # EPSR.T; the IT bits (26:25, 15:10) zero
PSR_IT = 0x0600FC00  # the IT state's bits in xPSR and CPSR
UC_ARM_PAGE = 0x400  # Unicorn's TLB page on ARM (TARGET_PAGE_BITS 10)

# HWCAP bits (arch/arm/include/uapi/asm/hwcap.h)
HWCAP_HALF, HWCAP_THUMB, HWCAP_FAST_MULT, HWCAP_VFP, HWCAP_EDSP = 2, 4, 16, 64, 128
HWCAP_NEON, HWCAP_VFPv3, HWCAP_VFPv3D16, HWCAP_TLS, HWCAP_VFPv4 = 4096, 8192, 16384, 32768, 65536
HWCAP_SWP, HWCAP_IDIVA, HWCAP_IDIVT, HWCAP_VFPD32 = 1, 1 << 17, 1 << 18, 1 << 19
# What each CPU's AT_HWCAP says, from what Linux derives for it: a Cortex-M's
# proc-v7m.S entry gives HALF | THUMB | FAST_MULT, plus EDSP for the M4 and
# M7 (the M33, an ARMv8-M, matches only its catch-all ARMv7-M entry), and
# setup.c adds IDIVT from ID_ISAR0 (sdiv/udiv in Thumb). The VFP bits are
# the ones vfpmodule.c sets from MVFR0/MVFR1, and they hold only for an FPU
# that has what they name: VFP (a VFP register file: musl's setjmp saves
# d8-d15 when it is set), VFPv3/VFPv3D16/VFPv4 (double-precision arithmetic,
# 16 double registers, fused multiply-add). No bit says "single precision
# only": an M4's or M33's FPU gets VFP and none of the others, so nothing
# that tests them picks double-precision code for it.
#
# Mainline Linux has no VFP support on ARMv7-M: CONFIG_VFP depends on
# CPU_V6, V6K, ARM926T, V7 or FEROCEON, never CPU_V7M (arch/arm/Kconfig), so
# its Cortex-M kernels report no VFP bit and do not switch the FPU's state
# between tasks (boards run soft-float user space, or vendor patches). nommu
# does what a kernel with v7-M FPU support would: the FPU state is per task
# and in the signal frames, and the bits below say what the FPU can do.
_M_BASE = HWCAP_HALF | HWCAP_THUMB | HWCAP_FAST_MULT | HWCAP_IDIVT
_DOUBLE_VFP = HWCAP_VFP | HWCAP_VFPv3 | HWCAP_VFPv3D16 | HWCAP_VFPv4  # (16 d registers, FMA)

# /proc/cpuinfo's "Features" words, by HWCAP bit (arch/arm/kernel/setup.c hwcap_str)
# fmt: off
HWCAP_WORDS = [
    "swp", "half", "thumb", "26bit", "fastmult", "fpa", "vfp", "edsp", "java", "iwmmxt",
    "crunch", "thumbee", "neon", "vfpv3", "vfpv3d16", "tls", "vfpv4", "idiva", "idivt",
    "vfpd32", "lpae", "evtstrm",
]
# fmt: on

# struct stat64 with EABI alignment (arch/arm/include/uapi/asm/stat.h): the
# 64-bit st_size and st_blocks are 8-aligned, 104 bytes (i386 packs them: 96)
STAT64 = struct.Struct("<Q4xIIIIIQ4x4xqI4xQIIIIIIQ")
# struct flock64 with EABI alignment: l_start is 8-aligned (32 bytes)
FLOCK64 = struct.Struct("<hh4xqqi4x")
# struct epoll_event with EABI alignment: the u64 data is 8-aligned (16 bytes)
EPOLL_EVENT = struct.Struct("<I4xQ")

# gcc's -mfpu names of the single-precision FPUs
SP_FPU_GCC_NAMES = {"FPv4-SP": "fpv4-sp-d16", "FPv5-SP": "fpv5-sp-d16"}

# Where Unicorn keeps the general registers: CPUARMState.regs, 32-bit r0-r15.
WINDOW_REGS: tuple[int, ...] = tuple(GPRS)


@dataclass(frozen=True)
class CpuModel:
    """One CPU nommu can be: its Unicorn model and what it has."""

    name: str
    uc_model: int
    m_profile: bool
    fpu_dregs: int  # double registers the FPU has (0: no FPU)
    fpu: str  # the FPU as its manual names it ("": none)
    fpu_double: bool  # it has double-precision arithmetic (.f64 instructions)
    hwcap: int
    aliases: tuple[str, ...] = ()


CPUS: dict[str, CpuModel] = {
    c.name: c
    for c in (
        CpuModel(
            "cortex-m7",
            UC_CPU_ARM_CORTEX_M7,
            True,
            16,
            "FPv5-D16",
            True,
            _M_BASE | HWCAP_EDSP | _DOUBLE_VFP,
            ("m7",),
        ),
        CpuModel(
            "cortex-m4",
            UC_CPU_ARM_CORTEX_M4,
            True,
            16,
            "FPv4-SP",
            False,
            _M_BASE | HWCAP_EDSP | HWCAP_VFP,
            ("m4",),
        ),
        CpuModel(
            "cortex-m33",
            UC_CPU_ARM_CORTEX_M33,
            True,
            16,
            "FPv5-SP",
            False,
            _M_BASE | HWCAP_VFP,
            ("m33",),
        ),
        CpuModel("cortex-m3", UC_CPU_ARM_CORTEX_M3, True, 0, "", False, _M_BASE, ("m3",)),
        CpuModel(  # VFPv3-D32 and NEON; no divider, no fused multiply-add
            "cortex-a9",
            UC_CPU_ARM_CORTEX_A9,
            False,
            32,
            "VFPv3-D32",
            True,
            HWCAP_SWP
            | HWCAP_HALF
            | HWCAP_THUMB
            | HWCAP_FAST_MULT
            | HWCAP_EDSP
            | HWCAP_TLS
            | HWCAP_VFP
            | HWCAP_VFPv3
            | HWCAP_NEON
            | HWCAP_VFPD32,
            ("a9",),
        ),
    )
}


def cpu_model(name: str) -> CpuModel:
    """The CPU called `name` ("cortex-m4" or "m4"); KeyError if none is."""
    for model in CPUS.values():
        if name == model.name or name in model.aliases:
            return model
    raise KeyError(name)


class ArmArch:
    """ARM as nommu runs it, for one CPU model (see the module docstring)."""

    NAME: str = "arm"
    ELF_MACHINE: int = 40  # EM_ARM
    WORD: int = 4
    UC_ARCH: int = UC_ARCH_ARM
    UC_MODE: int = UC_MODE_THUMB
    RAM_BASE: int = 0x60000000
    PC_REG: int = UC_ARM_REG_PC
    SP_REG: int = UC_ARM_REG_SP
    FRAME_REG: int = UC_ARM_REG_R7  # (Thumb code keeps its frame pointer in r7)
    PC_TAG: int = 1  # the low bit a code address carries: the CPU runs Thumb code
    DISASSEMBLER: tuple[str, ...] = ("CS_ARCH_ARM", "CS_MODE_THUMB", "CS_MODE_MCLASS")
    fpu: Any = None  # no software FPU: the kernel's x87 math emulation is i386's

    SYSCALL_TRAP: int = TRAP_SWI
    SYSCALL_INSN_LEN: int = 2  # `svc #0` is DF00: rewinding by this re-executes it
    SYSCALL_REGS: tuple[int, ...] = (
        UC_ARM_REG_R7, UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_R2,
        UC_ARM_REG_R3, UC_ARM_REG_R4, UC_ARM_REG_R5,
    )  # fmt: skip
    RESULT_REG: int = UC_ARM_REG_R0
    WINDOW_REGS: tuple[int, ...] = WINDOW_REGS
    WINDOW_WORD: int = 4  # CPUARMState.regs is uint32_t[16]
    SYSCALL_WINDOW_INDEX: tuple[int, ...] = (7, 0, 1, 2, 3, 4, 5)
    WINDOW_PC_INDEX: int = 15
    # Unicorn's exported tlb_flush_page(cpu, address) drops one of its TLB
    # pages (1 KiB here); it takes QEMU's CPUState, not the env the register
    # window points into (machine/cpu.py finds it: locate_cpu_state).
    TLB_PAGE_HELPER: str = "tlb_flush_page_arm"
    TLB_HELPER_TAKES: str = "cpu"
    UC_TLB_PAGE: int = UC_ARM_PAGE
    SYSCALL_NUMBERS: dict[str, int] = arm_syscalls.SYSCALL_NUMBERS
    SYSCALL_NAMES: dict[int, str] = arm_syscalls.SYSCALL_NAMES
    NO_ENTRY: frozenset[str] = arm_syscalls.NO_ENTRY
    # The generic handler's arguments, by position in r0-r5, where EABI
    # register pairs move them (arch/arm/kernel/sys_arm.c, calls.S).
    SYSCALL_ARG_ORDER: dict[str, tuple[int, ...]] = {
        "pread64": (0, 1, 2, 4, 5),  # fd, buf, count, (pad), pos
        "pwrite64": (0, 1, 2, 4, 5),
        "truncate64": (0, 2, 3),  # path, (pad), length
        "ftruncate64": (0, 2, 3),
    }
    SIGINFO_SIZE: int = frames.SIGINFO_SIZE
    STAT64: struct.Struct = STAT64
    FLOCK64: struct.Struct = FLOCK64
    EPOLL_EVENT: struct.Struct = EPOLL_EVENT
    STATFS64_SIZES: tuple[int, ...] = (84, 88)  # (88: the EABI-padded size musl passes)
    OPEN_FLAGS: dict[int, int] = ARM_OFLAGS
    IPC_PARSE_VERSION: bool = True  # (sys_old_semctl and friends in its table)

    TRAP_INVALID_OPCODE: int = TRAP_UDEF
    TRAP_GENERAL_PROTECTION: int = TRAP_DATA_ABORT
    TRAP_SIGNALS: dict[int, Signal] = {
        TRAP_UDEF: Signal.SIGILL,
        TRAP_PREFETCH_ABORT: Signal.SIGSEGV,
        TRAP_DATA_ABORT: Signal.SIGSEGV,
        TRAP_BKPT: Signal.SIGTRAP,
        TRAP_NOCP: Signal.SIGILL,
        TRAP_INVSTATE: Signal.SIGILL,
        TRAP_STKOF: Signal.SIGSEGV,
        TRAP_UNALIGNED: Signal.SIGBUS,
    }
    TRAP_NAMES: dict[int, str] = {
        TRAP_UDEF: "undefined instruction",
        TRAP_PREFETCH_ABORT: "prefetch abort (instruction fetch refused)",
        TRAP_DATA_ABORT: "data abort",
        TRAP_BKPT: "breakpoint (bkpt)",
        TRAP_NOCP: "NOCP UsageFault (no such coprocessor: cp15, or no FPU)",
        TRAP_INVSTATE: "INVSTATE UsageFault (ARM-state code on a Thumb-only CPU)",
        TRAP_STKOF: "stack overflow (STKOF)",
        TRAP_UNALIGNED: "unaligned access UsageFault",
    }

    FRAME_PROLOGUE: bytes = b""  # (stack walks use the frame records only)
    SAVED_FP_OFFSET: int = 0
    RETURN_ADDRESS_OFFSET: int = 4
    MAX_CALL_LEN: int = 4
    VFORK_RETURN_REGS: tuple[int, ...] = (UC_ARM_REG_LR,)

    def __init__(self, model: CpuModel) -> None:
        self.model = model
        # AT_PLATFORM: Linux's elf_name for the CPU plus "l" (little-endian)
        self.PLATFORM: str = "v7ml" if model.m_profile else "v7l"
        # uname's machine: the CPU's arch_name plus "l" (armv7m is a v7-M CPU)
        self.UTS_MACHINE: str = "armv7ml" if model.m_profile else "armv7l"
        self.HWCAP: int = model.hwcap
        self.UC_CPU_MODEL: int | None = model.uc_model
        # where the flags are: xPSR on the M profile, CPSR on the A profile
        self.PSR_REG: int = UC_ARM_REG_XPSR if model.m_profile else UC_ARM_REG_CPSR

    def cpuinfo(self) -> str:
        """/proc/cpuinfo as Linux's ARM c_show writes it, for this CPU."""
        features = " ".join(w for i, w in enumerate(HWCAP_WORDS) if self.HWCAP >> i & 1)
        profile = "7M" if self.model.m_profile else "7"
        return (
            f"processor\t: 0\nmodel name\t: {self.model.name} ({self.PLATFORM}, no MMU)\n"
            f"Features\t: {features}\nCPU implementer\t: 0x41\n"
            f"CPU architecture: {profile}\n\nHardware\t: nommu\n"
        )

    # -- the CPU as a program finds it -------------------------------------------

    def initial_registers(
        self, entry: int, sp: int, start_data: int = 0, fdpic: tuple[int, int, int] | None = None
    ) -> Registers:
        """start_thread: everything zero, sp, pc = the entry in Thumb state;
        r10 = the data start (no-MMU: a bFLT program's GOT base); an FDPIC
        program keeps r7-r9 from ELF_FDPIC_PLAT_INIT (`fdpic`: its load map,
        the interpreter's, its dynamic section)."""
        given = {10: start_data, **dict(zip((7, 8, 9), fdpic or (0, 0, 0), strict=True))}
        regs = [(reg, given.get(i, 0)) for i, reg in enumerate(GPRS[:13])]
        regs.append((UC_ARM_REG_LR, 0))
        return [*regs, (UC_ARM_REG_SP, sp), (UC_ARM_REG_PC, entry | 1)]

    def install_tables(self, cpu: Cpu, page: int, linear: int | None = None) -> None:
        """No descriptor tables on ARM. The kernel page holds the running
        thread's pointer (`write_tls`), which the cp15 emulation reads."""
        cpu.ram.write(page, bytes(4))
        if self.model.m_profile:
            cpu.trap_handlers[TRAP_NOCP] = lambda pc: self._emulate_cp15(cpu, page, pc)

    def reset_fpu(self, cpu: Cpu) -> None:
        """A new program's FPU: every register zero, FPSCR 0. On the A profile
        the FPU starts off: Linux turns it on (CPACR grants cp10 and cp11,
        FPEXC.EN), which a Cortex-M model has done already."""
        if not self.model.m_profile:
            cpu.reg_write(UC_ARM_REG_C1_C0_2, 0xF << 20)  # CPACR: cp10, cp11 full access
            cpu.reg_write(UC_ARM_REG_FPEXC, 0x40000000)
        if self.model.fpu_dregs:
            cpu.regs_write([(UC_ARM_REG_D0 + i, 0) for i in range(self.model.fpu_dregs)])
            cpu.reg_write(UC_ARM_REG_FPSCR, 0)

    def finish_stopped_instruction(self, cpu: Cpu) -> None:
        """Unicorn's ARM translator turns the stop checks after each memory
        access back on (it turns them off only inside IT blocks), so a stop
        from the slice timer may land just after a store, with the PC still on
        its instruction, which runs again when the task resumes. Running a
        store again is harmless, except for a store-exclusive: its first run
        stored and used up the exclusive monitor, so the second fails and the
        program's compare-and-swap loop, reading its own new value, decides it
        lost the race (a lock then looks taken by someone else). So if the
        stop is on a strex whose value is already in memory, the strex is
        completed here: success (0) in its status register, the PC past it."""
        pc = cpu.pc
        first, second = _code_halfword(cpu, pc), _code_halfword(cpu, pc + 2)
        if first is None or second is None:
            return
        store = strex_store(first, second, cpu.reg_read)
        if store is None:
            return
        addr, value, rd = store
        found = cpu.tlb.translate(addr, "read")
        if found is None:
            return
        here = cpu.ram.read(found[0] | (addr & 0xFFF), len(value))
        if here == value:
            cpu.reg_write(GPRS[rd], 0)
            cpu.set_pc(pc + 4)

    def data_fill_repair(self, cpu: Cpu) -> Callable[[], None]:
        """Unicorn 2.1.4's TLB fill (unicorn_fill_tlb) starts with
        cpu_restore_state, which writes the IT state of the load or store
        that missed into the CPU's condexec bits. Translated code keeps the
        IT state in the translation itself and expects those bits to be zero
        until the block ends (arm_tr_tb_start zeroes them; a block that ends
        outside an IT block does not write them). So after a fill granted
        inside an IT block, the next block would start as if still inside it:
        an unconditional instruction after the block runs as a conditional
        one (skipped when the condition no longer holds). Writing EPSR with
        only the Thumb bit puts the zero back (EPSR holds the IT bits and T,
        not the flags). Harmless outside an IT block (the bits were zero),
        and a refused fill restores the state again when it raises the fault
        (the store runs again with its own IT state). Shown on a bare Unicorn
        by tests/test_arm.py (test_unicorn_fill_inside_an_it_block_...)."""
        value = ctypes.c_uint32(EPSR_THUMB)
        ref, handle, write = ctypes.byref(value), cpu._h, uclib.uc_reg_write

        def repair() -> None:
            write(handle, UC_ARM_REG_EPSR, ref)

        return repair

    def explain_trap(self, trapno: int, insn: str) -> str:
        """What a trap on `insn` (its disassembly) means for this CPU and what
        to do, where the trap's name does not say: an FP instruction the FPU
        lacks (a double-precision one on a single-precision FPU, any on a CPU
        without one). '' otherwise."""
        if trapno not in (TRAP_UDEF, TRAP_NOCP) or not insn.startswith("v"):
            return ""
        model, chip = self.model, "Cortex-" + self.model.name.removeprefix("cortex-").upper()
        if not model.fpu:
            return (
                f"{chip} has no FPU and this is a floating-point instruction: programs built"
                " for Debian's armhf (hard float) need --cpu m7; for a Cortex-M3, build the"
                " program and its C library with -mfloat-abi=soft"
            )
        if model.fpu_double or ".f64" not in insn.split(" ")[0]:
            return ""
        gcc = SP_FPU_GCC_NAMES.get(model.fpu, "")
        return (
            f"{chip}'s FPU ({model.fpu}) is single precision; this instruction is double"
            " precision (.f64): programs built for Debian's armhf (its C library computes"
            f" in double) need --cpu m7; for a {chip}, build the program and its C library"
            f" with -mfpu={gcc} (doubles then go through software routines)"
        )

    # -- TLS ---------------------------------------------------------------------

    def initial_tls(self) -> list[bytes]:
        """One slot: the thread pointer (TPIDRURO), 0 for a new program."""
        return [bytes(4)]

    def set_tls(self, tls: list[bytes], read: ReadUser, arg: int) -> int:
        """set_tls (0xf0005) and clone's CLONE_SETTLS: `arg` is the pointer."""
        tls[0] = (arg & 0xFFFFFFFF).to_bytes(4, "little")
        return 0

    def write_tls(self, cpu: Cpu, page: int, tls: list[bytes]) -> None:
        """Make `tls` the running thread's: in the kernel page for the cp15
        emulation, and in TPIDRURO itself where the CPU has one."""
        cpu.ram.write(page, tls[0])
        if not self.model.m_profile:
            cpu.reg_write(UC_ARM_REG_C13_C0_3, int.from_bytes(tls[0], "little"))

    def reload_tls(self, cpu: Cpu) -> None:
        """Nothing is cached in the CPU: `write_tls` did it all."""

    def thread_pointer(self, cpu: Cpu, tls: list[bytes]) -> int:
        return int.from_bytes(tls[0], "little")

    def _emulate_cp15(self, cpu: Cpu, page: int, pc: int) -> int | None:
        """The NOCP trap: if the instruction at `pc` is the thread-pointer read
        `mrc p15, 0, rX, c13, c0, 3`, do what a CPU with TPIDRURO would and go
        on past it (None); anything else stays a NOCP fault."""
        first, second = _code_halfword(cpu, pc), _code_halfword(cpu, pc + 2)
        rt = None if first is None or second is None else cp15_tls_read(first, second)
        if rt is None:
            return TRAP_NOCP
        cpu.reg_write(GPRS[rt], cpu.ram.read_u32(page))
        cpu.set_pc(pc + 4)
        cpu.on_emulated("cortex-m-tls", pc)
        return None

    # -- signals -----------------------------------------------------------------

    def signal_frame(
        self,
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
        """setup_frame / setup_rt_frame: the frame 8-aligned below `sp`."""
        rt = info is not None
        regs = [cpu.reg_read(r) for r in GPRS]
        regs[15] = pc
        context = frames.sigcontext(regs, cpu.reg_read(self.PSR_REG), blocked)
        regspace = self._save_vfp(cpu)
        size = frames.RT_SIGFRAME_SIZE if rt else frames.SIGFRAME_SIZE
        addr = frames.frame_addr(sp, size)
        uc_addr = addr + (frames.RT_SIG if rt else 0)
        flags = 0 if rt else frames.OLD_FRAME_MAGIC
        stack = altstack if rt else (0, 0, 0)
        uc = frames.ucontext(flags, stack, context, blocked, regspace)
        data = (info.ljust(frames.SIGINFO_SIZE, b"\0") if info is not None else b"") + uc
        if restorer:
            lr = restorer
        else:
            data += frames.retcode(rt)
            lr = (uc_addr + frames.RETCODE) | 1
        entry = [(UC_ARM_REG_R0, sig), (UC_ARM_REG_SP, addr), (UC_ARM_REG_LR, lr)]
        if rt:
            entry += [(UC_ARM_REG_R1, addr), (UC_ARM_REG_R2, uc_addr)]
        entry.append((UC_ARM_REG_EPSR, EPSR_THUMB))  # (setup_return: no IT state)
        entry.append((UC_ARM_REG_PC, handler | 1))
        return SignalFrame(((addr, data),), entry)

    def enter_signal_handler(self, cpu: Cpu, frame: SignalFrame) -> None:
        """The handler's registers; the FPU registers stay as they were. When
        the handler returns through the retcode just written into the frame,
        code translated from there before is dropped (the CPU's own memory
        map does not tell nommu where code ran)."""
        cpu.regs_write(frame.regs)
        (addr, data), lr = frame.writes[0], dict(frame.regs)[UC_ARM_REG_LR] & ~1
        if addr <= lr < addr + len(data):
            cpu.drop_code(lr, lr + 8)

    def sigreturn(self, cpu: Cpu, read: ReadUser, rt: bool) -> int:
        """restore_sigframe from the frame at sp; returns the saved mask."""
        regs, psr, mask, vfp = frames.read_frame(read, cpu.reg_read(UC_ARM_REG_SP), rt)
        # NZCVQ and GE, and the IT state: a fault inside an IT block (a
        # conditional load or store) resumes inside it (valid_user_regs keeps it)
        flags = psr & (0xF80F0000 | PSR_IT)
        if self.model.m_profile:
            cpu.reg_write(UC_ARM_REG_XPSR, flags | 0x01000000)  # (T: Thumb)
        else:
            cpu.reg_write(UC_ARM_REG_CPSR, (cpu.reg_read(UC_ARM_REG_CPSR) & 0x1FF) | flags)
        regs[15] |= 1
        cpu.regs_write(list(zip(GPRS, regs, strict=True)))
        if vfp is not None and self.model.fpu_dregs:
            dregs, fpscr = frames.unpack_vfp(vfp)
            n = self.model.fpu_dregs
            cpu.regs_write([(UC_ARM_REG_D0 + i, dregs[i]) for i in range(n)])
            cpu.reg_write(UC_ARM_REG_FPSCR, fpscr)
        return mask

    def _save_vfp(self, cpu: Cpu) -> bytes:
        """The VFP record for uc_regspace (nothing without an FPU)."""
        n = self.model.fpu_dregs
        if not n:
            return bytes(4)  # (just the end marker)
        dregs = [cpu.reg_read(UC_ARM_REG_D0 + i) for i in range(n)] + [0] * (32 - n)
        fpexc = 0x40000000  # EN: the FPU is on
        return frames.vfp_block(dregs, cpu.reg_read(UC_ARM_REG_FPSCR), fpexc)

    # -- faults and stacks -------------------------------------------------------

    def fault_address(
        self, code: bytes, pc: int, read_reg: Callable[[int], int], page: int, tls_base: int
    ) -> int:
        """The address a faulting load or store touched in `page`. The TLB
        reports only the page that missed (Unicorn's ARM pages are 1 KiB);
        the rest comes from the instruction (`access_span`): the first
        address it touches in that page (its accesses go upwards). If
        nothing decodes, the page itself."""
        span = access_span(code, pc, read_reg)
        if span is None:
            return page
        lowest, _size = span
        if page <= lowest < page + UC_ARM_PAGE:
            return lowest
        return page  # (it began below: the page's first byte is the first it touched there)

    def call_before(self, code: bytes, ret: int) -> tuple[bool, int | None]:
        """Whether a Thumb `bl`/`blx` ends at `ret` (the return address,
        without its Thumb bit), and its target for a direct `bl`."""
        if len(code) >= 2:
            last = int.from_bytes(code[-2:], "little")
            if last & 0xFF87 == 0x4780:  # blx rM
                return True, None
        if len(code) >= 4:
            hi, lo = struct.unpack("<HH", code[-4:])
            if hi & 0xF800 == 0xF000 and lo & 0xD000 == 0xD000:
                return True, (ret + _bl_offset(hi, lo)) & 0xFFFFFFFF
        return False, None

    def jump_target(self, code: bytes, at: int) -> int | None:
        """Where a Thumb-2 `b.w` at `at` goes."""
        if len(code) >= 4:
            hi, lo = struct.unpack("<HH", code[:4])
            if hi & 0xF800 == 0xF000 and lo & 0xD000 == 0x9000:
                return (at + 4 + _bl_offset(hi, lo)) & 0xFFFFFFFF
        return None


def _code_halfword(cpu: Cpu, addr: int) -> int | None:
    """The halfword of code at virtual `addr`, through the CPU's translation
    (the MMU's, or none), or None where there is no memory."""
    found = cpu.tlb.translate(addr, "fetch")
    if found is None:
        return None
    return int.from_bytes(cpu.ram.read(found[0] | (addr & 0xFFF), 2), "little")


# capstone's names of the core registers (r9-r12 have others too)
_CS_NAMES = {f"r{i}": GPRS[i] for i in range(13)}
_CS_NAMES.update(sb=GPRS[9], sl=GPRS[10], fp=GPRS[11], ip=GPRS[12], sp=GPRS[13], lr=GPRS[14])
# Loads and stores of a register list: those on the stack pointer, and those
# that go down from their base (the lowest address is base - the list's size).
_STACK_LISTS = ("push", "pop", "vpush", "vpop")
_LISTS = (*_STACK_LISTS, "stm", "stmia", "stmea", "stmdb", "stmfd", "ldm", "ldmia", "ldmfd",
          "ldmdb", "ldmea", "vstmia", "vstmdb", "vldmia", "vldmdb")  # fmt: skip
_DOWNWARDS = ("push", "vpush", "stmdb", "stmfd", "ldmdb", "ldmea", "vstmdb", "vldmdb")
_DOUBLE_WORD = ("strd", "ldrd", "strexd", "ldrexd", "vstr", "vldr")


def access_span(code: bytes, pc: int, read_reg: Callable[[int], int]) -> tuple[int, int] | None:
    """(lowest address, bytes) a Thumb load or store at `pc` touches, from
    its registers before it runs; None if `code` is no such instruction."""
    from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs

    md = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
    md.detail = True
    insn = next(md.disasm(code, pc), None)
    if insn is None:
        return None

    def reg(cs_reg: int) -> int:
        name = insn.reg_name(cs_reg)
        return (pc + 4) & ~3 if name == "pc" else read_reg(_CS_NAMES[name])

    name = insn.mnemonic.split(".")[0]
    span = _list_span(insn, name, reg) if name in _LISTS else _operand_span(insn, name, reg)
    return None if span is None else (span[0] & 0xFFFFFFFF, span[1])


def _list_span(insn: Any, name: str, reg: Callable[[int], int]) -> tuple[int, int]:
    """A register-list load or store (push, stmdb, vldmia...): 4 bytes a core
    or single register, 8 a double one."""
    from capstone.arm import ARM_OP_REG, ARM_REG_SP

    regs = [op.reg for op in insn.operands if op.type == ARM_OP_REG]
    if name in _STACK_LISTS:
        base, listed = reg(ARM_REG_SP), regs
    else:
        base, listed = reg(regs[0]), regs[1:]
    unit = 8 if insn.reg_name(listed[-1]).startswith("d") else 4
    size = unit * len(listed)
    return (base - size if name in _DOWNWARDS else base), size


def _operand_span(insn: Any, name: str, reg: Callable[[int], int]) -> tuple[int, int] | None:
    """A load or store with one memory operand: base + offset (a post-indexed
    one touches its base, then moves it)."""
    from capstone.arm import ARM_OP_MEM

    op = next((op for op in insn.operands if op.type == ARM_OP_MEM), None)
    if op is None:
        return None
    address = reg(op.mem.base)
    if not insn.post_index:
        address += op.mem.disp
        if op.mem.index:
            offset = reg(op.mem.index) << (op.shift.value if op.shift.type else 0)
            address += -offset if op.subtracted else offset
    return address, 8 if name in _DOUBLE_WORD else 4


def _bl_offset(hi: int, lo: int) -> int:
    """The branch offset a Thumb-2 BL/B.W (T4 encoding) holds."""
    s = (hi >> 10) & 1
    j1, j2 = (lo >> 13) & 1, (lo >> 11) & 1
    i1, i2 = 1 ^ j1 ^ s, 1 ^ j2 ^ s
    off = (s << 24) | (i1 << 23) | (i2 << 22) | ((hi & 0x3FF) << 12) | ((lo & 0x7FF) << 1)
    return off - (1 << 25) if s else off


def strex_store(
    first: int, second: int, read_reg: Callable[[int], int]
) -> tuple[int, bytes, int] | None:
    """For a Thumb-2 STREX/STREXB/STREXH/STREXD: (address, the bytes it
    stores, its status register); None for any other instruction."""
    rn, rt = first & 0xF, second >> 12
    if first & 0xFFF0 == 0xE840:  # strex rd, rt, [rn, #imm8*4]
        addr = read_reg(GPRS[rn]) + (second & 0xFF) * 4
        return addr, struct.pack("<I", read_reg(GPRS[rt])), (second >> 8) & 0xF
    if first & 0xFFF0 != 0xE8C0 or (second >> 6) & 3 != 1:
        return None
    size = (second >> 4) & 3  # 0: byte, 1: halfword, 3: doubleword
    value = read_reg(GPRS[rt])
    if size == 0:
        data = struct.pack("<B", value & 0xFF)
    elif size == 1:
        data = struct.pack("<H", value & 0xFFFF)
    elif size == 3:
        data = struct.pack("<II", value, read_reg(GPRS[(second >> 8) & 0xF]))
    else:
        return None
    return read_reg(GPRS[rn]), data, second & 0xF


def cp15_tls_read(first: int, second: int) -> int | None:
    """The register X of a Thumb-2 `mrc p15, 0, rX, c13, c0, 3`, else None."""
    if first == 0xEE1D and second & 0x0FFF == 0x0F70:
        rt = second >> 12
        return rt if rt < 15 else None
    return None


DEFAULT_CPU = "cortex-m7"
ARCHES: dict[str, ArmArch] = {name: ArmArch(model) for name, model in CPUS.items()}
ARM: ArmArch = ARCHES[DEFAULT_CPU]
