"""What the tests share besides fixtures: running a guest under nommu or
natively, how a run ended, the guest root and the command line.

conftest.py builds its fixtures from these; tests import them from `helpers`
(tests/ is on sys.path through the `pythonpath` option in pyproject.toml).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
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


def populate_root(root: Path, programs: Path = GUESTBIN) -> Path:
    """Put every guest binary (of `programs`: the i386 builds unless told) at
    /<name> and /bin/<name>, and make /tmp."""
    (root / "bin").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    for src in sorted(programs.iterdir()):
        if not src.is_file() or "." in src.name:
            continue
        for dst in (root / src.name, root / "bin" / src.name):
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    return root


def arm_root(root: Path, program: str) -> Path:
    """A copy of the guest root `root` beside it in which every guest program
    is its ARM build (guestbin/arm/), for running `program` (a guest path) on
    ARM; skips the test if that program is built for i386 only."""
    name = os.path.basename(program)
    if not (GUESTBIN / "arm" / name).is_file():
        pytest.skip(f"{name} is built for i386 only (guest/Makefile ARM_SKIP)")
    arm = root.with_name(root.name + "-arm")
    if arm.exists():
        shutil.rmtree(arm)

    def place(src: str, dst: str) -> None:
        build = GUESTBIN / "arm" / os.path.basename(src)
        here = Path(src).parent
        if (here == root or here == root / "bin") and build.is_file():
            os.link(build, dst)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(root, arm, symlinks=True, copy_function=place)
    return arm


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


def native_i386_works() -> str | None:
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


def free_host_port() -> int:
    """A TCP port on the host's 127.0.0.1 that nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch_from_published_server(
    machine: Machine, argv: list[str], port: int, path: str, within: float = 60
) -> bytes:
    """Run the guest server `argv` in a thread (`machine` publishes host
    `port`), fetch `path` from the host until it answers or `within` seconds
    pass, then end the run; returns the page (b"" if it never answered).
    Asserts that the run ended."""
    runner = threading.Thread(target=lambda: machine.run(argv, capture=True))
    runner.start()
    page = b""
    try:
        deadline = time.monotonic() + within
        while not page and time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}{path}"
                page = urllib.request.urlopen(url, timeout=10).read()
            except OSError:
                time.sleep(0.05)
    finally:
        assert machine.kernel is not None
        machine.kernel.host_signals.append(15)  # (SIGTERM to nommu: the run ends)
        # (wakes it if it sleeps in accept; if the run has ended already, the
        # published port is closed and the connection is refused or reset)
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
        runner.join(60)
    assert not runner.is_alive()
    return page
