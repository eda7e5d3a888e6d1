"""The syscall table: rows, handlers and numbers agree; unknown numbers give ENOSYS."""

from __future__ import annotations

import inspect
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from nommu.abi.errno import Errno
from nommu.api import new_kernel
from nommu.arch.arm_syscalls import SYSCALL_NUMBERS as ARM_NUMBERS
from nommu.arch.i386_syscalls import SYSCALL_NUMBERS
from nommu.kernel.events import EventSink
from nommu.kernel.kernel import Kernel, KernelConfig
from nommu.kernel.task import Task
from nommu.syscalls.table import Syscall, build_private, build_table, load_handlers

ROWS: dict[str, Syscall] = dict(load_handlers())

# How many arguments each syscall takes on i386 Linux (the SYSCALL_DEFINEn of
# the entry point named in arch/x86/entry/syscalls/syscall_32.tbl; 64-bit
# offsets count as two registers).
LINUX_ARITY: dict[str, int] = {
    "_llseek": 5,
    "_newselect": 5,
    "accept": 3,
    "accept4": 4,
    "access": 2,
    "alarm": 1,
    "bind": 3,
    "brk": 1,
    "chdir": 1,
    "chmod": 2,
    "chown32": 3,
    "clock_getres": 2,
    "clock_getres_time64": 2,
    "clock_gettime": 2,
    "clock_gettime64": 2,
    "clock_nanosleep": 4,
    "clock_nanosleep_time64": 4,
    "clone": 5,
    "close": 1,
    "close_range": 3,
    "connect": 3,
    "creat": 2,
    "dup": 1,
    "dup2": 2,
    "dup3": 3,
    "epoll_create": 1,
    "epoll_create1": 1,
    "epoll_ctl": 4,
    "epoll_pwait": 6,
    "epoll_pwait2": 6,
    "epoll_wait": 4,
    "eventfd": 1,
    "eventfd2": 2,
    "execve": 3,
    "exit": 1,
    "exit_group": 1,
    "faccessat": 3,
    "faccessat2": 4,
    "fallocate": 6,
    "fchdir": 1,
    "fchmod": 2,
    "fchmodat": 3,
    "fchown32": 3,
    "fcntl": 3,
    "fcntl64": 3,
    "fdatasync": 1,
    "flock": 2,
    "fork": 0,
    "fstat64": 2,
    "fstatat64": 4,
    "fsync": 1,
    "ftruncate64": 3,
    "futex": 6,
    "futex_time64": 6,
    "getcwd": 2,
    "getdents64": 3,
    "getegid": 0,
    "getegid32": 0,
    "geteuid": 0,
    "geteuid32": 0,
    "getgid": 0,
    "getgid32": 0,
    "getgroups32": 2,
    "getitimer": 2,
    "getpeername": 3,
    "getpgid": 1,
    "getpgrp": 0,
    "getpid": 0,
    "getppid": 0,
    "getrandom": 3,
    "getresgid32": 3,
    "getresuid32": 3,
    "getrusage": 2,
    "getsid": 1,
    "getsockname": 3,
    "getsockopt": 5,
    "gettid": 0,
    "gettimeofday": 2,
    "getuid": 0,
    "getuid32": 0,
    "inotify_add_watch": 3,
    "inotify_init": 0,
    "inotify_init1": 1,
    "inotify_rm_watch": 2,
    "ioctl": 3,
    "ipc": 6,
    "kill": 2,
    "lchown32": 3,
    "link": 2,
    "linkat": 5,
    "listen": 2,
    "lseek": 3,
    "lstat64": 2,
    "madvise": 3,
    "membarrier": 3,
    "memfd_create": 2,
    "mincore": 3,
    "mkdir": 2,
    "mkdirat": 3,
    "mlock": 2,
    "mlockall": 1,
    "mmap2": 6,
    "mmap": 1,  # the old mmap: one pointer to six arguments
    "recv": 4,
    "recvfrom": 6,
    "recvmmsg": 5,
    "recvmmsg_time64": 5,
    "recvmsg": 3,
    "send": 4,
    "sendmmsg": 4,
    "sendmsg": 3,
    "sendto": 6,
    "setsockopt": 5,
    "shmget": 3,
    "shmat": 3,
    "shmdt": 1,
    "shmctl": 3,
    "mlock2": 3,
    "mprotect": 3,
    "mremap": 5,
    "mseal": 3,
    "msync": 3,
    "munlock": 2,
    "munlockall": 0,
    "munmap": 2,
    "nanosleep": 2,
    "open": 3,
    "openat": 4,
    "pause": 0,
    "pipe": 1,
    "pipe2": 2,
    "pkey_mprotect": 4,
    "poll": 3,
    "ppoll": 5,
    "ppoll_time64": 5,
    "pread64": 5,
    "prlimit64": 4,
    "process_madvise": 5,
    "pselect6": 6,
    "pselect6_time64": 6,
    "pwrite64": 5,
    "read": 3,
    "readlink": 3,
    "readlinkat": 4,
    "readv": 3,
    "remap_file_pages": 5,
    "rename": 2,
    "renameat": 4,
    "renameat2": 5,
    "rmdir": 1,
    "rt_sigaction": 4,
    "rt_sigpending": 2,
    "rt_sigprocmask": 4,
    "rt_sigreturn": 0,
    "rt_sigsuspend": 2,
    "sched_getaffinity": 3,
    "sched_yield": 0,
    "set_thread_area": 1,
    "set_tid_address": 1,
    "setgid32": 1,
    "setitimer": 3,
    "setpgid": 2,
    "setregid32": 2,
    "setresgid32": 3,
    "setresuid32": 3,
    "setreuid32": 2,
    "setsid": 0,
    "setuid32": 1,
    "shutdown": 2,
    "sigaltstack": 2,
    "signalfd": 3,
    "signalfd4": 4,
    "sigreturn": 0,
    "socket": 3,
    "socketcall": 2,
    "socketpair": 4,
    "stat64": 2,
    "statx": 5,
    "symlink": 2,
    "symlinkat": 3,
    "sysinfo": 1,
    "tgkill": 3,
    "time": 1,
    "timer_create": 3,
    "timer_delete": 1,
    "timer_getoverrun": 1,
    "timer_gettime": 2,
    "timer_gettime64": 2,
    "timer_settime": 4,
    "timer_settime64": 4,
    "timerfd_create": 2,
    "timerfd_gettime": 2,
    "timerfd_gettime64": 2,
    "timerfd_settime": 4,
    "timerfd_settime64": 4,
    "times": 1,
    "tkill": 2,
    "truncate64": 3,
    "ugetrlimit": 2,
    "umask": 1,
    "uname": 1,
    "unlink": 1,
    "unlinkat": 3,
    "vfork": 0,
    "wait4": 4,
    "waitpid": 3,
    "write": 3,
    "writev": 3,
}


def handler_accepts(row: Syscall) -> bool:
    """Can the dispatcher call row.handler(k, t, *row.nargs registers)?"""
    sig = inspect.signature(row.handler)
    try:
        sig.bind(None, None, *range(row.nargs))
    except TypeError:
        return False
    return True


def exact_arity(row: Syscall) -> int | None:
    """Positional parameters after (k, t), or None if the handler takes *args."""
    params = list(inspect.signature(row.handler).parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) - 2


def test_table_is_not_empty() -> None:
    assert len(ROWS) > 50
    for name in ("read", "write", "execve", "vfork", "clone", "exit_group", "futex", "wait4"):
        assert name in ROWS


@pytest.mark.parametrize("name", sorted(ROWS))
def test_handler_arity_matches_row(name: str) -> None:
    row = ROWS[name]
    assert row.nargs == len(row.args)
    params = list(inspect.signature(row.handler).parameters)
    assert len(params) >= 2, "handlers take (k, t, ...)"
    arity = exact_arity(row)
    if arity is not None:
        assert arity == len(row.args), f"{name}: handler takes {arity}, row lists {row.args}"
    assert handler_accepts(row)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_registered_name_has_a_number(name: str) -> None:
    """On i386, or (the calls i386 reaches through ipc, and ARM's private ones) on ARM."""
    assert name in SYSCALL_NUMBERS or name in ARM_NUMBERS
    assert ROWS[name].name == name


@pytest.mark.parametrize("name", sorted(ROWS))
def test_return_kind_is_known(name: str) -> None:
    assert ROWS[name].ret in {"int", "hex", "fd", "pid", "none"}


@pytest.mark.parametrize("name", sorted(set(LINUX_ARITY) & set(ROWS)))
def test_row_arity_matches_linux(name: str) -> None:
    assert ROWS[name].nargs == LINUX_ARITY[name]


def test_most_rows_have_a_known_linux_arity() -> None:
    unknown = sorted(set(ROWS) - set(LINUX_ARITY))
    assert len(unknown) <= len(ROWS) // 4, f"add these to LINUX_ARITY: {unknown}"


def test_numbers_are_unique() -> None:
    nrs = list(SYSCALL_NUMBERS.values())
    assert len(nrs) == len(set(nrs))


@pytest.mark.parametrize(
    ("name", "nr"),
    [
        ("exit", 1),
        ("fork", 2),
        ("read", 3),
        ("write", 4),
        ("execve", 11),
        ("clone", 120),
        ("vfork", 190),
        ("mmap2", 192),
        ("futex", 240),
        ("set_thread_area", 243),
        ("exit_group", 252),
        ("set_tid_address", 258),
        ("pipe2", 331),
        ("futex_time64", 422),
    ],
)
def test_well_known_numbers(name: str, nr: int) -> None:
    assert SYSCALL_NUMBERS[name] == nr


def test_build_table_indexes_rows_by_number() -> None:
    table = build_table(SYSCALL_NUMBERS)
    on_i386 = {name: row for name, row in ROWS.items() if name in SYSCALL_NUMBERS}
    for name, row in on_i386.items():
        assert table[SYSCALL_NUMBERS[name]] is row
    assert sum(r is not None for r in table) == len(on_i386)


def test_build_table_leaves_out_a_call_the_architecture_lacks() -> None:
    numbers = dict(SYSCALL_NUMBERS)
    del numbers["read"]
    assert ROWS["read"] not in build_table(numbers)


def test_arm_private_calls_are_found_by_number() -> None:
    """0xf0005 and friends are far above the table: build_private has them."""
    private = build_private(ARM_NUMBERS)
    assert private[0xF0005] is ROWS["set_tls"] and private[0xF0006] is ROWS["get_tls"]
    assert 0xF0003 not in private  # usr26: no handler, ENOSYS
    assert len(build_table(ARM_NUMBERS)) < 0x1000


# -- unknown syscalls -----------------------------------------------------------------

ENOSYS_U32 = -Errno.ENOSYS & 0xFFFFFFFF


@pytest.fixture
def kernel(tmp_path: Path) -> tuple[Kernel, io.StringIO]:
    err = io.StringIO()
    k = new_kernel(KernelConfig(mem=4 << 20, root=str(tmp_path), stderr=err))
    k.current = object()  # type: ignore[assignment]  # unknown syscalls never touch the task
    return k, err


def unimplemented_number() -> int:
    """An i386 syscall number with a name but no handler (e.g. mount)."""
    for name in ("mount", "ptrace", "acct", "swapon"):
        if name not in ROWS:
            return SYSCALL_NUMBERS[name]
    pytest.skip("every candidate is implemented")


@pytest.mark.parametrize("nr", [9999, 0xFFFFFFFF, 0x7FFFFFFF, "unimplemented"])
def test_unknown_syscall_returns_enosys(kernel: tuple[Kernel, io.StringIO], nr: int | str) -> None:
    k, _ = kernel
    number = unimplemented_number() if nr == "unimplemented" else int(nr)
    dispatch: Callable[[list[int]], int | None] = k.cpu.on_syscall  # type: ignore[assignment]
    result = dispatch([number, 0, 0, 0, 0, 0, 0])
    assert result is not None and result & 0xFFFFFFFF == ENOSYS_U32


def test_unknown_syscall_warns_once_per_number(kernel: tuple[Kernel, io.StringIO]) -> None:
    k, err = kernel
    dispatch: Callable[[list[int]], int | None] = k.cpu.on_syscall  # type: ignore[assignment]
    for _ in range(3):
        dispatch([9999, 0, 0, 0, 0, 0, 0])
    assert len(err.getvalue().splitlines()) == 1
    dispatch([9998, 0, 0, 0, 0, 0, 0])
    assert len(err.getvalue().splitlines()) == 2


def test_guest_sees_enosys_for_syscall_9999(run_nommu: Callable[..., object]) -> None:
    result = run_nommu(["/errno", "/tmp"])
    out = result.stdout.decode()  # type: ignore[attr-defined]
    assert "syscall 9999: ENOSYS (Function not implemented)" in out.splitlines()
    assert result.exit_code == 0  # type: ignore[attr-defined]


class Gaps(EventSink):
    """Collects the kernel's `unimplemented` events."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def unimplemented(self, t: Task, call: str) -> None:
        self.calls.append(call)


@pytest.mark.parametrize(
    ("name", "gap"),
    [
        ("personality", True),  # Linux has it, with or without an MMU
        ("swapon", False),  # needs an MMU: ENOSYS on a no-MMU Linux too
        ("break", False),  # no entry point in Linux's i386 table
    ],
)
def test_only_calls_linux_has_are_gaps(
    kernel: tuple[Kernel, io.StringIO], name: str, gap: bool
) -> None:
    k, _ = kernel
    assert name not in ROWS, f"{name} is implemented now: pick another call for this case"
    k.events = gaps = Gaps()
    dispatch: Callable[[list[int]], int | None] = k.cpu.on_syscall  # type: ignore[assignment]
    result = dispatch([SYSCALL_NUMBERS[name], 0, 0, 0, 0, 0, 0])
    assert result is not None and result & 0xFFFFFFFF == ENOSYS_U32
    assert gaps.calls == ([name] if gap else [])
    dispatch([9999, 0, 0, 0, 0, 0, 0])  # no such syscall at all: no gap either
    assert gaps.calls == ([name] if gap else [])


# -- a bug in a handler -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["run", "strace", "check", "check-strace"])
def test_internal_error_names_pid_syscall_and_pc(
    guest_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: str,
) -> None:
    """An exception inside a handler is a bug in nommu: in every mode (plain,
    --strace, nommu check, both) the report says which process made which
    syscall at which pc, and the exit status is EX_SOFTWARE."""
    from nommu import cli
    from nommu.syscalls import table

    def broken(k: Kernel, t: Task) -> int:
        raise RuntimeError("a bug in a handler")

    monkeypatch.setitem(table.REGISTRY, "getpid", Syscall("getpid", broken, ()))
    trace = ["--strace-file", str(tmp_path / "trace")] if "strace" in mode else []
    sub = "check" if mode.startswith("check") else "run"
    status = cli.main([sub, "--root", str(guest_root), *trace, "/getpid_loop", "1"])
    err = capsys.readouterr().err
    assert status == cli.EXIT_INTERNAL, err
    where = rf"while running: pid 1 \(\S+\), syscall getpid \({SYSCALL_NUMBERS['getpid']}\)"
    assert re.search(where + r", pc 0x[0-9a-f]{8}", err), err
    assert "RuntimeError: a bug in a handler" in err


def test_dispatcher_rows_are_built_once_per_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kernel of one architecture shares its dispatch rows (no rebuild
    per machine), unless a row in the registry changed since."""
    from nommu.arch import I386
    from nommu.syscalls import table
    from nommu.syscalls.dispatch import prepared_rows

    index = tuple(range(7))
    first = prepared_rows(I386, index)
    assert prepared_rows(I386, index) is first

    def other(k: Kernel, t: Task) -> int:
        return 7

    monkeypatch.setitem(table.REGISTRY, "getpid", Syscall("getpid", other, ()))
    fast = prepared_rows(I386, index)[2]
    entry = fast[SYSCALL_NUMBERS["getpid"]]
    assert entry is not None and entry[0] is other
