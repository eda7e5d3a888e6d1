"""The CPU: one Unicorn instance, shared by every task, driven in time slices.

Every process on the machine runs on this one emulated CPU; a context switch
saves the outgoing task's registers into its `CpuContext` and loads the
incoming one's. Three things cross from the guest into Python:

* system calls (the trap the architecture uses, e.g. `int $0x80`), through a
  raw ctypes callback that reads the number and six arguments in one
  `uc_reg_read_batch` call: the crossing costs about as little as Python allows;
* CPU exceptions (divide error, invalid opcode, general protection...);
* accesses to addresses with no RAM behind them.

No memory hook covers RAM in a normal run: Unicorn sends every store to a
page that any memory hook covers (even one for unmapped accesses) through a
slow helper, forever; without one, a page's stores are slow only until its
first store (see also machine/tlb.py on execute permission).

A checker (`nommu check`) may add watch hooks for a while: stores into an
address range, or execution of one, each a Python call (`add_write_hook`,
`add_code_hook`, `remove_hook`). A normal run has none.

Time slices end precisely, at syscalls (see `SliceTimer`), never through a
per-instruction hook or `count=`, which would slow every instruction down.
"""

from __future__ import annotations

import ctypes
import os
import select
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeAlias

from unicorn import (
    UC_ERR_EXCEPTION,
    UC_ERR_FETCH_UNMAPPED,
    UC_ERR_INSN_INVALID,
    UC_ERR_READ_UNMAPPED,
    UC_ERR_WRITE_UNMAPPED,
    UC_HOOK_CODE,
    UC_HOOK_INSN_INVALID,
    UC_HOOK_INTR,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_MEM_FETCH_UNMAPPED,
    UC_MEM_WRITE_UNMAPPED,
    UC_PROT_ALL,
    Uc,
    UcError,
)
from unicorn.unicorn_py3.unicorn import (
    HOOK_CODE_CFUNC,
    HOOK_INSN_INVALID_CFUNC,
    HOOK_INTR_CFUNC,
    HOOK_MEM_ACCESS_CFUNC,
    HOOK_MEM_INVALID_CFUNC,
    UcContext,
    uclib,
)

from nommu.machine.ram import PhysicalRAM

if TYPE_CHECKING:
    from nommu.arch.base import Arch

CpuContext: TypeAlias = UcContext  # a saved register state (opaque)


class StopKind(Enum):
    """Why `Cpu.run` returned."""

    STOPPED = "stopped"  # the kernel asked (a syscall changed who runs) or the slice ended
    MEMORY_FAULT = "memory fault"  # access to an address with no RAM
    TRAP = "trap"  # a CPU exception (divide error, #GP, #UD...)


@dataclass(frozen=True, slots=True)
class Stop:
    kind: StopKind
    pc: int
    trapno: int = 0
    address: int = 0  # faulting data address, for MEMORY_FAULT
    access: str = ""  # "read", "write" or "fetch"


def disable_memory_exit_checks(uc: Uc) -> bool:
    """Make Unicorn stop only between translation blocks; True if that worked.

    Unicorn emits a stop-request check after *every* guest load and store
    (`check_exit_request` in its tcg-op.c). A stop requested from another
    thread (a time slice ending) is then taken just after a store, with the
    PC of the storing instruction: an `inc [mem]` or `lock cmpxchg` that has
    already written memory runs a second time when the task resumes. Those
    checks also cost a helper call per memory access.

    Unicorn already has the switch to leave them out, `no_exit_request`
    (its ARM translator sets it inside IT blocks), but no API for it, so we
    find the flag in the engine's `struct uc_struct` (uc_priv.h, 2.1.x) by
    the fields around it and set it before any code is translated. Stops
    then happen only at the start of a translation block, where nothing of
    the block has run. If the layout is not recognised nothing is touched
    and nommu keeps ending slices at syscalls only (see SliceTimer).
    """
    base = uc._uch.value
    raw = ctypes.string_at(base, _UC_SCAN_BYTES)
    for off in range(0, len(raw) - 56, 4):
        if _UC_PAGE_FIELDS.unpack_from(raw, off) not in _UC_PAGE_VALUES:
            continue
        _linesize, content, ctx_size = struct.unpack_from("<iii", raw, off + 24)
        hook_insert, first_tb, no_exit, init_done = raw[off + 48 : off + 52]
        if content == 1 and ctx_size > 0 and no_exit == 0 and init_done == 1:
            ctypes.memmove(base + off + 50, b"\x01", 1)  # uc->no_exit_request = true
            return hook_insert in (0, 1) and first_tb in (0, 1)
    return False


def locate_registers(uc: Uc, regs: Sequence[int], word: int = 8) -> Any:
    """Unicorn's array of general registers, as a ctypes array, or None.

    Each register access through the library costs a ctypes call (about half
    a microsecond), which on the syscall path is most of the cost of a
    crossing. The registers live in an array inside Unicorn's CPU state
    (CPUX86State.regs, 64-bit slots, then EIP; CPUARMState.regs, 32-bit
    slots r0-r15: `word` bytes each), reachable from the engine's
    `struct uc_struct`. It is found by giving the registers unmistakable
    values and searching the memory behind the pointers in the engine struct
    (read through /proc/self/mem, so a wrong guess cannot crash), then
    checked by writing through it and reading back through the library.
    If anything does not match, None: the library calls are used instead.
    """
    try:
        marks = [0x13579BD0 + 0x1110 * i for i in range(len(regs))]  # (even: ARM's PC takes them)
        for reg, mark in zip(regs, marks, strict=True):
            uc.reg_write(reg, mark)
        pattern = struct.pack(f"<{len(marks)}{'Q' if word == 8 else 'I'}", *marks)
        fd = os.open("/proc/self/mem", os.O_RDONLY)
        try:
            address = _search(fd, uc._uch.value, pattern, word)
        finally:
            os.close(fd)
        if address is None:
            return None
        slot = ctypes.c_uint64 if word == 8 else ctypes.c_uint32
        window = (slot * (len(regs) + 9 if word == 8 else len(regs))).from_address(address)
        window[0] = 0x2468ACE0
        ok = uc.reg_read(regs[0]) == 0x2468ACE0
        for reg in regs:
            uc.reg_write(reg, 0)
        return window if ok else None
    except (OSError, ValueError, UcError):
        return None


# Where the last search found the registers, per pattern length: (offset of
# the pointer in the engine struct, offset of the registers behind it). Every
# engine of one architecture has the same layout, so the next machine looks
# there first (one small read instead of reading megabytes behind every
# pointer: the search costs 0.5-10 ms of each machine's start-up).
_found_at: dict[tuple[int, int], tuple[int, int]] = {}


def _search(fd: int, base: int, pattern: bytes, align: int = 8) -> int | None:
    engine = os.pread(fd, 4096, base)
    key = (len(pattern), align)
    hint = _found_at.get(key)
    if hint is not None:
        off, at = hint
        (ptr,) = struct.unpack_from("<Q", engine, off)
        try:
            if os.pread(fd, len(pattern), ptr + at) == pattern:
                return int(ptr + at)
        except (OSError, OverflowError):
            pass  # (not there this time: search)
    for off in range(0, len(engine), 8):
        (ptr,) = struct.unpack_from("<Q", engine, off)
        if not 0x10000 <= ptr < 0x7FFFFFFFFFFF:
            continue
        try:
            blob = os.pread(fd, 1 << 18, ptr)
        except OSError:
            continue
        at = blob.find(pattern)
        if at >= 0 and at % align == 0:
            _found_at[key] = (off, at)
            return int(ptr + at)
    return None


def locate_cpu_state(uc: Uc, env: int) -> int | None:
    """The address of QEMU's `CPUState` for this engine, or None.

    `env` is the address of the architecture's CPU state (CPUARMState: the
    register window starts it). Some of Unicorn's exported helpers, such as
    ARM's `tlb_flush_page`, take the generic CPUState instead. QEMU allocates
    the two as one object (ARMCPU: the CPUState, then a small block, then the
    env), and the engine keeps a pointer to the CPUState in its
    `struct uc_struct` (`uc->cpu`, uc_priv.h 2.1.x). Rather than trust
    offsets taken from one version's headers, every word of the engine struct
    that points a little below `env` is a candidate, checked against what a
    CPUState must hold (see `_is_cpu_state`). Exactly one candidate must pass:
    other pointers into the same heap point below the CPUState, and the bytes
    up to `env` then contain its fields too, so only a check anchored at the
    candidate itself tells them apart. Memory is read through /proc/self/mem,
    so a wrong guess cannot crash. None if not exactly one passes: callers
    then do without the helpers that need it.
    """
    handle = uc._uch.value
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError:
        return None
    found = set()
    try:
        engine = os.pread(fd, _UC_SCAN_BYTES, handle)
        for off in range(0, len(engine) - 7, 8):
            (ptr,) = struct.unpack_from("<Q", engine, off)
            if not 0 < env - ptr <= _CPU_STATE_SPAN:
                continue
            try:
                state = os.pread(fd, env - ptr, ptr)
            except OSError:
                continue
            if _is_cpu_state(state, ptr, env, handle):
                found.add(ptr)
    finally:
        os.close(fd)
    return found.pop() if len(found) == 1 else None


def _is_cpu_state(state: bytes, at: int, env: int, handle: int) -> bool:
    """Whether `state`, the bytes from `at` up to `env`, look like this engine's
    CPUState: it starts with nr_cores = nr_threads = 1 (what Unicorn's CPU init
    sets); a pointer to `env` follows (env_ptr), and right after it a pointer
    into the block between the CPUState and the env (icount_decr_ptr, which
    points into that block); after those, a pointer back to the engine (uc)."""
    if len(state) < 16 or struct.unpack_from("<ii", state) != (1, 1):
        return False
    words = struct.unpack(f"<{len(state) // 8}Q", state[: len(state) // 8 * 8])
    if env not in words:
        return False
    i = words.index(env)
    return (
        i + 1 < len(words) and at + 8 * (i + 2) <= words[i + 1] < env and handle in words[i + 2 :]
    )


# How far below the env its CPUState may start: CPUState (most of it the
# 4096-entry jump cache, 32 KiB) and the TLB's negative-offset block.
_CPU_STATE_SPAN = 1 << 17
KERNEL_PAGE = 0x1000  # the kernel's page: what `drop_tlb_pages` is given

# target_page_size, target_page_align, qemu_host_page_size, qemu_real_host_page_size
_UC_PAGE_FIELDS = struct.Struct("<IIQQ")
_UC_PAGE_VALUES = ((4096, 4095, 4096, 4096), (1024, 1023, 4096, 4096))  # (ARM M: 1 KiB pages)
_UC_SCAN_BYTES = 16384


@dataclass(frozen=True, slots=True)
class WatchHook:
    """An installed watch hook (`Cpu.add_write_hook`, `add_code_hook`)."""

    handle: Any  # the Unicorn hook handle
    thunk: Any  # the ctypes callback, kept alive while the hook exists


SyscallHandler = Callable[[Any], "int | None"]


class Cpu:
    """One emulated CPU over `ram`, for the architecture `arch` describes.

    `on_syscall(regs)` is called for each system call with a ctypes array of
    the syscall registers (number first, then the arguments); it returns the
    result to place in the result register, or None to leave registers alone
    (when it replaced the whole register state, as execve does).
    """

    def __init__(self, arch: Arch, ram: PhysicalRAM) -> None:
        self.arch = arch
        self.ram = ram
        self.uc = Uc(arch.UC_ARCH, arch.UC_MODE)
        if arch.UC_CPU_MODEL is not None:  # (before the engine starts: mem_map starts it)
            self.uc.ctl_set_cpu_model(arch.UC_CPU_MODEL)
        self._h = self.uc._uch
        self.uc.mem_map_ptr(ram.base, ram.size, UC_PROT_ALL, ram.host_address)
        self.precise_stops = disable_memory_exit_checks(self.uc)
        # Where the syscall registers are: indices into `window` (Unicorn's own
        # register array) when it was found, else into the batch-read array.
        self.window = locate_registers(self.uc, arch.WINDOW_REGS, arch.WINDOW_WORD)
        self.syscall_index: tuple[int, ...] = (
            arch.SYSCALL_WINDOW_INDEX
            if self.window is not None
            else tuple(range(len(arch.SYSCALL_REGS)))
        )
        self.pc_index = arch.WINDOW_PC_INDEX
        self.pc_tag = arch.PC_TAG  # what `run` adds to a code address (ARM: the Thumb bit)
        self._invlpg = self._page_helper(arch)
        n = len(arch.SYSCALL_REGS)
        self._ids = (ctypes.c_int * n)(*arch.SYSCALL_REGS)
        self.sysregs = (ctypes.c_uint32 * n)()
        self._ptrs = (ctypes.c_void_p * n)(
            *[ctypes.addressof(self.sysregs) + 4 * i for i in range(n)]
        )
        self._result = ctypes.c_uint32()
        self._scratch = ctypes.c_uint64()
        self._scratch_ref = ctypes.byref(self._scratch)
        self._result_ref = ctypes.byref(self._result)
        self._pending: BaseException | None = None
        self._trap: Stop | None = None
        self._fault: tuple[int, str] | None = None
        self.on_syscall: SyscallHandler = lambda regs: None
        self.tlb: Any = None  # the TLB the kernel fills (machine/tlb.py; it reports page faults)
        # An in-place trap handler carried out an instruction this CPU lacks
        # (the architecture names what, e.g. "cortex-m-tls"), at this address.
        self.on_emulated: Callable[[str, int], None] = lambda kind, pc: None
        self.preempt = False  # the slice is over: stop at the next syscall
        self.stopping = False  # stop() was asked for: `run` returns after this syscall
        # A syscall changed who should run (the task blocked, or its slice is
        # over): once its result is in place, `on_reschedule` decides what next.
        # The kernel can switch tasks right there, inside the hook, without
        # leaving the CPU (see Scheduler.handoff); by default the CPU just stops.
        self.reschedule = False
        self.on_reschedule: Callable[[], None] = self.stop
        self.timer = SliceTimer(self)
        self._code: dict[int, tuple[int, object]] = {}  # load_code records: start -> (end, key)
        # Traps the kernel handles in place, without stopping (math emulation):
        # trap number -> handler(pc), which returns None when it dealt with the
        # trap (and moved the PC on), else the trap to report instead.
        self.trap_handlers: dict[int, Callable[[int], int | None]] = {}
        self.fixups: dict[int, WatchHook] = {}  # add_fixup: address -> its code hook
        self._callbacks: list[Any] = []
        self._emu_start = uclib.uc_emu_start  # straight to the library: no wrapper per slice
        self._install_hooks()

    # -- hooks ---------------------------------------------------------------

    def _install_hooks(self) -> None:
        # The syscall path runs for every syscall. With the register window
        # (`locate_registers`) the arguments are read and the result written
        # straight in Unicorn's CPU state, without a single call into the
        # library; otherwise one uc_reg_read_batch and one uc_reg_write.
        emu_stop = uclib.uc_emu_stop
        h = self._h
        trapno = self.arch.SYSCALL_TRAP
        window = self.window

        result_index = -1
        if window is not None:
            result_index = self.arch.WINDOW_REGS.index(self.arch.RESULT_REG)

            def syscall() -> None:
                value = self.on_syscall(window)
                if value is not None:
                    window[result_index] = value

        else:
            read_batch, reg_write = uclib.uc_reg_read_batch, uclib.uc_reg_write
            ids, ptrs, regs, n = self._ids, self._ptrs, self.sysregs, len(self._ids)
            result, result_ref = self._result, self._result_ref
            result_reg = self.arch.RESULT_REG

            def syscall() -> None:
                read_batch(h, ids, ptrs, n)
                value = self.on_syscall(regs)
                if value is not None:
                    result.value = value
                    reg_write(h, result_reg, result_ref)

        def intr(_handle: int, intno: int, _user: int) -> None:
            try:
                if intno == trapno:
                    if window is not None:
                        # `syscall()` written out: this runs for every syscall,
                        # and one Python call less is ~5% of a getpid crossing
                        value = self.on_syscall(window)
                        if value is not None:
                            window[result_index] = value
                    else:
                        syscall()
                    while self.reschedule:  # (a handoff may run more syscalls: see there)
                        self.reschedule = False
                        self.on_reschedule()
                elif intno in self.trap_handlers:
                    self._handle_in_place(intno)
                else:
                    self._trap = Stop(StopKind.TRAP, self.pc, trapno=intno)
                    emu_stop(h)
            except BaseException as exc:
                self._pending = exc
                emu_stop(h)

        self._syscall = syscall
        self._hook(UC_HOOK_INTR, HOOK_INTR_CFUNC(intr))
        self._install_fault_hooks()

    def _install_fault_hooks(self) -> None:
        """Accesses outside RAM and invalid instructions stop the CPU with a report."""

        def unmapped(handle: int, access: int, addr: int, size: int, value: int, _u: int) -> bool:
            kind = {UC_MEM_WRITE_UNMAPPED: "write", UC_MEM_FETCH_UNMAPPED: "fetch"}
            self._fault = (addr, kind.get(access, "read"))
            return False

        def invalid(handle: int, _user: int) -> bool:
            ud = self.arch.TRAP_INVALID_OPCODE
            if ud in self.trap_handlers:
                try:
                    return self._handle_in_place(ud)
                except BaseException as exc:
                    self._pending = exc
                    return False
            self._trap = Stop(StopKind.TRAP, self.pc, trapno=ud)
            return False

        unmapped_hook = HOOK_MEM_INVALID_CFUNC(unmapped)
        self._hook(UC_HOOK_MEM_UNMAPPED, unmapped_hook, 0, self.ram.base - 1)  # below RAM
        self._hook(UC_HOOK_MEM_UNMAPPED, unmapped_hook, self.ram.end, 0xFFFFFFFF)  # above
        self._hook(UC_HOOK_INSN_INVALID, HOOK_INSN_INVALID_CFUNC(invalid))

    def _handle_in_place(self, trapno: int) -> bool:
        """Give a trap to its in-place handler; True if it was dealt with,
        else the CPU stops with the trap the handler named."""
        pc = self.pc
        report = self.trap_handlers[trapno](pc)
        if report is None:
            return True
        self._trap = Stop(StopKind.TRAP, pc, trapno=report)
        uclib.uc_emu_stop(self._h)
        return False

    def _hook(self, kind: int, callback: Any, begin: int = 1, end: int = 0) -> None:
        """Install a hook for good (on [begin, end]; by default everywhere)."""
        handle = ctypes.c_size_t()
        err = uclib.uc_hook_add(
            self._h, ctypes.byref(handle), kind, callback, None,
            ctypes.c_uint64(begin), ctypes.c_uint64(end),
        )  # fmt: skip
        if err:
            raise UcError(err)
        self._callbacks.append(callback)  # keep the thunk alive

    # -- watch hooks: for checkers (`nommu check`); a normal run has none -------

    def add_write_hook(
        self, begin: int, end: int, callback: Callable[[int, int, int], None]
    ) -> WatchHook:
        """Call `callback(address, size, value)` before each guest store to an
        address in [begin, end). Costs nothing once removed.

        Unicorn calls write hooks only from its slow store path, which code
        translated before the hook skips for a page whose TLB entry is dirty
        (machine/tlb.py). So the hook covers whole pages, which Unicorn then
        never marks dirty (it checks the hook's range at the address of each
        store: a partial page would turn dirty on a store outside the range),
        and the TLB is flushed, so no entry dirtied before is left."""

        def on_write(_h: int, _access: int, addr: int, size: int, value: int, _u: int) -> None:
            if begin <= addr < end:
                self._guarded(callback, addr, size, value)

        first, last = begin & ~0xFFF, (end + 0xFFF) & ~0xFFF
        hook = self._watch(UC_HOOK_MEM_WRITE, HOOK_MEM_ACCESS_CFUNC(on_write), first, last)
        if self.tlb is not None:
            self.tlb.flush()
        return hook

    def add_read_hook(
        self, begin: int, end: int, callback: Callable[[int, int], None]
    ) -> WatchHook:
        """Call `callback(address, size)` before each guest load from an address
        in [begin, end).

        Unicorn decides when it translates code whether its loads may take the
        fast path (no memory hook exists then) or go through the helper that
        calls hooks (one exists); nothing about a page forces old code's loads
        onto the helper, as for stores. So all translated code is dropped here,
        and the code translated while the hook exists sends every load and
        store through the helper: a checker keeps read hooks for as short a
        time as it can, and calls `drop_all_code` once it has removed them."""

        def on_read(_h: int, _access: int, addr: int, size: int, _value: int, _u: int) -> None:
            if begin <= addr < end:
                self._guarded(callback, addr, size)

        hook = self._watch(UC_HOOK_MEM_READ, HOOK_MEM_ACCESS_CFUNC(on_read), begin, end)
        self.drop_all_code()
        return hook

    def drop_all_code(self) -> None:
        """Forget every translation (they are made again as code runs)."""
        self.uc.ctl_flush_tb()

    def add_code_hook(self, begin: int, end: int, callback: Callable[[int], None]) -> WatchHook:
        """Call `callback(address)` before each instruction in [begin, end) runs.
        Code already translated there is dropped, so that it is translated again
        with the hook in place."""

        def on_code(_h: int, addr: int, _size: int, _u: int) -> None:
            self._guarded(callback, addr)

        hook = self._watch(UC_HOOK_CODE, HOOK_CODE_CFUNC(on_code), begin, end)
        self.flush_code(begin, end)
        return hook

    def add_fixup(
        self, address: int, callback: Callable[[int], None], *, retranslate: bool = True
    ) -> None:
        """Call `callback(address)` each time the instruction that starts at
        `address` is about to run (it runs after the callback: nommu turns
        off the exit checks that would let a hook skip it, see
        `disable_memory_exit_checks`). A hook on one address costs nothing
        elsewhere and never fires if no instruction starts there. Stays
        until `remove_fixups`.

        `retranslate` drops code already translated at `address`, so that it
        calls the hook too. Unicorn finds that code through the address
        space in force, so a caller that is filling an address space not yet
        in force (exec with an MMU) passes False: its code is new anyway."""
        if address in self.fixups:
            return

        def on_code(_h: int, addr: int, _size: int, _u: int) -> None:
            self._guarded(callback, addr)

        hook = self._watch(UC_HOOK_CODE, HOOK_CODE_CFUNC(on_code), address, address + 1)
        self.fixups[address] = hook
        if retranslate:
            self.uc.ctl_remove_cache(address, address + 1)

    def remove_fixups(self, begin: int, end: int) -> None:
        for address in [a for a in self.fixups if begin <= a < end]:
            self.remove_hook(self.fixups.pop(address))

    def remove_hook(self, hook: WatchHook) -> None:
        uclib.uc_hook_del(self._h, hook.handle)

    def _watch(self, kind: int, thunk: Any, begin: int, end: int) -> WatchHook:
        handle = ctypes.c_size_t()
        err = uclib.uc_hook_add(
            self._h, ctypes.byref(handle), kind, thunk, None,
            ctypes.c_uint64(begin), ctypes.c_uint64(end - 1),
        )  # fmt: skip
        if err:
            raise UcError(err)
        return WatchHook(handle, thunk)

    def _guarded(self, callback: Callable[..., None], *args: int) -> None:
        """Run a hook callback; an exception stops the CPU and is raised from `run`."""
        try:
            callback(*args)
        except BaseException as exc:
            self._pending = exc
            uclib.uc_emu_stop(self._h)

    # -- running -------------------------------------------------------------

    def run(self, pc: int, preempt_at: float, force_at: float) -> Stop:
        """Run from `pc` until the kernel stops us (a syscall changed who runs, or
        the slice ended at `preempt_at`), a fault, or a forced stop at `force_at`."""
        self._trap = self._fault = None
        self.stopping = False
        self.new_slice(preempt_at, force_at)
        try:
            err = self._emu_start(self._h, pc | self.pc_tag, 0, 0, 0)
        finally:
            self.timer.end()
        if self.timer.forced and not err and self._trap is None:
            self.arch.finish_stopped_instruction(self)
        if err:
            return self._fault_stop(UcError(err))
        if self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc
        if self._trap is not None:
            return self._trap
        return Stop(StopKind.STOPPED, self.pc)

    def new_slice(self, preempt_at: float, force_at: float) -> None:
        """A task starts a time slice: it ends at `preempt_at` (at the next
        syscall after it) or, failing that, by force at `force_at`."""
        self.preempt = False
        self.timer.begin(preempt_at, force_at)

    def _fault_stop(self, err: UcError) -> Stop:
        if self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc
        if self._trap is not None:
            return self._trap
        if err.errno == UC_ERR_EXCEPTION and self.tlb is not None and self.tlb.last_fault:
            addr, access = self.tlb.last_fault
            self.tlb.last_fault = None
            return Stop(StopKind.MEMORY_FAULT, self.pc, address=addr, access=access)
        if err.errno == UC_ERR_INSN_INVALID:
            return Stop(StopKind.TRAP, self.pc, trapno=self.arch.TRAP_INVALID_OPCODE)
        addr, access = self._fault or (0, "read")
        if err.errno in (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED, UC_ERR_FETCH_UNMAPPED):
            return Stop(StopKind.MEMORY_FAULT, self.pc, address=addr, access=access)
        return Stop(StopKind.TRAP, self.pc, trapno=self.arch.TRAP_GENERAL_PROTECTION)

    def stop(self) -> None:
        """Ask the CPU to return from `run` (safe to call from a hook)."""
        self.stopping = True
        uclib.uc_emu_stop(self._h)

    # -- registers and contexts ---------------------------------------------

    @property
    def pc(self) -> int:
        if self.window is not None:
            return int(self.window[self.pc_index]) & 0xFFFFFFFF
        value: int = self.uc.reg_read(self.arch.PC_REG)
        return value

    def set_pc(self, pc: int) -> None:
        """Where the CPU goes on (from a syscall hook: when the hook returns)."""
        if self.window is not None:
            self.window[self.pc_index] = pc
        else:  # (through the library, an ARM PC write sets the Thumb state from bit 0)
            self.reg_write(self.arch.PC_REG, pc | self.pc_tag)

    def rewind_syscall(self) -> None:
        """From a syscall hook: point the PC back at the syscall instruction
        (it is already past it), so that the call runs again when the task
        next runs. How a blocked syscall waits: xv6 style, it re-executes."""
        self.set_pc(self.pc - self.arch.SYSCALL_INSN_LEN)

    def reenter_syscall(self, pc: int) -> None:
        """From a syscall hook, with another task's registers just loaded and
        `pc` the syscall instruction it slept in: make that syscall now,
        exactly as executing the instruction would (the PC moves past it, the
        kernel runs the call, the result lands in the result register), minus
        the trip through the CPU."""
        self.set_pc(pc + self.arch.SYSCALL_INSN_LEN)
        self._syscall()

    def reg_read(self, reg: int) -> int:
        """An integer register, through the library directly (the binding's
        per-call type dispatch costs several microseconds)."""
        self._scratch.value = 0
        err = uclib.uc_reg_read(self._h, reg, self._scratch_ref)
        if err:
            raise UcError(err)
        return int(self._scratch.value)

    def reg_write(self, reg: int, value: int) -> None:
        self._scratch.value = value & 0xFFFFFFFFFFFFFFFF
        err = uclib.uc_reg_write(self._h, reg, self._scratch_ref)
        if err:
            raise UcError(err)

    def regs_write(self, values: Sequence[tuple[int, int]]) -> None:
        for reg, value in values:
            self.reg_write(reg, value)

    def context_save(self) -> CpuContext:
        """A new context holding the CPU's current state."""
        ctx: CpuContext = self.uc.context_save()
        return ctx

    def context_update(self, ctx: CpuContext) -> None:
        """Save the CPU's current state into an existing context (on every
        task switch: straight to the library, which copies the state)."""
        err = uclib.uc_context_save(self._h, ctx.context)
        if err:
            raise UcError(err)

    def context_restore(self, ctx: CpuContext) -> None:
        err = uclib.uc_context_restore(self._h, ctx.context)
        if err:
            raise UcError(err)

    def _page_helper(self, arch: Any) -> Callable[[int], None] | None:
        """A way to drop one page from the TLB (Unicorn's API only drops all of
        it): the architecture's TLB helper, called with the CPU state it takes
        (`TLB_HELPER_TAKES`: "env", the state the register window points
        into; "cpu", QEMU's CPUState, see `locate_cpu_state`) for each of
        Unicorn's TLB pages (`UC_TLB_PAGE`: 1 KiB on ARM) inside a kernel page.
        None if the helper or the state is missing: the TLB is flushed whole."""
        helper = getattr(uclib, arch.TLB_PAGE_HELPER, None)
        if helper is None or self.window is None:
            return None
        env = ctypes.addressof(self.window)
        state = locate_cpu_state(self.uc, env) if arch.TLB_HELPER_TAKES == "cpu" else env
        if state is None:
            return None
        helper.argtypes, helper.restype = [ctypes.c_void_p, ctypes.c_uint64], None
        parts = range(0, KERNEL_PAGE, arch.UC_TLB_PAGE)

        def drop(page: int) -> None:
            for part in parts:
                helper(state, page + part)

        return drop

    def drop_tlb_pages(self, pages: Sequence[int]) -> bool:
        """Drop the kernel's (4 KiB) `pages` from the TLB, if the CPU knows how
        to drop single pages (see `_page_helper`); False if it does not (then
        flush it all)."""
        invlpg = self._invlpg
        if invlpg is None:
            return False
        for page in pages:
            invlpg(page)
        return True

    def flush_code(self, begin: int, end: int) -> None:
        """Forget translated code for [begin, end): that memory holds something new.
        A range no code was fetched from holds none: nothing to drop (which also
        spares the TLB flush that dropping would cost, see Tlb.code_flushed)."""
        tlb = self.tlb
        if tlb is None or tlb.may_hold_code(begin, end):
            self.uc.ctl_remove_cache(begin, end)
            if tlb is not None:
                tlb.code_flushed(begin, end)
        self.forget_code(begin, end)

    def drop_code(self, begin: int, end: int) -> None:
        """Forget translated code for [begin, end), whatever the TLB knows of
        where code ran: the program says it wrote code there (ARM's
        cacheflush). (Only for a CPU without an MMU: the range is physical.)"""
        self.uc.ctl_remove_cache(begin, end)
        self.forget_code(begin, end)

    def load_code(self, begin: int, end: int, key: object) -> None:
        """[begin, end) is about to receive program `key`'s bytes. If the same
        program was last loaded at exactly this place, its translated code is
        still right and is kept (a vfork+execve loop reloads the same binary
        at the same address: translating it again would be most of the cost
        of an exec); otherwise the old translations are dropped."""
        if self._code.get(begin) == (end, key):
            return
        self.flush_code(begin, end)
        self._code[begin] = (end, key)

    def forget_code(self, begin: int, end: int) -> None:
        """[begin, end) may be used for something else: no load record that
        overlaps it survives (the next load there drops old translations;
        where translated code may be, the TLB's `code_pages` say)."""
        for start, (stop, _) in list(self._code.items()):
            if start < end and begin < stop:
                del self._code[start]


class SliceTimer:
    """Ends time slices, precisely.

    Unicorn can stop the CPU from another thread (its own `timeout` option
    does), but such a stop is not precise: Unicorn checks for a stop request
    after every guest memory access (`check_exit_request` in its tcg-op.c),
    and a stop that lands just after the store of a read-modify-write
    instruction (`inc [mem]`, `xchg`, `lock cmpxchg`) reports the address of
    that instruction, which then runs a second time: a counter gains one, a
    lock looks free while it is held. So a slice does not end from outside:
    this thread only raises `cpu.preempt` at `preempt_at`, and the syscall
    path stops the CPU from inside its hook, where the PC is exact.

    A task that makes no syscall at all cannot be stopped that way. Past
    `force_at` (a grace period after the slice, or a Ctrl-C) the thread stops
    it from outside after all. With `disable_memory_exit_checks` in effect
    (the normal case) that stop is exact too, and the grace is short;
    otherwise the risk above remains for tasks that never make a syscall.
    """

    TICK = 0.005

    def __init__(self, cpu: Cpu) -> None:
        self.cpu = cpu
        self._preempt_at = self._force_at = float("inf")
        self._running = False
        self._forced = False
        self.forced_stops = 0
        self.wakeup_fd = -1  # nommu's signal wakeup pipe: a Ctrl-C forces a stop
        self._thread: threading.Thread | None = None
        self._quit = False
        self._parked = False  # the thread waits for `_active` (no slice is running)
        self._active = threading.Event()  # wakes the parked thread
        self.contended = False  # a task woke during this slice (see `contend`)
        self.contended_slice = (0.020, 0.005)  # its slice then lasts at most this, + grace

    def begin(self, preempt_at: float, force_at: float) -> None:
        self.contended = False
        self._preempt_at, self._force_at = preempt_at, force_at
        self._forced = False
        self._running = True
        if self._parked:
            self._active.set()
        if self._thread is None and (preempt_at != INF or force_at != INF or self.wakeup_fd >= 0):
            self._start()

    def end(self) -> None:
        self._running = False

    @property
    def forced(self) -> bool:
        """The slice that just ended was stopped from this thread (`_loop`)."""
        return self._forced

    def shorten(self, preempt_at: float, force_at: float) -> None:
        """The running slice must end by `preempt_at` after all (a timer was
        set during it that is due before the slice would have ended)."""
        if not self._running or preempt_at >= self._preempt_at:
            return
        self._preempt_at, self._force_at = preempt_at, min(force_at, self._force_at)
        if self._thread is None:
            self._start()

    def contend(self) -> None:
        """Another task became runnable while one runs (a wakeup from a
        syscall or a timer): the running slice, unbounded if the task was
        alone, now ends within `contended_slice` of the next tick, as Linux's
        scheduler tick ends it. Without this a task that spins waiting for
        the one it woke (pthread_cancel, a spin lock) would keep the CPU
        forever. Only a flag is set here: a wakeup is usually followed at
        once by the waker's own sleep, which starts a new slice anyway; the
        timer thread does the rest (`_bound`)."""
        self.contended = True
        if self._thread is None:
            self._start()

    def _bound(self, now: float) -> None:
        """The running slice ends `contended_slice` from `now` at the latest."""
        slice_length, grace = self.contended_slice
        if now + slice_length < self._preempt_at:
            self._preempt_at = now + slice_length
            self._force_at = min(self._force_at, now + slice_length + grace)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="nommu-slices", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """End the timer thread (the machine is done)."""
        self._quit = True
        self.wakeup_fd = -1
        self._active.set()

    def _loop(self) -> None:
        stop = uclib.uc_emu_stop
        h = self.cpu._h
        while not self._quit:
            if not self._running:  # between slices (the machine may idle for long)
                self._parked = True
                self._active.clear()
                if not self._running:  # (`begin` sets _running before it looks at _parked)
                    self._active.wait(0.5)
                self._parked = False
                continue
            ready: list[int] = []
            fd = self.wakeup_fd
            try:
                if fd >= 0:
                    ready, _, _ = select.select([fd], [], [], self.TICK)
                else:
                    time.sleep(self.TICK)
            except (OSError, ValueError):  # the pipe closed under us
                time.sleep(self.TICK)
            if not self._running or self._forced:
                if self._running:
                    # Still running after a forced stop: the stop came before
                    # Unicorn started (uc_emu_start clears stop requests) and
                    # was lost. Ask again, a tick later, until the run ends.
                    stop(h)
                if ready:
                    time.sleep(self.TICK)  # a signal the run loop has not taken yet
                continue
            now = time.monotonic()
            if self.contended:
                self._bound(now)
            if now >= self._preempt_at:
                self.cpu.preempt = True
            if now >= self._force_at or ready:
                self._forced = True
                self.forced_stops += 1
                self.cpu.stopping = True
                stop(h)


INF = float("inf")
