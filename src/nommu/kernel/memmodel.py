"""The memory model: what a user address means, one interface, two machines.

A machine has one memory model, chosen once at boot (`--mmu`). Everything
in the kernel whose answer differs between no-MMU Linux and MMU Linux asks
it: the memory syscalls (brk, mmap, munmap, mremap, mprotect, madvise,
msync, mlock...), where exec places a program, what fork and clone give a
child, how the kernel reaches user memory (`user_memory`), SysV shm attach,
futex keys, the fault reports. Nothing else branches on which model it is.

The two models and what each promises:

* `NoMmuModel` (kernel/nommu_model.py, mm/nommu.c): virtual == physical.
  There is one address space, RAM itself, shared by every process; a
  process's `MemoryMap` only lists the blocks it owns. Nothing is protected
  (any process can reach any address in RAM), memory is handed out in
  contiguous blocks, nothing moves, and fork is impossible: a child cannot
  have the parent's memory at the same addresses.
* `MmuModel` (kernel/mmu_model.py, mm/mmap.c): each process has its own
  `AddressSpace` (kernel/vm.py), a page table over scattered frames; pages
  come on first touch, fork copies the page table and shares the pages
  copy-on-write, mappings can be protected, fixed and moved.

The CPU side of translation is not the model: it is the TLB
(machine/tlb.py, `Kernel.tlb`), which the model fills (`boot`) and flushes.

The kernel binds `k.memory` once; the model is asked only on the paths that
differ, never per memory access (`user_memory` is built once at boot).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from nommu.abi.errno import Errno
from nommu.abi.flags import TASK_SIZE
from nommu.kernel.alloc import page_align
from nommu.kernel.errors import SyscallError

if TYPE_CHECKING:
    from nommu.kernel.exec import Program
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.mm import MemoryMap
    from nommu.kernel.mpu import Mpu
    from nommu.kernel.shm import ShmSegment
    from nommu.kernel.task import Task
    from nommu.kernel.uaccess import UserMemory

U32 = 0xFFFFFFFF


class Area(NamedTuple):
    """A run of memory as a process sees it, and who it belongs to."""

    start: int
    end: int
    owner: int  # pid whose memory it is (0: the kernel)
    kind: str  # "image", "stack", "mmap", "heap", "shm"...


class MemoryModel(ABC):
    """How user memory works on this machine (see the module docstring)."""

    has_mmu: ClassVar[bool]  # for labels and reports only: kernel code asks the methods
    name: ClassVar[str]  # "no-MMU" or "MMU"
    virtual_is_physical: ClassVar[bool]  # an address names the same bytes in every process
    can_fork: ClassVar[bool]  # fork(): a copy of the parent at the same addresses
    loads_fixed_address: ClassVar[bool]  # ET_EXEC programs (linked at one address) can run
    gives_at_random: ClassVar[bool]  # binfmt_elf's AT_RANDOM (binfmt_elf_fdpic has none)
    missing_calls: ClassVar[frozenset[str]]  # syscalls this kind of kernel answers ENOSYS

    def __init__(self, k: Kernel) -> None:
        self.k = k
        # No MMU: what sees the stores a board lets through (kernel/mpu.py).
        # With an MMU the page tables protect memory; there is nothing to add.
        self.mpu: Mpu | None = None

    # -- boot ------------------------------------------------------------------------

    @abstractmethod
    def boot(self) -> UserMemory:
        """Set up the TLB's fill and the GDT; return the kernel's way into user memory."""

    # -- processes: exec, fork, switch, exit ---------------------------------------------

    @abstractmethod
    def new_map(self, owner: int) -> MemoryMap:
        """An empty memory map for process `owner` (the first process has one
        until its exec)."""

    @abstractmethod
    def load_program(self, t: Task, prog: Program) -> tuple[MemoryMap, int]:
        """exec: a new memory map holding `prog`, and its load base (where its
        link address 0 landed). SyscallError (ENOMEM) leaves `t` untouched."""

    @abstractmethod
    def copy_for_clone(self, parent: Task, tid: int) -> MemoryMap:
        """The memory of a child that does not share its parent's (no CLONE_VM)."""

    @abstractmethod
    def reaches(self, t: Task) -> bool:
        """Whether `k.uspace` reaches `t`'s memory right now."""

    @abstractmethod
    def switch_space(self, prev: Task | None, t: Task) -> None:
        """`t` is being put on the CPU (after `prev`): make its memory the one
        the CPU sees."""

    @abstractmethod
    def switch_is_free(self, t: Task, nxt: Task) -> bool:
        """Whether switching from `t` to `nxt` needs nothing of the memory
        (so it can happen inside a syscall, `Kernel.handoff`)."""

    # -- pages of shared objects (RAM files, SysV segments, the page cache) ------------

    @abstractmethod
    def alloc_pages(self, n: int, owner: int) -> list[int]:
        """`n` zeroed physical pages for a RAM file (ENOMEM if RAM has not got them)."""

    @abstractmethod
    def free_page(self, paddr: int) -> None:
        """Give back a page `alloc_pages` or `file_page` gave (or drop a reference to it)."""

    @abstractmethod
    def file_page(self, owner: int, data: bytes) -> int:
        """A physical page holding `data` (zero-padded): a page of a disk file."""

    # -- the memory syscalls ------------------------------------------------------

    @abstractmethod
    def brk(self, t: Task, addr: int) -> int:
        """brk(2): the new (or unchanged) break."""

    @abstractmethod
    def mmap(
        self, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
    ) -> int:
        """mmap2(2): the address of the new mapping."""

    @abstractmethod
    def munmap(self, t: Task, addr: int, length: int) -> int: ...

    @abstractmethod
    def mremap(self, t: Task, addr: int, old: int, new: int, flags: int, new_addr: int) -> int:
        """mremap(2): where the mapping is now."""

    def paging_call(self) -> None:
        """A call that exists only with paging (mprotect, mlock, madvise...):
        ENOSYS unless the model overrides this (kernel/sys_ni.c)."""
        raise SyscallError(Errno.ENOSYS, "needs an MMU")

    @abstractmethod
    def mprotect(self, t: Task, addr: int, length: int, prot: int) -> int: ...

    @abstractmethod
    def madvise(self, t: Task, addr: int, length: int, advice: int) -> int: ...

    @abstractmethod
    def msync(self, t: Task, addr: int, length: int, flags: int) -> int: ...

    @abstractmethod
    def shm_attach(
        self, t: Task, seg: ShmSegment, addr: int, fixed: bool, prot: int, flags: int
    ) -> int:
        """shmat: map SysV segment `seg` into `t`; the address it is at."""

    @abstractmethod
    def shm_detach(self, t: Task, addr: int) -> None:
        """shmdt: unmap the attachment that starts exactly at `addr` (EINVAL if none)."""

    @abstractmethod
    def shared_writable(self, pager: object) -> bool:
        """Whether some MAP_SHARED mapping may write to the pages of `pager`
        (a RAM file): what F_SEAL_WRITE must refuse to seal (EBUSY)."""

    @abstractmethod
    def futex_key(self, t: Task, addr: int) -> object:
        """The channel a futex at `addr` in `t`'s memory waits on."""

    # -- questions about addresses ------------------------------------------------

    @abstractmethod
    def area_at(self, t: Task, addr: int) -> Area | None:
        """The memory holding `addr` as `t` sees it, and its owner, or None.

        No MMU: the physical block (whoever owns it: any process can reach
        it); MMU: `t`'s own mapping."""

    @abstractmethod
    def protection_fault(self, t: Task, addr: int) -> bool:
        """A fault at `addr` hit mapped memory its protection refused (SEGV_ACCERR)."""

    @abstractmethod
    def explain_fault(self, t: Task, addr: int, access: str) -> str:
        """One line for the fault report: why an access to `addr` faulted."""

    @abstractmethod
    def out_of_memory(self, t: Task) -> bool:
        """Whether `t`'s last fault found no free memory (an OOM kill); clears it."""

    @abstractmethod
    def proc_status(self, mm: MemoryMap) -> list[str]:
        """Lines this kind of kernel adds to /proc/PID/status."""

    # -- stores a board lets through (no MMU: kernel/mpu.py) -----------------------

    def store_refused(self, t: Task, addr: int, pc: int) -> bool:
        """A store by `t` to `addr` in RAM stopped the CPU: True if it is to
        run again (and land), False if it is a fault (a signal)."""
        return False

    def new_stack(self, t: Task, sp: int) -> None:  # noqa: B027 (most models need nothing)
        """`t` (a new thread or process) starts on a stack of its own at `sp`."""

    def task_gone(self, t: Task) -> None:  # noqa: B027 (most models need nothing)
        """`t` has exited: it no longer runs on its stack."""


def mapping_size(length: int, pgoff: int) -> int:
    """The bytes an mmap of `length` at page offset `pgoff` maps (whole pages),
    after the checks both kinds of kernel make: EINVAL for nothing, ENOMEM
    for more than an address space, EOVERFLOW when the offset wraps."""
    if length == 0:
        raise SyscallError(Errno.EINVAL)
    size = page_align(length) & U32
    if size == 0 or size > TASK_SIZE:
        raise SyscallError(Errno.ENOMEM)
    if (pgoff + (size >> 12)) & U32 < pgoff:
        raise SyscallError(Errno.EOVERFLOW)
    return size


def make_memory_model(k: Kernel, mmu: bool) -> MemoryModel:
    """The model a machine boots with: the one place that chooses it."""
    from nommu.kernel.mmu_model import MmuModel
    from nommu.kernel.nommu_model import NoMmuModel

    return MmuModel(k) if mmu else NoMmuModel(k)
