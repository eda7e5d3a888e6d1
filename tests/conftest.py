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
    arm_root,
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
        root: Path = guest_root,
        **machine: object,
    ) -> RunResult:
        machine.setdefault("hints", False)
        m = Machine(root=root, **machine)  # type: ignore[arg-type]
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


@pytest.fixture
def mmu(machine_kind: tuple[bool, str]) -> bool:
    """Whether the machine has an MMU: tests that take it run both ways (issue 5:
    every program that matches a native run without an MMU must match with one)."""
    return machine_kind[0]


# The machines a differential test runs on: i386 without and with an MMU, and
# ARM (a Cortex-M7, which has no MMU) running the same C program built for ARM.
DIFFERENTIAL_MACHINES = [(False, "i386"), (True, "i386"), (False, "arm")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `mmu` runs without and with an MMU; one that uses
    `differential` also runs on ARM (issue 17: every architecture-independent
    program prints on ARM what its i386 build prints on the real kernel)."""
    if "machine_kind" in metafunc.fixturenames and not _parametrizes_mmu(metafunc):
        arm = "differential" in metafunc.fixturenames
        kinds = DIFFERENTIAL_MACHINES if arm else DIFFERENTIAL_MACHINES[:2]
        metafunc.parametrize("machine_kind", kinds, ids=["nommu", "mmu", "arm"][: len(kinds)])


def _parametrizes_mmu(metafunc: pytest.Metafunc) -> bool:
    """The test chooses `mmu` itself (e.g. test_mmu.py's WITH_MMU): it runs on
    that i386 machine only."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        names = names.split(",") if isinstance(names, str) else names
        if "mmu" in [n.strip() for n in names]:
            return True
    return False


@pytest.fixture
def machine_kind() -> tuple[bool, str]:
    """(MMU?, architecture) of the machine; parametrized by pytest_generate_tests."""
    return False, "i386"


@pytest.fixture
def guest_arch(machine_kind: tuple[bool, str]) -> str:
    """The architecture the program runs as under nommu."""
    return machine_kind[1]


@pytest.fixture
def differential(
    run_nommu: RunNommu, run_native: RunNative, mmu: bool, guest_arch: str, guest_root: Path
) -> Callable[..., RunResult]:
    """Run argv both ways; assert same stdout and same outcome; return nommu's result.

    Parametrized by machine: each test runs on the no-MMU machine, with
    `--mmu`, and on ARM, where nommu runs the ARM build of the program (in a
    copy of the root holding the ARM builds) and the native run is still the
    i386 build on the host kernel. A program built for i386 only is skipped
    on ARM."""

    def both(
        argv: Sequence[str], env: Mapping[str, str] | None = None, **machine: object
    ) -> RunResult:
        if guest_arch == "arm" and machine.get("mmu"):
            pytest.skip("a Cortex-M has no MMU: ARM programs run without one")
        root = arm_root(guest_root, argv[0]) if guest_arch == "arm" else None
        native = run_native(argv, env)
        if root is None:
            emulated = run_nommu(argv, env, mmu=mmu, **machine)
        else:
            emulated = run_nommu(argv, env, root=root, **machine)
        assert emulated.stdout.decode(errors="replace") == native.stdout.decode(errors="replace"), (
            f"stdout differs for {argv}"
        )
        assert outcome_of(emulated) == outcome_of(native), (
            f"{argv} (mmu={mmu}): nommu {outcome_of(emulated)}, native {outcome_of(native)}; "
            f"nommu stderr: {emulated.stderr!r}"
        )
        return emulated

    return both
