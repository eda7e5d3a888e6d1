"""ELF-FDPIC (issue 17): binfmt_elf_fdpic's FDPIC path (loaders/fdpic.py).

guest/fdpic/fdpichello.c is a freestanding FDPIC program linked by Debian's
ld with its FDPIC target (guest/Makefile): its start code applies its own
.rofixup list through the load map the kernel leaves in r7, then prints
from data through function descriptors. nommu places each segment in a
block of its own, never at the link-time distance, so the program runs only
if the load map is right."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from helpers import ENV, GUESTBIN, guarded_run, populate_root

from nommu import Machine, arch
from nommu.loaders import elf, fdpic, stack

ARM_BIN = GUESTBIN / "arm"
PROGRAM = ARM_BIN / "fdpichello"
EXPECTED = """hello from an FDPIC program
argv: /fdpichello
argv: one
argv: two words
envp entries: 3
load map version 0, segments 2
no interpreter map (r8 = 0): yes
no dynamic section (r9 = 0): yes
r10 = the data segment: yes
twice -> 12
square -> 16
negate -> -7
favourite: square of the third number: 16
calls 4, sum 21
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    if not PROGRAM.is_file():
        pytest.skip("FDPIC guest binary not built (make -C guest)")
    return populate_root(tmp_path / "root", ARM_BIN)


def run(root: Path, *argv: str) -> object:
    return guarded_run(Machine(root=root, hints=False), list(argv), ENV)


def test_an_fdpic_program_applies_its_fixups_through_the_load_map(root: Path) -> None:
    result = run(root, "/fdpichello", "one", "two words")
    assert result.stdout.decode() == EXPECTED, result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 21  # type: ignore[attr-defined]


def test_an_fdpic_program_marked_pic_moves_as_one_block(root: Path) -> None:
    """EF_ARM_PIC: the segments keep their distance, but the whole program
    still moves (it is ET_EXEC, yet nothing is at its link-time address)."""
    data = bytearray(PROGRAM.read_bytes())
    (flags,) = struct.unpack_from("<I", data, 36)
    struct.pack_into("<I", data, 36, flags | fdpic.EF_ARM_PIC)
    (root / "pic").write_bytes(bytes(data))
    (root / "pic").chmod(0o755)
    result = run(root, "/pic", "one", "two words")
    out = result.stdout.decode()  # type: ignore[attr-defined]
    assert out == EXPECTED.replace("argv: /fdpichello", "argv: /pic"), result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 21  # type: ignore[attr-defined]


def test_the_segments_do_not_keep_their_link_time_distance(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    maps: list[fdpic.LoadMap] = []
    pack = fdpic.LoadMap.pack
    monkeypatch.setattr(fdpic.LoadMap, "pack", lambda self: maps.append(self) or pack(self))
    run(root, "/fdpichello")
    (text, data) = maps[0].segs
    assert data.addr - text.addr != data.p_vaddr - text.p_vaddr
    assert text.p_vaddr == 0x10000 and text.addr % 0x1000 == 0  # (offset in its page kept)


def test_a_load_map_that_lies_makes_the_program_fail(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The map says both segments moved as the text did: the fixups then
    point the data's pointers to the wrong place, and the program faults."""
    pack = fdpic.LoadMap.pack

    def lie(self: fdpic.LoadMap) -> bytes:
        shift = self.segs[0].addr - self.segs[0].p_vaddr
        segs = tuple(fdpic.LoadSeg(s.p_vaddr + shift, s.p_vaddr, s.p_memsz) for s in self.segs)
        return pack(fdpic.LoadMap(segs))

    monkeypatch.setattr(fdpic.LoadMap, "pack", lie)
    result = run(root, "/fdpichello")
    assert result.stdout.decode() != EXPECTED  # type: ignore[attr-defined]
    assert result.signal == 11  # type: ignore[attr-defined]  # SIGSEGV


def test_a_shell_execs_an_fdpic_program(root: Path) -> None:
    result = run(root, "/bin/sh", "-c", "/fdpichello x; echo status $?")
    assert result.stdout.endswith(b"calls 4, sum 13\nstatus 13\n")  # type: ignore[attr-defined]


def test_an_fdpic_executable_is_accepted_though_it_is_et_exec() -> None:
    data = PROGRAM.read_bytes() if PROGRAM.is_file() else pytest.skip("not built")
    image = elf.parse(data)
    assert image.fdpic and image.etype == elf.ET_EXEC and image.dynamic is None
    assert "ELF-FDPIC" in elf.describe(data)
    plain = data[:7] + b"\0" + data[8:]  # EI_OSABI: System V, an ordinary fixed-address ELF
    with pytest.raises(elf.LoadError, match="fixed-address"):
        elf.parse(plain)


def test_elf2flt_says_an_fdpic_program_runs_as_it_is() -> None:
    from nommu.elf2flt import ConvertError, convert

    with pytest.raises(ConvertError, match=r"an ELF-FDPIC program: .* run it as it is"):
        convert(PROGRAM.read_bytes())


def test_an_i386_machine_refuses_an_fdpic_program(tmp_path: Path) -> None:
    root = populate_root(tmp_path / "root")
    (root / "fd").write_bytes(PROGRAM.read_bytes())
    (root / "fd").chmod(0o755)
    result = run(root, "/bin/sh", "-c", "/fd; echo status $?")
    assert result.stdout.endswith(b"status 126\n")  # type: ignore[attr-defined]


def test_the_load_map_goes_below_the_strings() -> None:
    """create_elf_fdpic_tables: strings, then the load map 8-byte aligned,
    then auxv, envp, argv, argc at a 16-byte aligned sp."""
    loadmap = fdpic.LoadMap((fdpic.LoadSeg(0x2000, 0x10000, 0x100),))
    packed = loadmap.pack()
    assert packed == struct.pack("<HHIII", 0, 1, 0x2000, 0x10000, 0x100)
    top = 0x10000
    layout = stack.build(top, [b"p"], [], b"/p", b"v7ml", [], loadmap=packed)
    assert layout.loadmap % 8 == 0 and layout.sp % 16 == 0
    at = layout.loadmap - layout.sp
    assert layout.data[at : at + len(packed)] == packed
    assert layout.loadmap + len(packed) <= top - len(b"/p\0p\0v7ml\0")
    assert loadmap.find(0x10080) == 0x2080 and loadmap.find(0x20000) is None


def test_r7_to_r10_as_arm_starts_an_fdpic_program() -> None:
    from unicorn.arm_const import UC_ARM_REG_R7, UC_ARM_REG_R8, UC_ARM_REG_R9, UC_ARM_REG_R10

    regs = dict(arch.ARM.initial_registers(0x100, 0x2000, 0x3000, (0x1FF0, 0, 0x3100)))
    assert [regs[r] for r in (UC_ARM_REG_R7, UC_ARM_REG_R8, UC_ARM_REG_R9)] == [0x1FF0, 0, 0x3100]
    assert regs[UC_ARM_REG_R10] == 0x3000
    plain = dict(arch.ARM.initial_registers(0x100, 0x2000, 0x3000))
    assert plain[UC_ARM_REG_R7] == plain[UC_ARM_REG_R9] == 0


def test_an_address_where_two_segments_touch_belongs_to_the_second() -> None:
    """Linked back to back, the segments may land far apart: the first
    address of the second is in the second (p_vaddr <= v < p_vaddr +
    p_memsz, as binfmt_elf_fdpic tests it), one past the last is its end."""
    loadmap = fdpic.LoadMap(
        (fdpic.LoadSeg(0x60001000, 0x1000, 0x1000), fdpic.LoadSeg(0x60100000, 0x2000, 0x1000))
    )
    assert loadmap.find(0x1FFF) == 0x60001FFF
    assert loadmap.find(0x2000) == 0x60100000
    assert loadmap.find(0x3000) == 0x60101000
    assert loadmap.find(0x3001) is None
