"""Reading and checking an ELF executable for the no-MMU ELF loader.

Only the headers matter for loading: the ELF header and the program headers
(PT_LOAD segments, PT_INTERP, PT_GNU_STACK). Every check a malformed file can
fail produces a `LoadError` with one line that says what is wrong and, where
there is one, what to do about it.

No-MMU rule (binfmt_elf_fdpic, reference section 5): an ordinary ELF is
accepted only as ET_DYN (position independent), because it must be placed at
whatever physical address is free; an ET_EXEC file wants fixed addresses and
is refused with ENOEXEC. An ARM FDPIC program (loaders/fdpic.py) is accepted
as either: each of its segments can go anywhere.

The program's machine (e_machine) must be one an architecture in
`nommu.arch` runs; the image records it, and exec checks the machine's CPU
is that architecture.
"""

from __future__ import annotations

import dataclasses
import itertools
import struct
from dataclasses import dataclass

from nommu import arch
from nommu.abi.errno import Errno
from nommu.loaders import fdpic

PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_PHDR = 6
PT_TLS = 7
PT_GNU_STACK = 0x6474E551
ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
PF_X, PF_W, PF_R = 1, 2, 4

DEFAULT_STACK = 131072  # binfmt_elf_fdpic's default when PT_GNU_STACK gives no size
MIN_STACK = 2 * 4096

_EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
_PHDR = struct.Struct("<IIIIIIII")

MACHINES = {
    0: "no machine",
    2: "SPARC",
    3: "i386",
    4: "m68k",
    8: "MIPS",
    20: "PowerPC",
    21: "PowerPC64",
    22: "S/390",
    40: "ARM",
    42: "SuperH",
    43: "SPARC64",
    50: "IA-64",
    62: "x86-64",
    94: "Xtensa",
    106: "Blackfin",
    183: "AArch64",
    189: "MicroBlaze",
    243: "RISC-V",
    258: "LoongArch",
}
_TYPES = {
    ET_REL: "a relocatable object file (.o), not a linked program",
    ET_CORE: "a core dump, not a program",
}


class LoadError(Exception):
    """The file cannot be loaded: `errno` for the guest, `message` for a person."""

    def __init__(self, errno: Errno, message: str) -> None:
        super().__init__(message)
        self.errno = errno
        self.message = message


@dataclass(frozen=True, slots=True)
class Segment:
    vaddr: int
    memsz: int
    offset: int
    filesz: int
    flags: int


@dataclass(frozen=True, slots=True)
class ElfImage:
    """A checked executable: everything exec needs, nothing it does not."""

    data: bytes
    etype: int
    machine: int  # e_machine: which architecture runs it (nommu.arch)
    entry: int
    phoff: int
    phnum: int
    phentsize: int
    segments: tuple[Segment, ...]
    stack_size: int
    low: int  # lowest PT_LOAD address, page aligned down
    high: int  # end of the highest PT_LOAD, page aligned up
    stack_given: int = 0  # the stack size PT_GNU_STACK asked for (0: none, the default)
    fdpic: bool = False  # an ELF-FDPIC program: its segments may land anywhere (fdpic.py)
    eflags: int = 0  # e_flags (FDPIC: EF_ARM_PIC asks for a constant displacement)
    dynamic: int | None = None  # PT_DYNAMIC's address (FDPIC: r9 at start), if any

    @property
    def span(self) -> int:
        """Bytes the image needs as one contiguous block."""
        return self.high - self.low

    @property
    def is_pie(self) -> bool:
        return self.etype == ET_DYN

    @property
    def start_data(self) -> int | None:
        """mm->start_data, relative to the load base: the first loaded segment
        that is not executable, as binfmt_elf_fdpic finds it (None if there is
        none). ARM's start_thread passes it to a no-MMU program in r10."""
        return next((seg.vaddr for seg in self.segments if not seg.flags & PF_X), None)

    def phdr_vaddr(self) -> int | None:
        """Where the program headers appear in the loaded image (for AT_PHDR)."""
        for seg in self.segments:
            if seg.offset <= self.phoff < seg.offset + seg.filesz:
                return seg.vaddr + self.phoff - seg.offset
        return None


def describe(data: bytes) -> str:
    """What a file nommu cannot run is, in words (for error messages)."""
    if data[:4] == b"bFLT":
        return "a bFLT flat binary (nommu runs bFLT programs on ARM only)"
    if data[:2] == b"#!":
        return "a script"
    if data[:4] != b"\x7fELF":
        return "not an ELF file"
    bits = {1: "32-bit", 2: "64-bit"}.get(data[4], "unknown-class") if len(data) > 4 else "?"
    machine = struct.unpack_from("<H", data, 18)[0] if len(data) >= 20 else -1
    kind = "ELF-FDPIC" if fdpic.is_fdpic(data) else "ELF"
    return f"a {bits} {MACHINES.get(machine, f'machine {machine}')} {kind} file"


def parse(data: bytes, *, allow_exec: bool = False) -> ElfImage:
    """Check `data` is a loadable program and describe it, or raise LoadError."""
    if len(data) < 4 or data[:4] != b"\x7fELF":
        raise LoadError(Errno.ENOEXEC, f"not an ELF executable ({describe(data)})")
    if len(data) < _EHDR.size:
        raise LoadError(Errno.ENOEXEC, "truncated ELF header")
    ident, etype, machine, _v, entry, phoff, _sh, eflags, _eh, phentsize, phnum, *_ = (
        _EHDR.unpack_from(data)
    )
    is_fdpic = fdpic.is_fdpic(data)
    if ident[4] != 1 or ident[5] != 1 or arch.for_elf_machine(machine) is None:
        raise LoadError(Errno.ENOEXEC, _foreign(data, machine))
    if etype in _TYPES:
        raise LoadError(Errno.ENOEXEC, f"not an executable: it is {_TYPES[etype]}")
    if etype == ET_EXEC and not allow_exec and not is_fdpic:
        raise LoadError(
            Errno.ENOEXEC,
            "a fixed-address (ET_EXEC) program cannot be placed "
            "on a no-MMU machine: link it with -static-pie (or run with --mmu)",
        )
    if etype not in (ET_EXEC, ET_DYN):
        raise LoadError(Errno.ENOEXEC, f"unknown ELF type {etype}")
    segments, interp, stack, dynamic = _program_headers(data, phoff, phentsize, phnum)
    if interp is not None:
        raise LoadError(
            Errno.ENOEXEC,
            f"dynamically linked (wants the interpreter {interp}): "
            "link it statically with -static-pie",
        )
    image = _image(data, etype, machine, entry, phoff, phnum, phentsize, segments, stack)
    if not is_fdpic:
        return image
    return dataclasses.replace(image, fdpic=True, eflags=eflags, dynamic=dynamic)


def _foreign(data: bytes, machine: int) -> str:
    """Why a well-formed ELF file is not a program for any of nommu's CPUs."""
    what = describe(data)
    if machine in MACHINES:
        what += f" (e_machine {machine})"
    names = arch.names()
    article = "an" if names[0] in "aeiou" else "a"
    return f"not {article} {names} program: it is {what}"


def _program_headers(
    data: bytes, phoff: int, phentsize: int, phnum: int
) -> tuple[list[Segment], str | None, int, int | None]:
    if phnum == 0 or phentsize != _PHDR.size:
        raise LoadError(
            Errno.ENOEXEC, f"bad program header table (phnum={phnum}, phentsize={phentsize})"
        )
    if phoff + phnum * phentsize > len(data):
        raise LoadError(Errno.ENOEXEC, "truncated: program headers run past the end of file")
    segments: list[Segment] = []
    interp: str | None = None
    dynamic: int | None = None
    stack = 0
    for i in range(phnum):
        ptype, off, vaddr, _pa, filesz, memsz, flags, _al = _PHDR.unpack_from(
            data, phoff + i * phentsize
        )
        if ptype == PT_LOAD:
            _check_segment(data, i, off, filesz, memsz, vaddr)
            segments.append(Segment(vaddr, memsz, off, filesz, flags))
        elif ptype == PT_INTERP:
            raw = data[off : off + filesz].rstrip(b"\0").decode("ascii", "backslashreplace")
            interp = raw.encode("unicode_escape").decode("ascii")[:200]
        elif ptype == PT_GNU_STACK:
            stack = memsz
        elif ptype == PT_DYNAMIC:
            dynamic = vaddr
    if not segments:
        raise LoadError(Errno.ENOEXEC, "no loadable segments (PT_LOAD)")
    return segments, interp, stack, dynamic


def _check_segment(data: bytes, i: int, off: int, filesz: int, memsz: int, vaddr: int) -> None:
    if filesz > memsz:
        raise LoadError(
            Errno.ENOEXEC,
            f"inconsistent segment {i}: file size {filesz:#x} exceeds memory size {memsz:#x}",
        )
    if off + filesz > len(data):
        raise LoadError(
            Errno.ENOEXEC,
            f"truncated: segment {i} needs bytes up to "
            f"{off + filesz:#x}, the file has {len(data):#x}",
        )
    if vaddr + memsz > 0xFFFFFFFF:
        raise LoadError(Errno.ENOEXEC, f"inconsistent segment {i}: ends past 4 GiB")


def _image(
    data: bytes,
    etype: int,
    machine: int,
    entry: int,
    phoff: int,
    phnum: int,
    phentsize: int,
    segments: list[Segment],
    stack: int,
) -> ElfImage:
    segments.sort(key=lambda s: s.vaddr)
    for a, b in itertools.pairwise(segments):
        if a.vaddr + a.memsz > b.vaddr:
            raise LoadError(Errno.ENOEXEC, "inconsistent: PT_LOAD segments overlap")
    low = segments[0].vaddr & ~0xFFF
    high = (segments[-1].vaddr + segments[-1].memsz + 0xFFF) & ~0xFFF
    if not any(s.vaddr <= entry < s.vaddr + s.memsz and s.flags & PF_X for s in segments):
        raise LoadError(
            Errno.ENOEXEC, f"inconsistent: entry point {entry:#x} is not in an executable segment"
        )
    stack_size = max(stack or DEFAULT_STACK, MIN_STACK)
    return ElfImage(
        data,
        etype,
        machine,
        entry,
        phoff,
        phnum,
        phentsize,
        tuple(segments),
        (stack_size + 0xFFF) & ~0xFFF,
        low,
        high,
        stack,
    )
