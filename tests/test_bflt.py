"""bFLT (issue 17): the flat loader (loaders/bflt.py) and `nommu elf2flt`.

The round trip: guest/flat/flathello.c is built as an ELF linked with -q and
converted by nommu's elf2flt at build time (guest/Makefile); the ELF, the
bFLT and the gzip-compressed bFLT print the same and exit with the same
status. Malformed files are refused with ENOEXEC and a reason."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from helpers import ENV, GUESTBIN, guarded_run, nommu_cli, populate_root

from nommu import Machine, api, arch
from nommu.elf2flt import ConvertError, convert
from nommu.loaders import bflt, stack
from nommu.loaders.elf import LoadError

ARM_BIN = GUESTBIN / "arm"
GUEST = Path(__file__).resolve().parent.parent / "guest"
FLAT = ["flathello", "flathello.bflt", "flathello-z.bflt"]
GOTPIC = ["flathello-gotpic", "flathello-gotpic.bflt", "flathello-gotpic-z.bflt"]


@pytest.fixture
def flat_root(tmp_path: Path) -> Path:
    if not (ARM_BIN / "flathello.bflt").is_file():
        pytest.skip("bFLT guest binaries not built (make -C guest)")
    root = populate_root(tmp_path / "root", ARM_BIN)
    for name in [*FLAT[1:], *GOTPIC[1:]]:  # (populate_root skips names with a dot)
        shutil.copy2(ARM_BIN / name, root / name)
    return root


def run(root: Path, *argv: str) -> tuple[Machine, object]:
    m = Machine(root=root, hints=False)
    return m, guarded_run(m, list(argv), ENV)


def test_elf_and_bflt_print_the_same(flat_root: Path) -> None:
    outputs = []
    for name in FLAT:
        m, result = run(flat_root, f"/{name}", "one", "two words")
        assert m.kernel is not None and m.kernel.arch.NAME == "arm"
        assert result.exit_code == 21, result.stderr  # type: ignore[attr-defined]
        outputs.append(result.stdout.replace(name.encode(), b"PROG"))  # type: ignore[attr-defined]
    assert outputs[0] == outputs[1] == outputs[2]
    out = outputs[0].decode()
    assert "argv: /PROG\nargv: one\nargv: two words\n" in out
    assert "envp: PATH=" in out  # envp through the pointer ARM's flat stack holds
    assert "square -> 16\nnegate -> -7\nfavourite: square" in out  # pointers relocated
    assert "calls 4, sum 21\n" in out  # the bss started zero


def test_gotpic_elf_and_bflt_print_what_the_no_pic_build_prints(flat_root: Path) -> None:
    """flathello compiled the GOTPIC way reaches every global through the GOT
    in r10: the ELF (r10 = its first data segment, the GOT), the GOTPIC bFLT
    and its gzip-compressed copy print what the -fno-pic build prints."""
    outputs = []
    for name in [FLAT[0], *GOTPIC]:
        _, result = run(flat_root, f"/{name}", "one", "two words")
        assert result.exit_code == 21, result.stderr  # type: ignore[attr-defined]
        outputs.append(result.stdout.replace(name.encode(), b"PROG"))  # type: ignore[attr-defined]
    assert outputs[0] == outputs[1] == outputs[2] == outputs[3]
    image = bflt.parse((ARM_BIN / GOTPIC[1]).read_bytes())
    assert image.header is not None
    assert image.header.flags == bflt.FLAT_FLAG_RAM | bflt.FLAT_FLAG_GOTPIC


def gotpic_words(image: bflt.FlatImage) -> list[int]:
    """The GOTPIC file's GOT words, as the file holds them (flat addresses)."""
    assert image.header is not None
    got = []
    for at in range(image.header.data_start, image.header.data_end, 4):
        (word,) = struct.unpack_from("<I", image.data, at)
        if word == 0xFFFFFFFF:
            return got
        got.append(word)
    raise AssertionError("no -1 after the GOT")


def test_the_loader_relocates_the_got(flat_root: Path) -> None:
    """Every non-zero GOT word gets the load address added; a copy whose GOT
    ends (-1) at its first word keeps flat addresses there and faults."""
    data = (ARM_BIN / GOTPIC[1]).read_bytes()
    image = bflt.parse(data)
    got = gotpic_words(image)
    assert len(got) > 10 and all(word < 0x2000 for word in got)
    assert image.header is not None
    code_len = image.header.data_start - 64
    base = 0x60100000

    def loaded(flat: int) -> int:  # where flat address `flat` lands
        return base + (64 + flat if flat < code_len else image.data_offset + flat - code_len)

    placed = words(image.place(base), base + image.data_offset, len(got))
    assert placed == [loaded(word) if word else 0 for word in got]
    at = image.header.data_start
    (flat_root / "unrelocated").write_bytes(data[:at] + b"\xff" * 4 + data[at + 4 :])
    (flat_root / "unrelocated").chmod(0o755)
    _, result = run(flat_root, "/unrelocated")
    assert result.signal == 11, result.stderr  # type: ignore[attr-defined]  # SIGSEGV


def test_a_shell_execs_a_bflt_program(flat_root: Path) -> None:
    """execve picks the loader by the file's magic: an ARM ELF shell runs a
    bFLT program and sees its exit status."""
    _, result = run(flat_root, "/bin/sh", "-c", "/flathello-z.bflt x; echo status $?")
    assert result.stdout.endswith(b"calls 4, sum 13\nstatus 13\n")  # type: ignore[attr-defined]


def test_a_bflt_file_means_arm(flat_root: Path) -> None:
    assert api.program_arch(str(flat_root), "/flathello.bflt") is arch.ARM
    assert arch.for_program(b"bFLT" + bytes(60)) is arch.ARM


def test_an_i386_machine_refuses_bflt(tmp_path: Path) -> None:
    root = populate_root(tmp_path / "root")
    shutil.copy2(ARM_BIN / "flathello.bflt", root / "flat")
    _, result = run(root, "/bin/sh", "-c", "/flat; echo status $?")
    assert result.stdout.endswith(b"status 126\n")  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["flathello", "flathello-gotpic"])
def test_elf2flt_output_is_what_the_makefile_built(tmp_path: Path, name: str) -> None:
    elf = (ARM_BIN / name).read_bytes()
    assert convert(elf) == (ARM_BIN / f"{name}.bflt").read_bytes()
    assert convert(elf, compress=True) == (ARM_BIN / f"{name}-z.bflt").read_bytes()
    out = tmp_path / "f.bflt"
    proc = nommu_cli("elf2flt", "-s", "0x8000", "-o", str(out), str(ARM_BIN / "flathello"))
    assert proc.returncode == 0, proc.stderr
    image = bflt.parse(out.read_bytes())
    assert image.header is not None and image.header.stack_size == 0x8000
    assert image.header.flags == bflt.FLAT_FLAG_RAM


def test_elf2flt_writes_a_new_file_never_through_a_link(tmp_path: Path) -> None:
    """-o onto a hard link to another file (as populate_root makes to the
    shipped programs) replaces the link; the other file is untouched."""
    shipped = tmp_path / "shipped"
    shipped.write_bytes(b"shipped program")
    out = tmp_path / "out.bflt"
    os.link(shipped, out)
    proc = nommu_cli("elf2flt", "-o", str(out), str(ARM_BIN / "flathello"))
    assert proc.returncode == 0, proc.stderr
    assert shipped.read_bytes() == b"shipped program"
    assert out.read_bytes() == (ARM_BIN / "flathello.bflt").read_bytes()
    assert out.stat().st_mode & 0o777 == 0o755


# -- the loader on hand-made files ---------------------------------------------


def flat_file(
    code: bytes,
    data: bytes,
    relocs: list[int],
    *,
    bss: int = 0,
    flags: int = bflt.FLAT_FLAG_RAM,
    rev: int = 4,
    entry: int = 64,
    reloc_start: int | None = None,
) -> bytes:
    data_start = 64 + len(code)
    data_end = data_start + len(data)
    header = struct.pack(
        ">4sIIIIIIIIII20x",
        b"bFLT",
        rev,
        entry,
        data_start,
        data_end,
        data_end + bss,
        4096,
        data_end if reloc_start is None else reloc_start,
        len(relocs),
        flags,
        0,
    )
    body = code + data + struct.pack(f">{len(relocs)}I", *relocs)
    if flags & bflt.FLAT_FLAG_GZIP:
        body = gzip.compress(body, mtime=0)
    return header + body


def words(placed: list[tuple[int, bytes]], address: int, n: int = 1) -> list[int]:
    for start, content in placed:
        if start <= address < start + len(content):
            return list(struct.unpack_from(f"<{n}I", content, address - start))
    raise AssertionError(f"{address:#x} not placed")


def test_relocations_add_where_each_part_landed() -> None:
    code = bytes(8) + struct.pack(">I", 12)  # a literal pool word -> flat 12 (data)
    data = struct.pack(">II", 4, 0)  # a pointer to code+4, and a NULL left alone
    image = bflt.parse(flat_file(code, data, [8, 12, 16], bss=8))
    base = 0x60010000
    data_at = base + image.data_offset
    assert image.data_offset == 96  # 64 + 12, one word for the library table, 32-aligned
    placed = image.place(base)
    assert words(placed, base + 64 + 8) == [data_at]  # text word -> data
    assert words(placed, data_at, 2) == [base + 64 + 4, 0]
    assert words(placed, data_at - 4) == [data_at]  # the shared-library table word
    assert image.end_bss == 96 + 8 + 8


def test_gotpic_relocates_the_got_in_cpu_order() -> None:
    code = bytes(16)
    got = struct.pack("<IIiI", 4, 0, -1, 0)  # GOT: code+4, NULL, end; then a pointer
    image = bflt.parse(
        flat_file(code, got + struct.pack("<I", 8), [16 + 16], flags=bflt.FLAT_FLAG_GOTPIC)
    )
    base = 0x60020000
    data_at = base + image.data_offset
    assert words(image.place(base), data_at, 5) == [base + 68, 0, 0xFFFFFFFF, 0, base + 72]


@pytest.mark.parametrize("flags", [bflt.FLAT_FLAG_GZIP, bflt.FLAT_FLAG_GZDATA])
def test_compressed_files_load(flags: int) -> None:
    plain = flat_file(bytes(8), struct.pack(">I", 4), [8])
    image = bflt.parse(plain)
    if flags == bflt.FLAT_FLAG_GZIP:
        packed = plain[:36] + struct.pack(">I", flags) + plain[40:64] + gzip.compress(plain[64:])
    else:
        packed = plain[:36] + struct.pack(">I", flags) + plain[40:72] + gzip.compress(plain[72:])
    (text, data), (text2, data2) = image.place(0x1000), bflt.parse(packed).place(0x1000)
    assert (text[1][64:], data) == (text2[1][64:], data2)  # (the header names the flag)


def test_the_flat_stack_has_argv_and_envp_pointers() -> None:
    top = 0x1000 - 4
    layout = stack.build_flat(top, [b"prog", b"x"], [b"A=1"], b"/prog")
    sp = layout.sp
    assert sp % 8 == 0
    argc, argv, envp, a0, a1, null, e0, null2 = struct.unpack_from("<8I", layout.data)
    assert (argc, argv, envp, null, null2) == (2, sp + 12, sp + 24, 0, 0)

    def string(addr: int) -> bytes:
        return layout.data[addr - sp :].split(b"\0", 1)[0]

    assert (string(a0), string(a1), string(e0)) == (b"prog", b"x", b"A=1")
    assert layout.data.endswith(b"/prog\0" + bytes(4))
    assert stack.flat_args_bytes([b"prog", b"x"], [b"A=1"]) == 32  # strings 11, arrays 20


def test_r10_holds_the_data_start() -> None:
    regs = dict(arch.ARM.initial_registers(0x100, 0x2000, 0x1234))
    from unicorn.arm_const import UC_ARM_REG_R10

    assert regs[UC_ARM_REG_R10] == 0x1234


GOOD = flat_file(bytes(8), struct.pack(">I", 4), [8])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"bFLT" + bytes(20), "truncated bFLT header"),
        (GOOD[:4] + struct.pack(">I", 2) + GOOD[8:], "version 2"),
        (GOOD[:70], "truncated bFLT file"),
        (GOOD[:12] + struct.pack(">I", 40) + GOOD[16:], "inconsistent bFLT header"),
        (GOOD[:20] + struct.pack(">I", 1 << 29) + GOOD[24:], "larger than 256 MiB"),
        (flat_file(bytes(8), bytes(4), [0x1000]), "relocation 0x1000 lies outside"),
        (flat_file(bytes(8), bytes(4), [6]), "outside text and data"),
        (flat_file(bytes(8), struct.pack(">I", 0x999), [8]), "pointer 0x999 lies outside"),
        (flat_file(bytes(8), bytes(4), [8], reloc_start=4000), "relocation table lies outside"),
        (flat_file(bytes(8), bytes(4), [], entry=4), "entry point"),
        (GOOD[:36] + struct.pack(">I", bflt.FLAT_FLAG_GZIP) + GOOD[40:], "bad compressed"),
        (flat_file(bytes(8), bytes(8), [], flags=bflt.FLAT_FLAG_GOTPIC), "no end marker"),
    ],
)
def test_malformed_files_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(LoadError) as err:
        bflt.parse(data)
    assert err.value.errno == 8 and reason in err.value.message  # ENOEXEC


def test_a_malformed_file_is_a_clear_error(flat_root: Path) -> None:
    (flat_root / "bad").write_bytes(flat_file(bytes(8), bytes(4), [0x1000]))
    (flat_root / "bad").chmod(0o755)
    proc = nommu_cli("run", "--root", str(flat_root), "/bad")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "relocation 0x1000 lies outside the program" in proc.stderr


# -- elf2flt's refusals -----------------------------------------------------------


def test_elf2flt_refuses_what_it_cannot_convert(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match="not a 32-bit little-endian ARM"):
        convert((GUESTBIN / "hello").read_bytes())
    with pytest.raises(ConvertError, match="link the program with -Wl,-q"):
        convert((ARM_BIN / "hello").read_bytes())
    with pytest.raises(ConvertError, match="not an ELF file"):
        convert(b"hello")
    proc = nommu_cli("elf2flt", "-o", str(tmp_path / "x"), str(GUESTBIN / "hello"))
    assert proc.returncode == 1 and "not a 32-bit little-endian ARM" in proc.stderr


PIE = ["-Wl,-pie", "-Wl,--no-dynamic-linker"]
GOTPIC_FLAGS = [
    "-fPIC",
    "-msingle-pic-base",
    "-mpic-register=r10",
    "-mno-pic-data-is-text-relative",
]


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (
            ["-fPIC", *PIE],
            "R_ARM_BASE_PREL at 0x[0-9a-f]+ \\(in p\\) to _GLOBAL_OFFSET_TABLE_: "
            "the code finds its GOT PC-relatively",
        ),
        ([*GOTPIC_FLAGS, *PIE], "the GOT is at 0x2000, not at the start of the data segment"),
        # (the data's own -1, two words past the GOT, must not pass for its end)
        ([*GOTPIC_FLAGS, *PIE, "-Wl,-T,no-end.ld"], "the GOT has no -1 word at its end"),
        (
            ["-fno-pic", "-mpure-code", "-no-pie"],
            "R_ARM_THM_MOVW_ABS_NC .* built by movw/movt",
        ),  # (ld refuses it in a PIE)
    ],
)
def test_elf2flt_refuses_code_bflt_cannot_express(
    tmp_path: Path, flags: list[str], reason: str
) -> None:
    if shutil.which("arm-linux-gnueabihf-gcc") is None:
        pytest.skip("no ARM cross compiler (scripts/setup)")
    src = tmp_path / "t.c"
    src.write_text(
        "int x; int m[2] = { 5, -1 }; int *p(void) { return &x + m[0]; }\n"
        "void _start(void) { p(); for (;;); }\n"
    )
    elf = tmp_path / "t"
    script = (GUEST / "flat" / "gotpic.ld").read_text()
    (tmp_path / "no-end.ld").write_text(script.replace("LONG(-1)", ""))
    gcc = ["arm-linux-gnueabihf-gcc", "-mthumb", "-mcpu=cortex-m7", "-O2", "-nostdlib", "-Wl,-q"]
    subprocess.run([*gcc, *flags, "-o", str(elf), str(src)], check=True, cwd=tmp_path)
    with pytest.raises(ConvertError, match=reason):
        convert(elf.read_bytes())
