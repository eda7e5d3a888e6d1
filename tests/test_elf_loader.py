"""The ELF loader's checks (nommu.loaders.elf.parse) and how the CLI reports them.

Every malformed or unsuitable file must give a LoadError (ENOEXEC) whose
message is one line saying what is wrong; nothing else may escape parse().
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import GUESTBIN, guarded_run, nommu_cli
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nommu import Machine
from nommu.abi.errno import Errno
from nommu.cli import main as cli_main
from nommu.loaders.elf import PF_X, PT_INTERP, PT_LOAD, ElfImage, LoadError, parse

EHDR_SIZE = 52
PHDR_SIZE = 32
HELLO = (GUESTBIN / "hello").read_bytes() if (GUESTBIN / "hello").is_file() else b""

pytestmark = pytest.mark.skipif(not HELLO, reason="guest binaries not built")


# -- building and patching ELF files -------------------------------------------


def header(data: bytes) -> dict[str, int]:
    fields = struct.unpack_from("<HHIIIIIHHHHHH", data, 16)
    names = [
        "type",
        "machine",
        "version",
        "entry",
        "phoff",
        "shoff",
        "flags",
        "ehsize",
        "phentsize",
        "phnum",
        "shentsize",
        "shnum",
        "shstrndx",
    ]
    return dict(zip(names, fields, strict=True))


def patch_u16(data: bytes, offset: int, value: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into("<H", buf, offset, value)
    return bytes(buf)


def patch_phdr(data: bytes, index: int, **fields: int) -> bytes:
    """Change fields (type, offset, vaddr, paddr, filesz, memsz, flags, align) of a phdr."""
    names = ["type", "offset", "vaddr", "paddr", "filesz", "memsz", "flags", "align"]
    at = header(data)["phoff"] + index * PHDR_SIZE
    values = dict(zip(names, struct.unpack_from("<8I", data, at), strict=True))
    values.update(fields)
    buf = bytearray(data)
    struct.pack_into("<8I", buf, at, *(values[n] for n in names))
    return bytes(buf)


def phdrs(data: bytes) -> list[tuple[int, ...]]:
    h = header(data)
    return [struct.unpack_from("<8I", data, h["phoff"] + i * PHDR_SIZE) for i in range(h["phnum"])]


def load_indexes(data: bytes) -> list[int]:
    return [i for i, p in enumerate(phdrs(data)) if p[0] == PT_LOAD]


def refused(data: bytes) -> LoadError:
    with pytest.raises(LoadError) as exc:
        parse(data)
    err = exc.value
    assert err.errno == Errno.ENOEXEC
    assert err.message and len(err.message.splitlines()) == 1
    assert err.message == err.message.strip()
    assert str(err) == err.message
    return err


@pytest.fixture(scope="session")
def toolchain(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """build(kind) -> path of a tiny i386 musl program: 'exec', 'dynamic' or 'object'."""
    musl = Path("/usr/lib/i386-linux-musl")
    gcc = shutil.which("gcc")
    if gcc is None or not (musl / "libc.a").is_file():
        pytest.skip("no gcc -m32 with i386 musl to build test programs")
    out = tmp_path_factory.mktemp("elves")
    src = out / "t.c"
    src.write_text("int main(void) { return 0; }\n")

    def query(*args: str) -> str:
        return subprocess.run(
            [gcc, "-m32", *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    inc = [
        "-nostdinc",
        "-isystem",
        "/usr/include/i386-linux-musl",
        "-isystem",
        query("-print-file-name=include"),
    ]
    libgcc = query("-print-libgcc-file-name")
    commands = {
        "exec": [
            "-static",
            "-no-pie",
            "-nostdlib",
            *inc,
            str(musl / "crt1.o"),
            str(musl / "crti.o"),
            str(src),
            str(musl / "libc.a"),
            libgcc,
            str(musl / "crtn.o"),
        ],
        "dynamic": [
            "-fPIE",
            "-pie",
            "-nostdlib",
            *inc,
            "-Wl,-dynamic-linker,/lib/ld-musl-i386.so.1",
            str(musl / "Scrt1.o"),
            str(musl / "crti.o"),
            str(src),
            f"-L{musl}",
            "-lc",
            libgcc,
            str(musl / "crtn.o"),
        ],
        "object": ["-c", *inc, str(src)],
    }

    def build(kind: str) -> Path:
        target = out / kind
        if not target.exists():
            proc = subprocess.run(
                [gcc, "-m32", *commands[kind], "-o", str(target)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                pytest.skip(f"cannot build an i386 {kind} program: {proc.stderr[-300:]}")
        return target

    return build


# -- a good program ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["hello", "exitcode", "threads", "crash_ill", "naive_vfork"])
def test_guest_binary_is_accepted(name: str) -> None:
    data = (GUESTBIN / name).read_bytes()
    image = parse(data)
    assert isinstance(image, ElfImage)
    assert image.is_pie
    assert any(
        s.vaddr <= image.entry < s.vaddr + s.memsz and s.flags & PF_X for s in image.segments
    )
    assert image.low % 4096 == 0 and image.high % 4096 == 0
    assert image.span == image.high - image.low > 0
    assert image.stack_size >= 8192 and image.stack_size % 4096 == 0
    assert [s.vaddr for s in image.segments] == sorted(s.vaddr for s in image.segments)
    assert image.phdr_vaddr() is not None  # musl's startup finds _DYNAMIC through AT_PHDR
    assert len(image.segments) == len(load_indexes(data))


def test_default_stack_is_128k_without_pt_gnu_stack_size() -> None:
    assert parse(HELLO).stack_size == 131072


# -- not a program, or not one for this machine ------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x7f",
        b"#!/bin/sh\necho hi\n",
        b"hello world" * 10,
        b"bFLT" + bytes(60),
        b"\x7fELG" + bytes(60),
    ],
    ids=["empty", "one-byte", "script", "text", "bflt", "bad-magic"],
)
def test_not_elf(data: bytes) -> None:
    err = refused(data)
    assert "not an ELF" in err.message


@pytest.mark.parametrize("length", [4, 16, 30, EHDR_SIZE - 1])
def test_truncated_header(length: int) -> None:
    err = refused(HELLO[:length])
    assert "truncated" in err.message


def test_x86_64_binary_names_its_architecture() -> None:
    host = Path("/bin/true")
    data = host.read_bytes() if host.is_file() else b""
    if data[:4] != b"\x7fELF" or data[4] != 2 or struct.unpack_from("<H", data, 18)[0] != 62:
        pytest.skip("/bin/true is not an x86-64 ELF on this host")
    err = refused(data)
    assert "x86-64" in err.message
    assert "64-bit" in err.message


@pytest.mark.parametrize(
    ("machine", "name"), [(4, "m68k"), (243, "RISC-V"), (183, "AArch64"), (8, "MIPS")]
)
def test_other_architecture_named(machine: int, name: str) -> None:
    err = refused(patch_u16(HELLO, 18, machine))
    assert name in err.message
    assert "i386 or arm" in err.message  # says what it should have been


def test_unknown_machine_number() -> None:
    err = refused(patch_u16(HELLO, 18, 0x7777))
    assert str(0x7777) in err.message


def test_big_endian_refused() -> None:
    buf = bytearray(HELLO)
    buf[5] = 2
    refused(bytes(buf))


def test_elfclass64_with_i386_machine_refused() -> None:
    buf = bytearray(HELLO)
    buf[4] = 2
    err = refused(bytes(buf))
    assert "64-bit" in err.message


# -- wrong kind of ELF file -------------------------------------------------------


def test_et_exec_patched_asks_for_static_pie() -> None:
    err = refused(patch_u16(HELLO, 16, 2))
    assert "-static-pie" in err.message
    assert "ET_EXEC" in err.message or "fixed-address" in err.message


def test_et_exec_built_asks_for_static_pie(toolchain: Callable[[str], Path]) -> None:
    data = toolchain("exec").read_bytes()
    assert header(data)["type"] == 2
    err = refused(data)
    assert "-static-pie" in err.message


def test_et_exec_accepted_when_allowed() -> None:
    image = parse(patch_u16(HELLO, 16, 2), allow_exec=True)
    assert not image.is_pie


def test_suggested_mmu_option_exists(tmp_path: Path) -> None:
    err = refused(patch_u16(HELLO, 16, 2))
    assert "--mmu" in err.message
    (tmp_path / "hello").write_bytes(HELLO)
    (tmp_path / "hello").chmod(0o755)
    proc = nommu_cli("run", "--no-hints", "--mmu", "--root", str(tmp_path), "/hello")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Hello, world!\n")


def test_mmu_machine_runs_an_et_exec(toolchain: Callable[[str], Path], tmp_path: Path) -> None:
    shutil.copy(toolchain("exec"), tmp_path / "t_exec")
    result = guarded_run(Machine(root=tmp_path, mmu=True, hints=False), ["/t_exec"], {})
    assert result.exit_code == 0


def test_et_rel_patched() -> None:
    err = refused(patch_u16(HELLO, 16, 1))
    assert "relocatable" in err.message


def test_et_rel_built(toolchain: Callable[[str], Path]) -> None:
    err = refused(toolchain("object").read_bytes())
    assert "relocatable" in err.message


def test_core_file() -> None:
    err = refused(patch_u16(HELLO, 16, 4))
    assert "core" in err.message


@pytest.mark.parametrize("etype", [0, 5, 0xFE00])
def test_unknown_type(etype: int) -> None:
    refused(patch_u16(HELLO, 16, etype))


def with_interp(interp: bytes) -> bytes:
    """HELLO with its PT_NOTE turned into a PT_INTERP naming `interp` (appended)."""
    note = next(i for i, p in enumerate(phdrs(HELLO)) if p[0] == 4)
    data = HELLO + interp + b"\0"
    return patch_phdr(data, note, type=PT_INTERP, offset=len(HELLO), filesz=len(interp) + 1)


def test_pt_interp_patched_asks_for_static_link() -> None:
    err = refused(with_interp(b"/lib/ld-linux.so.2"))
    assert "dynamically linked" in err.message
    assert "/lib/ld-linux.so.2" in err.message
    assert "statically" in err.message and "link" in err.message


def test_pt_interp_with_control_bytes_still_one_line() -> None:
    refused(with_interp(b"/lib/ld\nsecond line\x1b[31m"))


def test_pt_interp_built_names_the_interpreter(toolchain: Callable[[str], Path]) -> None:
    err = refused(toolchain("dynamic").read_bytes())
    assert "/lib/ld-musl-i386.so.1" in err.message
    assert "statically" in err.message


# -- inconsistent headers -----------------------------------------------------------


@pytest.mark.parametrize("keep", [EHDR_SIZE, EHDR_SIZE + 40, EHDR_SIZE + 9 * PHDR_SIZE - 1])
def test_phdrs_past_end_of_file(keep: int) -> None:
    err = refused(HELLO[:keep])
    assert "truncated" in err.message or "past the end" in err.message


def test_phoff_past_end_of_file() -> None:
    buf = bytearray(HELLO)
    struct.pack_into("<I", buf, 28, len(HELLO) + 100)
    refused(bytes(buf))


@pytest.mark.parametrize("phentsize", [0, 31, 56])
def test_bad_phentsize(phentsize: int) -> None:
    refused(patch_u16(HELLO, 42, phentsize))


def test_zero_phnum() -> None:
    refused(patch_u16(HELLO, 44, 0))


def test_segment_filesz_bigger_than_memsz() -> None:
    i = load_indexes(HELLO)[0]
    memsz = phdrs(HELLO)[i][5]
    err = refused(patch_phdr(HELLO, i, filesz=memsz + 1))
    assert "size" in err.message


def test_segment_data_past_end_of_file() -> None:
    i = load_indexes(HELLO)[-1]
    err = refused(patch_phdr(HELLO, i, offset=len(HELLO) - 8, filesz=64, memsz=0x1000))
    assert "truncated" in err.message


def test_segment_ends_past_4g() -> None:
    i = load_indexes(HELLO)[-1]
    refused(patch_phdr(HELLO, i, vaddr=0xFFFFF000, memsz=0x2000, filesz=0))


def test_no_pt_load() -> None:
    data = HELLO
    for i in load_indexes(HELLO):
        data = patch_phdr(data, i, type=0)
    err = refused(data)
    assert "PT_LOAD" in err.message or "loadable" in err.message


def test_overlapping_segments() -> None:
    first, second = load_indexes(HELLO)[:2]
    vaddr = phdrs(HELLO)[first][2]
    refused(patch_phdr(HELLO, second, vaddr=vaddr))


def test_entry_outside_executable_segment() -> None:
    buf = bytearray(HELLO)
    struct.pack_into("<I", buf, 24, 0x10)  # inside the read-only first segment
    err = refused(bytes(buf))
    assert "entry" in err.message


# -- the command line: one line, no traceback ---------------------------------------

BAD_FILES: dict[str, Callable[[], bytes]] = {
    "empty": lambda: b"",
    "text": lambda: b"just some text\n",
    "truncated-header": lambda: HELLO[:30],
    "mips": lambda: patch_u16(HELLO, 18, 8),
    "riscv": lambda: patch_u16(HELLO, 18, 243),
    "et-exec": lambda: patch_u16(HELLO, 16, 2),
    "et-rel": lambda: patch_u16(HELLO, 16, 1),
    "interp": lambda: with_interp(b"/lib/ld-musl-i386.so.1"),
    "phdrs-past-eof": lambda: HELLO[:100],
    "filesz-gt-memsz": lambda: patch_phdr(HELLO, load_indexes(HELLO)[0], filesz=0x10000),
    "no-load": lambda: (
        HELLO[:EHDR_SIZE]
        + b"".join(
            struct.pack("<8I", 0, *p[1:]) if p[0] == PT_LOAD else struct.pack("<8I", *p)
            for p in phdrs(HELLO)
        )
        + HELLO[EHDR_SIZE + 9 * PHDR_SIZE :]
    ),
}


def bad_root(tmp_path: Path, data: bytes) -> Path:
    (tmp_path / "bad").write_bytes(data)
    (tmp_path / "bad").chmod(0o755)
    return tmp_path


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_cli_reports_bad_program_in_one_line(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = bad_root(tmp_path, BAD_FILES[kind]())
    status = cli_main(["run", "--no-hints", "--root", str(root), "/bad"])
    out, err = capsys.readouterr()
    assert status != 0
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nommu:")
    assert "/bad" in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["et-exec", "mips"])
def test_cli_subprocess_bad_program(kind: str, tmp_path: Path) -> None:
    root = bad_root(tmp_path, BAD_FILES[kind]())
    proc = nommu_cli("run", "--root", str(root), "/bad")
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nommu:")
    assert "Traceback" not in proc.stderr


def test_execve_of_bad_program_gives_enoexec_to_the_guest(tmp_path: Path) -> None:
    """A guest's exec of an ARM binary fails with ENOEXEC (posix_spawn reports it)."""
    from helpers import populate_root

    root = populate_root(tmp_path / "root")
    (root / "arm").write_bytes(patch_u16(HELLO, 18, 40))
    (root / "arm").chmod(0o755)
    result = guarded_run(Machine(root=root, hints=False), ["/fork_fail", "/arm"], {})
    assert b"posix_spawn: ENOEXEC" in (result.stdout or b"")
    assert result.exit_code == 1


# -- fuzzing: only LoadError may escape ---------------------------------------------


def check_parse(data: bytes) -> None:
    try:
        image = parse(data)
    except LoadError as err:
        assert err.errno == Errno.ENOEXEC
        assert err.message
        # a PT_INTERP string is quoted raw (the known bug pinned by
        # test_pt_interp_with_control_bytes_still_one_line); every other message
        # must be one line
        if not err.message.startswith("dynamically linked"):
            assert len(err.message.splitlines()) == 1, err.message
        return
    assert image.low <= image.high
    assert any(s.vaddr <= image.entry < s.vaddr + s.memsz for s in image.segments)


def mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    return bytes(buf)


HEAD = EHDR_SIZE + 9 * PHDR_SIZE  # the bytes parse looks at in a real binary
edits = st.lists(st.tuples(st.integers(0, HEAD - 1), st.integers(0, 255)), min_size=1, max_size=8)
# The CI-sized run: about 5,000 files in all, in about 15 s. The slow run below
# takes many more (NOMMU_FUZZ_EXAMPLES of each kind, default 10,000).
SLOW_EXAMPLES = int(os.environ.get("NOMMU_FUZZ_EXAMPLES", "10000"))


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@fuzz(1500)
@given(st.binary(max_size=512))
@example(b"\x7fELF")
@example(b"\x7fELF" + bytes(48))
def test_fuzz_random_bytes(data: bytes) -> None:
    check_parse(data)


@fuzz(1500)
@given(st.binary(max_size=460))
def test_fuzz_random_bytes_with_elf_magic(rest: bytes) -> None:
    check_parse(b"\x7fELF\x01\x01\x01" + rest)


@fuzz(1200)
@given(edits, st.integers(min_value=0, max_value=len(HELLO) or 1))
def test_fuzz_mutated_header(changes: list[tuple[int, int]], cut: int) -> None:
    data = mutate(HELLO, changes)
    check_parse(data)
    check_parse(data[:cut])


phdr_st = st.tuples(
    st.sampled_from([0, 1, 1, 1, 2, 3, 4, 6, 7, 0x6474E551, 0xFFFFFFFF]),
    *[st.integers(0, 0xFFFFFFFF) | st.integers(0, 0x3000)] * 7,
)


@fuzz(600)
@given(
    st.lists(phdr_st, min_size=0, max_size=6),
    st.integers(0, 0xFFFFFFFF) | st.integers(0, 0x3000),
    st.sampled_from([1, 2, 3, 4, 0xFFFF]),
    st.binary(max_size=256),
)
def test_fuzz_structured_headers(
    table: list[tuple[int, ...]], entry: int, etype: int, tail: bytes
) -> None:
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)
    ehdr = ident + struct.pack(
        "<HHIIIIIHHHHHH",
        etype,
        3,
        1,
        entry,
        EHDR_SIZE,
        0,
        0,
        EHDR_SIZE,
        PHDR_SIZE,
        len(table),
        0,
        0,
        0,
    )
    check_parse(ehdr + b"".join(struct.pack("<8I", *p) for p in table) + tail)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(edits, st.binary(max_size=256))
def test_fuzz_mutated_header_many(changes: list[tuple[int, int]], extra: bytes) -> None:
    data = mutate(HELLO, changes)
    check_parse(data)
    check_parse(data[: HEAD + len(extra)])
    check_parse(data[:EHDR_SIZE] + extra)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES // 8, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(phdr_st, min_size=0, max_size=8),
    st.integers(0, 0xFFFFFFFF) | st.integers(0, 0x3000),
    st.binary(max_size=512),
)
def test_fuzz_structured_headers_many(
    table: list[tuple[int, ...]], entry: int, tail: bytes
) -> None:
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)
    fields = (3, 3, 1, entry, EHDR_SIZE, 0, 0, EHDR_SIZE, PHDR_SIZE, len(table), 0, 0, 0)
    ehdr = ident + struct.pack("<HHIIIIIHHHHHH", *fields)
    check_parse(ehdr + b"".join(struct.pack("<8I", *p) for p in table) + tail)


# -- fuzzing the command line: a bad program is one line, never a traceback ---------


def run_cli_on(data: bytes) -> tuple[int, str, str]:
    """`nommu run /bad` (in this process) on a root holding only `data` as /bad."""
    with tempfile.TemporaryDirectory(prefix="nommu-fuzz-") as root:
        path = Path(root) / "bad"
        path.write_bytes(data)
        path.chmod(0o755)
        out, err = io.StringIO(), io.StringIO()
        argv = ["run", "--no-hints", "--mem", "1M", "--timeout", "5", "--max-output", "64K"]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli_main([*argv, "--root", root, "/bad"])
    return status, out.getvalue(), err.getvalue()


def check_cli(data: bytes) -> None:
    """A file the loader refuses: non-zero status, one line on stderr. A file it
    accepts may run (and crash): still no traceback and no internal error."""
    try:
        parse(data)
        refused_file = False
    except LoadError:
        refused_file = True
    status, out, err = run_cli_on(data)
    assert "Traceback" not in err
    assert "internal error" not in err
    if refused_file:
        assert status != 0
        assert out == ""
        assert len(err.splitlines()) == 1, err
        assert err.startswith("nommu: /bad: ")


@fuzz(150)
@given(edits, st.integers(min_value=0, max_value=len(HELLO) or 1))
def test_fuzz_cli_mutated_programs(changes: list[tuple[int, int]], cut: int) -> None:
    data = mutate(HELLO, changes)
    check_cli(data if cut > HEAD else data[: max(cut, 1)])


@fuzz(100)
@given(st.binary(max_size=300))
def test_fuzz_cli_random_files(rest: bytes) -> None:
    check_cli(b"\x7fELF\x01\x01\x01" + rest)
