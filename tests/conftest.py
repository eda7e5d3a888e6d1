"""Shared fixtures: a guest root, running a guest under nommu, and natively.

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

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from nommu import Machine
from nommu.api import RunResult

GUESTBIN = Path(__file__).resolve().parent.parent / "src" / "nommu" / "guestbin"

# The environment both sides get (nommu's default set, spelled out).
ENV: dict[str, str] = {"PATH": "/bin:/usr/bin:/", "HOME": "/", "TERM": "vt100"}

NOMMU_TIMEOUT = 60.0  # seconds a single in-process nommu run may take
NATIVE_TIMEOUT = 30.0


# -- outcomes ---------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """How a process ended: ("exit", code) or ("signal", number)."""

    how: str
    value: int

    def __str__(self) -> str:
        return f"{self.how} {self.value}"


def outcome_of_returncode(rc: int) -> Outcome:
    """subprocess's returncode (negative = killed by that signal) as an Outcome."""
    return Outcome("signal", -rc) if rc < 0 else Outcome("exit", rc)


def outcome_of(result: RunResult | NativeResult) -> Outcome:
    if result.signal:
        return Outcome("signal", result.signal)
    assert result.exit_code is not None
    return Outcome("exit", result.exit_code)


def status_of_returncode(rc: int) -> int:
    """subprocess's returncode as a raw wait status (the form RunResult.status has)."""
    return -rc if rc < 0 else (rc & 0xFF) << 8


@dataclass
class NativeResult:
    """A native run, shaped like RunResult (status is a wait status, no core bit)."""

    status: int
    stdout: bytes
    stderr: bytes

    @property
    def signal(self) -> int | None:
        return (self.status & 0x7F) or None

    @property
    def exit_code(self) -> int | None:
        return None if self.signal else (self.status >> 8) & 0xFF

    @property
    def returncode(self) -> int:
        return 128 + self.signal if self.signal else (self.status >> 8) & 0xFF


# -- the guest root -----------------------------------------------------------


def populate_root(root: Path) -> Path:
    """Put every guest binary at /<name> and /bin/<name>, and make /tmp."""
    (root / "bin").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    for src in sorted(GUESTBIN.iterdir()):
        if not src.is_file() or "." in src.name:
            continue
        for dst in (root / src.name, root / "bin" / src.name):
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    return root


@pytest.fixture(scope="session")
def guestbin() -> Path:
    if not (GUESTBIN / "hello").is_file():
        pytest.skip("guest binaries not built (make -C guest)")
    return GUESTBIN


@pytest.fixture
def guest_root(tmp_path: Path, guestbin: Path) -> Path:
    return populate_root(tmp_path / "root")


# -- running under nommu ------------------------------------------------------


class GuestTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise GuestTimeout if the body runs longer than `seconds` (main thread only).

    nommu returns to Python at least every time slice, so the alarm's handler
    gets to run even while a guest spins.
    """
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise GuestTimeout(f"guest still running after {seconds}s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def guarded_run(
    machine: Machine,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = NOMMU_TIMEOUT,
    **kw: object,
) -> RunResult:
    """machine.run(argv, env, stdin=b"", capture=True, **kw), stopped after `timeout` s."""
    kw.setdefault("stdin", b"")
    kw.setdefault("capture", True)
    with time_limit(timeout):
        return machine.run(list(argv), dict(ENV if env is None else env), **kw)  # type: ignore[arg-type]


RunNommu = Callable[..., RunResult]


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


# -- running natively -----------------------------------------------------------


def _native_i386_works() -> str | None:
    """None if the host runs i386 binaries, else why not."""
    exe = GUESTBIN / "exitcode"
    if not exe.is_file():
        return "guest binaries not built"
    try:
        proc = subprocess.run(
            ["exitcode", "5"],
            executable=exe,
            capture_output=True,
            timeout=NATIVE_TIMEOUT,
            check=False,
        )
    except OSError as err:
        return f"host cannot execute i386 binaries ({err})"
    if proc.returncode != 5:
        return f"host i386 execution is unreliable (exitcode 5 gave {proc.returncode})"
    return None


@pytest.fixture(scope="session")
def native_ok() -> None:
    why = _native_i386_works()
    if why:
        pytest.skip(why)


RunNative = Callable[..., NativeResult]


def native_run(
    root: Path,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    stdin: bytes = b"",
    timeout: float = NATIVE_TIMEOUT,
    preexec_fn: Callable[[], None] | None = None,
) -> NativeResult:
    """Run guest path argv[0] natively: host file root/argv[0], cwd root, argv[0] kept."""
    host = root / argv[0].lstrip("/")
    proc = subprocess.run(
        list(argv),
        executable=host,
        cwd=root,
        env=dict(ENV if env is None else env),
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )
    return NativeResult(status_of_returncode(proc.returncode), proc.stdout, proc.stderr)


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


def nommu_cli(
    *args: str, cwd: Path | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run the `nommu` command line in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "nommu", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
