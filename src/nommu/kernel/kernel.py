"""The kernel object: builds the machine and owns it and every kernel subsystem.

Running it is the scheduler's job (kernel/sched.py: the run loop and task
switches); making and ending tasks is kernel/fork.py's and kernel/exit.py's.

There are no module-level globals: everything a syscall needs is reached
from the `Kernel` passed to it, so several machines can live in one Python
process (the tests do this).

The kernel does not know its syscall handlers: whoever builds the machine
gives it the dispatcher (`syscalls`, nommu.api.new_kernel does), so kernel/
imports nothing from syscalls/ and the layers point down.
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
from nommu.arch import DEFAULT as DEFAULT_ARCH
from nommu.kernel.alloc import PhysAllocator
from nommu.kernel.determinism import SeededRandom, VirtualClock
from nommu.kernel.errors import SyscallError
from nommu.kernel.events import EventSink
from nommu.kernel.exec import ImageCache
from nommu.kernel.hostfs import HostFs
from nommu.kernel.inotify import FsNotify
from nommu.kernel.limits import Limits, OutputLimit
from nommu.kernel.locks import LockTable
from nommu.kernel.mathemu import MathEmulation
from nommu.kernel.memmodel import MemoryModel, make_memory_model
from nommu.kernel.mm import FileCopies
from nommu.kernel.msg import SysvMsg
from nommu.kernel.net import Network
from nommu.kernel.pagecache import PageCache
from nommu.kernel.procfs import ProcFs
from nommu.kernel.pty import DevPts
from nommu.kernel.ramfs import RamFs
from nommu.kernel.sched import Scheduler
from nommu.kernel.sem import SysvSem
from nommu.kernel.shm import SysvShm
from nommu.kernel.task import Task, ThreadGroup
from nommu.kernel.tty import Terminal
from nommu.kernel.uaccess import UserMemory
from nommu.kernel.vfs import Vfs
from nommu.machine.cpu import Cpu, CpuContext, Stop, SyscallHandler
from nommu.machine.ram import PhysicalRAM
from nommu.machine.tlb import Tlb

if TYPE_CHECKING:
    from nommu.arch.base import Arch
    from nommu.kernel.events import Tracer


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
    publish: tuple[tuple[int, int], ...] = ()  # --publish: (host port, guest port), TCP
    net_host: bool = False  # --net host: guest TCP connects leave through host sockets
    arch: Arch = DEFAULT_ARCH  # the CPU architecture (nommu.arch; exec checks programs match)
    stack_guard: bool = False  # no MMU: a stack overflow is SIGSEGV (kernel/mpu.py)
    every_foreign_store: bool = False  # no MMU: catch each one, at a cost per switch (mpu.py)


class Kernel:
    """One machine: CPU, RAM, allocator, file system, tasks and scheduler.

    `syscalls` makes the syscall dispatcher for the new kernel (without one
    every syscall is ignored: enough for tests of the machine alone)."""

    def __init__(
        self, config: KernelConfig, syscalls: Callable[[Kernel], SyscallHandler] | None = None
    ) -> None:
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
        self.arch = config.arch
        self.ram = PhysicalRAM(self.arch.RAM_BASE, config.mem)
        self.cpu = Cpu(self.arch, self.ram)
        self.alloc = PhysAllocator(self.arch.RAM_BASE, config.mem)
        self.gdt = self.alloc.alloc(PAGE_SIZE, 0, "kernel").start  # the arch's tables (GDT)
        # The CPU always translates through a TLB the kernel fills (machine/tlb.py);
        # the memory model (no-MMU or MMU, kernel/memmodel.py) says how.
        self.tlb = Tlb(self.cpu, config.mem >> 12)
        self.cpu.tlb = self.tlb
        self.memory: MemoryModel = make_memory_model(self, config.mmu)
        self.uspace: UserMemory = self.memory.boot()  # the kernel's way into user memory
        self.arch.reset_fpu(self.cpu)
        self.mathemu = MathEmulation(self, config.fpu)  # (exact mode sets CR0.EM: before pristine)
        self.pristine: CpuContext = self.cpu.context_save()  # how a new program starts
        self.vfs = Vfs(config.root, ProcFs(self))
        self.hostfs = HostFs(self.vfs.root, config.read_only)
        self.limits = Limits(self, config.timeout, OutputLimit(config.max_output))
        self.vfs.shmfs = RamFs(self)  # /dev/shm
        self.vfs.devpts = DevPts(self)  # /dev/pts and /dev/ptmx
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
        self.net = Network(self)  # sockets: AF_UNIX and the loopback network
        if config.publish or config.net_host:
            self.net.open_host(list(config.publish), config.net_host)
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
        self._loaded_tls: list[bytes] = self.arch.initial_tls()
        self.code_written: list[tuple[int, int]] = []  # see flush_code_later
        if syscalls is not None:
            self.cpu.on_syscall = syscalls(self)
        self.cpu.on_reschedule = self.sched.handoff
        self.cpu.on_emulated = self._emulated

    def _emulated(self, kind: str, pc: int) -> None:
        """The CPU's trap handler carried out an instruction the CPU lacks."""
        if self.current is not None:
            self.events.emulated(self.current, kind, pc)

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

    def unshare_files(self, t: Task) -> None:
        """Give `t` its own descriptor table if it shares one (exec does this)."""
        if t.files.users > 1:
            t.files.users -= 1
            t.files = t.files.copy()

    # -- starting and switching tasks ---------------------------------------

    def start_task(
        self,
        t: Task,
        entry: int,
        sp: int,
        start_data: int = 0,
        fdpic: tuple[int, int, int] | None = None,
    ) -> None:
        """Make `t` start afresh at `entry` with stack `sp` (a new program;
        `start_data` and `fdpic` as Arch.initial_registers takes them)."""
        t.ctx = None
        t.pc = entry
        t.fresh_regs = self.arch.initial_registers(entry, sp, start_data, fdpic)
        if self.sched.on_cpu is t:
            self.sched.on_cpu = None
        if self.current is t:
            self.cpu.stop()

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

    def load_tls(self, t: Task, reload: bool = False) -> None:
        """Put `t`'s TLS state in the CPU's tables (on x86 the one GDT all tasks
        share). The CPU's TLS register is part of each task's saved registers,
        so a switch needs no reload; only a new thread (its registers are a
        copy of its creator's) or set_thread_area needs it reloaded."""
        if t.tls != self._loaded_tls:
            self.arch.write_tls(self.cpu, self.gdt, t.tls)
            self._loaded_tls = t.tls.copy()
        if reload or t.reload_tls:
            t.reload_tls = False
            self.arch.reload_tls(self.cpu)

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

    @property
    def finished(self) -> bool:
        return self.init is not None and self.init.wait_status is not None
