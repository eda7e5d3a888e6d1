"""The kernel object: owns the machine and every kernel subsystem, and runs it.

There are no module-level globals: everything a syscall needs is reached
from the `Kernel` passed to it, so several machines can live in one Python
process (the tests do this).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import PAGE_SIZE
from nommu.abi.signals import Signal
from nommu.arch import i386
from nommu.kernel import vm
from nommu.kernel.alloc import PhysAllocator
from nommu.kernel.channels import VforkDone
from nommu.kernel.determinism import SeededRandom, VirtualClock
from nommu.kernel.errors import SyscallError
from nommu.kernel.events import EventSink
from nommu.kernel.exec import ImageCache
from nommu.kernel.futex import exit_robust_list, futex_wake
from nommu.kernel.hostfs import HostFs
from nommu.kernel.inotify import FsNotify
from nommu.kernel.limits import Limits, OutputLimit
from nommu.kernel.locks import LockTable
from nommu.kernel.mathemu import MathEmulation
from nommu.kernel.mm import FileCopies, MemoryMap
from nommu.kernel.msg import SysvMsg
from nommu.kernel.pagecache import PageCache
from nommu.kernel.procfs import ProcFs
from nommu.kernel.ramfs import RamFs
from nommu.kernel.sched import Scheduler
from nommu.kernel.sem import SysvSem
from nommu.kernel.shm import SysvShm
from nommu.kernel.task import Task, TaskState, ThreadGroup
from nommu.kernel.tty import Terminal
from nommu.kernel.uaccess import MmuUserMemory, UserMemory
from nommu.kernel.vfs import Vfs
from nommu.kernel.vm import AddressSpace, Frames
from nommu.machine.cpu import Cpu, CpuContext, Stop
from nommu.machine.mmu import Mmu
from nommu.machine.ram import PhysicalRAM

if TYPE_CHECKING:
    from nommu.kernel.events import Tracer

RAM_BASE = 0x40000000  # where physical RAM starts (page 0 stays unmapped: NULL faults)


@dataclass
class KernelConfig:
    mem: int = 32 << 20
    root: str = "."
    mmu: bool = False
    hints: bool = True  # one-time explanations on stderr (fork on no-MMU...)
    max_tasks: int = 4096  # tasks (processes and threads) at once: EAGAIN beyond
    read_only: bool = False  # every change to the root fails with EROFS
    max_output: int | None = None  # bytes the guest may write to nommu's stdout+stderr
    timeout: float | None = None  # wall-clock seconds the run may take
    vfork_as_fork: bool = False  # `#define vfork fork`, to see what vfork's sharing changes
    deterministic: bool = False  # virtual clock, seeded randomness and scheduling
    seed: int = 0
    random: Callable[[int], bytes] = os.urandom
    clock_realtime: Callable[[], float] = time.time
    clock_monotonic: Callable[[], float] = time.monotonic
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    fpu: str = "fixups"  # x87 math emulation: "fixups" or "exact" (kernel/mathemu.py)


class Kernel:
    """One machine: CPU, RAM, allocator, file system, tasks and scheduler."""

    def __init__(self, config: KernelConfig) -> None:
        self.virtual_clock: VirtualClock | None = None
        self.seeded: SeededRandom | None = None
        if config.deterministic:
            self.virtual_clock, self.seeded = VirtualClock(), SeededRandom(config.seed)
            config = dataclasses.replace(
                config,
                random=self.seeded.bytes,
                clock_realtime=self.virtual_clock.realtime,
                clock_monotonic=self.virtual_clock.monotonic,
            )
        self.syscall_budget = 0  # deterministic mode: syscalls left in this slice
        self.rt_signals_queued = 0  # siginfos of real-time signals pending (RLIMIT_SIGPENDING)
        self.config = config
        self.arch = i386
        self.mmu = config.mmu
        self.ram = PhysicalRAM(RAM_BASE, config.mem)
        self.cpu = Cpu(self.arch, self.ram)
        self.alloc = PhysAllocator(RAM_BASE, config.mem)
        self.gdt = self.alloc.alloc(PAGE_SIZE, 0, "kernel").start
        self._gdt_tls = self.gdt + 8 * self.arch.GDT_ENTRY_TLS_MIN  # the TLS entries
        # The CPU always translates through a TLB we fill (machine/mmu.py). Without
        # an MMU the fill is the identity on RAM: what it buys is that an access
        # outside RAM faults exactly at the instruction that made it.
        self.tlb = Mmu(self.cpu, config.mem >> 12)
        self.cpu.mmu = self.tlb
        self.mmu_unit: Mmu | None = None  # set when the machine has an MMU
        self.frames: Frames | None = None
        if config.mmu:
            self.mmu_unit = self.tlb
            self.mmu_unit.translate = self.new_address_space(0).translate  # kernel page only
            self.frames = Frames(self.alloc, self.ram)
            self.uspace: UserMemory = MmuUserMemory(self)
            self.arch.install_gdt(self.cpu, self.gdt, linear=vm.KERNEL_PAGE)
        else:
            self.tlb.translate = self._physical
            self.tlb.identity = True
            self.uspace = UserMemory(self.ram, self.cpu)
            self.arch.install_gdt(self.cpu, self.gdt)
        self.arch.reset_fpu(self.cpu)
        self.mathemu = MathEmulation(self, config.fpu)  # (exact mode sets CR0.EM: before _pristine)
        self._pristine: CpuContext = self.cpu.context_save()  # how a new program starts
        self.vfs = Vfs(config.root, ProcFs(self))
        self.hostfs = HostFs(self.vfs.root, config.read_only)
        self.limits = Limits(self, config.timeout, OutputLimit(config.max_output))
        self.vfs.shmfs = RamFs(self)  # /dev/shm
        self.sysv_shm = SysvShm(self)  # shmget/shmat segments
        self.sysv_sem = SysvSem(self)  # semget/semop semaphore sets
        self.sysv_msg = SysvMsg(self)  # msgget/msgsnd/msgrcv message queues
        self.page_cache = PageCache(self)  # MMU: shared pages of mapped disk files
        self.file_copies = FileCopies(self.alloc)  # read-only file copies mappings share
        self.images = ImageCache()
        self.sched = Scheduler(self, config.clock_monotonic)
        self.fsnotify = FsNotify(self.vfs.root)  # inotify's watches
        self.hostfs.notify = self.fsnotify
        self.locks = LockTable(self.sched)  # fcntl record locks, OFD locks, flock
        self.tasks: dict[int, Task] = {}
        self.groups: dict[int, ThreadGroup] = {}
        self._next_pid = 1
        self._next_ino = 1000
        self.current: Task | None = None
        self.init: ThreadGroup | None = None
        self.tracer: Tracer | None = None  # sees every syscall (--strace, nommu check)
        self.events: EventSink = EventSink()
        self.hints_given: set[str] = set()
        self.last_fault: tuple[Task, Stop, int] | None = None
        self.host_signals: list[int] = []  # signals nommu itself received (Ctrl-C)
        self.terminal = Terminal()
        self.boot_monotonic = config.clock_monotonic()
        # CPU accounting (kernel/accounting.py): its clock, and when it last charged
        vclock = self.virtual_clock
        self.cpu_clock: Callable[[], float] = (
            time.perf_counter if vclock is None else (lambda: vclock.now)
        )
        self._charged_at = self.cpu_clock()
        self._loaded_tls: list[bytes] = [bytes(8)] * 3
        self.code_written: list[tuple[int, int]] = []  # see flush_code_later
        from nommu.syscalls.dispatch import make_dispatcher

        self.cpu.on_syscall = make_dispatcher(self)
        self.cpu.on_reschedule = self.handoff

    def _physical(self, vaddr: int, access: str) -> tuple[int, int] | None:
        """No MMU: an address is a physical address; only RAM is there."""
        if self.ram.base <= vaddr < self.ram.end:
            return vaddr & ~0xFFF, 7
        return None

    # -- pids ----------------------------------------------------------------

    def alloc_pid(self) -> int:
        pid = self._next_pid
        while pid in self.tasks or pid in self.groups:
            pid += 1
        self._next_pid = pid + 1
        return pid

    def next_ino(self) -> int:
        """A fresh inode number for kernel-made files (pipes)."""
        self._next_ino += 1
        return self._next_ino

    # -- memory --------------------------------------------------------------

    def release_mm(self, t: Task, new: MemoryMap | None) -> None:
        """mm_release: `t` stops using its memory (exec or exit).

        Wakes a vfork parent waiting on `t`; the old blocks are freed only if
        nobody else still uses them.
        """
        old = t.mm
        if self.current is t or not self.mmu:  # (its memory is the one uspace reaches)
            exit_robust_list(self, t)
        if new is not None:
            t.mm = new
        self.clear_child_tid(t)
        if t.vfork_done is not None:
            self.sched.wakeup(VforkDone(t.tid))
            why = "called execve" if new is not None else "exited"
            self.events.vfork_released(t.vfork_done, t, why)
            t.vfork_done = None
        old.put()

    def new_address_space(self, owner: int) -> AddressSpace:
        """An empty MMU address space with the kernel page (GDT) mapped."""
        return AddressSpace(self.alloc, frames=self.frames, owner=owner, kernel_page=self.gdt)

    def clear_child_tid(self, t: Task) -> None:
        """CLONE_CHILD_CLEARTID: zero the word and wake a futex waiter on it."""
        if t.clear_child_tid and t.mm.users > 1:
            addr, t.clear_child_tid = t.clear_child_tid, 0
            try:
                self.uspace.write_u32(addr, 0)
                futex_wake(self, t, addr, 1)
            except SyscallError:
                return

    def unshare_files(self, t: Task) -> None:
        """Give `t` its own descriptor table if it shares one (exec does this)."""
        if t.files.users > 1:
            t.files.users -= 1
            t.files = t.files.copy()

    # -- starting and switching tasks ---------------------------------------

    def start_task(self, t: Task, entry: int, sp: int) -> None:
        """Make `t` start afresh at `entry` with stack `sp` (a new program)."""
        t.ctx = None
        t.pc = entry
        t.fresh_regs = self.arch.initial_registers(entry, sp)
        if self.sched.on_cpu is t:
            self.sched.on_cpu = None
        if self.current is t:
            self.cpu.stop()

    def switch_to(self, t: Task) -> None:
        """Load `t`'s registers into the CPU (saving whoever held it)."""
        self.current = t
        prev = self.sched.on_cpu
        if prev is t:
            return
        if prev is not None and prev.alive:
            if prev.ctx is None:
                prev.ctx = self.cpu.context_save()
            else:
                self.cpu.context_update(prev.ctx)
        if self.mmu_unit is not None:
            self._switch_address_space(prev, t)
        if t.fresh_regs is not None:
            self.cpu.context_restore(self._pristine)
            self.cpu.regs_write(t.fresh_regs)
            t.fresh_regs = None
        elif t.ctx is not None:
            self.cpu.context_restore(t.ctx)
        self.load_tls(t)
        self.sched.on_cpu = t

    def _switch_address_space(self, prev: Task | None, t: Task) -> None:
        """MMU mode: the TLB must now translate through `t`'s page tables."""
        assert self.mmu_unit is not None
        space: AddressSpace = t.mm  # type: ignore[assignment]
        if self.mmu_unit.translate != space.translate or prev is None or prev.mm is not t.mm:
            self.mmu_unit.translate = space.translate
            self.mmu_unit.flush()
        self.flush_dirty_code(space)

    def flush_code_later(self, begin: int, end: int) -> None:
        """MMU mode: the kernel wrote into [begin, end) of the current address
        space, where the CPU has translated code. The translations are dropped
        once the CPU has stopped (right after this syscall), before the task
        runs on: dropping them involves a lookup through the TLB, which Unicorn
        cannot do safely in the middle of a syscall hook."""
        self.code_written.append((begin, end))
        self.cpu.stop()

    def drop_written_code(self) -> None:
        """Drop the translations `flush_code_later` put off (the CPU is stopped
        and its TLB is still the current task's)."""
        while self.code_written:
            self.cpu.flush_code(*self.code_written.pop())

    def flush_dirty_code(self, space: AddressSpace) -> None:
        """Drop translated code for pages that now hold something new."""
        for start, end in space.code_dirty:
            self.cpu.flush_code(start, end)
        space.code_dirty.clear()

    def load_tls(self, t: Task, reload: bool = False) -> None:
        """Put `t`'s TLS descriptors in the GDT (the one GDT all tasks share).

        The CPU's cached GS base is part of each task's saved registers, so a
        switch needs no segment reload; only a new thread (its registers are
        a copy of its creator's) or set_thread_area needs GS loaded again."""
        if t.tls != self._loaded_tls:
            self.ram.write(self._gdt_tls, b"".join(t.tls))
            self._loaded_tls = t.tls.copy()
        if reload or t.reload_tls:
            t.reload_tls = False
            gs = self.cpu.reg_read(self.arch.TLS_REG)
            if gs:
                self.cpu.reg_write(self.arch.TLS_REG, gs)  # reload the descriptor cache

    # -- files ---------------------------------------------------------------

    # -- messages ------------------------------------------------------------

    def hint(self, key: str, text: str) -> None:
        """Explain something to the person at the terminal, once per run."""
        if self.config.hints and key not in self.hints_given:
            self.hints_given.add(key)
            print(f"nommu: {text}", file=self.config.stderr)

    def lacks(self, t: Task, call: str) -> SyscallError:
        """The error for a call that Linux would carry out and nommu does not
        implement: ENOSYS. Says so once at the terminal and tells the event
        sink (`nommu check` lists these apart from no-MMU problems); the
        caller raises what it returns."""
        self.hint(f"enosys:{call}", f"{call} is not implemented by nommu; the guest got ENOSYS")
        self.events.unimplemented(t, call)
        return SyscallError(Errno.ENOSYS, "not implemented by nommu")

    # -- the run loop --------------------------------------------------------

    def run(self) -> None:
        """Run until the first process (init) has exited."""
        from nommu.kernel.signal import deliver
        from nommu.kernel.traps import handle_stop

        sched, cpu, limits = self.sched, self.cpu, self.limits
        limits.start()
        while not self.finished:
            if self.host_signals:
                self.terminal.forward_host_signals(self)
                continue
            t = sched.pick()
            if limits.out_of_time():
                break  # --timeout: the caller kills what is left
            if t is None:
                continue  # a host signal (Ctrl-C) arrived while idle
            self.switch_to(t)
            if t.pending & ~t.sigmask:
                t.pc = deliver(self, t, t.pc)
                if not t.alive:
                    continue
                self.drop_written_code()
            self._charged_at = self.cpu_clock()
            stop = cpu.run(t.pc, *limits.clamp(sched.slice_for(t)))
            t = self.current  # (a handoff may have switched tasks)
            assert t is not None
            self.charge(t)
            handle_stop(self, t, stop)
            self.drop_written_code()

    def handoff(self) -> None:
        """Switch tasks at the end of a syscall without leaving the CPU.

        Called (as the CPU's `on_reschedule`) when a syscall changed who should
        run: its task blocked, or its time slice is over. The plain way is to
        stop the CPU and let the run loop above pick the next task and switch
        to it, at the price of a return from Unicorn and a fresh start for each
        switch, most of what a futex or pipe round trip costs. When that turn
        of the loop would be nothing but a switch to the next runnable task (no
        timer due, no signal to deliver, no new program to start, no address
        space to change), it is done here instead: the outgoing task's
        registers are saved, the next one's loaded, and when the syscall hook
        returns the CPU simply goes on, running the other task. In every other
        case the CPU stops and the run loop does the work."""
        cpu, sched, t = self.cpu, self.sched, self.current
        assert t is not None
        sched.expire_timers()  # (may wake a task, or ask the CPU to stop)
        nxt = queued = sched.next_runnable()
        if nxt is None and t.state is TaskState.RUNNABLE:
            nxt = t  # preempted with nobody else to run: a fresh slice
        if nxt is None or not self._can_hand_to(t, nxt):
            cpu.stop()
            return
        t.pc = cpu.pc  # what handle_stop would record (a blocked call rewound it)
        self.charge(t)
        if queued is not None:
            if queued is not t:
                sched.requeue(t)  # (if it can still run: to the back of the line)
            sched.take(queued)  # (it may be `t` itself, woken by a timer just now)
        if nxt is not t:
            self.switch_to(nxt)
        cpu.new_slice(*self.limits.clamp(sched.slice_for(nxt)))
        if nxt.blocked is not None:
            # It was woken in a syscall it slept in (its PC is on that syscall
            # instruction): the first thing it does is make that call again.
            # Make it from here, saving a trip through the CPU. If it changes
            # who runs again, the CPU's hook calls us once more.
            cpu.reenter_syscall(nxt.pc)
        elif nxt is not t:
            cpu.set_pc(nxt.pc)

    def _can_hand_to(self, t: Task, nxt: Task) -> bool:
        """Whether switching from `t` to `nxt` needs nothing the run loop does.
        (A task that died in this syscall has stopped the CPU already.)"""
        if (
            self.cpu.stopping
            or self.tracer is not None  # (it may stop, and expects the loop's order)
            or self.seeded is not None  # (deterministic slices count syscalls)
            or self.host_signals
            or self.limits.timed_out
            or self.finished
            or nxt.pending & ~nxt.sigmask  # (a signal to deliver first, even to `t`)
        ):
            return False
        if nxt is t:
            return True
        mmu = self.mmu_unit
        return not (
            nxt.ctx is None
            or nxt.fresh_regs is not None
            or nxt.reload_tls
            or (mmu is not None and (nxt.mm is not t.mm or self._code_dirty(nxt.mm)))
        )

    def charge(self, t: Task) -> None:
        """Add the time since the last charge to `t`, which had the CPU."""
        now = self.cpu_clock()
        t.cputime += now - self._charged_at
        self._charged_at = now

    @staticmethod
    def _code_dirty(space: MemoryMap) -> bool:
        return isinstance(space, AddressSpace) and bool(space.code_dirty)

    @property
    def finished(self) -> bool:
        return self.init is not None and self.init.wait_status is not None

    def kill_leftovers(self) -> list[str]:
        """pid 1 is gone: kill whatever still runs (listed for the trace and report)."""
        from nommu.kernel.exit import do_group_exit, signal_status

        left = [f"{t.tid} ({t.comm}) {t.state.name.lower()}" for t in self.live_tasks()]
        for t in self.live_tasks():
            if t.alive:
                self.events.killed(t, Signal.SIGKILL)
                do_group_exit(self, t, signal_status(Signal.SIGKILL))
        return left

    def live_tasks(self) -> list[Task]:
        return [t for t in self.tasks.values() if t.state is not TaskState.DEAD]
