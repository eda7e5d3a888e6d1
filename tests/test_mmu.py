"""MMU mode (issue 5): the same machine with address translation, and fork.

Every differential test (tests/test_programs.py, tests/test_process.py) already
runs twice, without and with an MMU: the `differential` fixture is
parametrized over the `mmu` fixture (conftest.py). The tests here pin `mmu`
to True (a direct parametrization overrides the fixture) for the programs
that need an MMU: fork in its forms, copy-on-write, and the memory system
calls that only an MMU kernel implements. Natively (an MMU kernel) they must
print the same and end the same way.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Outcome, guarded_run, native_run, outcome_of, populate_root

from nommu import Machine
from nommu.kernel.errors import NommuError
from nommu.kernel.mmu_model import MmuModel

Differential = Callable[..., object]
RunNommu = Callable[..., object]
WITH_MMU = pytest.mark.parametrize("mmu", [True], ids=["mmu"])


def text(result: object) -> str:
    return result.stdout.decode(errors="replace")  # type: ignore[attr-defined]


def stderr(result: object) -> str:
    return result.stderr.decode(errors="replace")  # type: ignore[attr-defined]


# -- fork-based programs match a native run ------------------------------------------------


@WITH_MMU
@pytest.mark.parametrize(
    "argv",
    [
        ["/fork_wait"],
        ["/fork_wait", "1", "2", "128", "300"],
        ["/fork_noexec"],
        ["/fork_noexec", "7"],
        ["/fork_nested"],
        ["/fork_nested", "3"],
        ["/fork_cow"],
        ["/vfork_relies"],
        ["/fork_big", "4", "20"],
        ["/fork_big", "4", "20", "vfork"],
    ],
    ids=lambda argv: "-".join(a.strip("/") for a in argv),
)
def test_fork_programs_match_native(differential: Differential, argv: list[str]) -> None:
    result = differential(argv)
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert ": no\n" not in text(result)


@WITH_MMU
@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["./exitcode", "5"], 5),
        (["./hello", "from", "a forked child"], 0),
        (["./crash_segv"], 128 + 11),
        (["./fork_wait", "9"], 0),  # a forked child that forks
        (["./nothere"], 127),
    ],
)
def test_fork_exec_matches_native(differential: Differential, argv: list[str], status: int) -> None:
    result = differential(["/fork_exec", *argv])
    assert result.returncode == status  # type: ignore[attr-defined]
    assert "child: execve /nonexistent/program: ENOENT\n" in text(result)
    assert "parent's copy of child_errno: 0\n" in text(result)


def test_fork_cow_output(run_nommu: RunNommu) -> None:
    out = text(run_nommu(["/fork_cow"], mmu=True))
    assert "parent after the child: global=1 local=1 small=1" in out
    assert "child after the parent wrote: global=1 local=1 small=1" in out
    assert out.count(": yes\n") == 5


def test_fork_nested_tree_order(run_nommu: RunNommu) -> None:
    lines = text(run_nommu(["/fork_nested"], mmu=True)).splitlines()
    names = [line.split(":")[0].strip() for line in lines[:-1]]
    assert names[:4] == ["r", "r.1", "r.1.1", "r.1.1.1"]
    assert len(names) == 15 and names[-1] == "r.2.2.2"
    assert lines[-1] == "processes: 15 (expected 15)"


@WITH_MMU
def test_mmu_memory_syscalls_match_native(differential: Differential) -> None:
    result = differential(["/mmu_mem", "tmp"])
    out = text(result)
    assert outcome_of(result) == Outcome("exit", 0), out
    assert "write to a read-only page: SIGSEGV SEGV_ACCERR, at the address: yes" in out
    assert "read of the hole: SIGSEGV SEGV_MAPERR, at the address: yes" in out
    assert "read at the old address: SIGSEGV SEGV_MAPERR, at the address: yes" in out
    assert "file after MAP_SHARED and MAP_PRIVATE writes: shared\n" in out


def test_mmu_memory_syscalls_without_an_mmu(run_nommu: RunNommu) -> None:
    """The same program on no-MMU: the MMU-only calls are refused, not faked."""
    out = text(run_nommu(["/mmu_mem", "tmp"]))
    assert "MAP_FIXED lands exactly: no" in out
    assert "mprotect PROT_READ: ENOSYS" in out


# -- fork without an MMU ---------------------------------------------------------------------


@pytest.mark.parametrize("program", ["fork_wait", "fork_noexec", "fork_nested", "fork_cow"])
def test_fork_without_mmu_is_einval_with_a_hint(run_nommu: RunNommu, program: str) -> None:
    result = run_nommu([f"/{program}"], hints=True)
    assert "fork: EINVAL (Invalid argument)" in text(result)
    assert result.returncode != 0  # type: ignore[attr-defined]
    hint = stderr(result)
    assert "fork()" in hint and "EINVAL" in hint and "--mmu" in hint
    assert hint.count("called fork()") == 1  # said once per run


def test_fork_exec_without_mmu(run_nommu: RunNommu) -> None:
    result = run_nommu(["/fork_exec", "/exitcode", "3"])
    assert text(result) == "fork: EINVAL (Invalid argument)\n"
    assert result.exit_code == 1  # type: ignore[attr-defined]


# -- vfork: real semantics under --mmu, and --vfork-as-fork --------------------------------


def test_vfork_relies_on_sharing_and_suspension(
    run_nommu: RunNommu, run_native: Callable[..., object]
) -> None:
    expected = (
        "the child's write reached the parent: yes\n"
        "the parent waited for the child: yes\n"
        "child: exited 0\n"
    )
    assert text(run_native(["/vfork_relies"])) == expected
    for mmu in (False, True):
        result = run_nommu(["/vfork_relies"], mmu=mmu)
        assert (text(result), result.exit_code) == (expected, 0)  # type: ignore[attr-defined]


def test_vfork_as_fork_changes_the_outcome(run_nommu: RunNommu) -> None:
    """`#define vfork fork`: the child's write lands in its own copy, and the
    parent runs on at once instead of waiting."""
    result = run_nommu(["/vfork_relies"], mmu=True, vfork_as_fork=True)
    assert text(result) == (
        "the child's write reached the parent: no\n"
        "the parent waited for the child: no\n"
        "child: exited 0\n"
    )
    assert result.exit_code == 1  # type: ignore[attr-defined]


def test_vfork_as_fork_breaks_vfork_shared(run_nommu: RunNommu) -> None:
    result = run_nommu(["/vfork_shared"], mmu=True, vfork_as_fork=True)
    assert "child's writes visible: no" in text(result)
    assert result.exit_code == 1  # type: ignore[attr-defined]


def test_vfork_as_fork_needs_an_mmu(guest_root: Path) -> None:
    with pytest.raises(NommuError, match="--mmu"):
        Machine(root=guest_root, vfork_as_fork=True)


def test_vfork_as_fork_cli(guest_root: Path) -> None:
    from helpers import nommu_cli

    args = ("run", "--no-hints", "--root", str(guest_root))
    proc = nommu_cli(*args, "--mmu", "--vfork-as-fork", "/vfork_relies")
    assert proc.returncode == 1
    assert "the child's write reached the parent: no" in proc.stdout
    proc = nommu_cli(*args, "--mmu", "/vfork_relies")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- copy-on-write: fork costs page tables, not memory --------------------------------------


def test_fork_of_a_process_bigger_than_free_memory(run_nommu: RunNommu) -> None:
    """A 16 MiB process forks 20 times in 24 MiB of RAM: only copy-on-write
    (nothing is copied until written) makes that possible."""
    result = run_nommu(["/fork_big", "16", "20"], mmu=True, mem="24M")
    assert result.exit_code == 0, stderr(result)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "argv",
    [
        ["/fork_cow"],
        ["/fork_nested"],
        ["/fork_big", "4", "5"],
        ["/fork_exec", "/hello"],
        ["/mmu_mem", "tmp"],
        ["/vfork_exec", "/exitcode", "1"],
        ["/threads"],
        ["/crash_segv"],
    ],
)
def test_all_frames_returned_after_an_mmu_run(guest_root: Path, argv: list[str]) -> None:
    machine = Machine(root=guest_root, hints=False, mmu=True)
    guarded_run(machine, argv)
    k = machine.kernel
    assert k is not None and isinstance(k.memory, MmuModel)
    assert k.memory.frames.refs == {}
    assert [b.kind for b in k.alloc.used_blocks()] == ["kernel"]


def test_strace_shows_fork_returning_a_pid(guest_root: Path) -> None:
    trace = io.StringIO()
    guarded_run(Machine(root=guest_root, hints=False, mmu=True, strace=trace), ["/fork_wait", "4"])
    forks = re.findall(r"^\[pid 1\] fork\(\) = (\d+)$", trace.getvalue(), re.M)
    assert len(forks) == 2 and all(int(pid) > 1 for pid in forks)


# -- page faults ---------------------------------------------------------------------------


def test_crash_report_under_mmu_names_the_page_fault(run_nommu: RunNommu) -> None:
    result = run_nommu(["/crash_segv"], mmu=True)
    assert result.signal == 11  # type: ignore[attr-defined]
    err = stderr(result)
    assert "page fault: write at 0x00000001: not mapped" in err
    assert "<main+" in err


# -- ET_EXEC (non-PIE) static binaries --------------------------------------------------------

ET_EXEC_SOURCE = r"""
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
int counter = 1;
int main(int argc, char **argv)
{
    int status = 0;
    printf("main at %p, counter at %p\n", (void *)main, (void *)&counter);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        counter = 2;
        _exit(7);
    }
    waitpid(pid, &status, 0);
    printf("fork: %s, child exited %d, counter=%d\n", pid > 0 ? "ok" : "failed",
           WEXITSTATUS(status), counter);
    return argc > 1 ? 3 : 0;
}
"""


@pytest.fixture(scope="session")
def et_exec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static, non-PIE (ET_EXEC) i386 musl program linked with crt1.o."""
    musl = Path("/usr/lib/i386-linux-musl")
    gcc = shutil.which("gcc")
    if gcc is None or not (musl / "crt1.o").is_file():
        pytest.skip("no gcc -m32 with i386 musl to build an ET_EXEC program")
    out = tmp_path_factory.mktemp("et_exec")
    (out / "t.c").write_text(ET_EXEC_SOURCE)

    def query(arg: str) -> str:
        proc = subprocess.run([gcc, "-m32", arg], capture_output=True, text=True, check=True)
        return proc.stdout.strip()

    cmd = [
        gcc, "-m32", "-O2", "-static", "-no-pie", "-fno-pie", "-nostdlib", "-nostdinc",
        "-isystem", "/usr/include/i386-linux-musl", "-isystem", query("-print-file-name=include"),
        "-o", str(out / "t_exec"), str(musl / "crt1.o"), str(musl / "crti.o"), str(out / "t.c"),
        str(musl / "libc.a"), query("-print-libgcc-file-name"), str(musl / "crtn.o"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot build an ET_EXEC program: {proc.stderr[-300:]}")
    data = (out / "t_exec").read_bytes()
    assert data[16:18] == b"\x02\x00"  # e_type ET_EXEC
    return out / "t_exec"


def test_et_exec_runs_at_its_link_address_under_mmu(
    et_exec: Path, guest_root: Path, native_ok: None
) -> None:
    shutil.copy(et_exec, guest_root / "t_exec")
    native = native_run(guest_root, ["/t_exec", "x"])
    result = guarded_run(Machine(root=guest_root, mmu=True, hints=False), ["/t_exec", "x"])
    assert text(result) == native.stdout.decode()  # same addresses: the link addresses
    assert "fork: ok, child exited 7, counter=1\n" in text(result)
    assert result.exit_code == native.exit_code == 3
    main_at = int(re.search(r"main at 0x([0-9a-f]+)", text(result)).group(1), 16)  # type: ignore[union-attr]
    assert 0x08048000 <= main_at < 0x10000000  # the classic i386 link address


def test_et_exec_refused_without_mmu(et_exec: Path, guest_root: Path) -> None:
    shutil.copy(et_exec, guest_root / "t_exec")
    with pytest.raises(NommuError) as exc:
        guarded_run(Machine(root=guest_root, hints=False), ["/t_exec"])
    msg = str(exc.value)
    assert len(msg.splitlines()) == 1
    assert "-static-pie" in msg and "--mmu" in msg


def test_et_exec_exec_from_a_guest_without_mmu(et_exec: Path, guest_root: Path) -> None:
    """execve of an ET_EXEC file on no-MMU fails with ENOEXEC (binfmt_elf_fdpic)."""
    shutil.copy(et_exec, guest_root / "t_exec")
    result = guarded_run(Machine(root=guest_root, hints=False), ["/vfork_exec", "/t_exec"])
    assert "child: exited 127" in text(result)


# -- layout ----------------------------------------------------------------------------------


def test_pie_and_stack_layout(tmp_path: Path) -> None:
    root = populate_root(tmp_path / "root")
    machine = Machine(root=root, hints=False, mmu=True)
    result = guarded_run(machine, ["/cat", "/proc/self/maps"])
    maps = text(result)
    assert re.search(r"^56555000-[0-9a-f]+ r", maps, re.M), maps  # PIE base
    assert re.search(r"-c0000000 rw.p .*\[stack\]$", maps, re.M), maps  # stack at the top
