"""`nommu elf2flt`: convert an ARM ELF program into a bFLT v4 file.

Debian ships no elf2flt, so nommu has its own, in the spirit of uClinux's:
the input is an ELF executable linked with `-Wl,-q` (--emit-relocs), which
keeps the relocations the linker applied. The output is the text segment,
the data segment and the bss size (loaders/bflt.py describes the format),
and a relocation for every word that holds an address: the linker's
R_ARM_ABS32 (and R_ARM_TARGET1, its alias in init/fini arrays).

Two kinds of program convert:
- -fno-pic -mword-relocations code: every address is a whole word in a
  literal pool or in data. The relocated words are written big-endian, as
  binfmt_flat expects in such a file.
- GOTPIC (FLAT_FLAG_GOTPIC) code, compiled -fPIC -msingle-pic-base
  -mpic-register=r10 -mno-pic-data-is-text-relative: the code reaches data
  through a global offset table it finds in r10, never PC-relatively, so
  text and data may land anywhere. The kernel points r10 at the start of
  data, so the GOT must open the data segment, and it relocates every GOT
  word up to a -1 that ends the GOT: the program is linked with a script
  that places them so (guest/flat/gotpic.ld; real elf2flt links with its
  own too). The GOT words hold flat addresses like the relocated words,
  and in a GOTPIC file all of them stay in the CPU's (little-endian) order.
The kind is found from the relocations: any GOT-relative one (R_ARM_GOT_BREL
and friends) makes a GOTPIC file.

What it cannot express is refused with a clear error (the relocation, where
it is and what it points to, and how to compile instead), never converted
wrongly:
- movw/movt pairs holding an address (R_ARM_*MOVW_ABS_NC/MOVT_ABS): bFLT
  relocates whole words only; compile with -mword-relocations.
- PC-relative references between text and data: binfmt_flat does not keep
  data at a fixed distance from text; compile with -fno-pic (or GOTPIC).
- code that finds its GOT PC-relatively (plain -fPIC/-fPIE: R_ARM_BASE_PREL,
  R_ARM_GOT_PREL): compile GOTPIC as above.
- ELF-FDPIC programs (function descriptors): nommu runs them as they are.
- thread-local storage, and anything else it does not know.
The relocation table is big-endian in both kinds.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import os
import struct
import sys
from dataclasses import dataclass

from nommu.loaders import fdpic
from nommu.loaders.bflt import (
    FLAT_FLAG_GOTPIC,
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
GOT_END = 0xFFFFFFFF  # the word after a GOTPIC program's GOT

# The ARM relocation types elf2flt meets, by what they mean for bFLT.
R_ARM_ABS32, R_ARM_TARGET1 = 2, 38
WORD_RELOCS = {R_ARM_ABS32, R_ARM_TARGET1}
# relative to the place: fine when the place and the target are in the same segment
PC_RELATIVE = {0, 3, 10, 11, 28, 29, 30, 40, 42, 49, 50, 51, 52, 53, 102, 103}
MOVW_MOVT = {43, 44, 47, 48}
# relative to the GOT's start (r10 in a GOTPIC program): GOT_BREL(12) pick a
# GOT entry, GOTOFF(12) reach data directly (the GOT and data move together)
GOT_RELATIVE = {26, 98}
GOTOFF = {24, 97}
# the GOT's own address PC-relatively: code that keeps data at a fixed
# distance from text (plain -fPIC), or R_ARM_GOT_ABS
GOT_ELSEWHERE = {25, 95, 96}
NAMES = {
    2: "R_ARM_ABS32", 3: "R_ARM_REL32", 24: "R_ARM_GOTOFF32", 25: "R_ARM_BASE_PREL",
    26: "R_ARM_GOT_BREL", 38: "R_ARM_TARGET1", 43: "R_ARM_MOVW_ABS_NC",
    44: "R_ARM_MOVT_ABS", 47: "R_ARM_THM_MOVW_ABS_NC", 48: "R_ARM_THM_MOVT_ABS",
    95: "R_ARM_GOT_ABS", 96: "R_ARM_GOT_PREL", 97: "R_ARM_GOTOFF12", 98: "R_ARM_GOT_BREL12",
}  # fmt: skip
NO_PIC = "-fno-pic -mword-relocations"
GOTPIC = "-fPIC -msingle-pic-base -mpic-register=r10 -mno-pic-data-is-text-relative"


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
    """The ELF program as elf2flt sees it: its text and data, where each
    relocated word is (ELF addresses), and for a GOTPIC program how many
    words its GOT has (at the start of data, before the -1; else 0)."""

    text: _Segment
    data: _Segment | None
    entry: int
    words: list[int]
    gotpic: bool = False
    got_words: int = 0

    def flat(self, addr: int, code_len: int) -> int:
        """The flat address of ELF address `addr` (text at 0, data at `code_len`)."""
        if self.data is not None and self.data.holds(addr):
            return code_len + addr - self.data.vaddr
        if self.text.holds(addr):
            return addr - self.text.vaddr
        if self.data is not None and self.text.vaddr < addr < self.data.vaddr:
            # The linker's alignment gap before data, which bFLT does not
            # have: only the bounds of empty sections point there (a static
            # C library's empty __init_array_start/_end); they stay equal.
            return code_len
        raise ConvertError(f"address {addr:#x} is in neither the text nor the data segment")


def convert(elf: bytes, stack_size: int = DEFAULT_STACK, compress: bool = False) -> bytes:
    """The bFLT file for ELF program `elf`, or ConvertError."""
    prog = _read(elf)
    text = bytearray(_bytes(elf, prog.text).ljust((prog.text.memsz + 3) & ~3, b"\0"))
    data = bytearray(_bytes(elf, prog.data) if prog.data else b"")
    data.extend(bytes(-len(data) % 4))
    bss = prog.data.memsz - prog.data.filesz if prog.data else 0
    code_len = len(text)
    _fix_got(prog, data, code_len)
    relocs = _fix_words(prog, text, data)
    body = bytes(text) + bytes(data) + struct.pack(f">{len(relocs)}I", *relocs)
    data_start = HEADER_SIZE + code_len
    data_end = data_start + len(data)
    flags = FLAT_FLAG_RAM | (FLAT_FLAG_GZIP if compress else 0)
    flags |= FLAT_FLAG_GOTPIC if prog.gotpic else 0
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


def _fix_got(prog: _Program, data: bytearray, code_len: int) -> None:
    """A GOTPIC program's GOT words (at the start of data) become flat
    addresses; the kernel relocates them without a table, up to the -1."""
    for i in range(prog.got_words):
        (value,) = struct.unpack_from("<I", data, 4 * i)
        struct.pack_into("<I", data, 4 * i, prog.flat(value, code_len) if value else 0)


def _fix_words(prog: _Program, text: bytearray, data: bytearray) -> list[int]:
    """Make every relocated word a flat address (big-endian, but in the CPU's
    order in a GOTPIC file) and return the relocation table: their flat
    addresses."""
    order = "<" if prog.gotpic else ">"
    relocs = []
    for where in sorted(set(prog.words)):
        place = prog.flat(where, len(text))
        buf, at = (text, place) if place < len(text) else (data, place - len(text))
        if at + 4 > len(buf):
            raise ConvertError(f"relocated word at {where:#x} is not inside text or data")
        if prog.gotpic and buf is data and at <= 4 * prog.got_words:
            raise ConvertError(f"a relocation at {where:#x} is inside the GOT")
        (value,) = struct.unpack_from("<I", buf, at)
        struct.pack_into(f"{order}I", buf, at, prog.flat(value, len(text)) if value else 0)
        relocs.append(place)
    return relocs


def _bytes(elf: bytes, seg: _Segment) -> bytes:
    return elf[seg.offset : seg.offset + seg.filesz]


def _read(elf: bytes) -> _Program:
    """Check the ELF file and find its segments, relocated words and GOT."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    if elf[:4] != b"\x7fELF":
        raise ConvertError("not an ELF file")
    if fdpic.is_fdpic(elf):
        raise ConvertError(
            "an ELF-FDPIC program: bFLT has no function descriptors; run it as it is "
            "(nommu loads ELF-FDPIC programs)"
        )
    try:
        f = ELFFile(io.BytesIO(elf))
        if f["e_machine"] != "EM_ARM" or f.elfclass != 32 or not f.little_endian:
            raise ConvertError(f"not a 32-bit little-endian ARM ELF file ({f['e_machine']})")
        text, data = _segments(f)
        words, gotpic = _words(f, text, data)
        got_words = _got(f, elf, data) if gotpic else 0
        return _Program(text, data, f["e_entry"], words, gotpic, got_words)
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


def _got(f: object, elf: bytes, data: _Segment | None) -> int:
    """The number of words in a GOTPIC program's GOT, which must start the
    data segment (where the kernel points r10) and end with a -1 word."""
    got = f.get_section_by_name(".got")  # type: ignore[attr-defined]
    symtab = f.get_section_by_name(".symtab")  # type: ignore[attr-defined]
    origin = symtab.get_symbol_by_name("_GLOBAL_OFFSET_TABLE_")
    where = origin[0]["st_value"] if origin else got["sh_addr"] if got else None
    link = "link with the GOT first in the data, then a -1 word (guest/flat/gotpic.ld does)"
    if data is None or where != data.vaddr:
        at = "nowhere" if where is None else f"at {where:#x}"
        raise ConvertError(
            f"the GOT is {at}, not at the start of the data segment, where binfmt_flat "
            f"points r10 in a GOTPIC program: {link}"
        )
    # The -1 must end the GOT itself (its last word, as gotpic.ld writes it,
    # or the word just after): a -1 further on would make the kernel take
    # ordinary data for GOT entries and "relocate" it.
    size = got["sh_addr"] + got["sh_size"] - where if got else 0
    for i in range(min(size // 4 + 1, data.filesz // 4)):
        (word,) = struct.unpack_from("<I", elf, data.offset + 4 * i)
        if word == GOT_END:
            return i
    raise ConvertError(f"the GOT has no -1 word at its end (binfmt_flat stops there): {link}")


def _words(f: object, text: _Segment, data: _Segment | None) -> tuple[list[int], bool]:
    """The ELF addresses of the words holding addresses, from the kept
    relocation sections, and whether the code uses a GOT the GOTPIC way;
    ConvertError for relocations bFLT cannot express."""
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

    words, gotpic = [], False
    for sec in kept:
        for rel in sec.iter_relocations():
            kind, place = rel["r_info_type"], rel["r_offset"]
            sym = symtab.get_symbol(rel["r_info_sym"])
            target = sym["st_value"] if sym is not None else 0
            if kind in WORD_RELOCS:
                words.append(place)
                continue
            if kind in GOT_RELATIVE:
                gotpic = True
                continue
            # (described only when refused: naming the function means a walk
            # of every symbol, too slow for each of a C library's relocations)
            what = functools.partial(_describe, f, symtab, kind, place, sym)
            if kind in PC_RELATIVE or kind in GOTOFF:
                base = place if kind in PC_RELATIVE else (data.vaddr if data else 0)
                if target and segment(base) != segment(target):
                    raise ConvertError(
                        f"{what()}: a reference from {segment(base)} to {segment(target)}, "
                        "but bFLT does not keep data at a fixed distance from text; "
                        f"compile with {NO_PIC} or, for a GOTPIC file, {GOTPIC}"
                    )
                gotpic |= kind in GOTOFF
            elif kind in MOVW_MOVT:
                raise ConvertError(
                    f"{what()}: an address built by movw/movt, but bFLT relocates whole "
                    "words only; compile with -mword-relocations"
                )
            elif kind in GOT_ELSEWHERE:
                raise ConvertError(
                    f"{what()}: the code finds its GOT PC-relatively, but bFLT does not keep "
                    f"data at a fixed distance from text; compile with {GOTPIC} (a GOTPIC "
                    f"file: the kernel gives the GOT in r10) or with {NO_PIC}"
                )
            else:
                raise ConvertError(f"{what()}: this relocation type is not supported")
    return words, gotpic


def _describe(f: object, symtab: object, kind: int, place: int, sym: object) -> str:
    """'R_ARM_REL32 at 0x1f4 (in main) to greeting': a relocation for an
    error message; the target is its symbol, or its section."""
    name = NAMES.get(kind, f"relocation type {kind}")
    if sym is None:
        target = "nothing"
    elif sym.name:  # type: ignore[attr-defined]
        target = sym.name  # type: ignore[attr-defined]
    else:
        shndx = sym["st_shndx"]  # type: ignore[index]
        target = f.get_section(shndx).name if isinstance(shndx, int) else "?"  # type: ignore[attr-defined]
        target = f"section {target}"
    funcs = [
        s
        for s in symtab.iter_symbols()  # type: ignore[attr-defined]
        if s["st_info"]["type"] == "STT_FUNC"
        and (s["st_value"] & ~1) <= place < (s["st_value"] & ~1) + s["st_size"]
    ]
    inside = f" (in {funcs[0].name})" if funcs else ""
    return f"{name} at {place:#x}{inside} to {target}"


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
        write_program(out, convert(elf, args.stack, args.compress))
    except OSError as err:
        print(f"nommu elf2flt: {err.filename or args.elf}: {err.strerror}", file=sys.stderr)
        return 1
    except ConvertError as err:
        print(f"nommu elf2flt: {args.elf}: {err}", file=sys.stderr)
        return 1
    return 0


def write_program(path: str, program: bytes) -> None:
    """Write `program` to `path` as a linker does: a new executable file
    (mode 755) put in place at once, never written through a link to
    another file (a hard link to a shipped program, a symlink)."""
    staging = path + ".tmp"
    with open(staging, "wb") as f:
        f.write(program)
    os.chmod(staging, 0o755)
    os.replace(staging, path)


def _size(text: str) -> int:
    value = int(text, 0)
    if not 0 <= value < 1 << 28:
        raise argparse.ArgumentTypeError(f"stack size {text} is out of range")
    return value
