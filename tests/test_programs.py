"""Guest programs of issue 2, natively and under nommu: same output, same ending."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import ENV, Outcome, outcome_of

Differential = Callable[..., object]


def text(result: object) -> str:
    return result.stdout.decode(errors="replace")  # type: ignore[attr-defined]


# -- simple programs -----------------------------------------------------------------


def test_hello_with_args_and_env(differential: Differential) -> None:
    env = {**ENV, "NOMMU_TEST_VAR": "some value = with = signs", "NOMMU_TEST_EMPTY": ""}
    result = differential(["/hello", "one", "two words", "", "ünïcode", "--flag"], env)
    out = text(result)
    assert out.startswith("Hello, world!\nargc=6\nargv[0]=/hello\n")
    assert "NOMMU_TEST_VAR=some value = with = signs\n" in out
    assert "NOMMU_TEST_EMPTY=\n" in out


def test_hello_without_env(differential: Differential) -> None:
    out = text(differential(["/hello"], {}))
    assert "NOMMU_TEST_VAR=(unset)" in out


def test_hello_long_argument(differential: Differential) -> None:
    differential(["/hello", "x" * 20000, *[str(i) for i in range(300)]])


@pytest.mark.parametrize("program", ["fileio", "dirs", "errno"])
def test_file_programs(differential: Differential, program: str, guest_root: Path) -> None:
    result = differential([f"/{program}", "tmp"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert list((guest_root / "tmp").iterdir()) == []  # each cleans up after itself


@pytest.mark.parametrize("program", ["fileio", "dirs", "errno"])
def test_file_programs_in_cwd(differential: Differential, program: str) -> None:
    differential([f"/{program}"])  # DIR defaults to "."; the root, natively the same dir


@pytest.mark.parametrize("program", ["timeio", "rand", "malloc"])
def test_self_checking_programs(differential: Differential, program: str) -> None:
    result = differential([f"/{program}"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert ": no\n" not in text(result)


def test_signals(differential: Differential) -> None:
    result = differential(["/signals"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert ": no\n" not in text(result)


def test_realtime_signals_queue(differential: Differential) -> None:
    """SIGRTMIN+1 sent 5 times while blocked runs its handler 5 times, each
    with its own siginfo; standard signals coalesce; delivery is lowest
    first (thread-directed before process-directed); sigtimedwait takes one
    instance at a time; RLIMIT_SIGPENDING bounds sigqueue (EAGAIN)."""
    result = differential(["/rtsig"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert text(result).count("SIGRTMIN+1 SI_QUEUE value") == 3


def test_pi_futexes_and_mutexes(differential: Differential) -> None:
    """FUTEX_LOCK_PI/TRYLOCK_PI/UNLOCK_PI: owner TID in the word, EDEADLK,
    EPERM, ESRCH, timeouts, hand-over with FUTEX_WAITERS, no EINTR; and
    PTHREAD_PRIO_INHERIT mutexes (normal, error-checking, robust) on them."""
    result = differential(["/pi_mutex"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert "4 threads counted to 8000 under a PI mutex" in text(result)


def test_interrupted_write_returns_the_count(differential: Differential) -> None:
    """A blocking pipe write that a handler interrupts after 65536 of its
    100000 bytes returns 65536, with SA_RESTART or without (a restart from
    byte 0 duplicated them); one that wrote nothing fails with EINTR."""
    result = differential(["/partial_write"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert text(result).count("write returned 65536, the reader gets 65536") == 2


def test_errno_output_lists_enosys(differential: Differential) -> None:
    assert "syscall 9999: ENOSYS" in text(differential(["/errno", "tmp"]))


MACHINE = re.compile(r"machine=\S+")


def test_envargs_with_controlled_env(
    run_nommu: Callable[..., object], run_native: Callable[..., object]
) -> None:
    env = {
        "A": "1",
        "ZED": "last",
        "EMPTY": "",
        "EQ": "a=b=c",
        "SPACE": "x y",
        **{f"V{i:03d}": "v" * i for i in range(100)},
    }
    argv = ["/envargs", "alpha", "", "beta gamma"]
    native, emulated = run_native(argv, env), run_nommu(argv, env)
    n_lines, e_lines = text(native).splitlines(), text(emulated).splitlines()
    assert outcome_of(emulated) == outcome_of(native) == Outcome("exit", 0)  # type: ignore[arg-type]
    # uname's machine differs by design (x86_64 host kernel vs i686 machine)
    assert [MACHINE.sub("machine=*", x) for x in e_lines] == [
        MACHINE.sub("machine=*", x) for x in n_lines
    ]
    uname = next(x for x in e_lines if x.startswith("uname:"))
    assert re.search(r"machine=i[3-6]86\b", uname)
    assert f"envc={len(env)}" in e_lines


@pytest.mark.parametrize(
    ("code", "expected"),
    [("0", 0), ("1", 1), ("7", 7), ("42", 42), ("255", 255), ("256", 0), ("300", 44), ("-1", 255)],
)
def test_exitcode(differential: Differential, code: str, expected: int) -> None:
    result = differential(["/exitcode", code])
    assert outcome_of(result) == Outcome("exit", expected)
    assert text(result) == ""


def test_exitcode_default(differential: Differential) -> None:
    assert outcome_of(differential(["/exitcode"])) == Outcome("exit", 0)


def test_isatty_with_pipes(differential: Differential) -> None:
    out = text(differential(["/isatty"]))
    assert out == "isatty(0)=no\nisatty(1)=no\nisatty(2)=no\n"


def _run_on_pty(argv: list[str], cwd: Path, executable: str | None = None) -> tuple[int, str]:
    """Run with stdin/stdout/stderr on a new pty; (returncode, everything it printed)."""
    import pty

    try:
        master, slave = pty.openpty()
    except OSError as err:
        pytest.skip(f"no pseudo-terminal: {err}")
    try:
        proc = subprocess.Popen(
            argv,
            executable=executable,
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, **ENV},
            start_new_session=True,
        )
        os.close(slave)
        slave = -1
        chunks = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: the other side is closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), b"".join(chunks).decode(errors="replace")
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


def test_isatty_on_a_terminal(guest_root: Path, native_ok: None) -> None:
    native_rc, native_out = _run_on_pty(["/isatty"], guest_root, str(guest_root / "isatty"))
    rc, out = _run_on_pty(
        [sys.executable, "-m", "nommu", "run", "--no-hints", "--root", str(guest_root), "/isatty"],
        guest_root,
    )
    assert native_out.replace("\r", "") == "isatty(0)=yes\nisatty(1)=yes\nisatty(2)=yes\n"
    assert (rc, out.replace("\r", "")) == (native_rc, native_out.replace("\r", ""))


# -- crashes ----------------------------------------------------------------------------

CRASHES = [("crash_segv", 11), ("crash_ill", 4), ("crash_fpe", 8), ("abort", 6)]


@pytest.mark.parametrize(("program", "sig"), CRASHES)
def test_crash_signal(differential: Differential, program: str, sig: int) -> None:
    result = differential([f"/{program}"])
    assert outcome_of(result) == Outcome("signal", sig)
    assert result.returncode == 128 + sig  # type: ignore[attr-defined]


def test_crash_segv_report_names_address_instruction_and_symbol(
    run_nommu: Callable[..., object],
) -> None:
    result = run_nommu(["/crash_segv"])
    err = result.stderr.decode()  # type: ignore[attr-defined]
    assert result.signal == 11  # type: ignore[attr-defined]
    assert re.search(r"0x0*1\b", err), err  # the faulting address
    assert "<main+" in err  # the symbol
    assert "mov" in err  # the instruction


def test_crash_ill_report_names_instruction(run_nommu: Callable[..., object]) -> None:
    err = run_nommu(["/crash_ill"]).stderr.decode()  # type: ignore[attr-defined]
    assert "ud2" in err and "<main" in err


def test_cli_crash_segv(guest_root: Path) -> None:
    from helpers import nommu_cli

    proc = nommu_cli("run", "--no-hints", "--root", str(guest_root), "/crash_segv")
    assert proc.returncode == 139
    assert proc.stdout == "crash_segv: storing to address 0x1\n"
    assert re.search(r"0x0*1\b", proc.stderr)
    assert "<main+" in proc.stderr
    assert "mov" in proc.stderr
    assert "Traceback" not in proc.stderr
