"""`nommu check`: run a program and find what will break on a no-MMU board.

The checker is a tracer (it sees every syscall before and after its handler
runs, and passes both on to `--strace` if asked for too) and an event sink
(it sees vforks, execs, exits and kills). It never changes what the
program does: it only reads registers and memory.

What it looks for, and how:

* fork(), and clone() without CLONE_VM: the syscall itself, with its stack;
  a fork() inside libc's daemon() is `daemon`, whose advice says how a
  no-MMU program goes into the background instead.
* A vfork child on its parent's stack (vfork, or clone(CLONE_VM|CLONE_VFORK)
  without a new stack). POSIX lets it do two things: execve() and _exit().
  While such a child exists the CPU carries watch hooks, removed when it
  execs or exits, so an ordinary run pays nothing:
  - a store hook on all memory except the child's own part of the stack
    (below the stack pointer its parent had at the vfork): a store to a
    return address or saved frame pointer of the parent's frames is
    `vfork-return-address` at once (the parent still needs them: found
    from the parent's frame chain, by the unwinder, at the vfork). A store
    to the rest of the parent's frames (`vfork-write-stack`), to the
    program's data (`vfork-write-global`) or elsewhere (`vfork-write-heap`)
    is a finding only if the parent, once it resumes, reads the value the
    child left before storing there itself (trace/observed.py); otherwise it
    is a note (`strict_vfork`, --strict-vfork: every store is a finding, as
    POSIX has it). Allowed: the thread's own errno (in its TLS block),
    storing vfork()'s 0 into the caller's pid variable, and, after a failed
    execve, storing that errno where the parent will read it;
  - a code hook on the return address of the function that called vfork:
    reaching it means the child returned from that function (`vfork-return`);
  - a code hook on libc's exit(): what follows (atexit handlers, stdio
    flushes) is reported once, as `vfork-exit`, at the call of exit();
  - any other syscall is `vfork-syscall`, or `vfork-exec-failed` once an
    execve has failed (anything but execve or _exit after that).
* A clone(CLONE_VM|CLONE_VFORK) child on its own stack (posix_spawn): only
  syscalls outside what posix_spawn's child does are reported.
* Memory-model reliance, from each call's arguments and result: brk growth
  (refused: the break stays put), MAP_FIXED, ignored address hints, MAP_SHARED
  of a file (ENODEV), mprotect & co (ENOSYS), munmap of unmapped memory
  (EINVAL), and ENOMEM while enough memory was free in total (the allocator's
  failure record says so: fragmentation). brk and mprotect are reported only
  when the program's own code calls them: malloc and pthread_create try them
  and cope with the refusal.
* A crash (a fault that kills) of a process with findings: the fault report
  is attached to the findings that likely caused it.

Apart from those, calls that Linux has and nommu does not implement (the
kernel's `unimplemented` event: they got ENOSYS here) are listed by call
and call site. They are nommu's gaps, not the program's: they never count
as no-MMU problems. Calls a no-MMU Linux lacks too (mprotect, swapon...)
are not gaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from nommu.abi.errno import Errno
from nommu.abi.flags import MAP_TYPE, CloneFlags, MapFlags
from nommu.abi.signals import signal_name
from nommu.kernel.events import EventSink, SyscallRow, Tracer
from nommu.trace import observed, symbols
from nommu.trace.findings import RULES, Finding, Frame, Report, StackUse, symbolize
from nommu.trace.observed import ChildStore, ParentWatch
from nommu.trace.unwind import Stack, Unwinder, current_stack, stack_bounds

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.mpu import Violation
    from nommu.kernel.task import Task
    from nommu.loaders.elf import ElfImage
    from nommu.machine.cpu import WatchHook

# What musl's posix_spawn child does on its own stack (reference, section 6);
# dup moves its error pipe out of the way of a file action aimed at it.
SPAWN_CHILD_CALLS = frozenset(
    {
        "close", "dup", "dup2", "dup3", "fcntl", "fcntl64", "rt_sigaction", "rt_sigprocmask",
        "sigaction", "sigprocmask", "open", "openat", "chdir", "fchdir", "setsid",
        "setpgid", "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32",
        "setregid", "setregid32", "setresuid", "setresuid32", "setresgid", "setresgid32",
        "execve", "execveat", "exit", "exit_group",
    }
)  # fmt: skip
EXEC_OR_EXIT = frozenset({"execve", "execveat", "exit", "exit_group"})
MMU_ONLY = frozenset(
    {"mprotect", "pkey_mprotect", "madvise", "msync", "mlock", "mlock2", "munlock",
     "mlockall", "munlockall", "mincore", "remap_file_pages"}
)  # fmt: skip
# libc functions that only pass a call on to the kernel: a brk or mprotect
# reached through nothing else was the program's own call.
STUBS = frozenset({"", "syscall", "__syscall", "__syscall_cp", "__syscall_cp_c",
                   "__syscall_cp_asm", "__syscall_ret", "__vsyscall"})  # fmt: skip
WRAPPERS = {
    "brk": frozenset({"brk", "__brk", "sbrk", "__sbrk"}),
    "mprotect": frozenset({"mprotect", "__mprotect"}),
    "pkey_mprotect": frozenset({"pkey_mprotect"}),
    "madvise": frozenset({"madvise", "__madvise", "posix_madvise"}),
    "msync": frozenset({"msync"}),
    "mlock": frozenset({"mlock"}),
    "mlock2": frozenset({"mlock2"}),
    "munlock": frozenset({"munlock"}),
    "mlockall": frozenset({"mlockall"}),
    "munlockall": frozenset({"munlockall"}),
    "mincore": frozenset({"mincore"}),
}
# Without DWARF line information, libc's own callers are known by name.
LIBC_INTERNAL = frozenset(
    {"malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign", "memalign",
     "__libc_malloc", "__libc_malloc_impl", "__malloc_alloc_meta", "alloc_meta",
     "__expand_heap", "expand_heap", "__simple_malloc", "pthread_create", "__pthread_create"}
)  # fmt: skip
TLS_SPAN = 256  # bytes of the thread block at the TLS base (errno lives there)
LOOK_BEFORE = frozenset({"brk", "fork", "clone"})  # besides every call of a watched child
LOOK_AFTER = frozenset({"brk", "mmap2"})  # besides every failed call


@dataclass(eq=False)
class VforkWatch:
    """A vfork child being watched, until it execs or exits."""

    child: Task
    parent: Task
    shared_stack: bool
    sp: int = 0  # the parent's stack pointer at the vfork: the child owns what is below
    stack_lo: int = 0
    stack_hi: int = 0
    frame: int = 0  # frame pointer of the function that called vfork (0: unknown)
    caller: int = 0  # that function's index in parent_stack
    returns_to: int = 0  # where that function returns to
    parent_stack: Stack | None = None  # named only when a finding needs it
    # The parent's return-address slots -> (True, frame index of the function
    # returned into), saved-ebp slots -> (False, index of the frame's function).
    slots: dict[int, tuple[bool, int]] = field(default_factory=dict)
    owners: list[tuple[int, int]] = field(default_factory=list)  # (frame pointer, index)
    tls: tuple[int, int] = (0, 0)
    exec_errno: int = 0  # set when an execve failed
    pid_slot: int = 0
    exit_stack: Stack | None = None  # where the child called exit()
    exit_calls: list[str] = field(default_factory=list)
    exit_stores: int = 0
    returned: Finding | None = None
    hooks: list[WatchHook] = field(default_factory=list)
    seen: dict[tuple[str, int], Finding] = field(default_factory=dict)
    # Stores waiting to be seen or not by the parent (trace/observed.py):
    # one per kind and instruction, and which bytes each left.
    stores: dict[tuple[str, int], ChildStore] = field(default_factory=dict)
    pending: dict[int, ChildStore] = field(default_factory=dict)

    _parent_frames: list[Frame] | None = None

    def parent_title(self) -> str:
        return f"parent, process {self.parent.pid} ({self.parent.comm}), at the vfork"

    def parent_frames(self) -> list[Frame]:
        if self._parent_frames is None:
            self._parent_frames = symbolize(self.parent_stack) if self.parent_stack else []
        return self._parent_frames

    def name(self, i: int) -> str:
        frames = self.parent_frames()
        return (frames[i].function or "??") if 0 <= i < len(frames) else "??"

    def slot_text(self, addr: int) -> str | None:
        found = self.slots.get(addr)
        if found is None:
            return None
        is_return, i = found
        if is_return:
            return f"the return address of {self.name(i - 1)}() into {self.name(i)}()"
        return f"the saved frame pointer of {self.name(i)}()"


class Checker(EventSink):
    """The `nommu check` engine: attach to a kernel before boot, read `report` after."""

    def __init__(self, strict_vfork: bool = False) -> None:
        self.report = Report()
        self.strict_vfork = strict_vfork  # every store of a vfork child is a finding (POSIX)
        self.observing: list[ParentWatch] = []  # vfork parents reading what a child left
        self.k: Kernel | None = None
        self.inner: Tracer | None = None  # --strace, if it was asked for too
        self.sink: EventSink = EventSink()
        self.watches: dict[int, VforkWatch] = {}
        self.blame: dict[int, list[Finding]] = {}  # pid -> findings that may explain a crash
        self._emulated: set[tuple[int, int]] = set()  # (pid, pc) of emulated instructions seen
        self._failures = 0
        self._brk = 0

    def attach(self, k: Kernel) -> None:
        """Become `k`'s tracer and event sink, passing both on to what was there."""
        self.k = k
        self.inner, self.sink = k.tracer, k.events
        k.tracer = self
        k.events = self

    # -- syscalls ----------------------------------------------------------------

    def syscall_entry(self, k: Kernel, t: Task, row: SyscallRow, args: tuple[int, ...]) -> None:
        """Look before the call (then --strace, if it was asked for too). Kept
        cheap for the common case: a call that is none of ours."""
        self._failures = len(k.alloc.failures)
        if row.name in LOOK_BEFORE or self.watches:
            self._before(k, t, row.name, args)
        if self.observing:
            self._prune(k, t)
        if self.inner is not None:
            self.inner.syscall_entry(k, t, row, args)

    def syscall_exit(
        self,
        k: Kernel,
        t: Task,
        row: SyscallRow,
        args: tuple[int, ...],
        result: int | None,
        blocked: bool,
    ) -> None:
        """Look at the outcome: every failed call, and a few that succeeded."""
        if not blocked and result is not None and (result < 0 or row.name in LOOK_AFTER):
            self._after(k, t, row.name, args, result)
        if self.inner is not None:
            self.inner.syscall_exit(k, t, row, args, result, blocked)

    def _before(self, k: Kernel, t: Task, name: str, args: tuple[int, ...]) -> None:
        if name == "brk":
            self._brk = t.mm.brk
        elif name == "fork":
            self._fork(t)
        elif name == "clone" and not args[0] & CloneFlags.CLONE_VM:
            self._emit(
                "clone-without-vm",
                f"clone() without CLONE_VM (flags {args[0]:#x}): the child would run in its "
                "parent's memory, not a copy of it",
                t,
                self._at_syscall(t),
            )
        w = self.watches.get(t.tid)
        if w is not None:
            self._child_syscall(w, name, args)

    def _after(self, k: Kernel, t: Task, name: str, args: tuple[int, ...], result: int) -> None:
        if name in ("brk", "mmap2", "munmap") or name in MMU_ONLY:
            self._memory_call(t, name, args, result)
        if result == -Errno.ENOMEM and len(k.alloc.failures) > self._failures:
            self._enomem(t, name)
        if name in ("execve", "execveat") and result < 0 and t.tid in self.watches:
            self.watches[t.tid].exec_errno = -result

    def _fork(self, t: Task) -> None:
        """fork(), or daemon() trying to go into the background with it."""
        stack = self._at_syscall(t)
        frames = symbolize(stack)
        if any(f.function == "daemon" for f in frames):
            message = (
                "daemon() called fork(), which fails with EINVAL without an MMU: daemon() "
                "returns -1 and the program stays in the foreground"
            )
            self._emit("daemon", message, t, stack, frames=frames)
        else:
            self._emit("fork", "fork() fails with EINVAL without an MMU", t, stack, frames=frames)

    # -- memory-model reliance -------------------------------------------------------

    def _memory_call(self, t: Task, name: str, args: tuple[int, ...], result: int) -> None:
        if name == "brk":
            if args[0] > self._brk and result == self._brk:
                message = (
                    f"brk({args[0]:#x}) cannot grow the heap: the break stays at "
                    f"{result:#x} (a no-MMU program has a zero-size brk)"
                )
                self._direct(t, "brk-growth", message, name)
        elif name == "mmap2":
            self._mmap(t, args, result)
        elif name == "munmap":
            region = t.mm.find(args[0])
            if result == -Errno.EINVAL and (region is None or args[0] + args[1] > region.end):
                self._emit(
                    "munmap-unmapped",
                    f"munmap({args[0]:#x}, {args[1]}) of memory that is not mapped fails "
                    "with EINVAL without an MMU",
                    t,
                    self._at_syscall(t),
                )
        elif result == -Errno.ENOSYS:
            self._direct(t, "mprotect", f"{name}() needs an MMU: it fails with ENOSYS", name)

    def _mmap(self, t: Task, args: tuple[int, ...], result: int) -> None:
        addr, length, _prot, flags = args[:4]
        if flags & MapFlags.MAP_FIXED:
            self._emit(
                "mmap-fixed",
                f"mmap(MAP_FIXED at {addr:#x}, {length} bytes) fails with EINVAL: nothing "
                "can be placed at a chosen address without an MMU",
                t,
                self._at_syscall(t),
            )
        elif addr and result >= 0 and result != addr:
            self._emit(
                "mmap-hint",
                f"mmap() address hint {addr:#x} was ignored: the mapping is at {result:#x}",
                t,
                self._at_syscall(t),
            )
        shared = flags & MAP_TYPE == MapFlags.MAP_SHARED
        if result == -Errno.ENODEV and shared and not flags & MapFlags.MAP_ANONYMOUS:
            self._emit(
                "mmap-shared-file",
                f"mmap(MAP_SHARED) of a file (fd {args[4]}) fails with ENODEV without an MMU",
                t,
                self._at_syscall(t),
            )

    def _enomem(self, t: Task, name: str) -> None:
        assert self.k is not None
        fail = self.k.alloc.failures[-1]
        if fail.free_total < fail.size:
            return
        self._emit(
            "enomem-fragmentation",
            f"{name}() failed with ENOMEM: {kib(fail.size)} asked for, {kib(fail.free_total)} "
            f"free, but the largest contiguous free block was {kib(fail.largest_free)}",
            t,
            self._at_syscall(t),
        )

    def _direct(self, t: Task, kind: str, message: str, name: str) -> None:
        """Report `kind` only if the program's own code made the call `name`."""
        stack = self._at_syscall(t)
        if called_directly(stack, WRAPPERS.get(name, frozenset())):
            self._emit(kind, message, t, stack)

    # -- vfork children ------------------------------------------------------------

    def task_created(self, parent: Task, child: Task, flags: int) -> None:
        self.sink.task_created(parent, child, flags)
        assert self.k is not None
        vfork = CloneFlags.CLONE_VM | CloneFlags.CLONE_VFORK
        if flags & vfork != vfork or self.k.memory.has_mmu:
            return
        w = VforkWatch(child, parent, shared_stack=not child.own_stack)
        self.watches[child.tid] = w
        if w.shared_stack:
            self._watch_shared(w)

    def _watch_shared(self, w: VforkWatch) -> None:
        """Note the parent's frames and install the hooks (the CPU holds the
        parent's registers: we are inside its vfork)."""
        k = self.k
        assert k is not None
        cpu, arch = k.cpu, k.arch
        w.sp = cpu.reg_read(arch.SP_REG)
        w.stack_lo, w.stack_hi = stack_bounds(k, w.parent, w.sp)
        unwinder = Unwinder(k, w.parent, w.stack_lo, w.stack_hi)
        regs = tuple(cpu.reg_read(r) for r in arch.VFORK_RETURN_REGS)
        pc = cpu.pc - arch.SYSCALL_INSN_LEN
        stack = unwinder.stack(pc, w.sp, cpu.reg_read(arch.FRAME_REG), regs)
        w.parent_stack = stack
        self._note_frames(w, stack, unwinder)
        w.tls = tls_range(k, w.child)
        on_store = self._store_hook(w)
        if w.stack_lo > k.ram.base:
            w.hooks.append(cpu.add_write_hook(k.ram.base, w.stack_lo, on_store))
        w.hooks.append(cpu.add_write_hook(w.sp, k.ram.end, on_store))
        if w.returns_to:
            w.hooks.append(cpu.add_code_hook(w.returns_to, w.returns_to + 1, self._return_hook(w)))
        exit_fn = symbols.address_of(stack.image, "exit")
        if exit_fn is not None:
            at = exit_fn + stack.load_base
            w.hooks.append(cpu.add_code_hook(at, at + 1, self._exit_hook(w)))

    def _note_frames(self, w: VforkWatch, stack: Stack, unwinder: Unwinder) -> None:
        """The parent's return-address and saved-ebp slots, and the function that
        called vfork (the first frame with a frame pointer)."""
        saved_fp = unwinder.arch.SAVED_FP_OFFSET
        for i, f in enumerate(stack.frames):
            if i and f.slot >= w.sp:
                w.slots[f.slot] = (True, i)
            if f.frame >= w.sp:
                w.slots.setdefault(f.frame + saved_fp, (False, i))
                w.owners.append((f.frame, i))
            if f.frame and not w.frame:
                w.frame, w.caller = f.frame, i
                ret = unwinder.word(f.frame + unwinder.arch.RETURN_ADDRESS_OFFSET)
                w.returns_to = ret or 0

    def _store_hook(self, w: VforkWatch) -> Any:
        k = self.k

        def on_store(addr: int, size: int, value: int) -> None:
            if k is not None and k.current is w.child:
                self._child_store(w, addr, size, value)

        return on_store

    def _return_hook(self, w: VforkWatch) -> Any:
        def on_return(addr: int) -> None:
            if self.k is None or self.k.current is not w.child or w.returned is not None:
                return
            w.returned = self._child_finding(
                w,
                "vfork-return",
                f"the vfork child returned from {w.name(w.caller)}(), the function that called "
                "vfork(): its next calls overwrite the frames its parent will return through",
                replace(current_stack(self.k, w.child), exact=False),  # at a return address
            )

        return on_return

    def _exit_hook(self, w: VforkWatch) -> Any:
        def on_exit(addr: int) -> None:
            if self.k is not None and self.k.current is w.child and w.exit_stack is None:
                w.exit_stack = current_stack(self.k, w.child)

        return on_exit

    def _child_store(self, w: VforkWatch, addr: int, size: int, value: int) -> None:
        """A store by a vfork child outside its own part of the stack."""
        if w.tls[0] <= addr < w.tls[1]:
            return  # its errno, in the thread block
        in_stack = w.stack_lo <= addr < w.stack_hi
        if w.exec_errno and not in_stack and size == 4 and value == w.exec_errno:
            return  # handing the failed execve's errno to the parent
        pid_store = size == 4 and value == 0 and w.pid_slot in (0, addr)
        if in_stack and w.sp <= addr < w.frame and pid_store:
            w.pid_slot = addr  # vfork()'s 0 into the caller's pid variable
            return
        if w.exit_stack is not None:
            w.exit_stores += 1
            return
        if w.returned is not None and in_stack:
            return  # its frames landing on the parent's: the vfork-return finding says so
        if addr < w.stack_lo and self._below_stack(w):
            return  # the child's stack overflowed: kernel/mpu.py reports it
        assert self.k is not None
        pc = self.k.cpu.pc
        kind, what = self._classify(w, addr)
        if w.exec_errno and kind != "vfork-return-address":
            kind = "vfork-exec-failed"
            what = f"{what} after execve failed with {Errno(w.exec_errno).name}"
        if kind != "vfork-return-address" and not self.strict_vfork:
            self._remember_store(w, kind, what, pc, addr, size, value)
            return
        seen = w.seen.get((kind, pc))
        if seen is not None:
            seen.count += 1
            return
        verb = "overwrote" if kind == "vfork-return-address" else "wrote"
        message = f"the vfork child {verb} {what}"
        notes = [f"store of {size} byte(s) at {addr:#x}, value {value:#x}"]
        if kind == "vfork-return-address":
            notes.append(self._slot_change(w, addr, value))
        stack = current_stack(self.k, w.child)
        w.seen[(kind, pc)] = self._child_finding(w, kind, message, stack, notes)

    def _remember_store(
        self, w: VforkWatch, kind: str, what: str, pc: int, addr: int, size: int, value: int
    ) -> None:
        """A store that is a finding only if the parent reads it (trace/observed.py)."""
        assert self.k is not None
        s = w.stores.get((kind, pc))
        if s is None:
            notes = [f"store of {size} byte(s) at {addr:#x}, value {value:#x}"]
            stack = current_stack(self.k, w.child)
            message = f"the vfork child wrote {what}"
            s = w.stores[(kind, pc)] = ChildStore(kind, message, w.child.comm, stack, notes)
        else:
            s.count += 1
        for a in range(addr, addr + size):
            w.pending[a] = s

    def _below_stack(self, w: VforkWatch) -> bool:
        """Whether the child's stack pointer has gone below the stack it shares."""
        assert self.k is not None
        return bool(self.k.cpu.reg_read(self.k.arch.SP_REG) < w.stack_lo)

    def _slot_change(self, w: VforkWatch, addr: int, value: int) -> str:
        """What the parent will find in a slot of its own the child overwrote."""
        assert self.k is not None
        old = self.k.uspace.read_u32(addr)  # the hook runs before the store
        mm = w.parent.mm
        return (
            f"the slot held {code_name(mm.image, mm.load_base, old)}; when the parent resumes "
            f"it finds {code_name(mm.image, mm.load_base, value)}, left there by the child"
        )

    def _classify(self, w: VforkWatch, addr: int) -> tuple[str, str]:
        slot = w.slot_text(addr & ~3)
        if slot is not None:
            return "vfork-return-address", f"{slot} on its parent's stack"
        if w.stack_lo <= addr < w.stack_hi:
            owner = next((w.name(i) for fp, i in w.owners if addr < fp + 8), "")
            frame = f"{owner}()'s frame" if owner else "its parent's frames"
            return "vfork-write-stack", f"a local variable of its parent ({frame}, {addr:#x})"
        mm = w.parent.mm
        region = mm.find(addr)
        if region is not None and region.kind == "image":
            found = symbols.lookup(mm.image, addr - mm.load_base)
            name = f"`{found[0].name}`" if found else f"data at {addr:#x}"
            return "vfork-write-global", f"the global {name} of its parent"
        where = f"{region.kind} block {region.start:#x}-{region.end:#x}" if region else "memory"
        return "vfork-write-heap", f"its parent's heap at {addr:#x} ({where})"

    def _child_syscall(self, w: VforkWatch, name: str, args: tuple[int, ...]) -> None:
        """A syscall by a watched child (called before it runs)."""
        if not w.shared_stack:
            if name not in SPAWN_CHILD_CALLS and not (name == "write" and args[2] == 4):
                self._child_finding(
                    w,
                    "vfork-syscall",
                    f"the clone(CLONE_VM|CLONE_VFORK) child called {name}(), which a "
                    "posix_spawn child never needs",
                    self._at_syscall(w.child),
                )
            return
        if name in ("exit", "exit_group"):
            if w.exit_stack is not None:
                self._exit_finding(w)
            return
        if name in EXEC_OR_EXIT:
            return
        if w.exit_stack is not None:
            w.exit_calls.append(describe_call(name, args))
            return
        if w.exec_errno:
            kind = "vfork-exec-failed"
            message = (
                f"the vfork child called {describe_call(name, args)} after execve failed "
                f"with {Errno(w.exec_errno).name}: only _exit() is safe there"
            )
        else:
            kind = "vfork-syscall"
            message = (
                f"the vfork child called {describe_call(name, args)}: a child on its "
                "parent's stack may only call execve() or _exit()"
            )
        self._child_finding(w, kind, message, self._at_syscall(w.child))

    def _exit_finding(self, w: VforkWatch) -> None:
        assert w.exit_stack is not None
        notes = []
        if w.exit_calls:
            notes.append("inside exit(), the child called " + ", ".join(w.exit_calls))
        if w.exit_stores:
            notes.append(
                f"inside exit(), the child stored {w.exit_stores} time(s) into its parent's "
                "memory (atexit handlers, stdio state)"
            )
        output = any(c.startswith(("write", "writev")) for c in w.exit_calls)
        message = "the vfork child called exit() instead of _exit(): the parent's atexit " + (
            "handlers ran and its stdio buffers were flushed in the child"
            if output
            else "handlers and stdio cleanup ran in the child"
        )
        self._child_finding(w, "vfork-exit", message, w.exit_stack, notes)

    def _child_finding(
        self, w: VforkWatch, kind: str, message: str, stack: Stack, notes: Iterable[str] = ()
    ) -> Finding:
        parent = [(w.parent_title(), w.parent_frames())]
        f = self._emit(kind, message, w.child, stack, parent, notes)
        self._blame(w.parent.pid, f)
        return f

    def vfork_released(self, parent: Task, child: Task, why: str) -> None:
        self.sink.vfork_released(parent, child, why)
        w = self.watches.pop(child.tid, None)
        if w is not None and self.k is not None:
            for hook in w.hooks:
                self.k.cpu.remove_hook(hook)
            w.hooks.clear()
            if w.pending:
                self._observe_parent(w)

    # -- what a vfork parent reads of its child's stores (trace/observed.py) ----------

    def _observe_parent(self, w: VforkWatch) -> None:
        """The parent resumes: follow its loads of the bytes its child left."""
        assert self.k is not None
        pw = ParentWatch(w.parent, w.parent.mm, w.pending, w.stack_lo, w.stack_hi, w)
        w.pending = {}
        self.observing.append(pw)
        observed.start(self.k, pw, self._parent_read, lambda t: t.tid in self.watches)

    def _parent_read(self, pw: ParentWatch, s: ChildStore, reader: Task) -> None:
        """The parent loaded a value its vfork child left: the store is a finding."""
        assert self.k is not None and isinstance(pw.context, VforkWatch)
        w = pw.context
        title = f"parent, process {reader.pid} ({reader.comm}), reading the value"
        read = symbolize(current_stack(self.k, reader))
        stacks = [(w.parent_title(), w.parent_frames()), (title, read)]
        message = f"{s.message}, which its parent read after it resumed"
        f = Finding(s.kind, message, w.child.pid, s.comm, symbolize(s.stack), stacks)
        f.notes, f.count = list(s.notes), s.count
        f = self.report.add(f)
        self._blame(w.child.pid, f)
        self._blame(w.parent.pid, f)

    def _prune(self, k: Kernel, t: Task) -> None:
        """At a syscall of a watched parent: its stack below the stack pointer is dead."""
        for pw in [pw for pw in self.observing if pw.parent is t]:
            observed.prune_stack(pw, k.cpu.reg_read(k.arch.SP_REG))
            if not pw.pending:
                self._end_observing(pw)

    def _end_observing(self, pw: ParentWatch) -> None:
        """Stop following `pw`'s parent; what it never read becomes a note."""
        assert self.k is not None and isinstance(pw.context, VforkWatch)
        if pw in self.observing:
            self.observing.remove(pw)
        w = pw.context
        for s in observed.stop(self.k, pw):
            message = f"{s.message}; its parent never read that value (POSIX forbids it)"
            stacks = [(w.parent_title(), w.parent_frames())]
            note = Finding(s.kind, message, w.child.pid, s.comm, symbolize(s.stack), stacks)
            note.notes, note.count = list(s.notes), s.count
            self.report.add_note(note)

    def _parent_gone(self, t: Task) -> None:
        """`t` exec'd or exited: a watch on it ends."""
        for pw in [pw for pw in self.observing if pw.parent is t]:
            self._end_observing(pw)

    # -- other events -------------------------------------------------------------------

    def task_exec(self, t: Task, path: str, argv: list[bytes]) -> None:
        self.sink.task_exec(t, path, argv)
        if self.observing:
            self._parent_gone(t)

    def task_exit(self, t: Task, status: int) -> None:
        self.sink.task_exit(t, status)
        if self.observing:
            self._parent_gone(t)
        self._stack_use(t)

    # -- memory safety (kernel/mpu.py) ----------------------------------------------------

    def memory_violation(self, v: Violation) -> None:
        """A stack overflow or a wild write: a finding, with the stack at the store."""
        self.sink.memory_violation(v)
        k = self.k
        assert k is not None
        if v.area is not None:  # (the stack pointer is below the stack: walk up into it)
            unwinder = Unwinder(k, v.task, min(v.sp, v.area.lo), v.area.hi)
            stack = unwinder.stack(v.pc, v.sp, k.cpu.reg_read(k.arch.FRAME_REG))
        else:
            stack = current_stack(k, v.task, pc=v.pc)
        notes = [f"the store to {v.address:#x} hit {v.hit}"]
        if v.area is not None:
            message = (
                f"the {v.area.size // 1024} KiB stack ({v.area.origin}) overflowed: a store "
                f"{v.area.lo - v.address} byte(s) below its bottom"
            )
            notes.append(f"to fix it, {v.area.advice}")
            if v.area.task.group is not v.task.group:
                notes.append(f"a vfork child, on the stack of process {v.area.task.pid}")
        elif v.kind == "write-free-memory":
            message = f"a store to {v.address:#x}, in memory no one owns"
        else:
            message = f"a store to {v.address:#x}, in memory of process {v.owner}"
        frames = fold_recursion(symbolize(stack), notes)
        self._emit(v.kind, message, v.task, stack, notes=notes, frames=frames)

    def _stack_use(self, t: Task) -> None:
        """`t` ended: how deep its stack got (stacks are zeroed when made, so
        the lowest byte that is not zero marks it)."""
        k = self.k
        mpu = k.memory.mpu if k is not None else None
        area = mpu.areas.get(t.tid) if mpu is not None else None
        if k is None or area is None:
            return
        used = area.size - zero_prefix(k, area.lo, area.size)
        self.report.stack_use.append(
            StackUse(t.pid, t.tid, t.comm, used, area.size, area.origin, area.overflowed)
        )

    def signal_delivered(self, t: Task, sig: int, handler: int) -> None:
        self.sink.signal_delivered(t, sig, handler)

    def fatal_fault(self, t: Task, sig: int) -> None:
        self.sink.fatal_fault(t, sig)

    def unimplemented(self, t: Task, call: str) -> None:
        """A call nommu lacks: listed apart, never counted as a no-MMU problem."""
        self.sink.unimplemented(t, call)
        stack = symbolize(self._at_syscall(t))
        message = f"{call}: not implemented by nommu (ENOSYS), although Linux has it"
        self.report.add_unimplemented(
            Finding("not-implemented", message, t.pid, t.comm, stack, call=call)
        )

    def emulated(self, t: Task, kind: str, pc: int) -> None:
        """An instruction the CPU lacks, carried out by the kernel: a finding
        once per process and place (the same read runs for every TLS access)."""
        self.sink.emulated(t, kind, pc)
        if (t.pid, pc) in self._emulated or self.k is None or kind not in RULES:
            return
        self._emulated.add((t.pid, pc))
        what = {"cortex-m-tls": "thread pointer read with mrc p15 (TPIDRURO)"}.get(kind, kind)
        message = f"{what}: faults on a real Cortex-M, emulated by nommu"
        stack = symbolize(current_stack(self.k, t, pc=pc))
        self.report.add(Finding(kind, message, t.pid, t.comm, stack))  # (no crash's cause)

    def killed(self, t: Task, sig: int) -> None:
        """A fatal fault in a process with findings: report the crash with them."""
        self.sink.killed(t, sig)
        k = self.k
        if k is None or k.last_fault is None or k.last_fault[0] is not t:
            return
        blamed = self.blame.get(t.pid)
        if k.last_fault[2] != sig or not blamed:
            return
        from nommu.trace.fault import fault_lines

        stop = k.last_fault[1]
        causes = [f"after: {f.kind} ({f.message})" for f in blamed[:5]]
        self._emit(
            "crash",
            f"process {t.pid} ({t.comm}) was killed by {signal_name(sig)} after "
            f"{len(blamed)} no-MMU problem(s) in its memory",
            t,
            current_stack(k, t, pc=stop.pc),
            notes=[line.strip() for line in fault_lines(k, t, sig)[1:]] + causes,
        )

    # -- recording ------------------------------------------------------------------------

    def _at_syscall(self, t: Task) -> Stack:
        """`t`'s stack at the syscall it is making (frame 0: the syscall instruction)."""
        assert self.k is not None
        return current_stack(self.k, t, pc=self.k.cpu.pc - self.k.arch.SYSCALL_INSN_LEN)

    def _emit(
        self,
        kind: str,
        message: str,
        t: Task,
        stack: Stack,
        stacks: list[tuple[str, list[Frame]]] | None = None,
        notes: Iterable[str] = (),
        frames: list[Frame] | None = None,
    ) -> Finding:
        named = symbolize(stack) if frames is None else frames
        f = Finding(kind, message, t.pid, t.comm, named, stacks or [], list(notes))
        f = self.report.add(f)
        self._blame(t.pid, f)
        return f

    def _blame(self, pid: int, f: Finding) -> None:
        found = self.blame.setdefault(pid, [])
        if f not in found:
            found.append(f)


def called_directly(stack: Stack, wrappers: frozenset[str]) -> bool:
    """Did the program's own code make this call, through nothing but libc's
    syscall wrapper? (Not: malloc trying brk, pthread_create's mprotect.)"""
    lines = symbols.has_line_info(stack.image)
    for i, f in enumerate(stack.frames):
        link = f.pc - stack.load_base - (1 if i else 0)
        if lines and symbols.source_line(stack.image, link) is not None:
            return True
        found = symbols.lookup(stack.image, link)
        name = found[0].name if found else ""
        if name not in wrappers and name not in STUBS:
            return not lines and name not in LIBC_INTERNAL
    return True


def tls_range(k: Kernel, t: Task) -> tuple[int, int]:
    """The thread block `t`'s %gs points at (where musl keeps errno)."""
    base = k.arch.thread_pointer(k.cpu, t.tls)
    return (base, base + TLS_SPAN) if base else (0, 0)


def code_name(image: ElfImage | None, base: int, addr: int) -> str:
    """`0x40002738 <spawn+0x18> (main.c:58)`, as much of it as is known."""
    text = f"{addr:#x}"
    where = symbols.describe(image, base, addr)
    src = symbols.source_line(image, addr - base - 1)
    if where:
        text += f" <{where}>"
    if where and src is not None:
        text += f" ({src.file}:{src.line})"
    return text


def describe_call(name: str, args: tuple[int, ...]) -> str:
    if name in ("write", "writev", "read", "close", "fsync", "ioctl"):
        return f"{name}(fd {_s32(args[0])})"
    return f"{name}()"


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def kib(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} bytes"


def fold_recursion(frames: list[Frame], notes: list[str]) -> list[Frame]:
    """A run of frames returning to one address (a recursion) shown as its
    first three, with a note for the rest."""
    out: list[Frame] = []
    i = 0
    while i < len(frames):
        j = i
        while j < len(frames) and frames[j].address == frames[i].address:
            j += 1
        out += frames[i : min(j, i + 3)]
        if j - i > 3:
            f = frames[i]
            notes.append(
                f"frames #{len(out)}-: {j - i - 3} more of {f.function or '??'}() (a recursion)"
            )
        i = j
    return out


ZERO_PAGE = bytes(4096)


def zero_prefix(k: Kernel, start: int, size: int) -> int:
    """How many bytes from `start` are zero (a page at a time, then the rest)."""
    n = 0
    while n + 4096 <= size and k.ram.read(start + n, 4096) == ZERO_PAGE:
        n += 4096
    rest = k.ram.read(start + n, min(4096, size - n))
    return n + len(rest) - len(rest.lstrip(b"\0"))
