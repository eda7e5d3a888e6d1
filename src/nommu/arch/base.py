"""What a guest architecture must provide: the `Arch` protocol.

The kernel is written once for every CPU; whatever differs between CPUs is
asked of `k.arch`, an object that satisfies this protocol (i386's is the
module `nommu.arch.i386` itself). A new architecture is one more module (or
class) here, registered by its ELF machine number in `nommu.arch`:

* the CPU: which Unicorn model to create, where the program counter, stack
  pointer and result register are, the registers a new program starts with;
* where physical RAM sits in the address space (it must be executable there,
  and page 0 must stay unmapped so NULL faults);
* the syscall ABI: the trap that is a syscall, the registers of the number
  and the arguments, the result register (-errno is written into it as a
  32-bit two's complement number), and the number -> name table;
* signal frames: what delivering a signal writes on the user stack and
  which registers enter the handler, and how sigreturn reads it back;
* thread-local storage: what per-thread state a thread pointer is (i386:
  three GDT descriptors), how set_thread_area/set_tls and clone(CLONE_SETTLS)
  change it, how it is loaded into the CPU on a context switch;
* CPU exceptions: which signal each trap becomes and its name, and how to
  find the exact address a faulting instruction touched;
* call stacks, for the crash reports and `nommu check`: frame layout and
  how a return address is recognised.

Everything here is read at machine creation or on slow paths, except the
syscall registers: the CPU binds those once, so the syscall path pays
nothing for going through the protocol.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nommu.abi.signals import Signal
    from nommu.machine.cpu import Cpu

Registers = list[tuple[int, int]]  # (Unicorn register id, value) pairs, written in order
ReadUser = Callable[[int, int], bytes]  # read(addr, size) from user memory (SyscallError EFAULT)


@dataclass(frozen=True, slots=True)
class SignalFrame:
    """A signal frame built for delivery: the bytes to write on the user
    stack (address, data), and the registers the handler starts with."""

    writes: tuple[tuple[int, bytes], ...]
    regs: Registers


class Arch(Protocol):
    """Everything the kernel must know about one guest CPU architecture."""

    # -- identity and the program's view ----------------------------------------

    NAME: str  # as people say it: "i386"
    ELF_MACHINE: int  # e_machine of the programs it runs (EM_386 = 3)
    WORD: int  # bytes in a pointer
    PLATFORM: str  # the AT_PLATFORM string ("i686")
    UTS_MACHINE: str  # what uname(2) says the machine is ("i686", "armv7ml")
    HWCAP: int  # AT_HWCAP: the CPU features the emulated CPU has

    # -- the CPU ---------------------------------------------------------------

    UC_ARCH: int  # Unicorn's architecture and mode constants
    UC_MODE: int
    UC_CPU_MODEL: int | None  # the CPU model to ask Unicorn for (None: its default)
    PC_TAG: int  # bits a code address carries to run (ARM: 1, the Thumb state)
    RAM_BASE: int  # where physical RAM starts: executable there; page 0 stays unmapped
    PC_REG: int
    SP_REG: int
    FRAME_REG: int  # the frame pointer (stack walks)
    # Dropping one page from Unicorn's TLB (its API only drops all of it): the
    # exported helper that does it, whether it takes the CPU state the
    # register window points into ("env") or QEMU's CPUState ("cpu"), and the
    # size of Unicorn's TLB pages (the kernel's are 4 KiB)
    TLB_PAGE_HELPER: str
    TLB_HELPER_TAKES: str
    UC_TLB_PAGE: int

    def cpuinfo(self) -> str:
        """/proc/cpuinfo: the CPU in the format this architecture's Linux uses."""
        ...

    def initial_registers(
        self, entry: int, sp: int, start_data: int = 0, fdpic: tuple[int, int, int] | None = None
    ) -> Registers:
        """The registers a new program starts with (ELF_PLAT_INIT); where an
        architecture passes the data start in a register (no-MMU ARM: r10),
        `start_data` is it. `fdpic`: an FDPIC program's load map, its
        interpreter's and its dynamic section (ELF_FDPIC_PLAT_INIT)."""
        ...

    def install_tables(self, cpu: Cpu, page: int, linear: int | None = None) -> None:
        """Set up the CPU's system tables (i386: the GDT) in the kernel's page
        at physical `page`, which the CPU sees at `linear` under an MMU."""
        ...

    def finish_stopped_instruction(self, cpu: Cpu) -> None:
        """The slice timer stopped the CPU from outside. Where Unicorn cannot
        stop precisely (machine/cpu.py), the stop may land just after the
        store of an instruction that then runs again: put right an
        instruction for which running again is wrong (ARM: strex)."""
        ...

    def reset_fpu(self, cpu: Cpu) -> None:
        """The floating-point state a new program starts with."""
        ...

    def data_fill_repair(self, cpu: Cpu) -> Callable[[], None] | None:
        """What the TLB must run after its fill granted a load or store made
        by translated code (machine/tlb.py): Unicorn's fill first restores
        that instruction's CPU state, which the code around it may not expect
        (ARM: the IT state). None: nothing to repair."""
        ...

    fpu: Any  # the software FPU the kernel's math emulation uses (kernel/mathemu.py)

    # -- the syscall ABI ---------------------------------------------------------

    SYSCALL_TRAP: int  # the interrupt number the syscall instruction raises
    SYSCALL_INSN_LEN: int  # its length: PC minus this re-executes the syscall
    SYSCALL_REGS: tuple[int, ...]  # the number's register, then the arguments'
    RESULT_REG: int  # the return value (or -errno) goes here
    # Where SYSCALL_REGS live in Unicorn's own register array (machine/cpu.py
    # reads them there without a library call): its registers in array order,
    # the index of each of SYSCALL_REGS in it, and the index of the PC.
    WINDOW_REGS: tuple[int, ...]
    SYSCALL_WINDOW_INDEX: tuple[int, ...]
    WINDOW_PC_INDEX: int
    WINDOW_WORD: int  # bytes per register in that array
    # Calls whose arguments do not simply follow SYSCALL_REGS[1:] in order
    # (ARM EABI: a 64-bit argument starts in an even register): name -> the
    # argument register of each of the generic handler's arguments.
    SYSCALL_ARG_ORDER: dict[str, tuple[int, ...]]
    SYSCALL_NUMBERS: dict[str, int]  # Linux's name -> this architecture's number
    SYSCALL_NAMES: dict[int, str]  # and back
    NO_ENTRY: frozenset[str]  # names the table lists that Linux itself answers ENOSYS

    # -- signals -------------------------------------------------------------------

    SIGINFO_SIZE: int  # bytes of a siginfo_t

    # -- structures whose layout differs between architectures ----------------------

    STAT64: struct.Struct  # struct stat64 (the fields of abi/structs.pack_stat64)
    FLOCK64: struct.Struct  # struct flock64
    EPOLL_EVENT: struct.Struct  # struct epoll_event: u32 events, u64 data
    STATFS64_SIZES: tuple[int, ...]  # sizes statfs64 accepts for its struct (84, ...)
    OPEN_FLAGS: dict[int, int]  # open flags numbered apart: guest value -> generic (abi/flags)
    # semctl, msgctl and shmctl are the old_* calls, which take IPC_64 in cmd
    # (CONFIG_ARCH_WANT_IPC_PARSE_VERSION): ARM; i386's take it as given
    IPC_PARSE_VERSION: bool

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
        """The frame that runs `handler` for `sig` with the stack below `sp`:
        it saves the interrupted registers (the PC is `pc`), the FPU state,
        the `blocked` mask and the `altstack` (sp, flags, size); the handler
        returns through `restorer` (0: code the frame holds). `info` is the
        siginfo for an SA_SIGINFO handler, None for an old-style one."""
        ...

    def enter_signal_handler(self, cpu: Cpu, frame: SignalFrame) -> None:
        """Load the handler's registers (the frame is written) and give it a
        clean FPU."""
        ...

    def sigreturn(self, cpu: Cpu, read: ReadUser, rt: bool) -> int:
        """sigreturn (`rt`: rt_sigreturn), at the syscall the restorer made:
        put back the registers and FPU state the frame on the stack saved;
        return the signal mask it saved. Raises SyscallError if unreadable."""
        ...

    # -- thread-local storage ------------------------------------------------------

    def initial_tls(self) -> list[bytes]:
        """A new program's TLS state (a list of arch-defined slots)."""
        ...

    def set_tls(self, tls: list[bytes], read: ReadUser, arg: int) -> int:
        """Change the TLS state `tls` in place as the guest asks with `arg`
        (what it passes to clone's CLONE_SETTLS and to the TLS syscall; i386:
        the address of a struct user_desc). Returns what the TLS syscall
        reports back (i386: the GDT entry used). SyscallError if refused."""
        ...

    def write_tls(self, cpu: Cpu, page: int, tls: list[bytes]) -> None:
        """Make `tls` the state the CPU's tables hold (on a context switch)."""
        ...

    def reload_tls(self, cpu: Cpu) -> None:
        """Make the running thread's CPU state pick up a changed TLS state."""
        ...

    def thread_pointer(self, cpu: Cpu, tls: list[bytes]) -> int:
        """The address the running thread's TLS register points at (0: none)."""
        ...

    # -- CPU exceptions ------------------------------------------------------------

    TRAP_SIGNALS: dict[int, Signal]  # trap number -> the signal it becomes
    TRAP_NAMES: dict[int, str]  # trap number -> what people call it

    def explain_trap(self, trapno: int, insn: str) -> str:
        """What trap `trapno` on the instruction `insn` (its disassembly)
        means on this CPU and what to do, where its name does not say (ARM:
        a double-precision instruction on a single-precision FPU); ''."""
        ...

    TRAP_INVALID_OPCODE: int  # what an undecodable instruction raises
    TRAP_GENERAL_PROTECTION: int  # what any other CPU error is reported as

    def fault_address(
        self, code: bytes, pc: int, read_reg: Callable[[int], int], page: int, tls_base: int
    ) -> int:
        """The address the instruction `code` at `pc` touched in `page`, the
        page the memory fault was reported for (`page` if unknown)."""
        ...

    DISASSEMBLER: tuple[str, ...]  # capstone's arch and mode names, for the fault reports

    # -- call stacks -----------------------------------------------------------------

    FRAME_PROLOGUE: bytes  # how a function that keeps a frame pointer starts
    SAVED_FP_OFFSET: int  # where, from the frame pointer, the caller's is saved
    RETURN_ADDRESS_OFFSET: int  # and the return address
    MAX_CALL_LEN: int  # the longest call instruction
    VFORK_RETURN_REGS: tuple[int, ...]  # where vfork stubs keep their return address

    def call_before(self, code: bytes, ret: int) -> tuple[bool, int | None]:
        """Whether `code`, ending at `ret`, ends with a call (and its target)."""
        ...

    def jump_target(self, code: bytes, at: int) -> int | None:
        """Where a direct jump at `at` goes, None if `code` is not one."""
        ...
