"""Shared fixtures: a guest root, running a guest under nommu, and natively
(built from the plain functions in tests/helpers.py).

Differential tests run the same i386 binary twice and compare stdout and
how it ended:

* under nommu: `Machine(root=guest_root).run(argv)`, cwd "/" of the root;
* natively: the host kernel runs i386 binaries itself; the process gets
  cwd = the root directory and argv[0] = the guest path, so a program that
  prints argv[0] or execs "./exitcode" sees the same thing both ways.

Programs that exec a path are given one relative to the cwd ("./exitcode"),
which names the same binary in both worlds. Absolute guest paths ("/hello")
only work under nommu.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from helpers import (
    GUESTBIN,
    NOMMU_TIMEOUT,
    NativeResult,
    RunNative,
    RunNommu,
    guarded_run,
    native_i386_works,
    native_run,
    outcome_of,
    populate_root,
)

from nommu import Machine
from nommu.api import RunResult


@pytest.fixture(scope="session")
def guestbin() -> Path:
    if not (GUESTBIN / "hello").is_file():
        pytest.skip("guest binaries not built (make -C guest)")
    return GUESTBIN


@pytest.fixture
def guest_root(tmp_path: Path, guestbin: Path) -> Path:
    return populate_root(tmp_path / "root")


@pytest.fixture
def run_nommu(guest_root: Path) -> RunNommu:
    """run_nommu(argv, env=ENV, stdin=b"", timeout=60, **Machine options) -> RunResult.

    Output is captured; stdin defaults to empty bytes so the guest never reads
    the host's stdin.
    """

    def run(
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        stdin: bytes | None = b"",
        timeout: float = NOMMU_TIMEOUT,
        cwd: str = "/",
        **machine: object,
    ) -> RunResult:
        machine.setdefault("hints", False)
        m = Machine(root=guest_root, **machine)  # type: ignore[arg-type]
        return guarded_run(m, argv, env, timeout=timeout, stdin=stdin, cwd=cwd)

    return run


@pytest.fixture(scope="session")
def native_ok() -> None:
    why = native_i386_works()
    if why:
        pytest.skip(why)


@pytest.fixture
def run_native(guest_root: Path, native_ok: None) -> RunNative:
    """run_native(argv, env=ENV) -> NativeResult; skips where i386 cannot run."""

    def run(
        argv: Sequence[str], env: Mapping[str, str] | None = None, **kw: object
    ) -> NativeResult:
        return native_run(guest_root, argv, env, **kw)  # type: ignore[arg-type]

    return run


@pytest.fixture(params=[False, True], ids=["nommu", "mmu"])
def mmu(request: pytest.FixtureRequest) -> bool:
    """Whether the machine has an MMU: differential tests run both ways (issue 5:
    every program that matches a native run without an MMU must match with one)."""
    return bool(request.param)


@pytest.fixture
def differential(run_nommu: RunNommu, run_native: RunNative, mmu: bool) -> Callable[..., RunResult]:
    """Run argv both ways; assert same stdout and same outcome; return nommu's result.

    Parametrized by `mmu`: each test runs once on the no-MMU machine and once
    with `--mmu`."""

    def both(
        argv: Sequence[str], env: Mapping[str, str] | None = None, **machine: object
    ) -> RunResult:
        native = run_native(argv, env)
        emulated = run_nommu(argv, env, mmu=mmu, **machine)
        assert emulated.stdout.decode(errors="replace") == native.stdout.decode(errors="replace"), (
            f"stdout differs for {argv}"
        )
        assert outcome_of(emulated) == outcome_of(native), (
            f"{argv} (mmu={mmu}): nommu {outcome_of(emulated)}, native {outcome_of(native)}; "
            f"nommu stderr: {emulated.stderr!r}"
        )
        return emulated

    return both
