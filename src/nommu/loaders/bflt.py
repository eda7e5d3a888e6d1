"""Reading and checking a bFLT ("binary flat") executable, the format most
no-MMU ARM boards run (Linux's fs/binfmt_flat.c; made by elf2flt).

The file: a 64-byte big-endian header, then the text (the header counts as
part of it: "text" is file bytes [0, data_start)), the initialized data
[data_start, data_end) and a table of relocations (reloc_count big-endian
words at reloc_start). Version 4 only (the old version 2 is long gone).

Addresses inside the program are "flat addresses": 0 is the first byte of
code after the header, and the data follows the code (flat address
`code_len` = data_start - 64 is the first byte of data). The loader does
not keep data right after text, though: on ARM it leaves one word for the
(historical) shared-library table and aligns data to 32 bytes, so a program
cannot reach its data PC-relatively; every pointer goes through a relocation.

Relocations (rev 4): each table entry is the flat address of a 32-bit word
to fix; the word holds a flat address, to which the loader adds where that
part of the program was placed. Table entries are big-endian; the words
themselves are big-endian too (the loader byte-swaps them), except in a
GOTPIC program, whose words are already in the CPU's order. A word of 0 is
left alone (C++ constructor tables test for 0). In a GOTPIC program, the
global offset table at the start of data is relocated too, word by word
(CPU order) up to the terminating -1.

FLAT_FLAG_GZIP: everything after the header is one gzip stream;
FLAT_FLAG_GZDATA: only data and relocations are. FLAT_FLAG_RAM asks for the
whole program in RAM; nommu always does that (one block for text, data, bss
and the stack), which is also what binfmt_flat does for a compressed file.

Everything a malformed file can fail is found here, before loading:
`parse` raises LoadError (ENOEXEC), and `FlatImage.place` cannot fail.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from nommu.abi.errno import Errno
from nommu.loaders.elf import ET_DYN, PF_R, PF_W, PF_X, ElfImage, LoadError, Segment

MAGIC = b"bFLT"
FLAT_VERSION = 4
HEADER_SIZE = 64
FLAT_FLAG_RAM = 0x1
FLAT_FLAG_GOTPIC = 0x2
FLAT_FLAG_GZIP = 0x4
FLAT_FLAG_GZDATA = 0x8
FLAT_DATA_ALIGN = 0x20
FLAT_STACK_ALIGN = 8  # ARM: ARCH_SLAB_MINALIGN
DATA_GAP = 4  # the one-entry shared-library table word before data (ARM)
EM_ARM = 40  # a bFLT file names no machine: nommu runs bFLT on ARM only

_HEADER = struct.Struct(">4sIIIIIIIIII20x")


@dataclass(frozen=True, slots=True)
class Header:
    """The header's fields, as binfmt_flat reads them."""

    rev: int
    entry: int
    data_start: int
    data_end: int
    bss_end: int
    stack_size: int
    reloc_start: int
    reloc_count: int
    flags: int
    build_date: int


@dataclass(frozen=True, slots=True)
class FlatImage(ElfImage):
    """A checked bFLT program. Its two segments (text at 0, data at
    `data_offset`) give the layout inside one block; `fixups` are the words
    to relocate, as (offset in the block, offset of what it points to)."""

    header: Header | None = None
    data_offset: int = 0  # where data starts in the block (after the gap)
    data_len: int = 0
    bss_len: int = 0
    fixups: tuple[tuple[int, int], ...] = ()

    @property
    def start_data(self) -> int:
        """Where the data (and a GOTPIC program's GOT) starts in the block."""
        return self.data_offset

    @property
    def end_bss(self) -> int:
        """Offset in the block just past the bss (where the brk starts)."""
        return self.data_offset + self.data_len + self.bss_len

    def block_size(self, args_bytes: int) -> int:
        """The one block binfmt_flat allocates: text, data, bss, then the
        stack, which gets the header's stack_size plus room for the argument
        strings and pointer arrays (`args_bytes`)."""
        relocs = self.header.reloc_count * 4 if self.header else 0
        stack = self.stack_size + args_bytes
        end = self.data_offset + self.data_len + max(self.bss_len + stack, relocs)
        return (end + 0xFFF) & ~0xFFF

    def place(self, base: int) -> list[tuple[int, bytes]]:
        """The block's contents when it starts at `base` (page aligned): the
        text, the shared-library word (the data's own address), the
        relocated data; (address, bytes) pairs, everything else zero."""
        text = bytearray(self.data[: self.segments[0].filesz])
        start = self.segments[1].offset
        data = bytearray(self.data[start : start + self.data_len])
        for where, value in self.fixups:
            word = struct.pack("<I", (base + value) & 0xFFFFFFFF)
            if where < len(text):
                text[where : where + 4] = word
            else:
                at = where - self.data_offset
                data[at : at + 4] = word
        gap = struct.pack("<I", base + self.data_offset)
        return [(base, bytes(text)), (base + self.data_offset - 4, gap + bytes(data))]


def is_flat(head: bytes) -> bool:
    return head[:4] == MAGIC


def parse(data: bytes) -> FlatImage:
    """Check `data` is a loadable bFLT v4 program and describe it, or raise
    LoadError (ENOEXEC) saying what is wrong."""
    if len(data) < HEADER_SIZE or data[:4] != MAGIC:
        raise LoadError(Errno.ENOEXEC, "truncated bFLT header" if data[:4] == MAGIC else "not bFLT")
    h = Header(*_HEADER.unpack_from(data)[1:])
    if h.rev != FLAT_VERSION:
        raise LoadError(Errno.ENOEXEC, f"bFLT version {h.rev}: nommu loads version 4 only")
    code_len, data_len, bss_len = _sizes(h)
    body = _body(data, h)
    if len(body) < h.data_end:
        raise LoadError(
            Errno.ENOEXEC,
            f"truncated bFLT file: text and data need {h.data_end:#x} bytes, it has {len(body):#x}",
        )
    if h.reloc_start < h.data_start or h.reloc_start + 4 * h.reloc_count > len(body):
        raise LoadError(Errno.ENOEXEC, "bFLT relocation table lies outside the file")
    entry = h.entry & 0x00FFFFFF
    if not HEADER_SIZE <= entry & ~1 < h.data_start:
        raise LoadError(Errno.ENOEXEC, f"bFLT entry point {entry:#x} is not in the text")
    data_offset = (h.data_start + DATA_GAP + FLAT_DATA_ALIGN - 1) & ~(FLAT_DATA_ALIGN - 1)
    layout = _Layout(code_len, data_len + bss_len, data_offset)
    fixups = _fixups(body, h, layout)
    segments = (
        Segment(0, h.data_start, 0, h.data_start, PF_R | PF_X),
        Segment(data_offset, data_len + bss_len, h.data_start, data_len, PF_R | PF_W),
    )
    high = (data_offset + data_len + bss_len + 0xFFF) & ~0xFFF
    return FlatImage(
        body, ET_DYN, EM_ARM, entry, 0, 0, 0, segments, h.stack_size, 0, high,
        header=h, data_offset=data_offset, data_len=data_len, bss_len=bss_len,
        fixups=tuple(fixups),
    )  # fmt: skip


def _sizes(h: Header) -> tuple[int, int, int]:
    """Code, data and bss lengths; binfmt_flat's sanity check (none may
    need more than 28 bits: anything larger is a corrupt file)."""
    if not HEADER_SIZE <= h.data_start <= h.data_end <= h.bss_end:
        raise LoadError(
            Errno.ENOEXEC,
            "inconsistent bFLT header: want 64 <= data_start <= data_end <= bss_end, got "
            f"{h.data_start:#x}, {h.data_end:#x}, {h.bss_end:#x}",
        )
    sizes = (h.data_start - HEADER_SIZE, h.data_end - h.data_start, h.bss_end - h.data_end)
    if (sizes[0] | sizes[1] | sizes[2] | h.stack_size | h.reloc_count * 4 | h.reloc_start) >> 28:
        raise LoadError(Errno.ENOEXEC, "bad bFLT header: a size is larger than 256 MiB")
    return sizes


def _body(data: bytes, h: Header) -> bytes:
    """The file with what FLAT_FLAG_GZIP or GZDATA compressed expanded (no
    more of it than the header says the program has: no gzip bombs)."""
    end = max(h.data_end, h.reloc_start + 4 * h.reloc_count)
    if h.flags & FLAT_FLAG_GZIP:
        return data[:HEADER_SIZE] + _gunzip(data[HEADER_SIZE:], end - HEADER_SIZE)
    if h.flags & FLAT_FLAG_GZDATA:
        return data[: h.data_start] + _gunzip(data[h.data_start :], end - h.data_start)
    return data


def _gunzip(stream: bytes, size: int) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(stream, size)
    except zlib.error as err:
        raise LoadError(Errno.ENOEXEC, f"bad compressed bFLT file: {err}") from None


@dataclass(frozen=True, slots=True)
class _Layout:
    code_len: int
    data_size: int  # data and bss
    data_offset: int

    def offset(self, flat: int, what: str) -> int:
        """binfmt_flat's calc_reloc: the block offset of flat address `flat`."""
        if flat > self.code_len + self.data_size:
            raise LoadError(
                Errno.ENOEXEC,
                f"bFLT {what} {flat:#x} lies outside the program "
                f"(0 - {self.code_len + self.data_size:#x})",
            )
        if flat < self.code_len:
            return HEADER_SIZE + flat
        return self.data_offset + flat - self.code_len


def _fixups(body: bytes, h: Header, layout: _Layout) -> list[tuple[int, int]]:
    """Every word the loader relocates: (where, what it points to), offsets
    in the block. The GOT first (GOTPIC), then the relocation table."""
    gotpic = bool(h.flags & FLAT_FLAG_GOTPIC)
    data_end = layout.data_offset + h.data_end - h.data_start
    fixed: dict[int, int] = {}
    if gotpic:
        for i, at in enumerate(range(h.data_start, h.data_end - 3, 4)):
            (value,) = struct.unpack_from("<I", body, at)
            if value == 0xFFFFFFFF:
                break
            if value:
                fixed[layout.data_offset + 4 * i] = layout.offset(value, "GOT entry")
        else:
            raise LoadError(Errno.ENOEXEC, "bFLT GOT has no end marker (-1)")
    for i in range(h.reloc_count):
        (flat,) = struct.unpack_from(">I", body, h.reloc_start + 4 * i)
        where = layout.offset(flat, "relocation")
        in_text = where + 4 <= h.data_start
        if not in_text and not layout.data_offset <= where <= data_end - 4:
            raise LoadError(Errno.ENOEXEC, f"bFLT relocation {flat:#x} lies outside text and data")
        value = fixed.get(where)
        if value is None:
            src = where if in_text else h.data_start + where - layout.data_offset
            (value,) = struct.unpack_from("<I" if gotpic else ">I", body, src)
            if value == 0:
                continue
            value = layout.offset(value, "pointer")
        fixed[where] = value
    return sorted(fixed.items())
