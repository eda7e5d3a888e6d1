"""The `nommu` command line: exit statuses mirror the guest, failures are one line."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from helpers import nommu_cli

import nommu
from nommu.cli import DEMOS


def one_nommu_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("nommu:"), stderr
    assert "Traceback" not in stderr
    return lines[0]


def run(root: Path, *args: str, opts: tuple[str, ...] = ("--no-hints",)) -> tuple[int, str, str]:
    proc = nommu_cli("run", *opts, "--root", str(root), *args)
    return proc.returncode, proc.stdout, proc.stderr


# -- informational ---------------------------------------------------------------------


def test_version() -> None:
    proc = nommu_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"nommu {nommu.__version__}"


def test_help() -> None:
    proc = nommu_cli("--help")
    assert proc.returncode == 0
    assert "run" in proc.stdout and "demo" in proc.stdout
    assert proc.stderr == ""


def test_run_help_lists_options() -> None:
    proc = nommu_cli("run", "--help")
    assert proc.returncode == 0
    for option in ("--root", "--mem", "--strace", "--env"):
        assert option in proc.stdout


def test_no_arguments_runs_welcome_and_says_what_next() -> None:
    proc = nommu_cli()  # stdin is not a terminal: the welcome demo, not the shell
    assert proc.returncode == 0
    assert "Welcome" in proc.stdout
    assert "Try next" in proc.stdout
    assert proc.stdout.index("Welcome") < proc.stdout.index("Try next")
    assert "nommu demo" in proc.stdout.split("Try next", 1)[1]
    assert "Traceback" not in proc.stderr


def test_demo_lists_demos() -> None:
    proc = nommu_cli("demo")
    assert proc.returncode == 0
    listed = [line.split()[0] for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert listed == list(DEMOS)
    assert {"welcome", "naive-vfork", "fork"} <= set(listed)


@pytest.mark.parametrize(
    ("name", "expect", "status"),
    [
        ("fork", "fork: EINVAL (Invalid argument)", 0),
        ("vfork-shared", "parent sees global_value=100 local_value=200", 0),
        ("vfork-exit", "atexit handler ran in the child", 0),
    ],
)
def test_demo_runs(name: str, expect: str, status: int) -> None:
    proc = nommu_cli("demo", name, "--no-hints")
    assert proc.returncode == status, proc.stderr
    assert expect in proc.stdout
    assert "Traceback" not in proc.stderr


def test_demo_naive_vfork_shows_the_hijack() -> None:
    proc = nommu_cli("demo", "naive-vfork", "--no-hints")
    assert "parent: resumed in the child's branch" in proc.stdout
    assert "parent: vfork returned the child's pid" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_demo_stack_overflow_shows_the_crash_then_the_cause() -> None:
    proc = nommu_cli("demo", "stack-overflow")
    assert proc.returncode == 0  # the last run: the program with a large enough stack
    out = proc.stdout
    assert out.index("$ nommu run --no-hints") < out.index("$ nommu check") < out.index("depth 160")
    assert "(stack_overflow) killed by SIG" in proc.stderr  # as on a board: a wreck
    assert "stack-overflow: the 128 KiB stack" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_wild_write_shows_the_change_then_the_cause() -> None:
    proc = nommu_cli("demo", "wild-write")
    assert proc.returncode == 0
    assert proc.stdout.count("the parent's note now reads: overwritten!") == 2
    assert "write-foreign-memory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_demo() -> None:
    proc = nommu_cli("demo", "no-such-demo")
    assert proc.returncode == 1
    one_nommu_line(proc.stderr)


# -- exit statuses ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_exit_status_mirrors_guest(guest_root: Path, code: int) -> None:
    status, out, err = run(guest_root, "/exitcode", str(code))
    assert (status, out, err) == (code, "", "")


@pytest.mark.parametrize(
    ("program", "sig", "desc"),
    [
        ("crash_segv", 11, "Segmentation fault"),
        ("crash_ill", 4, "Illegal instruction"),
        ("crash_fpe", 8, "Floating point exception"),
        ("abort", 6, "Aborted"),
    ],
)
def test_killed_by_signal(guest_root: Path, program: str, sig: int, desc: str) -> None:
    status, _, err = run(guest_root, f"/{program}")
    assert status == 128 + sig
    shell_style = [
        line
        for line in err.splitlines()
        if re.fullmatch(rf"nommu: /{program}: {desc}( \(core dumped\))?", line)
    ]
    assert len(shell_style) == 1, err
    assert "Traceback" not in err


def test_guest_output_and_args_pass_through(guest_root: Path) -> None:
    status, out, err = run(
        guest_root, "/hello", "a", "b c", opts=("--no-hints", "-E", "NOMMU_TEST_VAR=from-cli")
    )
    assert status == 0 and err == ""
    assert out.splitlines() == [
        "Hello, world!",
        "argc=3",
        "argv[0]=/hello",
        "argv[1]=a",
        "argv[2]=b c",
        "NOMMU_TEST_VAR=from-cli",
        "NOMMU_TEST_EMPTY=(unset)",
    ]


def test_program_arguments_that_look_like_options(guest_root: Path) -> None:
    status, out, _ = run(guest_root, "/hello", "--root", "-E", "--help")
    assert status == 0
    assert "argv[1]=--root\nargv[2]=-E\nargv[3]=--help\n" in out


def test_relative_program_path_is_inside_root(guest_root: Path) -> None:
    status, _, _ = run(guest_root, "exitcode", "5")
    assert status == 5


# -- nommu's own failures: one line ------------------------------------------------------


def test_missing_program(guest_root: Path) -> None:
    status, out, err = run(guest_root, "/no-such-program")
    assert status == 127 and out == ""
    assert "/no-such-program" in one_nommu_line(err)


def test_missing_program_that_exists_on_the_host(guest_root: Path) -> None:
    status, _, err = run(guest_root, str(guest_root.parent))
    assert status == 127 or status == 126
    one_nommu_line(err)


def test_not_executable(guest_root: Path) -> None:
    (guest_root / "data").write_text("not a program\n")
    (guest_root / "data").chmod(0o644)
    status, _, err = run(guest_root, "/data")
    assert status == 126
    one_nommu_line(err)


def test_directory_as_program(guest_root: Path) -> None:
    status, _, err = run(guest_root, "/tmp")
    assert status == 126
    one_nommu_line(err)


def test_root_is_not_a_directory(tmp_path: Path) -> None:
    status, _, err = run(tmp_path / "nowhere", "/hello")
    assert status == 1
    one_nommu_line(err)


@pytest.mark.parametrize("mem", ["lots", "12Q", "0", "16K", "8G"])
def test_bad_mem(guest_root: Path, mem: str) -> None:
    status, _, err = run(guest_root, "/exitcode", opts=("--mem", mem))
    assert status == 1
    one_nommu_line(err)


def test_program_too_big_for_memory(guest_root: Path) -> None:
    """A 4 MiB PT_GNU_STACK cannot fit in a 1 MiB machine: one line, status 126."""
    data = bytearray((guest_root / "hello").read_bytes())
    phoff, phnum = struct.unpack_from("<I", data, 28)[0], struct.unpack_from("<H", data, 44)[0]
    for i in range(phnum):
        at = phoff + 32 * i
        if struct.unpack_from("<I", data, at)[0] == 0x6474E551:  # PT_GNU_STACK
            struct.pack_into("<I", data, at + 20, 4 << 20)  # p_memsz
    (guest_root / "bigstack").write_bytes(bytes(data))
    (guest_root / "bigstack").chmod(0o755)
    assert run(guest_root, "/bigstack", opts=("--no-hints", "--mem", "8M"))[0] == 0
    status, _, err = run(guest_root, "/bigstack", opts=("--no-hints", "--mem", "1M"))
    assert status == 126
    assert "--mem" in one_nommu_line(err)  # says what to do about it


def test_bad_env_option(guest_root: Path) -> None:
    status, _, err = run(guest_root, "/exitcode", opts=("-E", "NOEQUALS"))
    assert status == 1
    one_nommu_line(err)


def test_run_without_program_is_a_usage_error(guest_root: Path) -> None:
    proc = nommu_cli("run", "--root", str(guest_root))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


# -- tracing ------------------------------------------------------------------------------


def test_strace_to_stderr(guest_root: Path) -> None:
    status, out, err = run(guest_root, "/exitcode", "3", opts=("--no-hints", "--strace"))
    assert status == 3 and out == ""
    assert re.search(r"^\[pid 1\] exit_group\(3\)", err, re.M)


def test_strace_file(guest_root: Path, tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    status, out, err = run(
        guest_root,
        "/vfork_exec",
        "/exitcode",
        "4",
        opts=("--no-hints", "--strace-file", str(trace)),
    )
    assert status == 4
    assert err == ""
    lines = trace.read_text().splitlines()
    assert any(re.match(r"\[pid 1\] vfork\(\) = \d+", line) for line in lines)
    assert any(re.match(r"\[pid \d+\] execve\(\"/exitcode\"", line) for line in lines)
    assert out.splitlines()[0] == "child: exited 4"


# -- the guest's working directory (--cwd) -------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("run", "/bin/pwd"),
        ("check", "/bin/pwd"),
        ("shell", "-c", "pwd"),
        ("compare", "--output-only", "/bin/sh", "-c", 'test "$(pwd)" = /tmp/work'),
    ],
)
def test_cwd_sets_the_working_directory(guest_root: Path, command: tuple[str, ...]) -> None:
    (guest_root / "tmp" / "work").mkdir()
    sub, *rest = command
    proc = nommu_cli(sub, "--no-hints", "--root", str(guest_root), "--cwd", "/tmp/work", *rest)
    assert proc.returncode == 0, proc.stderr
    if sub == "compare":
        assert "exited with 0                          exited with 0" in proc.stdout
    else:
        assert "/tmp/work\n" in proc.stdout


def test_cwd_is_where_a_relative_program_is_found(guest_root: Path) -> None:
    status, out, _ = run(guest_root, "./echo", "relative", opts=("--cwd", "/bin"))
    assert (status, out) == (0, "relative\n")


@pytest.mark.parametrize(("cwd", "why"), [("/nope", "does not exist"), ("/hello", "not a dir")])
def test_cwd_that_is_not_a_directory_in_the_root(guest_root: Path, cwd: str, why: str) -> None:
    status, out, err = run(guest_root, "/bin/pwd", opts=("--cwd", cwd))
    assert status == 1 and out == ""
    assert why in one_nommu_line(err)


# -- output files that cannot be written: a usage error before the run ----------------------


@pytest.mark.parametrize(
    "command",
    [
        ("run", "--strace-file", "{bad}"),
        ("run", "--memmap", "{bad}"),
        ("check", "-o", "{bad}"),
        ("check", "--memmap", "{bad}"),
        ("shell", "--strace-file", "{bad}", "-c", "echo ran"),
    ],
)
def test_unwritable_output_file(guest_root: Path, tmp_path: Path, command: tuple[str, ...]) -> None:
    bad = str(tmp_path / "no-such-dir" / "out")
    sub, *rest = (arg.format(bad=bad) for arg in command)
    program = () if sub == "shell" else ("/bin/echo", "ran")
    proc = nommu_cli(sub, "--root", str(guest_root), *rest, *program)
    assert proc.returncode == 2
    assert "ran" not in proc.stdout  # refused before the program ran
    line = one_nommu_line(proc.stderr)
    assert bad in line and "cannot write" in line


def test_writable_output_file_is_not_left_behind_by_the_check(
    guest_root: Path, tmp_path: Path
) -> None:
    """The writability check creates no file of its own: a program that cannot
    start leaves no empty report."""
    report = tmp_path / "report.txt"
    proc = nommu_cli("check", "--root", str(guest_root), "-o", str(report), "/no-such-program")
    assert proc.returncode == 127
    assert not report.exists()


# -- #! scripts whose interpreter is missing ----------------------------------------------


def test_missing_interpreter_is_named(guest_root: Path) -> None:
    script = guest_root / "script"
    script.write_text("#!/usr/local/bin/nosuch -x\necho hi\n")
    script.chmod(0o755)
    status, _, err = run(guest_root, "/script")
    assert status == 127
    line = one_nommu_line(err)
    assert "/usr/local/bin/nosuch" in line and "interpreter" in line


def test_guest_execve_of_script_without_interpreter_gets_enoent_and_a_hint(
    guest_root: Path,
) -> None:
    script = guest_root / "script"
    script.write_text("#!/usr/local/bin/nosuch\necho hi\n")
    script.chmod(0o755)
    proc = nommu_cli("run", "--root", str(guest_root), "/bin/sh", "-c", "/script; echo $?")
    assert proc.stdout == "127\n"  # ENOENT, as Linux gives
    hint, shell_says = proc.stderr.splitlines()
    assert hint.startswith("nommu: execve /script: ") and "/usr/local/bin/nosuch" in hint
    assert (
        shell_says
        == "sh: /script: /usr/local/bin/nosuch: bad interpreter: No such file or directory"
    )


def test_guest_execve_of_a_foreign_elf_gets_a_hint_but_a_text_script_does_not(
    guest_root: Path,
) -> None:
    (guest_root / "elf64").write_bytes(
        b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + bytes(44)
    )
    (guest_root / "plain").write_text("echo plain script\n")
    for name in ("elf64", "plain"):
        (guest_root / name).chmod(0o755)
    proc = nommu_cli("run", "--root", str(guest_root), "/bin/sh", "-c", "/plain; /elf64")
    assert proc.stdout == "plain script\n"
    hint, shell_says = proc.stderr.splitlines()  # nothing about /plain: ENOEXEC is normal there
    assert hint.startswith("nommu: execve /elf64: not an i386 or arm program")
    assert shell_says == "sh: /elf64: cannot execute binary file: not an i386 program"


def test_help_lists_the_porting_commands() -> None:
    out = nommu_cli("--help").stdout
    assert "mkroot" in out and "cc" in out
