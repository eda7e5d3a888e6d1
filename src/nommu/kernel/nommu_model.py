"""The no-MMU memory model: one flat physical space (mm/nommu.c).

What it promises (reference section 2):

* virtual == physical: an address means the same bytes in every process, and
  every process can reach all of RAM (nothing protects one from another);
* one shared map of RAM: a process's `MemoryMap` (kernel/mm.py) lists the
  blocks it owns, so they can be listed, checked and freed, and vfork and
  CLONE_VM children share it;
* memory comes in contiguous blocks and never moves;
* fork is impossible (EINVAL): there is no way to give a child a copy of its
  parent's memory at the same addresses. A clone without CLONE_VM gets an
  empty map and runs on in its parent's memory.

The memory syscalls under these rules:

* brk: may only move inside [start_brk, end_brk]; the ELF-FDPIC loader gives
  a zero-size brk, so a request to grow returns the old break (no errno) and
  malloc falls back to mmap.
* mmap (`validate_mmap_request`, `do_mmap`): MAP_FIXED is EINVAL (nothing can
  be placed at a chosen address) and an address hint is ignored. Anonymous
  memory, private or shared, is a fresh contiguous block of whole pages,
  always zeroed. A file is either copied into such a block (MAP_PRIVATE;
  read-only copies of the same file range are shared between mappings) or,
  when the file lives in RAM (/dev/shm), mapped directly: the mapping is the
  file's own pages. MAP_SHARED of a disk file is ENODEV.
* munmap: must name mapped memory (EINVAL otherwise, where an MMU kernel
  returns 0); anonymous regions may be unmapped whole or in part, file
  mappings only whole.
* mremap never moves: it shrinks, or grows back up to the block the mapping
  was given; a shareable mapping is EPERM.
* mprotect, madvise, mlock, msync, mincore...: -ENOSYS (the "CONFIG_MMU only"
  block of kernel/sys_ni.c): there is nothing to protect, lock or page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import (
    MAP_TYPE,
    MREMAP_FIXED,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    MapFlags,
)
from nommu.kernel.alloc import Block, page_align
from nommu.kernel.channels import FutexKey
from nommu.kernel.errors import SyscallError
from nommu.kernel.exec import load_fixups
from nommu.kernel.files import (
    NOMMU_MAP_COPY,
    NOMMU_MAP_DIRECT,
    NOMMU_MAP_EXEC,
    NOMMU_MAP_READ,
    NOMMU_MAP_WRITE,
    OpenFile,
)
from nommu.kernel.memmodel import U32, Area, MemoryModel, mapping_size
from nommu.kernel.mm import MemoryMap, Region
from nommu.kernel.mpu import Mpu, stack_origin
from nommu.kernel.ramfs import RamFile, RamInode, RamMapping, pages_for
from nommu.kernel.shm import ShmSegment
from nommu.kernel.uaccess import UserMemory
from nommu.loaders import bflt, fdpic
from nommu.loaders.elf import PF_X, ElfImage

if TYPE_CHECKING:
    from nommu.kernel.exec import Program
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

M = MapFlags

# What a no-MMU Linux kernel answers ENOSYS: the "CONFIG_MMU only" block of
# kernel/sys_ni.c and the features that depend on an MMU (swap, NUMA memory
# policy, cross-process memory access, userfaultfd, protection keys). A call
# of one is a fact of no-MMU life, not a gap in nommu: those with a handler
# get ENOSYS from `paging_call`, the rest the dispatcher's ENOSYS for a number
# it lacks (which, through `missing_calls`, says they need an MMU).
NEEDS_MMU = frozenset(
    {"mprotect", "pkey_mprotect", "madvise", "process_madvise", "msync", "mlock", "mlock2",
     "munlock", "mlockall", "munlockall", "mincore", "remap_file_pages", "mseal", "swapon",
     "swapoff", "mbind", "get_mempolicy", "set_mempolicy", "migrate_pages", "move_pages",
     "set_mempolicy_home_node", "process_vm_readv", "process_vm_writev", "userfaultfd",
     "pkey_alloc", "pkey_free", "memfd_secret"}
)  # fmt: skip


class NoMmuModel(MemoryModel):
    """Virtual == physical, one shared map of RAM, fork impossible."""

    has_mmu = False
    name = "no-MMU"
    virtual_is_physical = True
    can_fork = False
    loads_fixed_address = False  # only PIE: nothing can be placed at a link address
    gives_at_random = False
    missing_calls = NEEDS_MMU

    def boot(self) -> UserMemory:
        """The TLB fill is the identity on RAM; user memory is RAM itself.
        The fill lets a store through only where the running task may write
        (kernel/mpu.py), so that a store elsewhere stops, is seen, and lands."""
        k = self.k
        self.mpu = Mpu(k, k.config.stack_guard, k.config.every_foreign_store)
        k.alloc.on_free = self.mpu.freed
        # The MPU hears of every task switch: its hook becomes this model's
        # switch_space itself, so that a switch costs one call (no test of
        # `self.mpu` and no second call on every switch).
        self.switch_space = self.mpu.switched  # type: ignore[method-assign]
        k.tlb.translate = self._physical
        k.tlb.identity = True
        k.arch.install_tables(k.cpu, k.gdt)
        return UserMemory(k.ram, k.cpu)

    def _physical(self, vaddr: int, access: str) -> tuple[int, int] | None:
        """An address is a physical address; only RAM is there. Writable only
        where the running task may write without a stop (kernel/mpu.py)."""
        ram, mpu = self.k.ram, self.mpu
        if not ram.base <= vaddr < ram.end:
            return None
        page = vaddr & ~0xFFF
        if mpu is None:
            return page, 7
        if mpu.may_write(page):
            mpu.filled(page)
            return page, 7
        return None if access == "write" else (page, 5)

    # -- processes -----------------------------------------------------------------

    def load_program(self, t: Task, prog: Program) -> tuple[MemoryMap, int]:
        return load_nommu(self.k, t, prog)

    def new_map(self, owner: int) -> MemoryMap:
        return MemoryMap(self.k.alloc)

    def copy_for_clone(self, parent: Task, tid: int) -> MemoryMap:
        """Nothing to copy into: an empty map; the child goes on running in
        the same physical memory as its parent (what a no-MMU kernel does)."""
        return self.new_map(tid)

    def reaches(self, t: Task) -> bool:
        return True  # (all of RAM, always)

    def switch_space(self, prev: Task | None, t: Task) -> None:
        """One space for everyone: nothing changes. (Only the MPU's idea of who
        may write does: with an MPU, `boot` puts `Mpu.switched` here.)"""

    def switch_is_free(self, t: Task, nxt: Task) -> bool:
        return True

    # -- pages of shared objects -------------------------------------------------------

    def alloc_pages(self, n: int, owner: int) -> list[int]:
        """One contiguous run: a mapping of the file is its pages in place."""
        k = self.k
        block = k.alloc.alloc(n * PAGE_SIZE, owner, "shm")
        k.ram.fill(block.start, block.size)
        return [block.start + i * PAGE_SIZE for i in range(n)]

    def free_page(self, paddr: int) -> None:
        self.k.alloc.free_range(paddr, PAGE_SIZE)

    def file_page(self, owner: int, data: bytes) -> int:
        k = self.k
        paddr = k.alloc.alloc(PAGE_SIZE, owner, "page").start
        k.ram.write(paddr, data.ljust(PAGE_SIZE, b"\0"))
        return paddr

    # -- the memory syscalls ---------------------------------------------------------

    def brk(self, t: Task, addr: int) -> int:
        mm = t.mm
        if mm.start_brk <= addr <= mm.end_brk:
            mm.brk = addr
        return mm.brk

    def mmap(
        self, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
    ) -> int:
        return do_mmap(self.k, t, length, prot, flags, fd, pgoff)

    def munmap(self, t: Task, addr: int, length: int) -> int:
        length = page_align(length) & U32
        if length == 0:
            raise SyscallError(Errno.EINVAL)
        start, end = addr, addr + length
        region, whole = munmap_target(t, start, end)
        self.k.cpu.flush_code(start, end)
        if whole:
            t.mm.remove_range(region, region.start, region.end)
        else:
            t.mm.remove_range(region, start, end)
        return 0

    def mremap(self, t: Task, addr: int, old: int, new: int, flags: int, new_addr: int) -> int:
        old, new = page_align(old) & U32, page_align(new) & U32
        if old == 0 or new == 0 or addr & (PAGE_SIZE - 1):
            raise SyscallError(Errno.EINVAL)
        if flags & MREMAP_FIXED and new_addr != addr:
            raise SyscallError(Errno.EINVAL, "mremap cannot move a mapping without an MMU")
        region = next((r for r in t.mm.regions if (r.start, r.end) == (addr, addr + old)), None)
        if region is None:
            raise SyscallError(Errno.EINVAL, "mremap needs exactly one whole mapping")
        if region.mayshare:
            raise SyscallError(Errno.EPERM, "a shareable mapping cannot be resized")
        if new > region.top - region.start:
            raise SyscallError(Errno.ENOMEM, "mremap cannot grow past the block it was given")
        region.end = region.start + new  # shrinking frees nothing: the block stays whole
        return addr

    def mprotect(self, t: Task, addr: int, length: int, prot: int) -> int:
        self.paging_call()
        return 0

    def madvise(self, t: Task, addr: int, length: int, advice: int) -> int:
        self.paging_call()
        return 0

    def msync(self, t: Task, addr: int, length: int, flags: int) -> int:
        self.paging_call()
        return 0

    def shm_attach(
        self, t: Task, seg: ShmSegment, addr: int, fixed: bool, prot: int, flags: int
    ) -> int:
        """The segment's own pages, at their physical address."""
        if fixed:
            raise SyscallError(Errno.EINVAL, "shmat at a chosen address needs an MMU (MAP_FIXED)")
        start = seg.inode.direct_address(0, pages_for(seg.size))
        assert start is not None  # a segment's pages are one run from the start
        end = start + pages_for(seg.size) * PAGE_SIZE
        block = self.k.alloc.block_at(start)
        assert block is not None
        seg.opened()
        region = Region(start, end, block, "shm", prot, seg.name, file=seg)
        region.mayshare, region.backing, region.shared = True, seg, True
        t.mm.insert(region)
        return start

    def shm_detach(self, t: Task, addr: int) -> None:
        region = t.mm.find(addr)
        if region is None or region.start != addr or not isinstance(region.backing, ShmSegment):
            raise SyscallError(Errno.EINVAL, "shmdt needs the exact address shmat returned")
        t.mm.remove_range(region, region.start, region.end)

    def shared_writable(self, pager: object) -> bool:
        """A direct MAP_SHARED mapping is the file's own pages: any may write."""
        return isinstance(pager, RamInode) and bool(pager.shared_maps)

    def futex_key(self, t: Task, addr: int) -> object:
        """One address space: the address alone (private == shared)."""
        return FutexKey(addr)

    # -- questions about addresses ------------------------------------------------------

    def area_at(self, t: Task, addr: int) -> Area | None:
        block = self.k.alloc.block_at(addr)
        return None if block is None else Area(block.start, block.end, block.owner, block.kind)

    def protection_fault(self, t: Task, addr: int) -> bool:
        return False  # nothing in RAM is protected

    def explain_fault(self, t: Task, addr: int, access: str) -> str:
        ram = self.k.ram
        v = self.mpu.last if self.mpu is not None else None
        if v is not None and v.area is not None and v.address == addr:  # --stack-guard
            size = v.area.size // 1024
            return f"  {access} at {addr:#010x}: below the bottom of its {size} KiB stack"
        where = f"RAM is {ram.base:#010x}-{ram.end:#010x}"
        return f"  {access} at {addr:#010x}: no memory there ({where})"

    def out_of_memory(self, t: Task) -> bool:
        return False  # memory runs out at mmap or exec (ENOMEM), never at a fault

    def store_refused(self, t: Task, addr: int, pc: int) -> bool:
        return self.mpu is not None and self.mpu.store_fault(t, addr, pc)

    def new_stack(self, t: Task, sp: int) -> None:
        """A thread's stack is the block below `sp` (its mmap'd stack, with
        musl's guard area at its foot, which protects nothing here: mprotect
        is ENOSYS). posix_spawn's child runs on a buffer in its parent's
        stack: not a stack of its own to watch."""
        region = t.mm.find(sp - 1)
        if self.mpu is None or region is None or region.kind == "stack":
            return
        origin = "a thread stack: pthread_attr_setstacksize(), or libc's default"
        advice = "give the thread a larger stack with pthread_attr_setstacksize()"
        self.mpu.add_stack(t, region.start, sp, origin, advice)

    def task_gone(self, t: Task) -> None:
        if self.mpu is not None:
            self.mpu.drop_stack(t)

    def proc_status(self, mm: MemoryMap) -> list[str]:
        """fs/proc/task_nommu.c task_mem: Mem, Slack, Shared."""
        mem, shared = _nommu_mem(mm)
        return [
            f"Mem:\t{mem:>8} bytes",
            f"Slack:\t{mm.slack():>8} bytes",
            f"Shared:\t{shared:>8} bytes",
        ]


def _nommu_mem(mm: MemoryMap) -> tuple[int, int]:
    """task_mem's Mem and Shared: memory a process holds alone, and memory it
    shares (shared mappings, or everything while a vfork child borrows it)."""
    mem = shared = 0
    for r in mm.regions:
        if mm.users > 1 or r.mayshare:
            shared += r.top - r.start
        else:
            mem += r.top - r.start
    return mem, shared


def load_nommu(k: Kernel, t: Task, prog: Program) -> tuple[MemoryMap, int]:
    """The no-MMU way: one contiguous block for the image, one for the stack."""
    image = prog.image
    if isinstance(image, bflt.FlatImage):
        return load_flat(k, t, prog, image)
    if image.fdpic and not image.eflags & fdpic.EF_ARM_PIC:
        return load_fdpic(k, t, prog, image)
    block = k.alloc.alloc(image.span, t.pid, "image")
    try:
        stack_block = k.alloc.alloc(image.stack_size, t.pid, "stack")
    except SyscallError:
        k.alloc.free(block)
        raise
    mm = MemoryMap(k.alloc)
    mm.add(block, "image", prog.guest_path)
    mm.add(stack_block, "stack", "[stack]")
    # (an FDPIC program with EF_ARM_PIC is ET_EXEC yet moves as one block:
    # elf_fdpic_map_file_constdisp_on_uclinux)
    load_base = block.start - image.low if image.is_pie or image.fdpic else 0
    mm.start_brk = mm.brk = mm.end_brk = block.end  # zero-size brk (ELF-FDPIC)
    mm.start_stack = stack_block.end
    k.ram.fill(stack_block.start, stack_block.size)  # (fresh anonymous memory is zeroed)
    k.cpu.load_code(block.start, block.end, (image, load_base))
    k.ram.fill(block.start, image.span)
    for seg in image.segments:
        k.ram.write(seg.vaddr + load_base, image.data[seg.offset : seg.offset + seg.filesz])
    k.mathemu.forget_code(block.start, block.end)
    load_fixups(k, image, load_base)
    if image.fdpic:  # (EF_ARM_PIC: one block, yet the program still wants its load map)
        mm.loadmap = fdpic.LoadMap.shifted(image.segments, load_base)
    _add_stack(k, t, image, stack_block)
    return mm, load_base


def _add_stack(k: Kernel, t: Task, image: ElfImage, stack_block: Block) -> None:
    """Tell the MPU (if there is one) about the new program's stack."""
    mpu = k.memory.mpu
    if mpu is not None:  # (exec cannot fail from here on)
        origin, advice = stack_origin(image.stack_given, stack_block.size)
        mpu.add_stack(t, stack_block.start, stack_block.end, origin, advice)


def load_fdpic(k: Kernel, t: Task, prog: Program, image: ElfImage) -> tuple[MemoryMap, int]:
    """binfmt_elf_fdpic's way for an FDPIC program (elf_fdpic_map_file_by_direct_mmap):
    each PT_LOAD segment in a block of its own, at the same offset in its first
    page as in the file. The blocks are allocated last segment first, so the
    segments never keep their link-time distances: a program that ignored its
    load map fails here, as it may on a board. mm.loadmap says where each one
    went; the load base returned is the text's (for symbolizing code)."""
    blocks: list[Block] = []
    try:
        for seg in reversed(image.segments):
            size = page_align((seg.vaddr & 0xFFF) + seg.memsz)
            blocks.insert(0, k.alloc.alloc(size, t.pid, "image"))
        stack_block = k.alloc.alloc(image.stack_size, t.pid, "stack")
    except SyscallError:
        for block in blocks:
            k.alloc.free(block)
        raise
    mm = MemoryMap(k.alloc)
    segs = []
    for seg, block in zip(image.segments, blocks, strict=True):
        mm.add(block, "image", prog.guest_path)
        addr = block.start + (seg.vaddr & 0xFFF)
        code = image.data[seg.offset : seg.offset + seg.filesz]
        k.cpu.load_code(block.start, block.end, (image, addr - seg.vaddr))
        k.ram.fill(block.start, block.size)
        k.ram.write(addr, code)
        k.mathemu.forget_code(block.start, block.end)
        if seg.flags & PF_X:
            k.mathemu.code_loaded(addr, code)
        segs.append(fdpic.LoadSeg(addr, seg.vaddr, seg.memsz))
    mm.add(stack_block, "stack", "[stack]")
    mm.loadmap = fdpic.LoadMap(tuple(segs))
    mm.start_brk = mm.brk = mm.end_brk = blocks[-1].end  # zero-size brk
    mm.start_stack = stack_block.end
    k.ram.fill(stack_block.start, stack_block.size)
    _add_stack(k, t, image, stack_block)
    text = next(i for i, seg in enumerate(image.segments) if seg.flags & PF_X)
    return mm, segs[text].addr - segs[text].p_vaddr


def load_flat(k: Kernel, t: Task, prog: Program, image: bflt.FlatImage) -> tuple[MemoryMap, int]:
    """binfmt_flat's way: one block for text, data, bss and the stack, the
    relocations applied for where it landed; the brk may use the room
    between the bss and the stack (its size is the header's stack_size)."""
    size = image.block_size(prog.args_bytes)
    block = k.alloc.alloc(size, t.pid, "image")
    mm = MemoryMap(k.alloc)
    mm.add(block, "image", prog.guest_path)
    mm.start_brk = block.start + image.end_bss
    mm.brk = (mm.start_brk + 3) & ~3
    mm.end_brk = max(mm.brk, block.end - image.stack_size - prog.args_bytes)
    mm.start_stack = block.end - 4
    k.cpu.load_code(block.start, block.end, (image, block.start))
    k.ram.fill(block.start, size)
    for address, content in image.place(block.start):
        k.ram.write(address, content)
    k.mathemu.forget_code(block.start, block.end)
    return mm, block.start


def do_mmap(k: Kernel, t: Task, length: int, prot: int, flags: int, fd: int, pgoff: int) -> int:
    """mmap2: the address of the new mapping (an address hint is ignored)."""
    file = None if flags & M.MAP_ANONYMOUS else t.files.get(fd)  # EBADF comes first
    caps = validate_mmap_request(file, length, prot, flags, pgoff)
    size = page_align(length)
    if file is None:
        return map_anonymous(k, t, size, prot)
    shared = flags & MAP_TYPE == M.MAP_SHARED
    # determine_vm_flags: VM_MAYSHARE for direct mappings and read-only copies
    mayshare = bool(caps & NOMMU_MAP_DIRECT) or not prot & PROT_WRITE
    if mayshare:
        region = k.file_copies.share(file, pgoff, size, prot, bool(caps & NOMMU_MAP_DIRECT))
        if region is not None:
            return t.mm.insert(region).start
    if caps & NOMMU_MAP_DIRECT:
        assert isinstance(file, RamFile)
        start = file.ram.direct_address(pgoff, size // PAGE_SIZE)
        if start is not None:
            backing = RamMapping(file.ram, pgoff, size // PAGE_SIZE, shared)
            return _insert(k, t, start, size, prot, file, mayshare, backing)
        if not caps & NOMMU_MAP_COPY:  # the pages are not one run inside the file
            raise SyscallError(Errno.ENODEV, "the file's pages are not contiguous")
    return map_copy(k, t, file, pgoff, size, prot, mayshare)


def validate_mmap_request(
    file: OpenFile | None, length: int, prot: int, flags: int, pgoff: int
) -> int:
    """mm/nommu.c validate_mmap_request: the checks, in Linux's order, and what
    the mapping can be (NOMMU_MAP_COPY and/or NOMMU_MAP_DIRECT)."""
    if flags & M.MAP_FIXED:
        raise SyscallError(Errno.EINVAL, "MAP_FIXED needs an MMU")
    if flags & MAP_TYPE not in (M.MAP_PRIVATE, M.MAP_SHARED):  # MAP_SHARED_VALIDATE too
        raise SyscallError(Errno.EINVAL)
    mapping_size(length, pgoff)
    if file is None:
        return NOMMU_MAP_COPY
    caps = file.mmap_capabilities
    if not caps:
        raise SyscallError(Errno.ENODEV, "this kind of file cannot be mapped")
    if not file.readable:
        raise SyscallError(Errno.EACCES)
    if flags & MAP_TYPE == M.MAP_SHARED:
        if prot & PROT_WRITE and not file.writable:
            raise SyscallError(Errno.EACCES)
        if isinstance(file, RamFile):
            file.ram.check_shared_map(bool(prot & PROT_WRITE))
        if not caps & NOMMU_MAP_DIRECT:
            raise SyscallError(Errno.ENODEV, "MAP_SHARED of a file needs an MMU (or a RAM file)")
        caps &= ~NOMMU_MAP_COPY
    else:
        if not caps & NOMMU_MAP_COPY:
            raise SyscallError(Errno.ENODEV)
        if prot & PROT_WRITE:  # a private writable mapping is never the file's own memory
            caps &= ~NOMMU_MAP_DIRECT
    if caps & NOMMU_MAP_DIRECT and _prot_unsupported(prot, caps):
        caps &= ~NOMMU_MAP_DIRECT
        if flags & MAP_TYPE == M.MAP_SHARED:
            raise SyscallError(Errno.EINVAL, "MAP_SHARED not completely supported on !MMU")
    return caps


def _prot_unsupported(prot: int, caps: int) -> bool:
    return bool(
        (prot & PROT_READ and not caps & NOMMU_MAP_READ)
        or (prot & PROT_WRITE and not caps & NOMMU_MAP_WRITE)
        or (prot & PROT_EXEC and not caps & NOMMU_MAP_EXEC)
    )


def map_anonymous(k: Kernel, t: Task, size: int, prot: int) -> int:
    """Anonymous memory, private or shared alike: a zeroed contiguous block."""
    block = k.alloc.alloc(size, t.pid, "mmap")
    k.ram.fill(block.start, size)
    k.cpu.flush_code(block.start, block.end)
    t.mm.add(block, "mmap", prot=prot)
    return block.start


def map_copy(
    k: Kernel, t: Task, file: OpenFile, pgoff: int, size: int, prot: int, mayshare: bool
) -> int:
    """do_mmap_private: the file's bytes copied into a fresh block, the part past
    the end of the file zeroed. A read-only copy may be shared by later mappings
    of the same file range (`FileCopies`)."""
    data = file.pread(size, pgoff * PAGE_SIZE)
    block = k.alloc.alloc(size, t.pid, "mmap")
    k.ram.write(block.start, data)
    k.ram.fill(block.start + len(data), size - len(data))
    k.cpu.flush_code(block.start, block.end)
    backing = k.file_copies.add(file.inode(), pgoff, block) if mayshare else None
    region = Region(block.start, block.end, block, "mmap", prot, file.path, file=file.inode())
    region.mayshare, region.backing = mayshare, backing
    return t.mm.insert(region).start


def _insert(
    k: Kernel, t: Task, start: int, size: int, prot: int, file: OpenFile, mayshare: bool,
    backing: RamMapping,
) -> int:  # fmt: skip
    """A direct mapping of a RAM file's own pages."""
    block = k.alloc.block_at(start)
    assert block is not None
    region = Region(start, start + size, block, "shm", prot, file.path, file=file.inode())
    region.mayshare, region.backing, region.shared = mayshare, backing, backing.shared
    return t.mm.insert(region).start


def munmap_target(t: Task, start: int, end: int) -> tuple[Region, bool]:
    """nommu do_munmap's choice: the region to unmap and whether it goes whole.

    The first mapping overlapping [start, end) decides. A file mapping goes only
    whole: the first of the overlapping file mappings that starts at or after
    `start` and ends exactly at `end`. An anonymous one may lose a head, a tail
    or a middle part (page aligned), but the range must lie inside it."""
    hits = [r for r in t.mm.regions if r.start < end and start < r.end]
    if not hits:
        raise SyscallError(Errno.EINVAL, "munmap of memory that is not mapped")
    first = hits[0]
    if first.file is not None:
        for r in hits:
            if start > r.start:
                break
            if end == r.end:
                return r, True
        raise SyscallError(Errno.EINVAL, "a file mapping can only be unmapped whole")
    if (start, end) == (first.start, first.end):
        return first, True
    if start < first.start or end > first.end or start & (PAGE_SIZE - 1):
        raise SyscallError(Errno.EINVAL)
    if end != first.end and end & (PAGE_SIZE - 1):
        raise SyscallError(Errno.EINVAL)
    return first, False
