"""Address spaces for MMU mode: page tables, demand paging, copy-on-write.

This is what an MMU buys, and what a no-MMU kernel does without:

* Each process has its own virtual addresses. The page table maps each
  virtual page to any free physical page, so memory need not be contiguous
  and fragmentation of physical RAM stops mattering.
* Pages are allocated when first touched (demand paging): a large mmap or
  stack costs nothing until used.
* fork() copies the page table, not the memory. Both processes then map the
  same physical pages read-only; the first write to one of them copies that
  page (copy-on-write), so the cost of fork grows with the page table, not
  with the memory behind it.
* Pages can be protected (mprotect), mapped at chosen addresses (MAP_FIXED)
  and moved (mremap).

The layout follows i386 Linux: a fixed-address program at its link address,
a PIE at 0x56555000, the stack below 0xC0000000 and mmap areas handed out
top-down below the stack.

Physical pages come from the same allocator as on no-MMU, one page at a
time, and are reference-counted (`Frames`) because copy-on-write and shared
mappings put one physical page in several page tables.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from nommu.abi.errno import Errno
from nommu.abi.flags import (
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    MapFlags,
)
from nommu.kernel.alloc import PhysAllocator
from nommu.kernel.errors import SyscallError
from nommu.kernel.files import put_file
from nommu.kernel.mm import MemoryMap
from nommu.machine.ram import PhysicalRAM
from nommu.machine.tlb import TLB_R, TLB_W, TLB_X

if TYPE_CHECKING:
    from nommu.kernel.files import OpenFile
    from nommu.loaders.elf import ElfImage

PAGE_MASK = ~(PAGE_SIZE - 1)
STACK_TOP = TASK_SIZE
STACK_MAX = 8 << 20  # RLIMIT_STACK: the stack area reserved below STACK_TOP
MMAP_BASE = STACK_TOP - STACK_MAX - (128 << 20)  # top of the mmap area (stack gap below)
PIE_BASE = 0x56555000  # where i386 Linux puts an ET_DYN program (no randomization)
KERNEL_PAGE = 0xFFFFF000  # the GDT, mapped in every address space above TASK_SIZE


def page_down(a: int) -> int:
    return a & PAGE_MASK


def page_up(a: int) -> int:
    return (a + PAGE_SIZE - 1) & PAGE_MASK


def segment_pages(image: ElfImage, load_base: int) -> list[tuple[int, int, int]]:
    """(start, end, prot) runs of pages covering the PT_LOAD segments. A page two
    segments share gets both protections."""
    prot_of: dict[int, int] = {}
    for seg in image.segments:
        prot = (PROT_READ if seg.flags & 4 else 0) | (PROT_WRITE if seg.flags & 2 else 0)
        prot |= PROT_EXEC if seg.flags & 1 else 0
        start = page_down(seg.vaddr + load_base)
        for page in range(start, page_up(seg.vaddr + load_base + seg.memsz), PAGE_SIZE):
            prot_of[page] = prot_of.get(page, 0) | prot
    runs: list[tuple[int, int, int]] = []
    for page in sorted(prot_of):
        if runs and runs[-1][1] == page and runs[-1][2] == prot_of[page]:
            runs[-1] = (runs[-1][0], page + PAGE_SIZE, prot_of[page])
        else:
            runs.append((page, page + PAGE_SIZE, prot_of[page]))
    return runs


class Frames:
    """Physical page frames, reference counted (fork and shared mappings share them)."""

    def __init__(self, alloc: PhysAllocator, ram: PhysicalRAM) -> None:
        self.alloc = alloc
        self.ram = ram
        self.refs: dict[int, int] = {}

    def new(self, owner: int, data: bytes | None = None) -> int:
        paddr = self.alloc.alloc(PAGE_SIZE, owner, "page").start
        if data is None:
            self.ram.fill(paddr, PAGE_SIZE)
        else:
            self.ram.write(paddr, data.ljust(PAGE_SIZE, b"\0"))
        self.refs[paddr] = 1
        return paddr

    def get(self, paddr: int) -> None:
        self.refs[paddr] += 1

    def get_many(self, paddrs: Iterable[int]) -> None:
        """One more reference to each frame (fork: a whole page table at once)."""
        refs = self.refs
        for paddr in paddrs:
            refs[paddr] += 1

    def put_many(self, paddrs: Iterable[int]) -> None:
        """Drop one reference to each frame, freeing those nobody maps any more."""
        refs, dead = self.refs, []
        for paddr in paddrs:
            n = refs[paddr] - 1
            if n:
                refs[paddr] = n
            else:
                del refs[paddr]
                dead.append(paddr)
        for paddr in dead:
            self.alloc.free_range(paddr, PAGE_SIZE)

    def put(self, paddr: int) -> None:
        n = self.refs[paddr] - 1
        if n:
            self.refs[paddr] = n
        else:
            del self.refs[paddr]
            self.alloc.free_range(paddr, PAGE_SIZE)


class Pager(Protocol):
    """A shared memory object whose own pages a mapping shows (a /dev/shm file, a
    SysV segment): every mapping of it, in any process, reaches the same frames.
    `opened`/`closed` count mappings (VMAs), as vm_ops->open/close do."""

    def page(self, index: int) -> int: ...

    def opened(self) -> None: ...

    def closed(self) -> None: ...


@dataclass(eq=False, slots=True)
class Vma:
    """A mapped range of virtual addresses with one protection."""

    start: int
    end: int
    prot: int
    kind: str  # "image", "heap", "stack", "mmap"
    name: str = ""
    shared: bool = False  # MAP_SHARED: fork shares the pages instead of copying them
    file: OpenFile | None = None  # MAP_SHARED file: written back on munmap/msync/exit
    offset: int = 0
    pager: Pager | None = None  # the shared object whose pages this maps, if any

    def split(self, at: int) -> Vma:
        """Cut at `at`: this keeps [start, at), the returned Vma is [at, end)."""
        tail = Vma(
            at,
            self.end,
            self.prot,
            self.kind,
            self.name,
            self.shared,
            self.file,
            self.offset + (at - self.start),
            self.pager,
        )
        if self.pager is not None:
            self.pager.opened()
        if self.file is not None:
            self.file.refs += 1  # each VMA holds its file open (vma->vm_file)
        self.end = at
        return tail


@dataclass(eq=False)
class AddressSpace(MemoryMap):
    """A process's virtual memory: VMAs plus a page table (virtual page -> frame)."""

    frames: Frames | None = None
    owner: int = 0
    kernel_page: int = 0  # physical page of the GDT
    vmas: list[Vma] = field(default_factory=list)
    pages: dict[int, int] = field(default_factory=dict)  # vpn -> physical address
    cow: set[int] = field(default_factory=set)  # vpns shared copy-on-write
    code_dirty: list[tuple[int, int]] = field(default_factory=list)  # to flush from the JIT
    out_of_memory: bool = False  # a page fault found no free frame (traps.py: OOM kill)

    # -- lookups ---------------------------------------------------------------

    def vma_at(self, addr: int) -> Vma | None:
        i = bisect.bisect_right(self.vmas, addr, key=lambda v: v.start) - 1
        if i >= 0 and addr < self.vmas[i].end:
            return self.vmas[i]
        return None

    def translate(self, vaddr: int, access: str) -> tuple[int, int] | None:
        """The TLB fill: (physical page, TLB perms) for an access, or None (a fault)."""
        vpn = vaddr >> 12
        if vaddr >= TASK_SIZE:
            return (self.kernel_page, TLB_R | TLB_W) if vpn == KERNEL_PAGE >> 12 else None
        vma = self.vma_at(vaddr)
        if vma is None or not vma.prot or (access == "write" and not vma.prot & PROT_WRITE):
            return None
        try:
            paddr = self.frame(vaddr, access == "write")
        except SyscallError:  # no free frame for the page
            self.out_of_memory = True
            return None
        perms = TLB_R | TLB_X
        if vma.prot & PROT_WRITE and vpn not in self.cow:
            perms |= TLB_W
        return paddr, perms

    def frame(self, vaddr: int, write: bool) -> int:
        """The frame behind a mapped page: allocated on first touch, copied on a
        write to a copy-on-write page."""
        vpn = vaddr >> 12
        paddr = self.pages.get(vpn)
        if paddr is None:
            paddr = self.pages[vpn] = self._first_touch(vaddr)
        elif write and vpn in self.cow:
            paddr = self._break_cow(vpn, paddr)
        return paddr

    def _first_touch(self, vaddr: int) -> int:
        """A new frame for a page touched for the first time, or the shared
        object's own page (a reference is taken for this page table)."""
        vma = self.vma_at(vaddr)
        if vma is None or vma.pager is None:
            return self._frames.new(self.owner)
        paddr = vma.pager.page((vma.offset + vaddr - vma.start) >> 12)
        self._frames.get(paddr)
        return paddr

    def _break_cow(self, vpn: int, paddr: int) -> int:
        """First write to a shared page: copy it (unless we are its last user)."""
        self.cow.discard(vpn)
        frames = self._frames
        if frames.refs[paddr] == 1:
            return paddr
        copy = frames.new(self.owner, frames.ram.read(paddr, PAGE_SIZE))
        frames.put(paddr)
        self.pages[vpn] = copy
        vma = self.vma_at(vpn << 12)
        if vma is not None and vma.prot & PROT_EXEC:
            self.code_dirty.append((vpn << 12, (vpn + 1) << 12))
        return copy

    @property
    def _frames(self) -> Frames:
        assert self.frames is not None
        return self.frames

    # -- kernel access to user memory --------------------------------------------

    def phys(self, vaddr: int, write: bool, force: bool = False) -> int:
        """Physical address of `vaddr` for a kernel access, or EFAULT. `force`
        writes through read-only mappings (the loader filling program text).
        As on x86, any protection but PROT_NONE allows reading."""
        vma = self.vma_at(vaddr)
        if vma is None:
            raise SyscallError(Errno.EFAULT)
        if not force and (not vma.prot or (write and not vma.prot & PROT_WRITE)):
            raise SyscallError(Errno.EFAULT)
        return self.frame(vaddr, write) + (vaddr & (PAGE_SIZE - 1))

    def read(self, addr: int, size: int) -> bytes:
        out = bytearray()
        while size > 0:
            n = min(size, PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            out += self._frames.ram.read(self.phys(addr, False), n)
            addr += n
            size -= n
        return bytes(out)

    def write(self, addr: int, data: bytes | bytearray | memoryview, force: bool = False) -> None:
        data = bytes(data)
        while data:
            n = min(len(data), PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            self._frames.ram.write(self.phys(addr, True, force), data[:n])
            addr += n
            data = data[n:]

    def find_nul(self, addr: int, limit: int) -> int:
        end = addr + limit
        while addr < end:
            n = min(end - addr, PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            p = self.phys(addr, False)
            found = self._frames.ram.find_nul(p, n)
            if found >= 0:
                return addr + (found - p)
            addr += n
        return -1

    # -- mapping -------------------------------------------------------------------

    def map(
        self,
        start: int,
        end: int,
        prot: int,
        kind: str,
        name: str = "",
        shared: bool = False,
        file: OpenFile | None = None,
        offset: int = 0,
        pager: Pager | None = None,
    ) -> Vma:
        """Map [start, end) (page aligned), replacing whatever was there."""
        self.unmap(start, end)
        vma = Vma(start, end, prot, kind, name, shared, file, offset, pager)
        if pager is not None:
            pager.opened()
        if file is not None:
            file.refs += 1  # the mapping keeps the file open after close(fd)
        bisect.insort(self.vmas, vma, key=lambda v: v.start)
        if prot & PROT_EXEC:
            self.code_dirty.append((start, end))
        return vma

    def unmap(self, start: int, end: int) -> None:
        """Remove every mapping in [start, end), splitting VMAs at the edges."""
        if start >= end:
            return
        for vma in self._carve(start, end):
            self.writeback(vma)
            self.vmas.remove(vma)
            for vpn in range(vma.start >> 12, vma.end >> 12):
                self._drop_page(vpn)
            _release(vma)

    def _drop_page(self, vpn: int) -> None:
        paddr = self.pages.pop(vpn, None)
        self.cow.discard(vpn)
        if paddr is not None:
            self._frames.put(paddr)

    def _carve(self, start: int, end: int) -> list[Vma]:
        """Split VMAs at `start` and `end`; return those now inside [start, end)."""
        for edge in (start, end):
            vma = self.vma_at(edge)
            if vma is not None and vma.start < edge:
                bisect.insort(self.vmas, vma.split(edge), key=lambda v: v.start)
        return [v for v in self.vmas if start <= v.start and v.end <= end]

    def protect(self, start: int, end: int, prot: int) -> None:
        """mprotect: every page of [start, end) must be mapped (ENOMEM otherwise)."""
        if not self.covered(start, end):
            raise SyscallError(Errno.ENOMEM)
        for vma in self._carve(start, end):
            vma.prot = prot
            if prot & PROT_EXEC:
                self.code_dirty.append((vma.start, vma.end))

    def covered(self, start: int, end: int) -> bool:
        addr = start
        while addr < end:
            vma = self.vma_at(addr)
            if vma is None:
                return False
            addr = vma.end
        return True

    def free_area(self, length: int, hint: int = 0) -> int:
        """An unmapped range of `length` bytes: at `hint` if free, else top-down."""
        if hint and page_up(hint) + length <= MMAP_BASE and self._free(page_up(hint), length):
            return page_up(hint)
        top = MMAP_BASE
        for vma in reversed(self.vmas):
            if vma.start >= top:
                continue
            if vma.end <= top - length:
                return top - length
            top = vma.start
        if top - length >= 0x10000:
            return top - length
        raise SyscallError(Errno.ENOMEM)

    def _free(self, start: int, length: int) -> bool:
        return not any(v.start < start + length and start < v.end for v in self.vmas)

    def move(self, old: int, old_len: int, new: int, new_len: int) -> None:
        """mremap that moves: the pages go to `new` (nothing is copied)."""
        vma = self.vma_at(old)
        assert vma is not None
        prot, kind, name, shared, pager = vma.prot, vma.kind, vma.name, vma.shared, vma.pager
        offset = vma.offset + old - vma.start
        first, last = old >> 12, (old + old_len) >> 12
        moved = {vpn: self.pages.pop(vpn) for vpn in range(first, last) if vpn in self.pages}
        cow = {vpn for vpn in moved if vpn in self.cow}
        self.cow -= cow
        for v in self._carve(old, old + old_len):
            self.vmas.remove(v)
            _release(v)
        self.map(new, new + new_len, prot, kind, name, shared, offset=offset, pager=pager)
        delta = (new - old) >> 12
        for vpn, paddr in moved.items():
            self.pages[vpn + delta] = paddr
        self.cow |= {vpn + delta for vpn in cow}

    def writeback(self, vma: Vma) -> None:
        """A MAP_SHARED file mapping's contents go back to the file: the pages
        within the file's size (stores past its end do not grow it)."""
        if vma.file is None or not vma.shared or not vma.file.writable:
            return
        size = vma.file.stat().size
        for vpn in range(vma.start >> 12, vma.end >> 12):
            paddr = self.pages.get(vpn)
            offset = vma.offset + (vpn << 12) - vma.start
            if paddr is not None and offset < size:
                n = min(PAGE_SIZE, size - offset)
                vma.file.pwrite(self._frames.ram.read(paddr, n), offset)

    # -- fork, exec, exit ----------------------------------------------------------

    def fork_copy(self, owner: int) -> AddressSpace:
        """The child's address space for fork(): same mappings, pages shared
        copy-on-write (MAP_SHARED pages shared for real). Costs one page-table copy."""
        child = AddressSpace(
            self.alloc,
            frames=self.frames,
            owner=owner,
            kernel_page=self.kernel_page,
            start_brk=self.start_brk,
            brk=self.brk,
            end_brk=self.end_brk,
            start_stack=self.start_stack,
            exe=self.exe,
            image=self.image,
            load_base=self.load_base,
            cmdline=self.cmdline,
        )
        child.vmas = [
            Vma(v.start, v.end, v.prot, v.kind, v.name, v.shared, v.file, v.offset, v.pager)
            for v in self.vmas
        ]
        for v in child.vmas:
            if v.pager is not None:
                v.pager.opened()
            if v.file is not None:
                v.file.refs += 1
        child.pages = dict(self.pages)
        self._frames.get_many(self.pages.values())
        shared = {vpn for v in self.vmas if v.shared for vpn in range(v.start >> 12, v.end >> 12)}
        self.cow.update(self.pages.keys() - shared if shared else self.pages.keys())
        child.cow = set(self.cow)
        return child

    def put(self) -> bool:
        self.users -= 1
        if self.users > 0:
            return False
        for vma in self.vmas:
            self.writeback(vma)
        self._frames.put_many(self.pages.values())
        self.pages.clear()
        for vma in self.vmas:
            _release(vma)
        self.vmas.clear()
        return True

    # -- what /proc shows ----------------------------------------------------------

    def total(self) -> int:
        return len(self.pages) * PAGE_SIZE

    def areas(self) -> list[tuple[int, int, int, str]]:
        return [(v.start, v.end, v.prot, v.name or _KIND_NAMES.get(v.kind, "")) for v in self.vmas]

    def sizes(self) -> list[tuple[str, int]]:
        return [(v.kind, v.end - v.start) for v in self.vmas]


_KIND_NAMES = {"stack": "[stack]", "heap": "[heap]"}


def _release(vma: Vma) -> None:
    """A VMA is gone: drop what it held (its shared object, its file)."""
    if vma.pager is not None:
        vma.pager.closed()
    if vma.file is not None:
        put_file(vma.file)


# -- the memory syscalls with an MMU (Linux's mm/mmap.c, mm/mprotect.c, mm/mremap.c) --


def do_mmap(
    space: AddressSpace,
    addr: int,
    length: int,
    prot: int,
    flags: int,
    file: OpenFile | None,
    offset: int,
    pager: Pager | None = None,
    written_back: bool = False,
) -> int:
    """mmap: anywhere free (top-down), at a hint if free, or exactly at `addr`
    with MAP_FIXED (replacing what was there). Pages come on first touch; with
    a `pager` (a shared memory object) they are the object's own pages, and
    `written_back` ones (a disk file's) go back to `file` as well."""
    size = page_up(length)
    if flags & (MapFlags.MAP_FIXED | MapFlags.MAP_FIXED_NOREPLACE):
        if addr & (PAGE_SIZE - 1) or addr + size > TASK_SIZE:
            raise SyscallError(Errno.EINVAL)
        if flags & MapFlags.MAP_FIXED_NOREPLACE and not space._free(addr, size):
            raise SyscallError(Errno.EEXIST)
        start = addr
    else:
        start = space.free_area(size, addr)
    name = file.path if file is not None else ""
    if pager is not None:  # (every MAP_SHARED mapping has one)
        back = file if written_back else None
        space.map(start, start + size, prot, "mmap", name, True, back, offset, pager)
        return start
    space.map(start, start + size, prot, "mmap", name)  # private: a copy of the file
    if file is not None:
        data = file.pread(size, offset)
        space.write(start, data, force=True)
    return start


def do_munmap(space: AddressSpace, addr: int, length: int) -> int:
    if addr & (PAGE_SIZE - 1) or length == 0 or addr + length > TASK_SIZE:
        raise SyscallError(Errno.EINVAL)
    space.unmap(addr, addr + page_up(length))
    return 0


def do_mprotect(space: AddressSpace, addr: int, length: int, prot: int) -> int:
    if addr & (PAGE_SIZE - 1) or prot & ~7:
        raise SyscallError(Errno.EINVAL)
    if length:
        space.protect(addr, addr + page_up(length), prot)
    return 0


def do_mremap(
    space: AddressSpace, addr: int, old_len: int, new_len: int, flags: int, new_addr: int
) -> int:
    """mremap: shrink in place, grow in place if the next pages are free, else
    move (MREMAP_MAYMOVE) or go exactly to `new_addr` (MREMAP_FIXED)."""
    old_len, new_len = page_up(old_len), page_up(new_len)
    if (
        addr & (PAGE_SIZE - 1)
        or not new_len
        or flags & ~3
        or (flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE)
    ):
        raise SyscallError(Errno.EINVAL)
    vma = space.vma_at(addr)
    if vma is None or addr + old_len > vma.end:
        raise SyscallError(Errno.EFAULT)
    if not old_len and not vma.shared:  # old_len 0 duplicates shared mappings only
        raise SyscallError(Errno.EINVAL)
    if flags & MREMAP_FIXED:
        space.move(addr, old_len, new_addr, new_len)
        return new_addr
    if new_len <= old_len:
        space.unmap(addr + new_len, addr + old_len)
        return addr
    if space._free(addr + old_len, new_len - old_len) and addr + new_len <= TASK_SIZE:
        vma.end = addr + new_len if vma.end == addr + old_len else vma.end
        if vma.end != addr + new_len:
            space.map(addr + old_len, addr + new_len, vma.prot, vma.kind, vma.name)
        return addr
    if not flags & MREMAP_MAYMOVE:
        raise SyscallError(Errno.ENOMEM)
    target = space.free_area(new_len)
    space.move(addr, old_len, target, new_len)
    return target


def do_brk(space: AddressSpace, addr: int) -> int:
    """brk with an MMU: the heap grows and shrinks page by page above the program."""
    if addr < space.start_brk:
        return space.brk
    old_top, new_top = page_up(space.brk), page_up(addr)
    if new_top > old_top:
        if not space._free(old_top, new_top - old_top) or new_top > MMAP_BASE:
            return space.brk
        heap = space.vma_at(old_top - 1) if old_top > space.start_brk else None
        if heap is not None and heap.kind == "heap":
            heap.end = new_top
        else:
            space.map(old_top, new_top, PROT_READ | PROT_WRITE, "heap")
    elif new_top < old_top:
        space.unmap(new_top, old_top)
    space.brk = addr
    return addr


def do_madvise_dontneed(space: AddressSpace, addr: int, length: int) -> None:
    """MADV_DONTNEED on private anonymous memory: the next touch sees zeroes."""
    for vpn in range(addr >> 12, page_up(addr + length) >> 12):
        vma = space.vma_at(vpn << 12)
        if vma is not None and not vma.shared and vma.file is None:
            space._drop_page(vpn)
