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

from nommu.kernel.alloc import Block, PhysAllocator
from nommu.loaders.elf import ElfImage


@dataclass(eq=False, slots=True)
class Region:
    """One mapping: [start, end) backed by (part of) a physical block."""

    start: int
    end: int
    block: Block
    kind: str  # "image", "stack", "mmap", ...
    prot: int = 7
    name: str = ""  # backing file, or "[stack]"

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
    cmdline: bytes = b""  # argv, NUL-separated (/proc/PID/cmdline)

    def add(self, block: Block, kind: str, name: str = "", prot: int = 7) -> Region:
        region = Region(block.start, block.end, block, kind, prot, name)
        self.regions.append(region)
        self.regions.sort(key=lambda r: r.start)
        return region

    def find(self, addr: int) -> Region | None:
        for region in self.regions:
            if region.start <= addr < region.end:
                return region
        return None

    def remove_range(self, region: Region, start: int, end: int) -> None:
        """Unmap [start, end) of `region` (whole, head, tail or a middle split)."""
        self.alloc.free_range(start, end - start)
        self.regions.remove(region)
        if region.start < start:
            self.regions.append(
                Region(region.start, start, region.block, region.kind, region.prot, region.name)
            )
        if end < region.end:
            self.regions.append(
                Region(end, region.end, region.block, region.kind, region.prot, region.name)
            )
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
        for region in self.regions:
            self.alloc.free_range(region.start, region.size)
        self.regions.clear()
        return True

    def total(self) -> int:
        return sum(r.size for r in self.regions)

    def areas(self) -> list[tuple[int, int, int, str]]:
        """(start, end, prot, name) of each mapping, for /proc/PID/maps."""
        return [(r.start, r.end, r.prot, r.name) for r in self.regions]
