"""The syscall fuzzer: every syscall number, random and extreme arguments.

`sysfuzz SEED ROUNDS` (guest/src/sysfuzz.c) calls each number 0..463 (but
those that would end or block it, which it lists) with bad pointers, huge
lengths, negative descriptors and pointers into its own stack. Whatever the
arguments, the guest must get a result or an errno and keep running: the run
ends normally, the fuzzer finds its registers and memory as the ABI promises,
and no Python exception escapes the kernel (which would end the run with a
"nommu internal error" report). Nothing outside the guest root may change.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import guarded_run, populate_root, time_limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nommu import Machine
from nommu.api import boot, new_kernel
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.files import BytesInput, CapturedOutput, OpenFile
from nommu.kernel.kernel import Kernel, KernelConfig
from nommu.kernel.task import Task
from nommu.syscalls.table import load_handlers

pytestmark = pytest.mark.usefixtures("guestbin")


def outside(tmp_path: Path, root: Path) -> list[str]:
    return sorted(str(p) for p in tmp_path.rglob("*") if root not in (p, *p.parents))


def fuzz(root: Path, seed: int, rounds: int, mmu: bool, hints: bool = False) -> str:
    machine = Machine(root=root, mmu=mmu, hints=hints, timeout=300)
    result = guarded_run(machine, ["/sysfuzz", str(seed), str(rounds)], timeout=400)
    out = (result.stdout or b"").decode(errors="replace")
    err = (result.stderr or b"").decode(errors="replace")
    assert "internal error" not in err, err
    assert not result.timed_out, f"seed {seed}: the fuzzer did not finish"
    assert result.exit_code == 0, f"seed {seed} (mmu={mmu}): {result.describe()}\n{out}\n{err}"
    assert "; done" in out, out
    return out


@pytest.mark.parametrize("mmu", [False, True], ids=["nommu", "mmu"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sysfuzz(guest_root: Path, tmp_path: Path, seed: int, mmu: bool) -> None:
    before = outside(tmp_path, guest_root)
    out = fuzz(guest_root, seed, 2, mmu)
    assert "EFAULT" in out  # the bad pointers reached the kernel
    assert outside(tmp_path, guest_root) == before


def test_sysfuzz_with_hints(guest_root: Path) -> None:
    """The one-time explanations (ENOSYS for each unknown number...) hold up too."""
    fuzz(guest_root, 4, 1, mmu=False, hints=True)


@pytest.mark.slow
@pytest.mark.parametrize("mmu", [False, True], ids=["nommu", "mmu"])
def test_sysfuzz_many_seeds(guest_root: Path, mmu: bool) -> None:
    for seed in range(100, 120):
        fuzz(guest_root, seed, 4, mmu)


# -- every handler, called directly: thousands of calls a second ------------------

# Calls that end or replace the calling task: the rest of the run would be
# about a task that is gone.
NOT_DIRECTLY = {"exit", "exit_group", "execve", "rt_sigreturn", "sigreturn"}
EXTREMES = [0, 1, 2, 3, 0xFFFFFFFF, 0xFFFFFF9C, 0x1000, 0xFFF, 0x7FFFFFFF, 0x80000000]
EXTREMES += [0xFFFFF000, 0xC0000000, 4096, 0x10000, 0xFFFFFFFE, 0x7FFFF000, 1 << 31 | 1]


@dataclass
class Booted:
    k: Kernel
    t: Task
    user: int  # a user address with 64 KiB of the task's own memory after it


def boot_for_fuzz(root: Path, mmu: bool) -> Booted:
    """A machine with pid 1 loaded (/hello) but never run: handlers run in its name."""
    k = new_kernel(KernelConfig(mem=8 << 20, root=str(root), mmu=mmu, hints=False))
    stdio: list[OpenFile] = [
        BytesInput(b"", "stdin"),
        CapturedOutput(bytearray(), "stdout"),
        CapturedOutput(bytearray(), "stderr"),
    ]
    t = boot(k, ["/hello"], {}, stdio, "/tmp")
    stack = [r for r in t.mm.areas() if r[3] == "[stack]" or "stack" in r[3]]
    top = stack[0][1] if stack else t.mm.areas()[-1][1]
    return Booted(k, t, top - 0x11000)


def argument(draw: st.DrawFn, user: int) -> int:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.sampled_from(EXTREMES))
    if kind == 1:
        return draw(st.integers(0, 64))  # descriptors, flags, small counts
    if kind == 2:
        return draw(st.integers(-64, -1)) & 0xFFFFFFFF
    if kind == 3:
        return user + draw(st.integers(0, 0x8000))  # the task's own memory
    return draw(st.integers(0, 0xFFFFFFFF))


@st.composite
def calls(draw: st.DrawFn, names: list[str], user: int) -> tuple[str, list[int]]:
    name = draw(st.sampled_from(names))
    return name, [argument(draw, user) for _ in range(6)]


def call_all(b: Booted, sequence: list[tuple[str, list[int]]]) -> None:
    """Make the calls in pid 1's name (until it is gone, if one of them ends it)."""
    rows = load_handlers()
    for name, args in sequence:
        if not b.t.alive:
            return
        row = rows[name]
        b.k.current = b.t
        with contextlib.suppress(SyscallError, Blocked):  # an errno, or it would wait
            row.handler(b.k, b.t, *args[: row.nargs])


@pytest.mark.parametrize("mmu", [False, True], ids=["nommu", "mmu"])
def test_every_handler_answers_with_an_errno(tmp_path: Path, mmu: bool) -> None:
    """Each handler, called with random and extreme arguments, returns a value,
    raises SyscallError (an errno) or Blocked (it would wait): nothing else.
    Each example is a sequence of calls on a freshly booted machine, so that a
    failure can be replayed."""
    root = populate_root(tmp_path / "root")
    (root / "tmp" / "file").write_text("some data\n")
    names = sorted(set(load_handlers()) - NOT_DIRECTLY)
    user = boot_for_fuzz(root, mmu).user

    examples = int(os.environ.get("NOMMU_HANDLER_EXAMPLES", "150"))

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(calls(names, user), min_size=1, max_size=30))
    def sequence(seq: list[tuple[str, list[int]]]) -> None:
        b = boot_for_fuzz(root, mmu)
        try:
            call_all(b, seq)
        finally:
            b.k.cpu.timer.shutdown()

    with time_limit(300):
        sequence()
