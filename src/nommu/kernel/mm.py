"""A process's memory: the regions (VMAs) it owns in the one physical space.

On a no-MMU machine a `MemoryMap` translates nothing: it is a list of the
physical blocks a process has (its program image, its stack, its mmaps) so
they can be listed (/proc/PID/maps), checked (munmap must name a region) and
freed when the last user goes away. Tasks that share memory (CLONE_VM:
threads, and a vfork child until it execs or exits) share one MemoryMap and
count as its `users`; an exec or exit drops a reference, and the blocks are
freed only at zero, which is why a vfork child's execve never frees the
memory its suspended parent is still standing on.

brk follows the ELF-FDPIC loader: the break starts at the end of the image
and may not move past `end_brk`, which equals it (a zero-size brk), so
malloc falls back to mmap, as on real no-MMU boards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from nommu.abi.errno import Errno
from nommu.abi.flags import PAGE_SIZE
from nommu.kernel.alloc import Block, PhysAllocator
from nommu.kernel.errors import SyscallError
from nommu.loaders.elf import ElfImage
from nommu.loaders.fdpic import LoadMap

if TYPE_CHECKING:
    from nommu.kernel.files import OpenFile


class Backing(Protocol):
    """Pages a mapping uses but does not own: a ramfs (/dev/shm) file's pages, a
    SysV segment, a read-only file copy other mappings share (nommu's vm_region
    with vm_usage > 1). Unmapping drops the mapping's reference; the owner
    decides when the pages go back to the allocator."""

    def drop(self) -> None: ...


@dataclass(eq=False, slots=True)
class Region:
    """One mapping (VMA): [start, end) backed by (part of) a physical block.

    The pages behind it run to `top` (vm_region->vm_top): mremap may shrink the
    mapping without freeing them and grow it back up to `top`. A file mapping
    (`file` set) can only be unmapped whole; `mayshare` (VM_MAYSHARE: a direct
    mapping, or a read-only file copy others may share) makes mremap refuse."""

    start: int
    end: int
    block: Block
    kind: str  # "image", "stack", "mmap", "shm"...
    prot: int = 7
    name: str = ""  # backing file, or "[stack]"
    top: int = 0  # end of the pages behind the mapping (0: `end`)
    file: object | None = None  # identity of the mapped file, if any
    mayshare: bool = False
    backing: Backing | None = None  # set when the pages belong to someone else
    shared: bool = False  # VM_SHARED: MAP_SHARED of a RAM file, a SysV segment

    def __post_init__(self) -> None:
        self.top = self.top or self.end

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(eq=False)
class MemoryMap:
    """The regions of one address space (shared by CLONE_VM tasks)."""

    alloc: PhysAllocator
    regions: list[Region] = field(default_factory=list)
    users: int = 1
    start_brk: int = 0
    brk: int = 0
    end_brk: int = 0
    start_stack: int = 0
    exe: str = ""
    image: ElfImage | None = None  # the program, for symbolizing addresses
    load_base: int = 0  # where its link address 0 landed
    loadmap: LoadMap | None = None  # an FDPIC program's: where each segment landed
    cmdline: bytes = b""  # argv, NUL-separated (/proc/PID/cmdline)

    def add(self, block: Block, kind: str, name: str = "", prot: int = 7) -> Region:
        return self.insert(Region(block.start, block.end, block, kind, prot, name))

    def insert(self, region: Region) -> Region:
        self.regions.append(region)
        self.regions.sort(key=lambda r: r.start)
        return region

    def find(self, addr: int) -> Region | None:
        for region in self.regions:
            if region.start <= addr < region.end:
                return region
        return None

    def remove_range(self, region: Region, start: int, end: int) -> None:
        """Unmap [start, end) of `region`: whole, or (a region that owns its pages)
        head, tail or a middle split. Unmapping up to the end also frees the pages
        an mremap shrink left behind the mapping (nommu's shrink_vma)."""
        self.regions.remove(region)
        if region.backing is not None:
            region.backing.drop()
            return
        r = region
        if r.start < start:
            self.regions.append(Region(r.start, start, r.block, r.kind, r.prot, r.name, start))
        if end < r.end:
            self.regions.append(Region(end, r.end, r.block, r.kind, r.prot, r.name, r.top))
        self.alloc.free_range(start, (end if end < r.end else r.top) - start)
        self.regions.sort(key=lambda r: r.start)

    def get(self) -> MemoryMap:
        """Take a reference (a task starts sharing this memory)."""
        self.users += 1
        return self

    def put(self) -> bool:
        """Drop a reference; free every block at zero. True if it was freed."""
        self.users -= 1
        if self.users > 0:
            return False
        for region in list(self.regions):
            self.remove_range(region, region.start, region.end)
        return True

    def total(self) -> int:
        return sum(r.size for r in self.regions)

    def areas(self) -> list[tuple[int, int, int, str]]:
        """(start, end, prot, name) of each mapping, for /proc/PID/maps; prot
        carries MAPS_MAYSHARE and MAPS_SHARED (shown as "s" and "S")."""
        return [(r.start, r.end, r.prot | _share_bits(r), r.name) for r in self.regions]

    def sizes(self) -> list[tuple[str, int]]:
        """(kind, bytes) of each mapping, for /proc/PID/status."""
        return [(r.kind, r.size) for r in self.regions]

    def slack(self) -> int:
        """Bytes held past the end of mappings (an mremap shrink frees nothing)."""
        return sum(r.top - r.end for r in self.regions if r.backing is None)


MAPS_MAYSHARE, MAPS_SHARED = 0x100, 0x200


def _share_bits(r: Region) -> int:
    return (MAPS_MAYSHARE if r.mayshare else 0) | (MAPS_SHARED if r.shared else 0)


@dataclass(eq=False)
class FileCopy:
    """A read-only private copy of part of a file, which later read-only
    mappings of the same range share (a nommu vm_region with VM_MAYSHARE)."""

    copies: FileCopies
    inode: object
    pgoff: int
    block: Block
    users: int = 1

    @property
    def npages(self) -> int:
        return self.block.size // PAGE_SIZE

    def drop(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.copies.regions.remove(self)
            self.copies.alloc_free(self.block)


class FileCopies:
    """The machine's shareable file copies (part of nommu_region_tree)."""

    def __init__(self, alloc: PhysAllocator) -> None:
        self.alloc = alloc
        self.regions: list[FileCopy] = []

    def alloc_free(self, block: Block) -> None:
        self.alloc.free_range(block.start, block.size)

    def add(self, inode: object, pgoff: int, block: Block) -> FileCopy:
        copy = FileCopy(self, inode, pgoff, block)
        self.regions.append(copy)
        return copy

    def share(
        self, file: OpenFile, pgoff: int, size: int, prot: int, direct: bool
    ) -> Region | None:
        """A mapping of pages [pgoff, pgoff + size) of `file` inside an existing
        copy, or None. A copy that overlaps the range without containing it is
        a "sharing violation" (EINVAL) unless the file can be mapped directly."""
        inode, npages = file.inode(), size // PAGE_SIZE
        for c in sorted(self.regions, key=lambda c: c.block.start):
            if c.inode != inode or c.pgoff >= pgoff + npages or pgoff >= c.pgoff + c.npages:
                continue
            if not (c.pgoff <= pgoff and pgoff + npages <= c.pgoff + c.npages):
                if not direct:
                    raise SyscallError(Errno.EINVAL, "mapping overlaps a shared copy inexactly")
                continue
            c.users += 1
            start = c.block.start + (pgoff - c.pgoff) * PAGE_SIZE
            region = Region(start, start + size, c.block, "mmap", prot, file.path, file=inode)
            region.mayshare, region.backing = True, c
            return region
        return None
