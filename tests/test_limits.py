"""Limits that hold: processes, descriptors, memory, output, wall-clock time.

Each broken or hostile guest must end with the right errno or message while
nommu itself stays small: a vfork bomb (EAGAIN past --max-procs), a
descriptor leak (EMFILE), a memory hog (ENOMEM; with an MMU, the
out-of-memory kill), a flood of output (EFBIG and SIGXFSZ past --max-output),
an endless loop (--timeout, exit status 124), and reads asked for 2 GiB.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import GUESTBIN, RunNommu, guarded_run, nommu_cli

from nommu import Machine
from nommu.api import EXIT_TIMEOUT, RunResult
from nommu.kernel.errors import NommuError

pytestmark = pytest.mark.usefixtures("guestbin")

MMU = pytest.mark.parametrize("mmu", [False, True], ids=["nommu", "mmu"])


def text(data: bytes | None) -> str:
    return (data or b"").decode(errors="replace")


# -- processes -------------------------------------------------------------------


@MMU
def test_vfork_bomb_ends_with_eagain(run_nommu: RunNommu, mmu: bool) -> None:
    result = run_nommu(["/vforkbomb", "chain"], mmu=mmu, max_procs=24)
    assert result.exit_code == 0, text(result.stdout) + text(result.stderr)
    assert "chain: vfork failed at depth 24: EAGAIN" in text(result.stdout)
    assert any("process limit" in line for line in result.limits)
    assert not result.leftover


@MMU
def test_clone_bomb_ends_with_eagain(run_nommu: RunNommu, mmu: bool) -> None:
    result = run_nommu(["/vforkbomb", "clone"], mmu=mmu, max_procs=16)
    assert result.exit_code == 0, text(result.stdout)
    assert "clone: failed after 15 children: EAGAIN" in text(result.stdout)
    assert "every child reaped: yes" in text(result.stdout)


def test_vfork_bomb_without_a_limit_ends_with_enomem(run_nommu: RunNommu) -> None:
    """Without --max-procs the machine's memory ends the bomb: ENOMEM from execve."""
    result = run_nommu(["/vforkbomb", "chain"], mem="4M")
    assert result.exit_code == 0, text(result.stdout)
    assert "ENOMEM" in text(result.stdout)


def test_rlimit_nproc_reports_max_procs() -> None:
    from nommu.syscalls.misc import rlimit

    machine = Machine(root=GUESTBIN, hints=False, max_procs=77)
    machine.run(["/hello"], capture=True, stdin=b"")
    assert machine.kernel is not None
    assert rlimit(machine.kernel, None, 6) == (77, 77)  # type: ignore[arg-type]


def test_bad_limits_are_one_line_errors() -> None:
    for kw in ({"max_procs": 0}, {"timeout": 0}, {"timeout": -1.5}, {"max_output": "lots"}):
        with pytest.raises(NommuError):
            Machine(root=GUESTBIN, **kw)  # type: ignore[arg-type]


# -- descriptors -----------------------------------------------------------------


@MMU
@pytest.mark.parametrize("limit", [None, 64])
def test_descriptor_leak_gets_emfile(run_nommu: RunNommu, mmu: bool, limit: int | None) -> None:
    argv = ["/fdleak", *([str(limit)] if limit else [])]
    result = run_nommu(argv, mmu=mmu)
    out = text(result.stdout)
    assert result.exit_code == 0, out
    expected = (limit or 1024) - 3
    assert f"open failed after {expected} descriptors: EMFILE" in out


# -- memory ----------------------------------------------------------------------


MEASURED = (
    "import resource, sys\n"
    "from nommu.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(f'peak-rss-kib {peak}', file=sys.stderr)\n"
    "sys.exit(status)\n"
)


def run_cli_measured(*args: str) -> tuple[int, str, int]:
    """(exit status, output, peak RSS in KiB) of `nommu ARGS` in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", MEASURED, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    peak = [line for line in proc.stderr.splitlines() if line.startswith("peak-rss-kib ")]
    return proc.returncode, proc.stdout + proc.stderr, int(peak[-1].split()[1])


def test_memory_hog_gets_enomem(run_nommu: RunNommu) -> None:
    result = run_nommu(["/hog"], mem="4M")
    out = text(result.stdout)
    assert result.exit_code == 0, out
    assert "malloc failed after 3 MiB: ENOMEM" in out or "malloc failed after 2 MiB" in out


def test_memory_hog_with_an_mmu_is_killed_as_out_of_memory(run_nommu: RunNommu) -> None:
    """With an MMU memory is promised before it exists (mmap reserves, the first
    touch allocates): when a touch finds no free frame the process is killed, as
    Linux's out-of-memory killer kills it. Never a host MemoryError."""
    result = run_nommu(["/hog"], mem="4M", mmu=True)
    assert result.signal == signal.SIGKILL
    assert any("out of memory: killed process" in line for line in result.limits)


def test_nommu_stays_small_while_a_guest_hogs_memory(guest_root: Path) -> None:
    status, output, peak_kib = run_cli_measured(
        "run", "--no-hints", "--mem", "4M", "--root", str(guest_root), "/hog"
    )
    assert status == 0, output
    assert peak_kib < 400 * 1024, f"nommu grew to {peak_kib} KiB"


@MMU
def test_reads_of_2_gib_allocate_what_ram_can_hold(
    guest_root: Path, monkeypatch: pytest.MonkeyPatch, mmu: bool
) -> None:
    """read/readv/pread with a count of 0x7fffffff: nommu asks the host for no
    more than the machine's RAM (os.read makes a buffer of the size asked)."""
    (guest_root / "small").write_text("hello\n")
    (guest_root / "link").symlink_to("small")
    asked: list[int] = []
    real_read, real_pread = os.read, os.pread

    def read(fd: int, n: int) -> bytes:
        asked.append(n)
        return real_read(fd, n)

    def pread(fd: int, n: int, offset: int) -> bytes:
        asked.append(n)
        return real_pread(fd, n, offset)

    monkeypatch.setattr(os, "read", read)
    monkeypatch.setattr(os, "pread", pread)
    machine = Machine(root=guest_root, mmu=mmu, mem="8M", hints=False)
    result = machine.run(["/bigread", "/small", "/", "/link"], capture=True, stdin=b"")
    monkeypatch.undo()
    out = text(result.stdout)
    assert result.exit_code == 0, out
    assert out.count("returned 6") == 3  # read, readv, pread
    assert "readlink returned 5" in out
    assert max(asked) <= 8 << 20


# -- output ----------------------------------------------------------------------


def test_output_limit_ends_a_flood_with_sigxfsz(run_nommu: RunNommu) -> None:
    result = run_nommu(["/flood"], max_output=1000)
    assert result.signal == signal.SIGXFSZ
    assert len(result.stdout or b"") == 1000
    assert any("output limit" in line for line in result.limits)


def test_output_limit_is_efbig_for_a_guest_that_ignores_sigxfsz(run_nommu: RunNommu) -> None:
    result = run_nommu(["/flood", "ignore"], max_output="1K")
    assert result.exit_code == 10  # its write failed with EFBIG
    assert len(result.stdout or b"") == 1024


def test_output_limit_counts_stdout_and_stderr_together(run_nommu: RunNommu) -> None:
    result = run_nommu(["/sh", "-c", "echo 12345; echo 67890 >&2; echo more"], max_output=12)
    assert (result.stdout or b"") + (result.stderr or b"") == b"12345\n67890\n"


def test_output_limit_on_the_command_line(guest_root: Path) -> None:
    proc = nommu_cli("run", "--max-output", "500", "--root", str(guest_root), "/flood")
    assert proc.returncode == 128 + signal.SIGXFSZ
    assert len(proc.stdout) == 500
    assert "File size limit exceeded" in proc.stderr
    assert "--max-output" in proc.stderr


# -- time ------------------------------------------------------------------------


def run_with_timeout(root: Path, argv: list[str], seconds: float, **machine: object) -> RunResult:
    """A run with nommu's --timeout (the test's own guard is a minute)."""
    m = Machine(root=root, hints=False, timeout=seconds, **machine)  # type: ignore[arg-type]
    return guarded_run(m, argv)


@MMU
def test_timeout_ends_an_endless_loop(guest_root: Path, mmu: bool) -> None:
    start = time.monotonic()
    result = run_with_timeout(guest_root, ["/cpuloop", "100000000000"], 0.5, mmu=mmu)
    assert time.monotonic() - start < 10
    assert result.timed_out
    assert result.returncode == EXIT_TIMEOUT
    assert result.limits == ["timeout after 0.5 s"]


def test_timeout_ends_a_sleeping_guest(guest_root: Path) -> None:
    start = time.monotonic()
    result = run_with_timeout(guest_root, ["/sleep", "1000"], 0.5)
    assert time.monotonic() - start < 10
    assert result.timed_out
    assert not result.deadlock


def test_timeout_ends_a_deterministic_run(guest_root: Path) -> None:
    """Under --deterministic the guest's clocks are virtual; --timeout is not."""
    result = run_with_timeout(guest_root, ["/cpuloop", "100000000000"], 0.5, deterministic=True)
    assert result.timed_out


def test_timeout_ends_a_deterministic_guest_waiting_for_input(guest_root: Path) -> None:
    """Under --deterministic a guest that waits for the terminal (host input
    that never comes) is still stopped at the real-time deadline."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nommu", "run", "--deterministic", "--timeout", "1",
         "--root", str(guest_root), "/cat"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        start = time.monotonic()
        proc.wait(timeout=30)  # (stdin stays open: no end of file)
        elapsed = time.monotonic() - start
        assert proc.stderr is not None
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 124, err
    assert b"timeout after 1 s" in err
    assert elapsed < 20


def test_a_run_that_ends_in_time_is_not_timed_out(guest_root: Path) -> None:
    result = run_with_timeout(guest_root, ["/hello"], 60)
    assert result.exit_code == 0
    assert not result.timed_out
    assert not result.limits


def test_timeout_on_the_command_line(guest_root: Path) -> None:
    start = time.monotonic()
    proc = nommu_cli("run", "--timeout", "1", "--root", str(guest_root), "/cpuloop", "100000000000")
    assert time.monotonic() - start < 30
    assert proc.returncode == 124
    assert proc.stderr.strip().splitlines() == ["nommu: timeout after 1 s"]
