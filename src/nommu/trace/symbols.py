"""Addresses to names: the program's symbol table and DWARF line table,
read with pyelftools.

Tables are built once per executable image and cached on it; lookups are a
binary search. Addresses are link-time addresses (subtract the load base).
Line information exists only for code compiled with -g (the shipped guest
programs; not musl's libc.a), so `source_line` returns None for the rest.
"""

from __future__ import annotations

import bisect
import io
import posixpath
from dataclasses import dataclass
from functools import lru_cache

from nommu.loaders.elf import ElfImage


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    addr: int
    size: int


@lru_cache(maxsize=64)
def _table(image: ElfImage) -> tuple[list[int], list[Symbol]]:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    syms: list[Symbol] = []
    try:
        elf = ELFFile(io.BytesIO(image.data))
        thumb = elf["e_machine"] == "EM_ARM"  # (a Thumb function's value has bit 0 set)
        for section in elf.iter_sections():
            if isinstance(section, SymbolTableSection):
                for s in section.iter_symbols():
                    kind = s["st_info"]["type"]
                    if kind in ("STT_FUNC", "STT_OBJECT") and s.name:
                        value = (
                            s["st_value"] & ~1 if thumb and kind == "STT_FUNC" else s["st_value"]
                        )
                        syms.append(Symbol(s.name, value, s["st_size"]))
    except (ELFError, ValueError, KeyError):
        return [], []
    syms.sort(key=lambda s: s.addr)
    return [s.addr for s in syms], syms


def lookup(image: ElfImage | None, addr: int) -> tuple[Symbol, int] | None:
    """The symbol containing link address `addr` and the offset into it."""
    if image is None:
        return None
    return find(_table(image), addr)


SymbolTable = tuple[list[int], list[Symbol]]


def table(image: ElfImage) -> SymbolTable:
    """The image's sorted symbol table, for many lookups in a row (`find`)."""
    return _table(image)


def find(symtab: SymbolTable, addr: int) -> tuple[Symbol, int] | None:
    """`lookup` in a table already at hand."""
    addrs, syms = symtab
    i = bisect.bisect_right(addrs, addr) - 1
    if i < 0:
        return None
    sym = syms[i]
    if sym.size and addr >= sym.addr + sym.size:
        return None
    return sym, addr - sym.addr


def describe(image: ElfImage | None, load_base: int, addr: int) -> str:
    """`main+0x14`, or '' when no symbol covers the address."""
    found = lookup(image, addr - load_base)
    if found is None:
        return ""
    sym, off = found
    return f"{sym.name}+{off:#x}" if off else sym.name


def address_of(image: ElfImage | None, name: str) -> int | None:
    """The link address of function or object `name`, if the image has it."""
    return None if image is None else _by_name(image).get(name)


@lru_cache(maxsize=64)
def _by_name(image: ElfImage) -> dict[str, int]:
    return {sym.name: sym.addr for sym in reversed(_table(image)[1])}


@dataclass(frozen=True, slots=True)
class SourceLine:
    file: str  # as the compiler recorded it, e.g. "guest/src/hello.c"
    line: int


@lru_cache(maxsize=64)
def _lines(image: ElfImage) -> tuple[list[int], list[SourceLine | None]]:
    """Every row of every line program, sorted by address (None ends a sequence)."""
    from elftools.common.exceptions import DWARFError, ELFError
    from elftools.elf.elffile import ELFFile

    rows: list[tuple[int, int, SourceLine | None]] = []
    try:
        elf = ELFFile(io.BytesIO(image.data))
        if not elf.has_dwarf_info():
            return [], []
        dwarf = elf.get_dwarf_info()
        for cu in dwarf.iter_CUs():
            program = dwarf.line_program_for_CU(cu)
            if program is not None:
                rows.extend(_program_rows(program))
    except (DWARFError, ELFError, ValueError, KeyError, IndexError):
        return [], []
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[0] for r in rows], [r[2] for r in rows]


def _program_rows(program: object) -> list[tuple[int, int, SourceLine | None]]:
    """(address, order, line) rows of one CU's line program; a sequence's end
    sorts before a sequence starting at the same address; rows that cover no
    code (at the end address, or whole empty sequences) are dropped."""
    version = program.header.version  # type: ignore[attr-defined]
    files = program["file_entry"]  # type: ignore[index]
    dirs = program["include_directory"]  # type: ignore[index]
    names: dict[int, str] = {}
    rows: list[tuple[int, int, SourceLine | None]] = []
    sequence: list[tuple[int, int, SourceLine | None]] = []
    for entry in program.get_entries():  # type: ignore[attr-defined]
        state = entry.state
        if state is None:
            continue
        if state.end_sequence:
            covering = [row for row in sequence if row[0] < state.address]
            if covering:
                rows += covering
                rows.append((state.address, 0, None))
            sequence = []
            continue
        if state.file not in names:
            names[state.file] = _file_name(version, files, dirs, state.file)
        line = SourceLine(names[state.file], state.line) if state.line else None
        sequence.append((state.address, 1, line))
    return rows


def _file_name(version: int, files: list, dirs: list, index: int) -> str:  # type: ignore[type-arg]
    """A line program's file `index` as a path (DWARF 5 counts files and
    directories from 0, where entry 0 is the compilation's own; earlier
    versions from 1, with directory 0 meaning the compilation directory)."""
    i = index if version >= 5 else index - 1
    if not 0 <= i < len(files):
        return "?"
    entry = files[i]
    name = entry.name.decode(errors="replace")
    d = entry.dir_index if version >= 5 else entry.dir_index - 1
    base = dirs[0] if version >= 5 and dirs else b""
    parts = [base.decode(errors="replace")] if base else []
    if 0 <= d < len(dirs) and not (version >= 5 and d == 0):
        parts.append(dirs[d].decode(errors="replace"))
    return posixpath.normpath(posixpath.join(*parts, name))


def source_line(image: ElfImage | None, addr: int) -> SourceLine | None:
    """The file and line of the code at link address `addr`, if DWARF says."""
    if image is None:
        return None
    addrs, lines = _lines(image)
    i = bisect.bisect_right(addrs, addr) - 1
    return lines[i] if i >= 0 else None


def has_line_info(image: ElfImage | None) -> bool:
    return image is not None and bool(_lines(image)[0])
