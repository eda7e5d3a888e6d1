"""bFLT programs with a real C library (issue 17): uClibc-ng built for
Thumb-2 in FLAT format (scripts/uclibc-bflt), the way no-MMU ARM boards run
their programs.

A session fixture builds some of our architecture-independent guest
programs (guest/src/*.c) with `nommu cc --arch arm --bflt` into a temporary
directory (they are not committed: they contain a third-party libc). Each
then runs under nommu, in a copy of the guest root where every program is
its bFLT build, and must print what the same source's i386 (musl) build
prints on the host kernel and end the same way: exec chains between bFLT
programs, vfork, pipes, signal handlers, wait order, atexit, printf with
floats; LinuxThreads. Skipped, saying why, only when uClibc-ng is not built (scripts/setup
builds it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    ENV,
    GUESTBIN,
    Outcome,
    guarded_run,
    native_run,
    nommu_cli,
    outcome_of,
    populate_root,
)

from nommu import Machine, cc
from nommu.loaders import bflt

ROOT = Path(__file__).resolve().parent.parent
GUEST_SRC = ROOT / "guest" / "src"

# (program, arguments): each runs natively (i386, musl) and under nommu (bFLT, uClibc).
CASES = [
    ("hello", ["one", "two words", "", "ünïcode", "--flag"]),
    ("envargs", ["a", "b c"]),
    ("exitcode", ["42"]),
    ("vfork_shared", []),
    ("vfork_exit", []),  # atexit handlers and stdio buffers shared with a vfork child
    ("vfork_exec", ["./exitcode", "42"]),  # a bFLT program execs another
    ("vfork_exec", ["./hello", "from", "a child"]),
    ("spawn_chain", ["40", "./exitcode"]),
    ("partial_write", []),  # pipes, signals interrupting a write
    ("signals", []),  # handlers, masks, alarm, timers, SIGPIPE, SIGCHLD
    ("printf", ["%d|%5.2f|%e|%g|%x|%s\\n", "42", "3.14159", "-0.000123", "1e20", "255", "str"]),
]
# Left out, because of uClibc-ng 1.0.35 itself, not nommu:
# - clone() children that return (pingpong, waitpid): in Thumb-2, its clone.S
#   calls the child's function after `mov lr, pc`, a return address without
#   the Thumb bit; the return faults (SIGILL), as on a real Cortex-M.
# - posix_spawn (pollsel, spawn): ENOSYS without an MMU.
PROGRAMS = sorted({name for name, _ in CASES})
# Where the two C libraries say the same thing differently (musl first).
MESSAGES = [(rb"machine=\S+", b"machine=*"), (rb"No child processes", b"No child process")]


@pytest.fixture(scope="session")
def bflt_bins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PROGRAMS built as uClibc bFLT files (<name>, with <name>.gdb the
    ELF they came from); skips when uClibc-ng is not built."""
    libc = cc.uclibc_sysroot() / "usr" / "lib" / "libc.a"
    if not libc.is_file():
        pytest.skip(f"uClibc-ng for bFLT is not built ({libc} missing): run scripts/uclibc-bflt")
    out = tmp_path_factory.mktemp("bflt-uclibc")
    for name in PROGRAMS:
        build(GUEST_SRC / f"{name}.c", out / name)
    return out


def build(source: Path, out: Path, *flags: str) -> None:
    """`nommu cc --arch arm --bflt` SOURCE -o OUT; fails the test on an error."""
    command = [sys.executable, "-m", "nommu", "cc", "--arch", "arm", "--bflt", "-O2"]
    command += ["-I", str(ROOT / "guest" / "include"), *flags, "-o", str(out), str(source)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, f"building {source.name} failed:\n{proc.stderr}"


@pytest.fixture
def bflt_root(tmp_path: Path, bflt_bins: Path) -> tuple[Path, Path]:
    """(the i386 guest root, a copy of it whose programs are the bFLT builds
    where there is one and the ARM ELF builds elsewhere)."""
    native = populate_root(tmp_path / "root")
    flat = populate_root(tmp_path / "root-bflt", GUESTBIN / "arm")
    for src in bflt_bins.iterdir():
        if "." not in src.name:
            for dst in (flat / src.name, flat / "bin" / src.name):
                dst.unlink(missing_ok=True)
                shutil.copy2(src, dst)
    return native, flat


# What uClibc does differently, so the native output is changed to expect it.
# LinuxThreads' sigaction() keeps its own copy of each handler (it installs a
# wrapper): after the kernel resets an SA_RESETHAND handler, sigaction still
# reports the program's handler; that check fails, so signals exits 1.
UCLIBC_DIFFERS = {
    "signals": ([(b"SA_RESETHAND restores SIG_DFL: yes", b"SA_RESETHAND restores SIG_DFL: no")], 1),
}


def same_words(out: bytes) -> str:
    """`out` with uname's machine (x86_64 natively, by design) and the C
    libraries' different wordings made equal."""
    for pattern, same in MESSAGES:
        out = re.sub(pattern, same, out)
    return out.decode(errors="replace")


def run_flat(root: Path, argv: list[str]) -> object:
    m = Machine(root=root, hints=False)
    result = guarded_run(m, argv, ENV)
    assert m.kernel is not None and m.kernel.arch.NAME == "arm"
    return result


@pytest.mark.parametrize(("program", "args"), CASES, ids=[" ".join([p, *a[:1]]) for p, a in CASES])
def test_uclibc_bflt_matches_native(
    bflt_root: tuple[Path, Path], native_ok: None, program: str, args: list[str]
) -> None:
    native_root, flat_root = bflt_root
    assert bflt.is_flat((flat_root / program).read_bytes()[:4])
    argv = [f"/{program}", *args]
    native = native_run(native_root, argv, ENV)
    emulated = run_flat(flat_root, argv)
    expected, outcome = native.stdout, outcome_of(native)
    if program in UCLIBC_DIFFERS:
        lines, status = UCLIBC_DIFFERS[program]
        for musl, uclibc in lines:
            assert musl in expected
            expected = expected.replace(musl, uclibc)
        outcome = Outcome("exit", status)
    assert same_words(emulated.stdout) == same_words(expected)  # type: ignore[attr-defined]
    assert outcome_of(emulated) == outcome, emulated.stderr  # type: ignore[attr-defined]


# Addresses in initialized data and in code's literal pools: each is a word
# elf2flt lists and the loader relocates for where the program landed.
POINTERS_C = r"""
#include <stdio.h>
#include <string.h>
static int twice(int x) { return 2 * x; }
static int square(int x) { return x * x; }
static const char *names[] = { "twice", "square" };
static int (*ops[])(int) = { twice, square };
static char buffer[32] = "data";
static char *inside = buffer + 2;
int main(void)
{
	for (int i = 0; i < 2; i++)
		printf("%s(7) = %d\n", names[i], ops[i](7));
	strcat(buffer, "+more");
	printf("%s %s\n", buffer, inside);
	return 0;
}
"""


def test_a_uclibc_program_needs_its_relocations(tmp_path: Path, bflt_bins: Path) -> None:
    """The same program with its relocation table emptied follows flat
    addresses instead of real ones, and does not print what it should."""
    source = tmp_path / "pointers.c"
    source.write_text(POINTERS_C)
    root = populate_root(tmp_path / "root", GUESTBIN / "arm")
    build(source, root / "pointers")
    data = (root / "pointers").read_bytes()
    assert len(bflt.parse(data).fixups) > 50  # the program's and libc's pointers
    result = run_flat(root, ["/pointers"])
    assert result.stdout == b"twice(7) = 14\nsquare(7) = 49\ndata+more ta+more\n"  # type: ignore[attr-defined]
    assert result.exit_code == 0  # type: ignore[attr-defined]
    header = bytearray(data)
    header[0x20:0x24] = bytes(4)  # reloc_count = 0
    (root / "unrelocated").write_bytes(bytes(header))
    (root / "unrelocated").chmod(0o755)
    broken = run_flat(root, ["/unrelocated"])
    assert broken.stdout != result.stdout  # type: ignore[attr-defined]
    assert outcome_of(broken) != outcome_of(result)


# LinuxThreads: a manager thread, four workers, a mutex, joins.
THREADS_C = r"""
#include <pthread.h>
#include <stdio.h>
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void *work(void *arg)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return arg;
}
int main(void)
{
	pthread_t t[4];
	long sum = 0;
	for (long i = 0; i < 4; i++)
		if (pthread_create(&t[i], 0, work, (void *)(i + 1)))
			return 1;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (long)r;
	}
	printf("counter %ld, joined %ld\n", counter, sum);
	return 0;
}
"""


def test_uclibc_threads_run(tmp_path: Path, bflt_bins: Path) -> None:
    """uClibc's LinuxThreads on no-MMU. Started from a shell: its manager
    thread takes getppid() == 1 to mean that the program has died (it was
    reparented to init), so a threaded program cannot be pid 1, the first
    program nommu starts (nor init on a board)."""
    source = tmp_path / "threads.c"
    source.write_text(THREADS_C)
    root = populate_root(tmp_path / "root", GUESTBIN / "arm")
    build(source, root / "uthreads")
    result = run_flat(root, ["/bin/sh", "-c", "/uthreads; echo status $?"])
    assert result.stdout == b"counter 8000, joined 10\nstatus 0\n", result.stderr  # type: ignore[attr-defined]


def test_nommu_check_runs_a_bflt_vfork_program(bflt_root: tuple[Path, Path]) -> None:
    _, root = bflt_root
    proc = nommu_cli("check", "--root", str(root), "/vfork_exec", "./exitcode", "3")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith("child: exited 3\n")
    assert "no no-MMU problems found" in proc.stderr


def test_cc_bflt_without_uclibc_says_what_to_run(tmp_path: Path) -> None:
    env = dict(os.environ, NOMMU_CACHE=str(tmp_path / "empty"), PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(
        [sys.executable, "-m", "nommu", "cc", "--arch", "arm", "--bflt", "-o", "x", "x.c"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "uClibc-ng for bFLT is not built" in proc.stderr
    assert "run scripts/uclibc-bflt" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cc_bflt_gzip_and_stack_size(tmp_path: Path, bflt_bins: Path) -> None:
    """--bflt=gzip compresses the file (FLAT_FLAG_GZIP), --bflt-stack sets
    the header's stack size; the program runs the same."""
    root = populate_root(tmp_path / "root", GUESTBIN / "arm")
    build(GUEST_SRC / "hello.c", root / "hello", "--bflt=gzip", "--bflt-stack=65536")
    header = bflt.parse((root / "hello").read_bytes()).header
    assert header is not None and header.flags & bflt.FLAT_FLAG_GZIP
    assert header.stack_size == 65536
    plain = run_flat(root, ["/hello", "x"])
    (root / "hello").unlink()  # (populate_root's files are links to the shipped ones)
    shutil.copy2(bflt_bins / "hello", root / "hello")
    assert run_flat(root, ["/hello", "x"]).stdout == plain.stdout  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--bflt"], "--bflt: bFLT programs are for ARM; add --arch arm"),
        (["--arch", "arm", "--bflt", "--bflt-stack=big"], "--bflt-stack=big: want a size"),
        (["--arch", "arm", "--bflt-stack=4096"], "--bflt-stack: the stack size of a bFLT"),
    ],
)
def test_cc_bflt_refuses_in_one_line(
    args: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cc.main([*args, "-o", "x", "x.c"]) == 1
    assert capsys.readouterr().err.startswith(f"nommu cc: {error}")


def test_cc_refuses_o_without_a_file_name(capsys: pytest.CaptureFixture[str]) -> None:
    """gcc's own words: a trailing -o must not build a.out (and with --bflt
    a.out.gdb) instead."""
    assert cc.main(["--arch", "arm", "--bflt", "x.c", "-o"]) == 1
    assert capsys.readouterr().err.startswith("nommu cc: missing filename after '-o'")
