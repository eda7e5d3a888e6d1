"""`nommu compare`: the same program without and with an MMU, side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ENV, nommu_cli, time_limit

from nommu import Machine
from nommu.compare import Comparison, compare, first_difference, normalize, report


def both(root: Path, argv: list[str], **options: object) -> Comparison:
    without = Machine(root=root, hints=True)
    with_mmu = Machine(root=root, mmu=True, hints=True, **options)  # type: ignore[arg-type]
    with time_limit(120):
        return compare(without, with_mmu, argv, ENV)


def test_fork_fail_differs_at_fork(guest_root: Path) -> None:
    c = both(guest_root, ["/fork_fail", "/exitcode", "3"])
    a, b = c.runs
    assert c.differences == ["stdout", "stderr", "syscalls"]
    assert a.ending == b.ending == "exited with 0"
    assert a.stdout.splitlines()[0] == b"fork: EINVAL (Invalid argument)"
    assert b.stdout.splitlines()[0] == b"fork: succeeded (this kernel has an MMU)"
    i = first_difference(a.trace, b.trace)
    assert i is not None
    assert a.trace[i] == "[pid 1] fork() = -1 EINVAL (Invalid argument)"
    assert b.trace[i] == "[pid 1] fork() = 2"
    text = report(c)
    assert "first differing syscall" in text
    assert "without MMU: [pid 1] fork() = -1 EINVAL" in text
    assert "with MMU:    [pid 1] fork() = 2" in text
    assert "-fork: EINVAL (Invalid argument)" in text  # the stdout diff
    assert "+fork: succeeded (this kernel has an MMU)" in text
    assert text.splitlines()[-1] == "verdict: different: stdout, stderr, syscalls"


def test_hello_is_identical(guest_root: Path) -> None:
    c = both(guest_root, ["/hello", "a", "b"])
    assert c.differences == []
    a, b = c.runs
    assert a.stdout == b.stdout and a.stdout.startswith(b"Hello, world!\n")
    assert len(a.trace) == len(b.trace) > 3
    assert a.trace != b.trace  # the addresses do differ...
    assert first_difference(a.trace, b.trace) is None  # ...and are ignored
    text = report(c)
    assert "stdout        identical (" in text
    assert "syscalls      identical (" in text
    assert text.splitlines()[-1] == "verdict: the same"


def test_vfork_as_fork_changes_exit_status_and_output(guest_root: Path) -> None:
    c = both(guest_root, ["/vfork_relies"], vfork_as_fork=True)
    assert c.differences[:2] == ["exit status", "stdout"]
    assert [r.ending for r in c.runs] == ["exited with 0", "exited with 1"]


def test_program_that_cannot_start(guest_root: Path) -> None:
    c = both(guest_root, ["/no-such-program"])
    assert [r.result for r in c.runs] == [None, None]
    assert c.differences == []
    assert "not found" in report(c)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[pid 1] mmap2(NULL, 16384, ...) = 0x4002c000", "[pid 1] mmap2(NULL, 16384, ...) = 0x…"),
        ("rt_sigaction(SIGSEGV, 1073921108, NULL, 8) = 0", "rt_sigaction(SIGSEGV, …, NULL, 8) = 0"),
        ("[pid 1] fcntl64(4, F_SETFD, 0x1) = 0", "[pid 1] fcntl64(4, F_SETFD, 0x1) = 0"),
        ("[pid 12] write(1, \"abc\", 3) = 3", "[pid 12] write(1, \"abc\", 3) = 3"),
    ],
)  # fmt: skip
def test_normalize_hides_addresses_only(line: str, expected: str) -> None:
    assert normalize(line) == expected


def test_cli_compare(guest_root: Path) -> None:
    proc = nommu_cli("compare", "--root", str(guest_root), "/fork_fail", "/exitcode", "3")
    assert proc.returncode == 1, proc.stderr
    assert "fork() = -1 EINVAL" in proc.stdout and "fork() = 2" in proc.stdout
    assert proc.stderr == ""
    proc = nommu_cli("compare", "--root", str(guest_root), "/hello")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("verdict: the same")


def test_cli_compare_help_lists_it() -> None:
    proc = nommu_cli("--help")
    assert "compare" in proc.stdout
