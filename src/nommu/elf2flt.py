"""`nommu elf2flt`: convert an ARM ELF program into a bFLT v4 file.

Debian ships no elf2flt, so nommu has its own, in the spirit of uClinux's:
the input is an ELF executable linked with `-Wl,-q` (--emit-relocs), which
keeps the relocations the linker applied. The output is the text segment,
the data segment and the bss size (loaders/bflt.py describes the format),
and a relocation for every word that holds an address: the linker's
R_ARM_ABS32 (and R_ARM_TARGET1, its alias in init/fini arrays).

What it cannot express is refused with a clear error, never converted
wrongly:
- movw/movt pairs holding an address (R_ARM_*MOVW_ABS_NC/MOVT_ABS): bFLT
  relocates whole words only; compile with -mword-relocations.
- PC-relative references between text and data: binfmt_flat does not keep
  data at a fixed distance from text; compile with -fno-pic.
- a GOT (-fPIC/-fPIE code): real elf2flt makes GOTPIC files from code built
  with -msingle-pic-base; this one does not (the loader does load them).
- thread-local storage.
The converted words are written big-endian, as binfmt_flat expects in a
non-GOTPIC file; the relocation table is big-endian too.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import struct
import sys
from dataclasses import dataclass

from nommu.loaders.bflt import (
    FLAT_FLAG_GZIP,
    FLAT_FLAG_RAM,
    FLAT_VERSION,
    HEADER_SIZE,
    MAGIC,
)

EM_ARM = 40
SHT_REL, SHT_RELA = 9, 4
SHF_ALLOC = 0x2
PT_LOAD = 1
PF_X, PF_W = 1, 2
DEFAULT_STACK = 4096  # elf2flt's default stack size

R_ARM_ABS32, R_ARM_TARGET1 = 2, 38
WORD_RELOCS = {R_ARM_ABS32, R_ARM_TARGET1}
# relative to the place: fine when the place and the target are in the same segment
PC_RELATIVE = {0, 3, 10, 11, 28, 29, 30, 40, 42, 49, 50, 51, 52, 53, 102, 103}
MOVW_MOVT = {43, 44, 47, 48}
GOT = {24, 25, 26, 27, 31, 95, 96, 97, 98}


class ConvertError(Exception):
    """The ELF file cannot be converted; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class _Segment:
    vaddr: int
    offset: int
    filesz: int
    memsz: int

    def holds(self, addr: int) -> bool:
        return self.vaddr <= addr <= self.vaddr + self.memsz


@dataclass(frozen=True, slots=True)
class _Program:
    """The ELF program as elf2flt sees it: its text and data, and where
    each relocated word is (ELF addresses)."""

    text: _Segment
    data: _Segment | None
    entry: int
    words: list[int]


def convert(elf: bytes, stack_size: int = DEFAULT_STACK, compress: bool = False) -> bytes:
    """The bFLT file for ELF program `elf`, or ConvertError."""
    prog = _read(elf)
    text = bytearray(_bytes(elf, prog.text).ljust((prog.text.memsz + 3) & ~3, b"\0"))
    data = bytearray(_bytes(elf, prog.data) if prog.data else b"")
    data.extend(bytes(-len(data) % 4))
    bss = prog.data.memsz - prog.data.filesz if prog.data else 0
    code_len = len(text)

    def flat(addr: int) -> int:
        if prog.data is not None and prog.data.holds(addr):
            return code_len + addr - prog.data.vaddr
        if prog.text.holds(addr):
            return addr - prog.text.vaddr
        if prog.data is not None and prog.text.vaddr < addr < prog.data.vaddr:
            # The linker's alignment gap before data, which bFLT does not
            # have: only the bounds of empty sections point there (a static
            # C library's empty __init_array_start/_end); they stay equal.
            return code_len
        raise ConvertError(f"address {addr:#x} is in neither the text nor the data segment")

    relocs = []
    for where in sorted(set(prog.words)):
        place = flat(where)
        buf, at = (text, place) if place < code_len else (data, place - code_len)
        if at + 4 > len(buf):
            raise ConvertError(f"relocated word at {where:#x} is not inside text or data")
        (value,) = struct.unpack_from("<I", buf, at)
        struct.pack_into(">I", buf, at, flat(value) if value else 0)
        relocs.append(place)
    body = bytes(text) + bytes(data) + struct.pack(f">{len(relocs)}I", *relocs)
    data_start = HEADER_SIZE + code_len
    data_end = data_start + len(data)
    flags = FLAT_FLAG_RAM | (FLAT_FLAG_GZIP if compress else 0)
    header = struct.pack(
        ">4sIIIIIIIIII20x",
        MAGIC,
        FLAT_VERSION,
        HEADER_SIZE + prog.entry - prog.text.vaddr,
        data_start,
        data_end,
        data_end + bss,
        stack_size,
        data_end,
        len(relocs),
        flags,
        0,
    )
    if compress:
        body = gzip.compress(body, compresslevel=9, mtime=0)
    return header + body


def _bytes(elf: bytes, seg: _Segment) -> bytes:
    return elf[seg.offset : seg.offset + seg.filesz]


def _read(elf: bytes) -> _Program:
    """Check the ELF file and find its segments and relocated words."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    if elf[:4] != b"\x7fELF":
        raise ConvertError("not an ELF file")
    try:
        f = ELFFile(io.BytesIO(elf))
        if f["e_machine"] != "EM_ARM" or f.elfclass != 32 or not f.little_endian:
            raise ConvertError(f"not a 32-bit little-endian ARM ELF file ({f['e_machine']})")
        text, data = _segments(f)
        words = _words(f, text, data)
        return _Program(text, data, f["e_entry"], words)
    except (ELFError, ValueError, KeyError, IndexError, struct.error) as err:
        raise ConvertError(f"malformed ELF file: {err}") from None


def _segments(f: object) -> tuple[_Segment, _Segment | None]:
    loads = [s for s in f.iter_segments() if s["p_type"] == "PT_LOAD"]  # type: ignore[attr-defined]
    segs = [
        (s["p_flags"], _Segment(s["p_vaddr"], s["p_offset"], s["p_filesz"], s["p_memsz"]))
        for s in loads
    ]
    texts = [seg for flags, seg in segs if flags & PF_X]
    datas = [seg for flags, seg in segs if flags & PF_W and not flags & PF_X]
    if len(texts) != 1 or len(datas) > 1 or len(segs) != len(texts) + len(datas):
        raise ConvertError(
            "want one executable PT_LOAD segment and at most one writable one, "
            f"found {len(texts)} and {len(datas)} of {len(segs)}"
        )
    return texts[0], datas[0] if datas else None


def _words(f: object, text: _Segment, data: _Segment | None) -> list[int]:
    """The ELF addresses of the words holding addresses, from the kept
    relocation sections; ConvertError for relocations bFLT cannot express."""
    symtab = f.get_section_by_name(".symtab")  # type: ignore[attr-defined]
    kept = [
        s
        for s in f.iter_sections()  # type: ignore[attr-defined]
        if s["sh_type"] in ("SHT_REL", "SHT_RELA")
        and s["sh_info"]
        and f.get_section(s["sh_info"])["sh_flags"] & SHF_ALLOC  # type: ignore[attr-defined]
    ]
    if not kept or symtab is None:
        raise ConvertError(
            "no relocation sections: link the program with -Wl,-q (--emit-relocs) "
            "so that elf2flt can find the addresses in it"
        )

    def segment(addr: int) -> str:
        return "data" if data is not None and data.holds(addr) else "text"

    words = []
    for sec in kept:
        for rel in sec.iter_relocations():
            kind, place = rel["r_info_type"], rel["r_offset"]
            sym = symtab.get_symbol(rel["r_info_sym"])
            target = sym["st_value"] if sym is not None else 0
            if kind in WORD_RELOCS:
                words.append(place)
            elif kind in PC_RELATIVE:
                if target and segment(place) != segment(target):
                    raise ConvertError(
                        f"PC-relative reference from {segment(place)} to {segment(target)} "
                        f"at {place:#x} ({sym.name or 'a section'}): bFLT does not keep data "
                        "at a fixed distance from text; compile with -fno-pic"
                    )
            elif kind in MOVW_MOVT:
                raise ConvertError(
                    f"an address built by movw/movt at {place:#x} ({sym.name}): bFLT "
                    "relocates whole words only; compile with -mword-relocations"
                )
            elif kind in GOT:
                raise ConvertError(
                    f"the program uses a GOT (relocation type {kind} at {place:#x}): "
                    "nommu elf2flt converts -fno-pic code only; compile with -fno-pic "
                    "-mword-relocations"
                )
            else:
                raise ConvertError(f"relocation type {kind} at {place:#x} is not supported")
    return words


def main(argv: list[str]) -> int:
    """The command line: nommu elf2flt [-s STACK] [-z] [-o OUT] ELF."""
    p = argparse.ArgumentParser(
        prog="nommu elf2flt",
        description="Convert an ARM ELF program linked with -Wl,-q into a bFLT v4 file.",
    )
    p.add_argument("elf", metavar="ELF")
    p.add_argument("-o", dest="output", metavar="OUT", help="output file (default: ELF.bflt)")
    p.add_argument(
        "-s", dest="stack", type=_size, default=DEFAULT_STACK, help="stack size (default 4096)"
    )
    p.add_argument("-z", dest="compress", action="store_true", help="gzip it (FLAT_FLAG_GZIP)")
    args = p.parse_args(argv)
    out = args.output or args.elf + ".bflt"
    try:
        with open(args.elf, "rb") as f:
            elf = f.read()
        flat = convert(elf, args.stack, args.compress)
        with open(out, "wb") as f:
            f.write(flat)
        os.chmod(out, 0o755)  # a program, as a linker leaves it
    except OSError as err:
        print(f"nommu elf2flt: {err.filename or args.elf}: {err.strerror}", file=sys.stderr)
        return 1
    except ConvertError as err:
        print(f"nommu elf2flt: {args.elf}: {err}", file=sys.stderr)
        return 1
    return 0


def _size(text: str) -> int:
    value = int(text, 0)
    if not 0 <= value < 1 << 28:
        raise argparse.ArgumentTypeError(f"stack size {text} is out of range")
    return value
