"""ELF-FDPIC: the load map a no-MMU kernel gives an FDPIC program.

An FDPIC ELF file (EI_OSABI = ELFOSABI_ARM_FDPIC on ARM) is position
independent segment by segment: binfmt_elf_fdpic may put each PT_LOAD
segment anywhere, independently of the others (unless e_flags has EF_ARM_PIC,
which asks for a constant displacement), so the program's text can be shared
by every process that runs it while each gets its own data. The program
finds out where its segments went from a load map the kernel writes on the
stack (include/uapi/linux/elf-fdpic.h):

    struct elf32_fdpic_loadmap {
        Elf32_Half version;     (0)
        Elf32_Half nsegs;
        struct elf32_fdpic_loadseg { Elf32_Addr addr, p_vaddr; Elf32_Word p_memsz; } segs[];
    };

one entry per PT_LOAD, in program header order (which the ELF
specification makes ascending p_vaddr: nommu lists them so). On ARM the kernel starts the
program with r7 = the program's load map, r8 = the interpreter's (0 for a
static program), r9 = the run-time address of its dynamic section (0 if it
has none) and r10 = the start of its data (ELF_FDPIC_PLAT_INIT and
start_thread). The program (its C library's start code) then applies the
linker's .rofixup list through the load map and finds its GOT.

An ET_EXEC FDPIC file is accepted on no-MMU: only a non-FDPIC ELF must be
ET_DYN there.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nommu.loaders.elf import Segment

ELFOSABI_ARM_FDPIC = 65
EI_OSABI = 7
EM_ARM = 40
EF_ARM_PIC = 0x20  # e_flags: the segments keep their distances (constant displacement)
LOADMAP_VERSION = 0


def is_fdpic(data: bytes) -> bool:
    """Whether ELF file `data` is an ARM FDPIC program (elf_check_fdpic)."""
    return len(data) > 19 and data[EI_OSABI] == ELFOSABI_ARM_FDPIC and data[18] == EM_ARM


@dataclass(frozen=True, slots=True)
class LoadSeg:
    """One PT_LOAD segment: where it is (`addr`) and where it was linked."""

    addr: int
    p_vaddr: int
    p_memsz: int


@dataclass(frozen=True, slots=True)
class LoadMap:
    """Where each PT_LOAD segment of a program landed, in program header order."""

    segs: tuple[LoadSeg, ...]

    @classmethod
    def shifted(cls, segments: Iterable[Segment], load_base: int) -> LoadMap:
        """The map of segments loaded at a constant displacement `load_base`."""
        return cls(tuple(LoadSeg(s.vaddr + load_base, s.vaddr, s.memsz) for s in segments))

    def find(self, vaddr: int) -> int | None:
        """The run-time address of link-time address `vaddr`, None if no
        segment holds it. The segment that holds it wins; failing that, one
        it is one past the end of (a symbol like `_end`), as a segment that
        starts there may be somewhere else entirely."""
        for seg in self.segs:
            if seg.p_vaddr <= vaddr < seg.p_vaddr + seg.p_memsz:
                return seg.addr + vaddr - seg.p_vaddr
        for seg in self.segs:
            if vaddr == seg.p_vaddr + seg.p_memsz:
                return seg.addr + seg.p_memsz
        return None

    def address(self, vaddr: int) -> int:
        """find(vaddr) for an address a segment is known to hold."""
        addr = self.find(vaddr)
        if addr is None:
            raise ValueError(f"{vaddr:#x} is in no segment")
        return addr

    def pack(self) -> bytes:
        """struct elf32_fdpic_loadmap, as the kernel writes it on the stack."""
        head = struct.pack("<HH", LOADMAP_VERSION, len(self.segs))
        return head + b"".join(struct.pack("<III", s.addr, s.p_vaddr, s.p_memsz) for s in self.segs)
