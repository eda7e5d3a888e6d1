"""The MMU memory model: a private address space per process (`--mmu`).

What it promises (mm/mmap.c, mm/memory.c):

* each process has its own `AddressSpace` (kernel/vm.py): virtual pages
  mapped through a page table onto frames anywhere in RAM, so memory need
  not be contiguous and one process cannot reach another's;
* pages come on first touch (demand paging);
* fork copies the page table and shares the pages copy-on-write;
* mappings can be protected (mprotect), placed (MAP_FIXED) and moved (mremap).

The CPU sees the current task's space through the TLB (machine/tlb.py):
`switch_space` points the TLB's fill at the new space's page tables and
flushes it, and every call that removes, moves or downgrades a mapping
flushes it too (`_changed`), so no stale translation survives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.flags import (
    MAP_TYPE,
    PAGE_SIZE,
    PATH_MAX,
    PROT_WRITE,
    SHM_REMAP,
    TASK_SIZE,
    MapFlags,
)
from nommu.kernel import vm
from nommu.kernel.alloc import page_align
from nommu.kernel.channels import FutexKey, PrivateFutexKey
from nommu.kernel.errors import SyscallError
from nommu.kernel.exec import load_fixups
from nommu.kernel.files import DevZero
from nommu.kernel.memmodel import U32, Area, MemoryModel, mapping_size
from nommu.kernel.pagecache import FilePages
from nommu.kernel.ramfs import RamFile, pages_for
from nommu.kernel.shm import ShmSegment
from nommu.kernel.uaccess import UserMemory
from nommu.kernel.vm import AddressSpace, Frames
from nommu.loaders import fdpic

if TYPE_CHECKING:
    from nommu.kernel.exec import Program
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.mm import MemoryMap
    from nommu.kernel.task import Task

M = MapFlags


def space(t: Task) -> AddressSpace:
    """`t`'s memory as an address space (every task's is one in this model:
    `new_map`, `load_program` and `copy_for_clone` make nothing else)."""
    assert isinstance(t.mm, AddressSpace)
    return t.mm


class MmuModel(MemoryModel):
    """Per-process address spaces, demand paging, copy-on-write fork."""

    has_mmu = True
    name = "MMU"
    virtual_is_physical = False
    can_fork = True
    loads_fixed_address = True
    gives_at_random = True
    missing_calls = frozenset[str]()

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        self.frames = Frames(k.alloc, k.ram)

    def boot(self) -> UserMemory:
        """Until a program runs the TLB sees only the kernel page (the GDT)."""
        k = self.k
        k.tlb.translate = self.new_space(0).translate
        k.arch.install_tables(k.cpu, k.gdt, linear=vm.KERNEL_PAGE)
        return MmuUserMemory(k)

    def new_map(self, owner: int) -> MemoryMap:
        return self.new_space(owner)

    def new_space(self, owner: int) -> AddressSpace:
        """An empty address space with the kernel page (GDT) mapped."""
        k = self.k
        return AddressSpace(k.alloc, frames=self.frames, owner=owner, kernel_page=k.gdt)

    def _changed(self, result: int) -> int:
        """Mappings were removed, moved or downgraded: the TLB may hold stale
        translations to pages that are gone. Flush it."""
        self.k.tlb.flush()
        return result

    # -- processes -------------------------------------------------------------------

    def load_program(self, t: Task, prog: Program) -> tuple[MemoryMap, int]:
        """Map the segments at their addresses (a PIE at PIE_BASE) in a new space."""
        image = prog.image
        load_base = vm.PIE_BASE - image.low if image.is_pie else 0
        mm = self.new_space(t.pid)
        try:
            for start, end, prot in vm.segment_pages(image, load_base):
                mm.map(start, end, prot, "image", prog.guest_path)
            for seg in image.segments:
                data = image.data[seg.offset : seg.offset + seg.filesz]
                mm.write(seg.vaddr + load_base, data, force=True)
            mm.map(vm.STACK_TOP - vm.STACK_MAX, vm.STACK_TOP, F.PROT_READ | F.PROT_WRITE, "stack")
            load_fixups(self.k, image, load_base)
        except SyscallError:
            mm.put()
            raise
        mm.start_brk = mm.brk = mm.end_brk = vm.page_up(image.high + load_base)
        mm.start_stack = vm.STACK_TOP
        if image.fdpic:  # (placed as a whole, as binfmt_elf_fdpic may do with an MMU)
            mm.loadmap = fdpic.LoadMap.shifted(image.segments, load_base)
        return mm, load_base

    def copy_for_clone(self, parent: Task, tid: int) -> MemoryMap:
        """fork: a copy-on-write copy of the parent's space."""
        child = space(parent).fork_copy(tid)
        self.k.tlb.flush()  # the parent's pages just became read-only (copy-on-write)
        return child

    def reaches(self, t: Task) -> bool:
        return self.k.current is t  # (uspace goes through the current task's tables)

    def switch_space(self, prev: Task | None, t: Task) -> None:
        """The TLB must now translate through `t`'s page tables."""
        k, new = self.k, space(t)
        if k.tlb.translate != new.translate or prev is None or prev.mm is not t.mm:
            k.tlb.translate = new.translate
            k.tlb.flush()
        for start, end in new.code_dirty:  # pages that now hold something new
            k.cpu.flush_code(start, end)
        new.code_dirty.clear()

    def switch_is_free(self, t: Task, nxt: Task) -> bool:
        return nxt.mm is t.mm and not space(nxt).code_dirty

    # -- pages of shared objects -------------------------------------------------------

    def alloc_pages(self, n: int, owner: int) -> list[int]:
        """Frames anywhere (reference counted: page tables share them)."""
        got: list[int] = []
        try:
            for _ in range(n):
                got.append(self.frames.new(owner))
        except SyscallError:
            for paddr in got:
                self.frames.put(paddr)
            raise
        return got

    def free_page(self, paddr: int) -> None:
        self.frames.put(paddr)

    def file_page(self, owner: int, data: bytes) -> int:
        return self.frames.new(owner, data)

    # -- the memory syscalls --------------------------------------------------------

    def brk(self, t: Task, addr: int) -> int:
        return self._changed(vm.do_brk(space(t), addr))

    def mmap(
        self, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
    ) -> int:
        """mm/mmap.c do_mmap's checks (i386: 32-bit offsets), then vm.do_mmap."""
        k = self.k
        file = None if flags & M.MAP_ANONYMOUS else t.files.get(fd)
        mtype = flags & MAP_TYPE
        size = mapping_size(length, pgoff)
        pager: vm.Pager | None = None
        if file is None and mtype not in (M.MAP_PRIVATE, M.MAP_SHARED):
            raise SyscallError(Errno.EINVAL)
        if file is not None:
            if mtype not in (M.MAP_PRIVATE, M.MAP_SHARED, M.MAP_SHARED_VALIDATE):
                raise SyscallError(Errno.EINVAL)
            if mtype != M.MAP_PRIVATE and prot & PROT_WRITE and not file.writable:
                raise SyscallError(Errno.EACCES)
            if not file.readable:
                raise SyscallError(Errno.EACCES)
            if not file.mmap_capabilities:
                raise SyscallError(Errno.ENODEV)
            if isinstance(file, DevZero):  # /dev/zero maps as anonymous memory
                file, flags = None, flags | M.MAP_ANONYMOUS
            elif isinstance(file, RamFile) and mtype != M.MAP_PRIVATE:
                file.ram.check_shared_map(bool(prot & PROT_WRITE))
                pager = file.ram  # the mapping shows the file's own pages
            elif mtype != M.MAP_PRIVATE:
                pager = k.page_cache.pages_of(file)  # shared with every other mapping of it
        if file is None and mtype == M.MAP_SHARED:
            shmfs = k.vfs.shmfs
            assert shmfs is not None  # (the kernel always has one: /dev/shm)
            pager, pgoff = shmfs.anonymous(size), 0  # shared anonymous memory is shmem
        disk = isinstance(pager, FilePages)
        offset = pgoff * PAGE_SIZE
        return self._changed(
            vm.do_mmap(space(t), addr, length, prot, flags, file, offset, pager, disk)
        )

    def munmap(self, t: Task, addr: int, length: int) -> int:
        return self._changed(vm.do_munmap(space(t), addr, length))

    def mremap(self, t: Task, addr: int, old: int, new: int, flags: int, new_addr: int) -> int:
        return self._changed(vm.do_mremap(space(t), addr, old, new, flags, new_addr))

    def paging_call(self) -> None:
        return None  # (they exist: the caller goes on)

    def mprotect(self, t: Task, addr: int, length: int, prot: int) -> int:
        return self._changed(vm.do_mprotect(space(t), addr, length, prot))

    def madvise(self, t: Task, addr: int, length: int, advice: int) -> int:
        size = page_align(length) & U32
        if addr & (PAGE_SIZE - 1) or (length and not size) or addr + size > U32 + 1:
            raise SyscallError(Errno.EINVAL)  # mm/madvise.c: unaligned, or wrapping around
        if advice == 4:  # MADV_DONTNEED
            vm.do_madvise_dontneed(space(t), addr, size)
            return self._changed(0)
        return 0

    def msync(self, t: Task, addr: int, length: int, flags: int) -> int:
        s = space(t)
        if not s.covered(addr, addr + page_align(length)):
            raise SyscallError(Errno.ENOMEM)
        for v in list(s.vmas):
            if v.start < addr + length and addr < v.end:
                s.writeback(v)
        return 0

    def shm_attach(
        self, t: Task, seg: ShmSegment, addr: int, fixed: bool, prot: int, flags: int
    ) -> int:
        """Anywhere free, or at `addr` (SHM_REMAP: over what is there)."""
        s = space(t)
        size = pages_for(seg.size) * PAGE_SIZE
        if fixed:
            if addr + size > TASK_SIZE or (not flags & SHM_REMAP and not s._free(addr, size)):
                raise SyscallError(Errno.EINVAL)
            start = addr
        else:
            start = s.free_area(size)
        s.map(start, start + size, prot, "shm", seg.name, shared=True, pager=seg)
        return start

    def shm_detach(self, t: Task, addr: int) -> None:
        s = space(t)
        vma = s.vma_at(addr)
        if vma is None or vma.start != addr or not isinstance(vma.pager, ShmSegment):
            raise SyscallError(Errno.EINVAL)
        s.unmap(addr, addr + pages_for(vma.pager.size) * PAGE_SIZE)

    def shared_writable(self, pager: object) -> bool:
        spaces = {id(t.mm): t.mm for t in self.k.tasks.values()}
        return any(
            v.pager is pager and v.shared and v.prot & PROT_WRITE
            for space in spaces.values()
            for v in getattr(space, "vmas", ())
        )

    def futex_key(self, t: Task, addr: int) -> object:
        """get_futex_key: private memory by (space, address), a MAP_SHARED
        word by the physical address behind it (the same in every process)."""
        s = space(t)
        vma = s.vma_at(addr)
        if vma is None:
            raise SyscallError(Errno.EFAULT)
        if vma.shared:
            return FutexKey(s.frame(addr, False) | (addr & 0xFFF))
        return PrivateFutexKey(id(s), addr)

    # -- questions about addresses ----------------------------------------------------

    def area_at(self, t: Task, addr: int) -> Area | None:
        s = space(t)
        vma = s.vma_at(addr)
        return None if vma is None else Area(vma.start, vma.end, s.owner, vma.kind)

    def protection_fault(self, t: Task, addr: int) -> bool:
        return space(t).vma_at(addr) is not None

    def explain_fault(self, t: Task, addr: int, access: str) -> str:
        mapped = self.protection_fault(t, addr)
        why = "not permitted by the page's protection" if mapped else "not mapped"
        return f"  page fault: {access} at {addr:#010x}: {why}"

    def out_of_memory(self, t: Task) -> bool:
        s = space(t)
        oom, s.out_of_memory = s.out_of_memory, False
        return oom

    def proc_status(self, mm: MemoryMap) -> list[str]:
        return []


class MmuUserMemory(UserMemory):
    """User memory through the current task's page tables.

    Pages are allocated on first touch and copy-on-write pages are copied
    before the kernel writes into them, exactly as a user access would."""

    def __init__(self, k: Kernel) -> None:
        super().__init__(k.ram, k.cpu)
        self.k = k

    def _space(self) -> AddressSpace:
        t = self.k.current
        assert t is not None
        return cast(AddressSpace, t.mm)

    def read(self, addr: int, size: int) -> bytes:
        if size == 0:
            return b""
        if size < 0 or addr + size > 0x100000000:
            raise SyscallError(Errno.EFAULT)
        return self._space().read(addr, size)

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if addr + len(data) > 0x100000000:
            raise SyscallError(Errno.EFAULT)
        space = self._space()
        space.write(addr, data)
        k, end = self.k, addr + len(data)
        for page in range(addr & ~0xFFF, end, 0x1000):  # (its frames are scattered)
            frame = space.pages.get(page >> 12)
            if frame is not None and k.tlb.holds_code(frame, frame + 1):
                k.flush_code_later(max(page, addr), min(page + 0x1000, end))

    def span(self, addr: int, count: int) -> int:
        """An address space can hold no more than RAM, nor past 4 GiB."""
        return max(0, min(count, self.ram.size, 0x100000000 - addr))

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def write_u32(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))

    def read_cstr(self, addr: int, limit: int = PATH_MAX) -> bytes:
        end = self._space().find_nul(addr, limit)
        if end < 0:
            raise SyscallError(Errno.ENAMETOOLONG)
        return self.read(addr, end - addr)
