"""Addresses to names: the program's symbol table, read with pyelftools.

Tables are built once per executable image and cached on it; lookups are a
binary search. Addresses are link-time addresses (subtract the load base).
"""

from __future__ import annotations

import bisect
import io
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
        for section in elf.iter_sections():
            if isinstance(section, SymbolTableSection):
                for s in section.iter_symbols():
                    if s["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT") and s.name:
                        syms.append(Symbol(s.name, s["st_value"], s["st_size"]))
    except (ELFError, ValueError, KeyError):
        return [], []
    syms.sort(key=lambda s: s.addr)
    return [s.addr for s in syms], syms


def lookup(image: ElfImage | None, addr: int) -> tuple[Symbol, int] | None:
    """The symbol containing link address `addr` and the offset into it."""
    if image is None:
        return None
    addrs, syms = _table(image)
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
