"""`nommu compare`: the same program without and with an MMU, side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ENV, nommu_cli, time_limit

from nommu import Machine
from nommu.compare import Comparison, compare, first_difference, normalize, report
from nommu.kernel.errors import NommuError


def both(root: Path, argv: list[str], **options: object) -> Comparison:
    without = Machine(root=root, hints=True)
    with_mmu = Machine(root=root, mmu=True, hints=True, **options)  # type: ignore[arg-type]
    with time_limit(120):
        return compare(without, with_mmu, argv, ENV)


def test_fork_fail_differs_at_fork(guest_root: Path) -> None:
    c = both(guest_root, ["/fork_fail", "/exitcode", "3"])
    a, b = c.runs
    assert c.differences == ["stdout", "syscalls"]  # (nommu's fork hint is not the program's)
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
    assert text.splitlines()[-1] == "verdict: different: stdout, syscalls"


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


def test_program_that_cannot_start_is_an_error_not_the_same(guest_root: Path) -> None:
    with pytest.raises(NommuError, match="not found") as err:
        both(guest_root, ["/no-such-program"])
    assert err.value.status == 127


def test_cli_compare_of_a_missing_program(guest_root: Path) -> None:
    proc = nommu_cli("compare", "--root", str(guest_root), "/no-such-program")
    assert proc.returncode == 127
    assert proc.stdout == "" and proc.stderr.startswith("nommu: /no-such-program: not found")


def test_malloc_differs_only_in_memory_management(guest_root: Path) -> None:
    """musl's malloc: brk is refused without an MMU, so it takes mmap; the
    program behaves the same, and so the verdict says."""
    c = both(guest_root, ["/malloc"])
    a, b = c.runs
    assert first_difference(a.trace, b.trace) is not None  # the traces do differ...
    assert c.memory_only and c.differences == []  # ...in memory management only
    text = report(c)
    assert "the same apart from memory management (brk, mmap2" in text
    assert text.splitlines()[-1] == (
        "verdict: the same (only memory management differs, as it must without an MMU)"
    )


def test_a_crash_reported_differently_is_the_same_crash(guest_root: Path) -> None:
    """nommu's fault reports differ (addresses, page fault or not) but are not
    the program's stderr: the same crash is the same."""
    c = both(guest_root, ["/crash_segv"])
    a, b = c.runs
    assert a.ending == b.ending == "Segmentation fault"
    assert a.messages != b.messages and a.stderr == b.stderr == b""
    assert c.differences == []
    assert "nommu said" in report(c)


def test_output_only_ignores_syscalls(guest_root: Path) -> None:
    without = Machine(root=guest_root)
    with_mmu = Machine(root=guest_root, mmu=True)
    c = compare(without, with_mmu, ["/malloc"], ENV, output_only=True)
    assert all(r.trace == [] for r in c.runs)  # not even traced
    assert c.differences == []
    assert report(c).splitlines()[-1] == (
        "verdict: the same (exit status, stdout and stderr; syscalls not compared)"
    )


def test_a_behaviour_difference_after_memory_calls_is_found(guest_root: Path) -> None:
    """Set aside memory calls, not everything after them: fork_fail's fork
    still decides the verdict, and the report points at it."""
    c = both(guest_root, ["/fork_fail", "/exitcode", "3"])
    where = c.first_behaviour_difference()
    assert where is not None
    a = c.runs[0]
    assert where[0] is not None and a.trace[where[0]].startswith("[pid 1] fork()")


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
