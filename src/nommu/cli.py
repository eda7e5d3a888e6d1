"""The command line: `nommu run`, `nommu check`, `nommu demo`, and `nommu` alone.

The exit status is the guest's: its exit code, or 128+N when signal N
killed it (with a one-line, shell-style message on stderr, as bash prints
"Segmentation fault"). nommu's own failures (a program that cannot be
loaded, a bad option) print one line starting with "nommu:" and exit 1 or
126/127 for programs that cannot be run / found, as shells do. A run that
--timeout ended exits 124, as timeout(1) does.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from nommu import __version__
from nommu.kernel.errors import NommuError
from nommu.rootfs import ARCHES, bundled_root, mkroot
from nommu.rootfs import guestbin as guestbin  # (re-exported: tests and tools use it)

if TYPE_CHECKING:  # (imported where used: `nommu cc` starts without the emulator)
    from nommu.api import Machine, RunResult
    from nommu.trace.check import Checker

EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in nommu itself
EXIT_USAGE = 2  # a bad command line, as argparse exits


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nommu",
        description="A no-MMU Linux machine: run i386 and ARM (Cortex-M) static-PIE programs "
        "the way uClinux runs "
        "them (one flat physical memory, vfork instead of fork).",
        epilog="Run 'nommu' alone for a demonstration. 'nommu run --help' for run options.",
    )
    p.add_argument("--version", action="version", version=f"nommu {__version__}")
    sub = p.add_subparsers(dest="subcommand")
    run = sub.add_parser(
        "run",
        help="run a program on the no-MMU machine",
        description="Run PROGRAM (a path inside the guest root) as pid 1.",
    )
    _machine_options(run)
    run.add_argument("program", metavar="PROGRAM")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    _check_parser(sub)
    _compare_parser(sub)
    shell = sub.add_parser(
        "shell",
        help="boot the bundled userland into its shell",
        description="Boot a root file system into /bin/sh. Without --root, "
        "a writable copy of the bundled userland is used (and discarded).",
    )
    shell.add_argument("-c", dest="command", metavar="COMMAND", help="run COMMAND and exit")
    _arch_option(shell, "the bundled userland's architecture (without --root): ")
    _machine_options(shell, root_default=None)
    root = sub.add_parser(
        "mkroot",
        help="make a guest root: the bundled shell and utilities, /tmp, /etc, /dev",
        description="Make DIR a root file system for --root: /bin with the bundled shell "
        "and utilities (system(), popen() and scripts need /bin/sh), /tmp, /etc (passwd, "
        "group, hosts), /root, and /dev and /proc as mount points (nommu provides their "
        "contents). Run again to refresh the programs; your files stay.",
    )
    root.add_argument("dir", metavar="DIR")
    root.add_argument(
        "--force", action="store_true", help="write into DIR even if it holds other files"
    )
    _arch_option(root, "the programs' architecture (default: what DIR was made for): ")
    sub.add_parser(
        "cc",
        help="compile and link a C program for nommu (i386 static-PIE, musl; --arch arm: "
        "ARM; --arch arm --bflt: a bFLT program with uClibc-ng)",
        description='A gcc driver: `make CC="nommu cc"` or `./configure CC=nommu-cc`. '
        "Takes gcc's options; see nommu/cc.py.",
        add_help=False,
    )
    sub.add_parser(
        "elf2flt",
        help="convert an ARM ELF program linked with -Wl,-q into a bFLT file",
        description="nommu elf2flt [-s STACK] [-z] [-o OUT] ELF; see nommu/elf2flt.py.",
        add_help=False,
    )
    demo = sub.add_parser("demo", help="run a bundled demonstration program")
    demo.add_argument("name", nargs="?", help="demo to run (omit to list them)")
    demo.add_argument("args", nargs=argparse.REMAINDER)
    _machine_options(demo, root=False)
    return p


def _machine_options(
    p: argparse.ArgumentParser, root: bool = True, root_default: str | None = "."
) -> None:
    if root:
        where = "the current directory" if root_default else "a copy of the bundled userland"
        p.add_argument(
            "--root",
            default=root_default,
            metavar="DIR",
            help=f"directory the guest sees as / (default: {where})",
        )
        p.add_argument(
            "--cwd",
            default="/",
            metavar="DIR",
            help="the program's working directory, a path inside the root (default /)",
        )
    p.add_argument(
        "--mem",
        default="32M",
        metavar="SIZE",
        help="physical RAM of the machine (default 32M, like a small board)",
    )
    p.add_argument(
        "--mmu",
        action="store_true",
        help="give the machine an MMU: per-process address spaces, fork() with copy-on-write",
    )
    p.add_argument(
        "--cpu",
        metavar="CPU",
        help="for an ARM program: the CPU, cortex-m7 (default: double-precision FPU), "
        "cortex-m4 or cortex-m33 (single-precision FPU: Debian's armhf programs need "
        "double and die with SIGILL there), cortex-m3 (no FPU) or cortex-a9 (an "
        "A-profile reference); m7, m4, m33, m3, a9 for short. (Mainline Linux has no "
        "VFP support on Cortex-M; nommu keeps each task's FPU state as a kernel with it would.)",
    )
    p.add_argument(
        "--vfork-as-fork",
        action="store_true",
        help="with --mmu, make vfork() a fork() (the classic #define vfork fork)",
    )
    p.add_argument(
        "--fpu",
        choices=("fixups", "exact"),
        default="fixups",
        help="x87 floating point: 'fixups' (default: fast; the instructions the CPU "
        "gets wrong are done in software) or 'exact' (every x87 instruction in "
        "software: real status-word flags everywhere, much slower)",
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="fixed clock, seeded random bytes and scheduling: identical runs and traces",
    )
    p.add_argument("--seed", type=int, default=0, help="the seed for --deterministic")
    p.add_argument("--strace", action="store_true", help="print each syscall (to stderr)")
    p.add_argument(
        "--memmap",
        metavar="FILE",
        help="write a picture of physical memory over the run to FILE (HTML)",
    )
    p.add_argument("--strace-file", metavar="FILE", help="write the syscall trace to FILE")
    p.add_argument("--no-hints", action="store_true", help="no explanations on stderr")
    p.add_argument(
        "--stack-guard",
        action="store_true",
        help="make a stack overflow a SIGSEGV at the faulting store, as an MPU guard region "
        "would (by default the store lands, as on a board, and a hint says so)",
    )
    _net_options(p)
    _limit_options(p)
    p.add_argument(
        "-E",
        "--env",
        action="append",
        default=[],
        metavar="VAR=VALUE",
        help="set an environment variable for the guest (repeatable)",
    )


def _net_options(p: argparse.ArgumentParser) -> None:
    """The machine's network is its own loopback; these open it to the host."""
    p.add_argument(
        "--publish",
        action="append",
        default=[],
        type=_publish_arg,
        metavar="HOST_PORT:GUEST_PORT",
        help="forward TCP connections to the host's 127.0.0.1:HOST_PORT to the guest "
        "socket listening on GUEST_PORT (repeatable)",
    )
    p.add_argument(
        "--net",
        choices=("none", "host"),
        default="none",
        help="'host': guest TCP connects to addresses outside the loopback go out "
        "through host sockets (default 'none': the machine reaches nothing)",
    )


def _publish_arg(text: str) -> tuple[int, int]:
    host, sep, guest = text.partition(":")
    try:
        pair = (int(host), int(guest))
    except ValueError:
        pair = (0, 0)
    if not sep or not all(0 < p < 65536 for p in pair):
        raise argparse.ArgumentTypeError(f"{text!r}: use HOST_PORT:GUEST_PORT (1-65535)")
    return pair


def _limit_options(p: argparse.ArgumentParser) -> None:
    """Options that keep an untrusted or broken guest in bounds."""
    p.add_argument(
        "--read-only",
        action="store_true",
        help="the guest may not change the root: every write to it fails with EROFS",
    )
    p.add_argument(
        "--max-procs",
        type=int,
        default=4096,
        metavar="N",
        help="processes and threads at once; vfork/clone beyond fail with EAGAIN (default 4096)",
    )
    p.add_argument(
        "--max-output",
        metavar="BYTES",
        help="bytes the guest may write to stdout and stderr together; writes beyond fail "
        "with EFBIG and raise SIGXFSZ (like RLIMIT_FSIZE)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="end the run after this much wall-clock time (exit status 124)",
    )


def _trace_stream(args: argparse.Namespace) -> IO[str] | None:
    if args.strace_file:
        try:
            return open(args.strace_file, "w")
        except OSError as err:
            raise _unwritable("--strace-file", args.strace_file, err) from None
    return sys.stderr if args.strace else None


def check_outputs(args: argparse.Namespace) -> None:
    """Files nommu writes after the run (--memmap, check -o) must be writable
    now: a usage error before the program runs, not a lost report after it."""
    for option, path in (("--memmap", "memmap"), ("-o", "output")):
        if getattr(args, path, None):
            _try_writing(option, getattr(args, path))


def _try_writing(option: str, path: str) -> None:
    """Open `path` for writing as nommu will later (removing it again if this
    made it); NommuError with EXIT_USAGE if that fails."""
    existed = os.path.lexists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as err:
        raise _unwritable(option, path, err) from None
    if not existed:
        os.unlink(path)


def _unwritable(option: str, path: str, err: OSError) -> NommuError:
    return NommuError(f"{option} {path}: cannot write: {err.strerror}", EXIT_USAGE)


def _env(args: argparse.Namespace, base: dict[str, str] | None = None) -> dict[str, str]:
    from nommu.api import DEFAULT_ENV

    env = dict(DEFAULT_ENV if base is None else base)
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep:
            raise NommuError(f"bad --env {item!r}: use NAME=VALUE")
        env[name] = value
    return env


def make_machine(root: str, args: argparse.Namespace, checker: Checker | None = None) -> Machine:
    from nommu.api import Machine

    return Machine(
        root=root,
        mem=args.mem,
        mmu=args.mmu,
        cpu=args.cpu,
        vfork_as_fork=args.vfork_as_fork,
        fpu=args.fpu,
        deterministic=args.deterministic,
        seed=args.seed,
        read_only=args.read_only,
        max_procs=args.max_procs,
        max_output=args.max_output,
        timeout=args.timeout,
        memmap=args.memmap,
        strace=_trace_stream(args),
        hints=not args.no_hints,
        checker=checker,
        stack_guard=args.stack_guard,
        publish=getattr(args, "publish", []),
        net=getattr(args, "net", "none"),
    )


def run_program(root: str, argv: list[str], args: argparse.Namespace) -> int:
    machine = make_machine(root, args)
    result = machine.run(argv, _env(args), cwd=getattr(args, "cwd", "/"))
    report(result, argv[0])
    return result.returncode


# -- nommu check ----------------------------------------------------------------


def _check_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    check = sub.add_parser(
        "check",
        help="run a program and report what breaks without an MMU",
        description="Run PROGRAM as `nommu run` does (same output, same exit status) and "
        "report, after it ends, every no-MMU portability problem it hit: fork(), vfork "
        "misuse, brk/MAP_FIXED/MAP_SHARED/mprotect reliance, fragmentation, with stacks.",
    )
    _machine_options(check)
    check.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    check.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    check.add_argument(
        "--error-exitcode",
        type=int,
        metavar="N",
        help="exit with N if anything was found (default: the program's status)",
    )
    check.add_argument(
        "--suppressions",
        action="append",
        default=[],
        metavar="FILE",
        help="findings to leave out: KIND:FUNCTION or KIND:FILE:LINE per line",
    )
    check.add_argument(
        "--strict-vfork",
        action="store_true",
        help="report every store of a vfork child into its parent's memory (POSIX's rule), "
        "not only those the parent reads afterwards",
    )
    check.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list the notes: what was seen but breaks nothing (text format; JSON "
        "always has them)",
    )
    check.add_argument("program", metavar="PROGRAM")
    check.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")


def check_program(root: str, argv: list[str], args: argparse.Namespace) -> int:
    """`nommu check`: run, then write the report; the program's status unless
    --error-exitcode and findings."""
    from nommu.trace import findings as fmt

    if args.mmu:
        raise NommuError("nommu check runs the program without an MMU, where the problems show")
    rules = []
    for path in args.suppressions:
        try:
            rules += fmt.parse_suppressions(Path(path).read_text(), path)
        except (OSError, ValueError) as err:
            raise NommuError(f"--suppressions: {err}") from None
    from nommu.trace.check import Checker

    checker = Checker(strict_vfork=args.strict_vfork)
    result = make_machine(root, args, checker).run(argv, _env(args), cwd=args.cwd)
    report(result, argv[0])
    checker.report.suppress(rules)
    program = " ".join(argv)
    text = {
        "text": lambda: fmt.format_text(checker.report, program, args.verbose),
        "json": lambda: fmt.format_json(checker.report, program, result.returncode),
        "sarif": lambda: fmt.format_sarif(checker.report, program, result.returncode),
    }[args.format]()
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stderr.write(text)
    found = bool(checker.report.findings)
    return args.error_exitcode if found and args.error_exitcode is not None else result.returncode


# -- nommu compare --------------------------------------------------------------


def _compare_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    compare = sub.add_parser(
        "compare",
        help="run a program without and with an MMU and show what differs",
        description="Run PROGRAM twice on the same root, arguments, environment and input "
        "(stdin, read once): on the no-MMU machine and with --mmu. Prints both exit "
        "statuses, a diff of the outputs and the first syscall where the traces differ "
        "(addresses ignored). Exit status 0 if the runs are the same, 1 if not. "
        "--mmu is implied for the second run; --vfork-as-fork applies to it only. "
        "Memory-management calls (brk, mmap2...), whose answers differ without an MMU by "
        "design, and nommu's own messages do not count as differences.",
    )
    _machine_options(compare)
    compare.add_argument(
        "--output-only",
        action="store_true",
        help="compare the exit status, stdout and stderr only (no syscall traces)",
    )
    compare.add_argument("program", metavar="PROGRAM")
    compare.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")


def compare_program(root: str, argv: list[str], args: argparse.Namespace) -> int:
    """`nommu compare`: the two runs and the report (on stdout)."""
    from nommu import compare

    without = make_machine(
        root, argparse.Namespace(**{**vars(args), "mmu": False, "vfork_as_fork": False})
    )
    with_mmu = make_machine(root, argparse.Namespace(**{**vars(args), "mmu": True}))
    stdin = b"" if sys.stdin.isatty() else sys.stdin.buffer.read()
    result = compare.compare(
        without, with_mmu, argv, _env(args), stdin, cwd=args.cwd, output_only=args.output_only
    )
    print(compare.report(result))
    return 1 if result.differences else 0


def _arch_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--arch",
        choices=ARCHES,
        help=f"{what}i386 (else) or arm (Thumb-2 builds for a Cortex-M machine; "
        "a machine execs programs of one architecture only, so an ARM program's "
        "system() needs an ARM /bin/sh)",
    )


def make_root(args: argparse.Namespace) -> int:
    """`nommu mkroot DIR`: make the root and say how to use it."""
    root = mkroot(args.dir, force=args.force, arch=args.arch)
    print(f"nommu: made a guest root in {root}: nommu shell --root {root}")
    return 0


def report(result: RunResult, program: str) -> None:
    """The shell-style line for a killed guest, and any deadlock, leftovers or limits."""
    for line in result.limits:
        print(f"nommu: {line}", file=sys.stderr)
    if result.timed_out:
        return
    if result.deadlock:
        print(
            "nommu: deadlock: every task is waiting and nothing can wake any of them:",
            file=sys.stderr,
        )
        for line in result.deadlock:
            print(f"  task {line}", file=sys.stderr)
    elif result.signal:
        print(f"nommu: {program}: {result.describe()}", file=sys.stderr)
    if result.leftover and not result.deadlock:
        print(
            "nommu: still running when pid 1 exited (killed): " + ", ".join(result.leftover),
            file=sys.stderr,
        )


@dataclass(frozen=True)
class Demo:
    summary: str
    runs: tuple[tuple[str, ...], ...]  # argv of each program run, in order
    explanation: str
    # How each run is made: "run" (the default), "board" (nommu run --no-hints:
    # what a board shows, no explanation) or "check" (nommu check).
    how: tuple[str, ...] = ()
    special: Callable[[argparse.Namespace], int] | None = None  # a demo that is more than runs


def _web_demo(args: argparse.Namespace) -> int:
    from nommu.webdemo import web_demo

    return web_demo(args)


DEMOS = {
    "welcome": Demo(
        "what a no-MMU machine is, shown by a program running on one",
        (("/bin/welcome",),),
        "",
    ),
    "vfork-shared": Demo(
        "a vfork child's writes land in its parent's memory",
        (("/bin/vfork_shared",),),
        "The child changed a global and a local variable of its parent before _exit():\n"
        "vfork() copies nothing, the child runs in the parent's memory on the parent's\n"
        "stack while the parent is suspended. On a no-MMU machine there is no other\n"
        "way to start a process cheaply: fork() would need to copy the whole process\n"
        "to new addresses, and without an MMU the copy could not run there.",
    ),
    "vfork-exit": Demo(
        "exit() instead of _exit() in a vfork child runs the parent's atexit "
        "handlers and flushes its stdio buffers",
        (("/bin/vfork_exit",),),
        "The child called exit(), which ran the atexit handlers and flushed the stdio\n"
        "buffer it shares with its parent: the parent's pending output was written by\n"
        "the child, and the parent's cleanup ran in the wrong process. A vfork child\n"
        "must leave with _exit() (or succeed in execve).",
    ),
    "naive-vfork": Demo(
        "a naive vfork wrapper lets the child overwrite the parent's return address",
        (
            ("/bin/naive_vfork", "naive", "/bin/exitcode", "0"),
            ("/bin/naive_vfork", "safe", "/bin/exitcode", "0"),
        ),
        "First run: the wrapper returned with `ret`, leaving its return address on the\n"
        "stack the child shares with its parent. The child's call to execve() pushed\n"
        "its own frames over that slot, so when the parent woke up its `ret` jumped\n"
        "into the child's code path. Second run: the uClibc-style wrapper keeps the\n"
        "return address in a register (each task has its own registers), so both\n"
        "return where they should. Try it with --strace to see who runs when.",
    ),
    "stack-overflow": Demo(
        "a recursion outgrows its stack and silently wrecks the memory below it",
        (
            ("/bin/stack_overflow", "main"),
            ("/bin/stack_overflow", "main"),
            ("/bin/stack_overflow_big", "main"),
        ),
        "First run, as on a board: the recursion needs 160 KiB of stack; the program's\n"
        "stack block is 128 KiB, and nothing stops the stores below it. They landed in\n"
        "the end of the program's own data, where libc keeps the main thread's state,\n"
        "and the program died later, inside printf, far from the cause. Second run:\n"
        "nommu check watched the stack's last page and the page below it (the CPU's\n"
        "TLB used as an MPU) and names the overflowing store, its function and line.\n"
        "Third run: the same program linked with -Wl,-z,stack-size=1048576 (its\n"
        "PT_GNU_STACK header asks for 1 MiB): it works. `nommu run` also says it once\n"
        "on stderr; --stack-guard makes the overflow a SIGSEGV at the store.",
        ("board", "check", "board"),
    ),
    "wild-write": Demo(
        "one process writes into another's memory, and nothing stops it",
        (("/bin/wild_write", "foreign"), ("/bin/wild_write", "foreign")),
        "First run, as on a board: the parent passed the address of a note in its own\n"
        "memory to a child it started (posix_spawn); the child stored through it. With\n"
        "an MMU the address would mean nothing in the child; without one it is the\n"
        "parent's memory, and the parent's note changed under it, silently. Second run:\n"
        "nommu check let the store land too, but names it: the writing process, the\n"
        "function and line, and whose block it hit.",
        ("board", "check"),
    ),
    "web": Demo(
        "a web server inside the machine, fetched from the host through --publish",
        (),
        "",
        special=_web_demo,
    ),
    "fork": Demo(
        "fork() fails with EINVAL on no-MMU; posix_spawn works",
        (("/bin/fork_fail", "/bin/exitcode", "0"),),
        "fork() must give the child a copy of the parent's memory at the same\n"
        "addresses; without an MMU that is impossible, so the kernel refuses it with\n"
        "EINVAL. posix_spawn() (vfork + execve inside musl) works. To port a program\n"
        "that forks, replace fork+exec with posix_spawn or vfork+execve+_exit.",
    ),
}


def demo(args: argparse.Namespace) -> int:
    if not args.name:
        print("Demonstrations (nommu demo NAME):")
        for name, d in DEMOS.items():
            print(f"  {name:14} {d.summary}")
        return 0
    if args.name not in DEMOS:
        raise NommuError(f"no demo {args.name!r}; 'nommu demo' lists them")
    d = DEMOS[args.name]
    if d.special is not None:
        return d.special(args)
    status = 0
    with bundled_root() as root:
        for i, argv in enumerate(d.runs):
            how = d.how[i] if i < len(d.how) else "run"
            if len(d.runs) > 1:
                command = {"board": "nommu run --no-hints", "check": "nommu check"}.get(how)
                print(f"$ {command + ' ' if command else ''}{' '.join(argv)}", flush=True)
            status = _demo_run(root, [*argv, *args.args], args, how)
    if d.explanation:
        print("\nWhat happened:\n" + "\n".join(f"  {line}" for line in d.explanation.splitlines()))
    return status


def _demo_run(root: str, argv: list[str], args: argparse.Namespace, how: str) -> int:
    """One run of a demo: plain, as on a board (no hints), or under `nommu check`."""
    if how == "run":
        return run_program(root, argv, args)
    quiet = argparse.Namespace(**{**vars(args), "no_hints": True})
    if how == "board":
        return run_program(root, argv, quiet)
    extra: dict[str, object] = {"format": "text", "output": None, "error_exitcode": None}
    checking = argparse.Namespace(**{**vars(quiet), **extra, "suppressions": []})
    checking.strict_vfork = False
    checking.verbose, checking.cwd = False, "/"
    sys.stdout.flush()
    return check_program(root, argv, checking)


WELCOME = """\
nommu: a no-MMU Linux machine ({mem} of RAM, one flat physical memory, no fork)
Every command below starts with vfork()+execve(): the shell lends its memory
and stack to each child until the child execs. Things to try:

  ls /bin                   the bundled programs
  ps                        processes; a vfork child shows whose memory it borrows
  free                      memory, and the largest contiguous free block
  cat /proc/maps            every block of physical memory and its owner
  echo hi | cat | cat       a pipeline: three vforks
  fork_fail /bin/true       fork() fails with EINVAL here; posix_spawn works
  naive_vfork naive /bin/true   a broken vfork wrapper corrupts its parent

Ctrl-C interrupts the running command; `exit` (or Ctrl-D) leaves.
"""


def shell(args: argparse.Namespace, welcome: bool = False) -> int:
    """`nommu shell`: /bin/sh on the bundled userland (or --root DIR)."""
    argv = ["/bin/sh", *(["-c", args.command] if args.command else [])]
    env = {
        "PATH": "/bin:/usr/bin",
        "HOME": "/",
        "TERM": os.environ.get("TERM", "vt100"),
        "PS1": "nommu# ",
    }
    if args.root:
        if args.arch:
            raise NommuError(
                "--arch chooses the bundled userland; a --root runs its own /bin/sh "
                "(make an ARM root with: nommu mkroot --arch arm DIR)"
            )
        return _run_shell(args.root, argv, env, args)
    with bundled_root(_userland_arch(args)) as root:
        if welcome:
            print(WELCOME.format(mem=args.mem))
        return _run_shell(root, argv, env, args)


def _userland_arch(args: argparse.Namespace) -> str:
    """The bundled userland `nommu shell` boots: --arch, else ARM when an ARM
    CPU was asked for (--cpu names ARM CPUs only), else i386."""
    return str(args.arch or ("arm" if args.cpu else "i386"))


def _run_shell(root: str, argv: list[str], env: dict[str, str], args: argparse.Namespace) -> int:
    machine = make_machine(root, args)
    if os.path.isdir(os.path.join(root, "root")):
        env = {**env, "HOME": "/root"}  # root's home, as a mkroot root's /etc/passwd says
    result = machine.run(argv, _env(args, env), cwd=args.cwd)
    report(result, argv[0])
    return result.returncode


def no_arguments() -> int:
    """`nommu` alone: on a terminal, the bundled shell; otherwise the welcome demo."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        return shell(_parser().parse_args(["shell"]), welcome=True)
    args = _parser().parse_args(["demo", "welcome", "--no-hints"])
    status = demo(args)
    print(
        "\nTry next:\n"
        "  nommu demo                      list the demonstrations\n"
        "  nommu demo naive-vfork --strace watch a vfork child clobber its parent\n"
        "  nommu run --root DIR /prog      run your own i386 or ARM static-PIE program\n"
        "  nommu shell --arch arm          the bundled userland on a Cortex-M7\n"
        "  nommu run --help                all options"
    )
    return status


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if not argv:
            return no_arguments()
        if argv[0] == "cc":  # gcc's options, not ours: the driver reads them itself
            from nommu import cc

            return cc.main(argv[1:])
        if argv[0] == "elf2flt":  # its own options (elf2flt's)
            from nommu import elf2flt

            return elf2flt.main(argv[1:])
        args = _parser().parse_args(argv)
        check_outputs(args)
        if args.subcommand == "mkroot":
            return make_root(args)
        if args.subcommand == "run":
            return run_program(args.root, [args.program, *args.args], args)
        if args.subcommand == "check":
            return check_program(args.root, [args.program, *args.args], args)
        if args.subcommand == "compare":
            return compare_program(args.root, [args.program, *args.args], args)
        if args.subcommand == "demo":
            return demo(args)
        if args.subcommand == "shell":
            return shell(args)
        _parser().print_help()
        return 0
    except NommuError as err:
        print(f"nommu: {err}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        print("nommu: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (the last line of defence: never a raw traceback)
        return internal_error(exc)


def internal_error(exc: BaseException) -> int:
    """The last line of defence: a bug in nommu gets a report, never a bare traceback."""
    import traceback

    from nommu.kernel.errors import InternalError

    lines = ["nommu internal error: this is a bug in nommu, not in your program."]
    if isinstance(exc, InternalError):
        lines.append(f"  while running: {exc.where}")
        exc = exc.cause
    lines.append(f"  error: {type(exc).__name__}: {exc}")
    lines.append("  Please report it with the command line, the program and these lines:")
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    lines += [f"    {f.filename.rsplit('/nommu/', 1)[-1]}:{f.lineno} in {f.name}" for f in frames]
    print("\n".join(lines), file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
    os._exit(0)
