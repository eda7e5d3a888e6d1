"""The Python API: build a machine, run a program, look at the outcome.

    from nommu import Machine
    result = Machine(root="guest-root", mem="8M").run(["/hello", "world"], capture=True)
    print(result.exit_code, result.stdout)

Each `run` boots a fresh machine (new RAM, new process table) and returns
when the first process has exited, like a board whose init finished.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from nommu import arch
from nommu.abi.errno import Errno
from nommu.abi.signals import SHELL_DESCRIPTIONS, signal_name
from nommu.arch.base import Arch
from nommu.kernel import exec as kexec
from nommu.kernel.errors import NommuError, SyscallError
from nommu.kernel.exit import kill_leftovers
from nommu.kernel.files import BytesInput, CapturedOutput, FdEntry, FdTable, HostStream, OpenFile
from nommu.kernel.kernel import Kernel, KernelConfig
from nommu.kernel.limits import OutputLimit
from nommu.kernel.mathemu import FPU_MODES
from nommu.kernel.sched import Deadlock
from nommu.kernel.task import FsContext, SigHand, Task, ThreadGroup
from nommu.syscalls.dispatch import make_dispatcher
from nommu.trace.check import Checker
from nommu.trace.fault import FaultReport
from nommu.trace.memmap import MemmapRecorder
from nommu.trace.strace import Strace

EXIT_DEADLOCK = 125
EXIT_TIMEOUT = 124  # as timeout(1) exits
EXIT_NOT_FOUND = 127
EXIT_CANNOT_EXEC = 126
DEFAULT_ENV = {"PATH": "/bin:/usr/bin:/", "HOME": "/", "TERM": "vt100"}


def _scaled(text: str) -> int:
    """'32M', '512K', '1G', '4096' -> bytes (ValueError if it is not a size)."""
    s = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
    digits = s[:-1] if s[-1:] in "KMG" else s
    return int(float(digits) * mult)


def parse_size(text: str | int) -> int:
    """'32M', '512K', '1G' or a byte count -> bytes (page aligned)."""
    if isinstance(text, int):
        size = text
    else:
        try:
            size = _scaled(text)
        except ValueError:
            raise NommuError(f"bad memory size {text!r}: use e.g. 8M, 512K, 1G") from None
    if not 1 << 20 <= size <= 3 << 30:
        raise NommuError(f"memory size {size} out of range: between 1M and 3G")
    return size & ~0xFFF


def parse_bytes(text: str | int) -> int:
    """An output size: '1M', '512K' or a byte count (0 allows no output at all)."""
    try:
        size = text if isinstance(text, int) else _scaled(text)
    except ValueError:
        raise NommuError(f"bad size {text!r}: use e.g. 1M, 64K, 4096") from None
    if size < 0:
        raise NommuError(f"size {text!r} is negative")
    return size


def _positive(value: float, option: str) -> float:
    if not value > 0:
        raise NommuError(f"{option} must be positive, not {value}")
    return value


@dataclass
class RunResult:
    """How a run ended. `status` is the raw wait status of the first process."""

    status: int
    stdout: bytes | None = None
    stderr: bytes | None = None
    deadlock: list[str] = field(default_factory=list)
    leftover: list[str] = field(default_factory=list)  # tasks still alive at the end
    timed_out: bool = False  # --timeout ended the run (every task was killed)
    limits: list[str] = field(default_factory=list)  # limits the run reached, one line each
    messages: bytes = (
        b""  # nommu's own lines (hints, crash reports) at the end of a captured stderr
    )

    @property
    def signal(self) -> int | None:
        sig = self.status & 0x7F
        return sig or None

    @property
    def exit_code(self) -> int | None:
        return None if self.signal else (self.status >> 8) & 0xFF

    @property
    def returncode(self) -> int:
        """What a shell would report: the exit code, or 128 + the signal."""
        if self.timed_out:
            return EXIT_TIMEOUT
        if self.deadlock:
            return EXIT_DEADLOCK
        return 128 + self.signal if self.signal else (self.status >> 8) & 0xFF

    def describe(self) -> str:
        if self.signal:
            desc = SHELL_DESCRIPTIONS.get(self.signal, signal_name(self.signal))
            return desc + (" (core dumped)" if self.status & 0x80 else "")
        return f"exited with {self.exit_code}"


class Machine:
    """An i386 machine configuration (no MMU unless `mmu=True`); `run` boots it
    with one program. `vfork_as_fork` makes vfork() behave as fork() (needs an MMU).
    `fpu="exact"` runs every x87 instruction in software (kernel/mathemu.py).
    `stack_guard=True` makes a stack overflow a SIGSEGV at the faulting store,
    as an MPU guard region would (without it the store lands, as on a board).
    A `checker` (trace.check.Checker) watches the runs for no-MMU problems and
    collects them in its `report` (`nommu check`)."""

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] = ".",
        mem: int | str = "32M",
        mmu: bool = False,
        vfork_as_fork: bool = False,
        fpu: str = "fixups",
        strace: IO[str] | None = None,
        hints: bool = True,
        stderr: IO[str] | None = None,
        checker: Checker | None = None,
        deterministic: bool = False,
        seed: int = 0,
        read_only: bool = False,
        max_procs: int = 4096,
        max_output: int | str | None = None,
        timeout: float | None = None,
        memmap: str | os.PathLike[str] | None = None,
        publish: Sequence[tuple[int, int]] = (),
        net: str = "none",
        cpu: str | None = None,
        stack_guard: bool = False,
    ) -> None:
        if vfork_as_fork and not mmu:
            raise NommuError("--vfork-as-fork needs --mmu: without an MMU fork() cannot exist")
        if not os.path.isdir(root):
            raise NommuError(f"guest root {os.fspath(root)!r} is not a directory")
        self.root = os.fspath(root)
        self.mem = parse_size(mem)
        self.mmu = mmu
        self.vfork_as_fork = vfork_as_fork
        if fpu not in FPU_MODES:
            raise NommuError(f"fpu must be one of {', '.join(FPU_MODES)}, not {fpu!r}")
        self.fpu = fpu  # x87 math emulation (kernel/mathemu.py)
        self.strace = strace
        self.hints = hints
        self.stderr = stderr
        self.checker = checker  # `nommu check`: attached to each run's kernel
        self.deterministic, self.seed = deterministic, seed
        self.read_only = read_only  # every change to the root fails with EROFS
        self.max_procs = int(_positive(max_procs, "--max-procs"))  # tasks at once (EAGAIN beyond)
        self.max_output = None if max_output is None else parse_bytes(max_output)
        self.timeout = None if timeout is None else _positive(timeout, "--timeout")
        self.memmap = memmap  # write the memory map of each run here (trace/memmap.py)
        self.stack_guard = stack_guard  # no MMU: a stack overflow is SIGSEGV (kernel/mpu.py)
        self.kernel: Kernel | None = None  # the last run's kernel, for inspection
        if net not in ("none", "host"):
            raise NommuError(f"net must be 'none' or 'host', not {net!r}")
        self.publish = tuple(_port_pair(p) for p in publish)  # host port -> guest port (TCP)
        self.net_host = net == "host"  # guest TCP connects may leave through host sockets
        if cpu is not None and cpu not in _cpu_names():
            raise NommuError(f"unknown CPU {cpu!r}: nommu has {', '.join(arch.cpu_names())}")
        self.cpu = cpu  # the CPU model of an ARM machine (None: Cortex-M7)

    def run(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        stdin: bytes | None = None,
        capture: bool = False,
        cwd: str = "/",
    ) -> RunResult:
        """Boot, run `argv[0]` (a path inside the root) as pid 1, return the outcome."""
        err_text = io.StringIO() if capture else None
        machine_arch = self._arch_for(argv, cwd)
        config = KernelConfig(
            arch=machine_arch,
            mem=self.mem,
            root=self.root,
            mmu=self.mmu,
            vfork_as_fork=self.vfork_as_fork,
            fpu=self.fpu,
            deterministic=self.deterministic,
            seed=self.seed,
            read_only=self.read_only,
            max_tasks=self.max_procs,
            max_output=self.max_output,
            timeout=self.timeout,
            hints=self.hints,
            stderr=err_text or self.stderr or sys.stderr,
            stack_guard=self.stack_guard,
            every_foreign_store=self.checker is not None,
            publish=self.publish,
            net_host=self.net_host,
        )
        k = new_kernel(config)
        self.kernel = k
        out, err = bytearray(), bytearray()
        stdio = self._stdio(
            stdin, out if capture else None, err if capture else None, k.limits.output
        )
        if self.strace is not None:
            k.tracer = k.events = Strace(self.strace, k.events)
        if self.checker is not None:
            self.checker.attach(k)
        environ = dict(DEFAULT_ENV if env is None else env)
        recorder = MemmapRecorder(k, list(argv)) if self.memmap is not None else None
        try:
            init = boot(k, list(argv), environ, stdio, cwd)
            result = _run(k, init)
        finally:
            k.net.shutdown()  # (host sockets of --publish, --net host)
            if recorder is not None and self.memmap is not None:
                recorder.write(self.memmap)
        if capture:
            result.stdout = bytes(out)
            result.messages = err_text.getvalue().encode() if err_text else b""
            result.stderr = bytes(err) + result.messages
        return result

    def _arch_for(self, argv: Sequence[str], cwd: str) -> Arch:
        """The machine's CPU: the one the program's ELF header names (a machine
        has one CPU: a program exec'd later must be for it too), ARM's model
        as --cpu says."""
        found = program_head_arch(self.root, argv[0] if argv else "", cwd)
        if found is not None and found.ELF_MACHINE == arch.ARM.ELF_MACHINE:
            if self.mmu:
                raise NommuError(
                    f"{argv[0]} is an ARM program, and nommu's ARM machine is a Cortex-M, "
                    "which has no MMU: run it without --mmu"
                )
            return arch.for_cpu(self.cpu or "cortex-m7")
        if self.cpu is not None and found is not None:
            raise NommuError(f"--cpu {self.cpu} is an ARM CPU, and {argv[0]} is not an ARM program")
        return found or arch.DEFAULT

    @staticmethod
    def _stdio(
        stdin: bytes | None, out: bytearray | None, err: bytearray | None, limit: OutputLimit
    ) -> list[OpenFile]:
        files: list[OpenFile] = [
            BytesInput(stdin, "stdin") if stdin is not None else HostStream(0, 0, "stdin"),
            CapturedOutput(out, "stdout", limit)
            if out is not None
            else HostStream(1, 1, "stdout", limit=limit),
            CapturedOutput(err, "stderr", limit)
            if err is not None
            else HostStream(2, 1, "stderr", limit=limit),
        ]
        return files


def _port_pair(pair: tuple[int, int]) -> tuple[int, int]:
    """A (host port, guest port) of --publish, checked."""
    host, guest = pair
    for port in (host, guest):
        if not 0 < int(port) < 65536:
            raise NommuError(f"--publish: port {port} is not between 1 and 65535")
    return int(host), int(guest)


def program_arch(root: str, path: str, cwd: str = "/") -> Arch:
    """The architecture to build the machine for: the one the first program's
    ELF header names (a machine has one CPU, chosen before it is built).
    Anything unreadable, outside the root or not a known ELF gets the default
    machine, whose loader then explains what is wrong with the program."""
    return program_head_arch(root, path, cwd) or arch.DEFAULT


def program_head_arch(root: str, path: str, cwd: str = "/", depth: int = 0) -> Arch | None:
    """The architecture the program `path` (inside the guest root) names in
    its ELF header, following a script's `#!` to its interpreter (an ARM
    root's /bin/sh is ARM); None if it names none nommu has."""
    top = os.path.realpath(root)
    host = os.path.realpath(os.path.join(top, os.path.join(cwd, path).lstrip("/")))
    if depth > 4 or os.path.commonpath([top, host]) != top:
        return None
    try:
        with open(host, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if head.startswith(b"#!"):
        interp = head[2:].split(b"\n", 1)[0].strip().split(b" ", 1)[0]
        return program_head_arch(root, os.fsdecode(interp), cwd, depth + 1) if interp else None
    return arch.for_program(head)


def new_kernel(config: KernelConfig) -> Kernel:
    """A machine as the front ends build it: the kernel, given its syscall
    dispatcher, with fault reports for the person at the terminal."""
    k = Kernel(config, make_dispatcher)
    k.events = FaultReport(k)
    return k


def _cpu_names() -> set[str]:
    names = set(arch.cpu_names())
    return names | {alias for name in names for alias in arch.arm.cpu_model(name).aliases}


def boot(
    k: Kernel, argv: list[str], env: Mapping[str, str], stdio: list[OpenFile], cwd: str
) -> Task:
    """Create pid 1 and exec the program in it (NommuError if it cannot start)."""
    if not argv:
        raise NommuError("no program given")
    pid = k.alloc_pid()
    group = ThreadGroup(pid, None, pid, pid)
    files = FdTable(fds={fd: FdEntry(f) for fd, f in enumerate(stdio)})
    fs = FsContext(initial_cwd(k, cwd))
    t = Task(pid, group, k.memory.new_map(pid), files, fs, SigHand(), comm="init")
    group.tasks.append(t)
    k.tasks[pid], k.groups[pid] = t, group
    k.init = group
    k.current = t
    envp = [f"{key}={value}".encode() for key, value in env.items()]
    try:
        prog = kexec.find_program(k, t, argv[0], [a.encode() for a in argv])
        kexec.exec_program(k, t, prog, envp)
    except SyscallError as err:
        status = EXIT_NOT_FOUND if err.errno == Errno.ENOENT else EXIT_CANNOT_EXEC
        raise NommuError(_start_error(k, argv[0], err), status) from None
    k.sched.add(t)
    return t


def initial_cwd(k: Kernel, cwd: str) -> str:
    """The guest path of the first process's working directory `cwd` (relative
    to /), as chdir would resolve it; NommuError if the root has no such directory."""
    try:
        resolved = k.vfs.resolve_existing("/", cwd)
        if k.vfs.is_dir(resolved):
            return resolved.guest
        problem = "is not a directory"
    except SyscallError as err:
        problem = "does not exist" if err.errno == Errno.ENOENT else f"cannot be used: {err}"
    raise NommuError(f"working directory {cwd} {problem} in the guest root {k.vfs.root}")


def _start_error(k: Kernel, program: str, err: SyscallError) -> str:
    root = k.vfs.root
    if err.errno == Errno.ENOENT and err.why:
        return f"{program}: {err.why}"
    if err.errno == Errno.ENOENT:
        guest = program if program.startswith("/") else "/" + program
        hint = ""
        if os.path.exists(program) and os.path.isabs(program):
            where = os.path.dirname(program)
            hint = (
                f" (a host file of that name exists, but the guest sees only its root: "
                f"--root {where} would include it)"
            )
        return f"{program}: not found in the guest root {root} (looked for {guest}){hint}"
    if err.errno == Errno.EACCES:
        return f"{program}: not an executable file (permission denied)"
    if err.errno == Errno.ENOEXEC:
        return f"{program}: {err.why or 'not an executable format nommu can load'}"
    if err.errno == Errno.ENOMEM:
        size = k.ram.size >> 10
        return f"{program}: does not fit in the machine's memory ({size} KiB): try a larger --mem"
    return f"{program}: cannot start: {err.errno.name} {err.why}".rstrip()


def _run(k: Kernel, init: Task) -> RunResult:
    deadlock: list[str] = []
    k.terminal.attach(k)
    try:
        k.sched.run()
    except Deadlock as dl:
        if not k.limits.out_of_time():  # (a timeout that found every task asleep)
            deadlock = [
                f"{t.tid} ({t.comm}): {t.state.name.lower()} in {t.channel}" for t in dl.tasks
            ]
    finally:
        k.terminal.detach()
        k.cpu.timer.shutdown()
    leftover = kill_leftovers(k)
    status = init.group.wait_status
    return RunResult(
        status if status is not None else 0,
        deadlock=deadlock,
        leftover=leftover,
        timed_out=k.limits.timed_out,
        limits=list(k.limits.reached.values()),
    )
