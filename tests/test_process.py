"""Process creation without an MMU (issue 3): vfork, clone, posix_spawn, threads, wait.

Natively (an MMU kernel) vfork also shares memory and suspends the parent,
so these programs must print the same and end the same way under nommu.
The exception is fork(), which nommu refuses with EINVAL: the native oracle
for fork_fail runs under a seccomp filter that makes i386 fork() fail with
EINVAL too.
"""

from __future__ import annotations

import ctypes
import io
import re
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Outcome, guarded_run, native_run, outcome_of, populate_root

from nommu import Machine

Differential = Callable[..., object]
RunNommu = Callable[..., object]


def text(result: object) -> str:
    return result.stdout.decode(errors="replace")  # type: ignore[attr-defined]


# -- vfork + execve ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["./exitcode", "3"], 3),
        (["./exitcode"], 0),
        (["./hello", "from", "child"], 0),
        (["./crash_segv"], 128 + 11),
        (["./nothere"], 127),
    ],
)
def test_vfork_exec(differential: Differential, argv: list[str], status: int) -> None:
    result = differential(["/vfork_exec", *argv])
    assert result.returncode == status  # type: ignore[attr-defined]
    out = text(result)
    assert "child with failing execve: exited 127\n" in out
    assert out.endswith("execve error seen by the parent: ENOENT\n")


def test_vfork_exec_reports_child_exit(differential: Differential) -> None:
    out = text(differential(["/vfork_exec", "./exitcode", "42"]))
    assert out.splitlines()[0] == "child: exited 42"


def test_vfork_child_building_argv_in_the_callers_frame(differential: Differential) -> None:
    out = text(differential(["/vfork_argv", "./exitcode", "7"]))
    assert out == "child: exited 7\nchild: exited 7\n"


def test_a_program_loaded_where_another_ran_runs_its_own_code(differential: Differential) -> None:
    """The second run of hello lands one page past where the first began (a
    page mapped in between took that spot): none of the first run's
    translated code may survive there. (The ARM machine once learnt where
    code may be from its load records alone, and mapping that one page made
    it forget the whole first load: the second run crashed.)"""
    result = differential(["/exec_reuse", "./hello"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert text(result).endswith("first: 0\nsecond: 0\n")


def test_vfork_exec_absolute_guest_path(run_nommu: RunNommu) -> None:
    result = run_nommu(["/vfork_exec", "/bin/exitcode", "9"])
    assert result.returncode == 9  # type: ignore[attr-defined]
    assert text(result).splitlines()[0] == "child: exited 9"


def test_vfork_shared(differential: Differential) -> None:
    result = differential(["/vfork_shared"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert "parent sees global_value=100 local_value=200" in text(result)


def test_vfork_exit(differential: Differential) -> None:
    result = differential(["/vfork_exit"])
    assert outcome_of(result) == Outcome("exit", 0)
    assert text(result).startswith("parent's unflushed text; atexit handler ran in the child\n")
    assert text(result).count("unflushed") == 1


@pytest.mark.parametrize(
    ("mode", "program", "status"),
    [
        ("naive", ["./exitcode", "0"], 3),
        ("naive", ["./exitcode", "5"], 3),
        ("naive", [], 3),
        ("naive", ["./nothere"], 3),
        ("safe", ["./exitcode", "0"], 0),
        ("safe", ["./exitcode", "5"], 0),
        ("safe", [], 0),
        ("safe", ["./nothere"], 0),
    ],
)
def test_naive_vfork(
    differential: Differential, mode: str, program: list[str], status: int
) -> None:
    result = differential(["/naive_vfork", mode, *program])
    assert outcome_of(result) == Outcome("exit", status), text(result)
    hijacked = "parent: resumed in the child's branch" in text(result)
    assert hijacked == (mode == "naive")


def test_naive_vfork_usage(differential: Differential) -> None:
    assert outcome_of(differential(["/naive_vfork", "bogus"])) == Outcome("exit", 2)


# -- fork is refused; posix_spawn works --------------------------------------------------

AUDIT_ARCH_I386 = 0x40000003
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
EINVAL = 22


def _seccomp_fork_einval() -> None:
    """preexec_fn: make i386 fork() (nr 2) fail with EINVAL, as on a no-MMU kernel."""
    insns = [
        (0x20, 0, 0, 4),  # ld [arch]
        (0x15, 0, 3, AUDIT_ARCH_I386),  # not i386 -> allow
        (0x20, 0, 0, 0),  # ld [nr]
        (0x15, 0, 1, 2),  # not fork -> allow
        (0x06, 0, 0, SECCOMP_RET_ERRNO | EINVAL),
        (0x06, 0, 0, SECCOMP_RET_ALLOW),
    ]
    code = b"".join(struct.pack("=HBBI", *i) for i in insns)
    buf = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(insns), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


@pytest.fixture
def run_native_nofork(guest_root: Path, native_ok: None) -> Callable[..., object]:
    """Run natively under the seccomp filter; skip if the host refuses the filter."""
    try:
        native_run(guest_root, ["/exitcode"], preexec_fn=_seccomp_fork_einval)
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"seccomp not available for the fork oracle: {err}")

    def run(argv: list[str]) -> object:
        return native_run(guest_root, argv, preexec_fn=_seccomp_fork_einval)

    return run


@pytest.mark.parametrize(
    ("argv", "spawned"),
    [
        (["./exitcode", "4"], "exited 4"),
        (["./crash_segv"], "killed by SIGSEGV"),
        (["./hello", "x"], "exited 0"),
    ],
)
def test_fork_fail_against_seccomp_oracle(
    run_nommu: RunNommu, run_native_nofork: Callable[..., object], argv: list[str], spawned: str
) -> None:
    native = run_native_nofork(["/fork_fail", *argv])
    emulated = run_nommu(["/fork_fail", *argv])
    assert text(native).splitlines()[0] == "fork: EINVAL (Invalid argument)"  # the oracle works
    assert text(emulated) == text(native)
    assert outcome_of(emulated) == outcome_of(native) == Outcome("exit", 0)  # type: ignore[arg-type]
    assert text(emulated).rstrip("\n").endswith(f"spawned: {spawned}")


def test_fork_fail_against_plain_native(
    run_nommu: RunNommu, run_native: Callable[..., object]
) -> None:
    """Without the oracle: only the first line differs, by design."""
    native = run_native(["/fork_fail", "./exitcode", "6"])
    emulated = run_nommu(["/fork_fail", "./exitcode", "6"])
    n_lines, e_lines = text(native).splitlines(), text(emulated).splitlines()
    assert e_lines[0] == "fork: EINVAL (Invalid argument)"
    assert n_lines[0] == "fork: succeeded (this kernel has an MMU)"
    assert e_lines[1:] == n_lines[1:] == ["spawned: exited 6"]
    assert outcome_of(emulated) == outcome_of(native)  # type: ignore[arg-type]


def test_fork_fail_missing_program(
    run_nommu: RunNommu, run_native_nofork: Callable[..., object]
) -> None:
    native = run_native_nofork(["/fork_fail", "./nothere"])
    emulated = run_nommu(["/fork_fail", "./nothere"])
    assert text(emulated) == text(native)
    assert "posix_spawn: ENOENT" in text(emulated)
    assert outcome_of(emulated) == outcome_of(native) == Outcome("exit", 1)  # type: ignore[arg-type]


def test_spawn_with_file_actions(differential: Differential, guest_root: Path) -> None:
    result = differential(["/spawn", ".", "tmp"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    out = text(result)
    assert "  spawn.out: argv[1]=via-addopen\n" in out
    assert "  spawn.out: argv[1]=via-dup2\n" in out
    assert "posix_spawn: ENOENT" in out
    assert "exitcode: exited 9" in out
    assert not (guest_root / "tmp" / "spawn.out").exists()


def test_spawn_with_absolute_bindir(run_nommu: RunNommu, differential: Differential) -> None:
    """Inside the guest, /bin and . hold the same programs: same output."""
    assert text(run_nommu(["/spawn", "/bin", "/tmp"])) == text(differential(["/spawn", ".", "tmp"]))


# -- clone, threads, wait, futex ----------------------------------------------------------


@pytest.mark.parametrize("program", ["clone_vm", "waitpid", "futex"])
def test_self_checking_process_programs(differential: Differential, program: str) -> None:
    result = differential([f"/{program}"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert ": no\n" not in text(result)


def test_threads(differential: Differential) -> None:
    result = differential(["/threads"])
    assert outcome_of(result) == Outcome("exit", 0), text(result)
    assert "counter=400000\n" in text(result)


# -- preemption: a task must resume exactly where its time slice ended ---------------------


def test_syscall_free_loop_is_stopped_by_force(tmp_path: Path) -> None:
    """A task that never makes a syscall still loses the CPU once its forced
    deadline passes (liveness), through the slice timer thread."""
    import time

    from nommu.kernel.kernel import Kernel, KernelConfig

    k = Kernel(KernelConfig(mem=2 << 20, root=str(tmp_path)))
    block = k.alloc.alloc(8192, 0, "test")
    code_at = block.start
    k.ram.write(code_at, b"\x40\xeb\xfd")  # loop: inc eax; jmp loop
    k.cpu.regs_write(k.arch.initial_registers(code_at, block.end))
    start = time.monotonic()
    try:
        stop = k.cpu.run(code_at, start, start + 0.05)
    finally:
        k.cpu.timer.shutdown()
    assert code_at <= stop.pc < code_at + 3
    assert k.cpu.timer.forced_stops == 1
    assert k.cpu.reg_read(k.arch.RESULT_REG) > 0


def test_forced_stops_resume_exactly(tmp_path: Path) -> None:
    """Stop `inc eax; inc dword [data]; jmp` from outside many times: the
    register and the memory counter must agree, so no instruction ran twice
    (Unicorn's per-store stop checks would re-run the `inc [mem]`)."""
    import time

    from nommu.kernel.kernel import Kernel, KernelConfig

    k = Kernel(KernelConfig(mem=2 << 20, root=str(tmp_path)))
    assert k.cpu.precise_stops
    block = k.alloc.alloc(8192, 0, "test")
    code_at, data_at = block.start, block.start + 4096
    k.ram.write(code_at, b"\x40" + b"\xff\x05" + data_at.to_bytes(4, "little") + b"\xeb\xf7")
    k.cpu.regs_write(k.arch.initial_registers(code_at, block.end))
    pc = code_at
    try:
        for _ in range(40):
            now = time.monotonic()
            pc = k.cpu.run(pc, now, now + 0.001).pc
    finally:
        k.cpu.timer.shutdown()
    eax = k.cpu.reg_read(k.arch.RESULT_REG)
    executed = int.from_bytes(k.ram.read(data_at, 4), "little")
    assert executed - eax in (0, 1)  # (a stop may fall between the two incs)
    assert eax > 1000


def test_a_forced_stop_before_the_cpu_starts_is_not_lost(tmp_path: Path) -> None:
    """A slice whose force deadline passes before Unicorn has started running
    (a loaded host) is still stopped: Unicorn forgets a stop requested before
    uc_emu_start, so the timer asks again while the run goes on."""
    import threading
    import time

    from unicorn.unicorn_py3.unicorn import uclib

    from nommu.kernel.kernel import Kernel, KernelConfig

    k = Kernel(KernelConfig(mem=2 << 20, root=str(tmp_path)))
    block = k.alloc.alloc(8192, 0, "test")
    k.ram.write(block.start, b"\x40\xeb\xfd")  # loop: inc eax; jmp loop
    k.cpu.regs_write(k.arch.initial_registers(block.start, block.end))
    real_start = k.cpu._emu_start

    def late_start(*args: object) -> int:
        time.sleep(4 * k.cpu.timer.TICK)  # the timer's stop comes first, and is lost
        return int(real_start(*args))

    k.cpu._emu_start = late_start
    done = threading.Event()

    def rescue() -> None:  # (without the fix the run never ends: end it, then fail)
        if not done.wait(5):
            uclib.uc_emu_stop(k.cpu._h)

    threading.Thread(target=rescue, daemon=True).start()
    start = time.monotonic()
    try:
        k.cpu.run(block.start, start, start)
    finally:
        done.set()
        k.cpu.timer.shutdown()
    assert time.monotonic() - start < 4
    assert k.cpu.timer.forced_stops >= 1


def test_threads_with_short_time_slices(
    run_nommu: RunNommu, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1 ms slices: threads are preempted constantly, always at a syscall, so the
    mutex-protected counter is exact (an imprecise stop would run an instruction
    twice: Unicorn checks for stop requests after every memory store)."""
    from nommu.kernel import sched

    monkeypatch.setattr(sched, "SLICE", 0.001)
    for _ in range(3):
        result = run_nommu(["/threads"])
        assert result.returncode == 0 and "counter=400000\n" in text(result), text(result)


@pytest.mark.parametrize(
    ("program", "n"),
    [("pingpong", 200), ("futex_pingpong", 200), ("pingpong", 1), ("futex_pingpong", 1)],
)
def test_pingpong(differential: Differential, program: str, n: int) -> None:
    result = differential([f"/{program}", str(n)])
    assert text(result) == f"{program}: {n} round trips ok\n"


@pytest.mark.parametrize("n", [200, 1])
def test_pingpong_with_spawned_partner(differential: Differential, n: int) -> None:
    """`pingpong N -- PROG`: the partner is PROG --echo started with posix_spawn (the
    bench's pipe workload: qemu-i386 refuses the clone mode), same output as clone mode."""
    result = differential(["/pingpong", str(n), "--", "./pingpong"])
    assert text(result) == f"pingpong: {n} round trips ok\n"


def test_pingpong_partner_missing(differential: Differential) -> None:
    result = differential(["/pingpong", "3", "--", "./nonexistent"])
    assert text(result) == "posix_spawn: ENOENT (No such file or directory)\n"
    assert result.returncode == 1  # type: ignore[attr-defined]


def test_pingpong_echo(run_nommu: RunNommu, run_native: Callable[..., object]) -> None:
    """`pingpong --echo` (the spawned partner) echoes each stdin byte + 1 until EOF."""
    for run in (run_native, run_nommu):
        result = run(["/pingpong", "--echo"], stdin=b"abc\xff")
        assert result.stdout == b"bcd\x00", result  # type: ignore[attr-defined]


def test_spawn_chain(differential: Differential) -> None:
    result = differential(["/spawn_chain", "300", "./exitcode"])
    assert text(result) == "spawn_chain: 300 spawns, 0 wrong exit statuses\n"


def test_spawn_chain_with_posix_spawn(differential: Differential) -> None:
    result = differential(["/spawn_chain", "100", "./exitcode", "posix_spawn"])
    assert text(result) == "spawn_chain: 100 spawns, 0 wrong exit statuses\n"


def test_thread_cycle(differential: Differential) -> None:
    """pthread_create + pthread_join, 300 times: every thread's stack and TLS
    come back (the bench's pthread workload)."""
    result = differential(["/thread_cycle", "300"])
    assert text(result) == "thread_cycle: 300 threads, total 44850\n"


def test_spawn_chain_in_small_memory(run_nommu: RunNommu) -> None:
    """300 vfork+exec cycles in 2 MiB: every exited child's memory comes back."""
    result = run_nommu(["/spawn_chain", "300"], mem="2M")
    assert result.exit_code == 0, text(result)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "argv",
    [
        ["/hello"],
        ["/spawn_chain", "20"],
        ["/threads"],
        ["/pingpong", "20"],
        ["/malloc"],
        ["/crash_segv"],
        ["/vfork_exec", "/exitcode", "1"],
        ["/spawn", "/bin", "/tmp"],
    ],
)
def test_all_memory_returned_after_run(guest_root: Path, argv: list[str]) -> None:
    machine = Machine(root=guest_root, hints=False)
    guarded_run(machine, argv)
    assert machine.kernel is not None
    alloc = machine.kernel.alloc
    assert [b.kind for b in alloc.used_blocks()] == ["kernel"]
    assert alloc.largest_free() == alloc.free_total()


def test_deadlock_is_detected(run_nommu: RunNommu) -> None:
    start = time.monotonic()
    result = run_nommu(["/deadlock"], timeout=30)
    assert time.monotonic() - start < 10
    assert text(result) == "deadlock: starting\n"
    assert result.deadlock  # type: ignore[attr-defined]
    assert len(result.deadlock) == 3  # type: ignore[attr-defined]  # main, A and B
    assert result.returncode == 125  # type: ignore[attr-defined]


def test_deadlock_cli_exit_status(guest_root: Path) -> None:
    from helpers import nommu_cli

    proc = nommu_cli("run", "--no-hints", "--root", str(guest_root), "/deadlock", timeout=60)
    assert proc.returncode == 125
    assert proc.stdout == "deadlock: starting\n"
    assert "Traceback" not in proc.stderr


# -- strace shows the no-MMU process events ---------------------------------------------------

PID_LINE = re.compile(r"^\[pid (\d+)\] (.*)$")


def strace_of(guest_root: Path, argv: list[str]) -> tuple[object, list[tuple[int, str]]]:
    trace = io.StringIO()
    result = guarded_run(Machine(root=guest_root, hints=False, strace=trace), argv)
    lines = []
    for line in trace.getvalue().splitlines():
        m = PID_LINE.match(line)
        if m:
            lines.append((int(m.group(1)), m.group(2)))
    return result, lines


def test_strace_shows_vfork_exec_exit(guest_root: Path) -> None:
    result, lines = strace_of(guest_root, ["/vfork_exec", "/exitcode", "3"])
    assert result.returncode == 3  # type: ignore[attr-defined]
    vfork = [(pid, s) for pid, s in lines if s.startswith("vfork()")]
    assert len(vfork) == 2 and all(pid == 1 for pid, _ in vfork)
    child = int(re.search(r"= (\d+)", vfork[0][1]).group(1))  # type: ignore[union-attr]
    assert child != 1
    assert any(pid == 1 and "suspended" in s and str(child) in s for pid, s in lines)
    assert any(pid == child and s.startswith('execve("/exitcode"') for pid, s in lines)
    assert any(pid == child and s.startswith("exit_group(3)") for pid, s in lines)
    assert any(pid == 1 and s.startswith("exit_group(3)") for pid, s in lines)
    failing = [(pid, s) for pid, s in lines if s.startswith('execve("/nonexistent/program"')]
    assert failing and "ENOENT" in failing[0][1]


def test_strace_suspended_precedes_child_activity(guest_root: Path) -> None:
    _, lines = strace_of(guest_root, ["/vfork_exec", "/exitcode", "0"])
    first_child = next(i for i, (pid, _) in enumerate(lines) if pid != 1)
    suspended = next(i for i, (pid, s) in enumerate(lines) if pid == 1 and "suspended" in s)
    assert suspended < first_child


def test_strace_posix_spawn_shows_clone_vfork(guest_root: Path) -> None:
    _, lines = strace_of(guest_root, ["/fork_fail", "/exitcode", "2"])
    assert any(pid == 1 and s.startswith("fork()") and "EINVAL" in s for pid, s in lines)
    assert any(pid == 1 and s.startswith("clone(") and "CLONE_VFORK" in s for pid, s in lines)
    assert any(pid == 1 and "suspended" in s for pid, s in lines)
    assert any(pid != 1 and s.startswith("execve(") for pid, s in lines)


def test_strace_shows_vfork_parent_resumed(guest_root: Path) -> None:
    _, lines = strace_of(guest_root, ["/vfork_exec", "/exitcode", "0"])
    resumed = [
        i for i, (pid, s) in enumerate(lines) if pid == 1 and "resumed" in s and "vfork" in s
    ]
    assert len(resumed) == 2  # after the exec, and after the failing child's _exit
    child_exec = next(i for i, (pid, s) in enumerate(lines) if pid != 1 and s.startswith("execve("))
    assert child_exec < resumed[0]


def test_strace_does_not_change_results(guest_root: Path, run_nommu: RunNommu) -> None:
    for argv in (["/threads"], ["/spawn", "/bin", "/tmp"], ["/waitpid"]):
        traced, _ = strace_of(guest_root, argv)
        plain = run_nommu(argv)
        assert text(traced) == text(plain)
        assert outcome_of(traced) == outcome_of(plain)  # type: ignore[arg-type]


def test_several_machines_in_one_process(tmp_path: Path) -> None:
    root = populate_root(tmp_path / "r")
    machines = [Machine(root=root, hints=False) for _ in range(3)]
    results = [guarded_run(m, ["/exitcode", str(i)]) for i, m in enumerate(machines)]
    assert [r.exit_code for r in results] == [0, 1, 2]


def test_robust_mutex_owner_death(differential: Differential) -> None:
    """A thread exits holding a robust mutex: the kernel walks its robust list,
    so the next locker (already waiting, or coming later) gets EOWNERDEAD."""
    result = differential(["/robust"])
    assert text(result) == (
        "owner already dead: lock -> EOWNERDEAD, made consistent, lock again -> 0\n"
        "owner dies while main waits: lock -> EOWNERDEAD, made consistent, lock again -> 0\n"
    )


@pytest.mark.parametrize("tracing", ["none", "strace", "check", "check-strace"])
def test_fault_report_in_every_mode(guest_root: Path, tracing: str) -> None:
    """The kernel raises a fatal fault as an event; the report the front end
    installs reaches the person whatever tracers stand in between."""
    from nommu.trace.check import Checker

    trace = io.StringIO() if "strace" in tracing else None
    checker = Checker() if tracing.startswith("check") else None
    m = Machine(root=guest_root, hints=False, strace=trace, checker=checker)
    result = m.run(["/crash_segv"], capture=True)
    assert result.signal == 11, result
    assert b"killed by SIGSEGV (Segmentation fault)" in result.messages
    assert re.search(rb"at 0x[0-9a-f]{8}", result.messages)
