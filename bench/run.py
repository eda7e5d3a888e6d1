#!/usr/bin/env python3
"""Benchmark nommu against qemu-i386 and native execution of the same programs.

    python bench/run.py [--quick] [--only NAME,...] [--json PATH] [--repeat N]

Every workload is one shipped guest program (src/nommu/guestbin) run three
ways in this invocation: natively (`./NAME args`; this host runs i386 code),
under `qemu-i386 ./NAME args`, and under `nommu run --root ROOT /NAME args`
(wall time of the whole command, Python start-up included). nommu is also
timed in-process through the API (`Machine(...).run`, after the interpreter
and nommu are imported) unless --no-api. The best (minimum) of --repeat runs
counts. See bench/README.md for the workloads and how ratios are computed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_JSON = HERE / "results" / "latest.json"
RUNNERS = ("native", "qemu", "nommu", "api")
GUEST_ENV = {"PATH": "/bin:/usr/bin:/", "HOME": "/", "TERM": "vt100"}
EXITCODE = "{exitcode}"  # an argument naming the exitcode program, per runner
SELF = "{self}"  # the workload's own program as the runner runs it (one or more arguments)


@dataclass(frozen=True)
class Workload:
    """One benchmark: a guest program, its arguments, and how to read its time."""

    name: str
    program: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    what: str
    expect: str  # regex the stdout must match (search)
    ops_arg: int | None = None  # index in args of the operation count
    ops_scale: int = 1  # operations per unit of that count
    unit: str = ""  # name of one operation
    show_rate: bool = False  # print operations/s instead of time per operation
    target: float | None = None  # minimum nommu/qemu speed ratio, from the issues
    nommu_args: tuple[str, ...] = ()  # machine options for nommu and the API (e.g. --mmu)
    one_cpu: bool = False  # native and qemu run pinned to one host CPU (see bench/README.md)
    net_base: str | None = None  # workload whose time is subtracted (default: startup)
    baseline: str | None = None  # judge nommu against this workload's nommu, not qemu
    group: str = ""  # --only GROUP selects every workload of the group

    def argv(self, quick: bool) -> tuple[str, ...]:
        return self.quick_args if quick else self.args

    def ops(self, quick: bool) -> int | None:
        if self.ops_arg is None:
            return None
        return int(self.argv(quick)[self.ops_arg]) * self.ops_scale


WORDS_PER_PASS = (4 << 20) // 4
FORK_MACHINE = ("--mmu", "--mem", "160M")  # room for a 64 MiB process and its page tables
WORKLOADS = [
    Workload("startup", "exitcode", ("0",), ("0",), "start and exit the smallest program", r"^$"),
    Workload(
        "cpu", "cpuloop", ("260000000",), ("50000000",),
        what="register-only LCG/xorshift loop (native ~0.5 s)",
        expect=r"cpuloop: \d+ iterations, result [0-9a-f]{8}",
        ops_arg=0, unit="iter", target=0.9,
    ),
    Workload(
        "mem", "memloop", ("100",), ("20",),
        what="load + store every word of a 4 MiB buffer, per pass",
        expect=r"memloop: \d+ passes over 4 MiB, checksum",
        ops_arg=0, ops_scale=WORDS_PER_PASS, unit="word",
    ),
    Workload(
        "getpid", "getpid_loop", ("200000",), ("50000",),
        what="raw getpid syscalls", expect=r"^done$",
        ops_arg=0, unit="call", target=0.25,
    ),
    Workload(
        "devnull", "write_loop", ("100000",), ("20000",),
        what="16-byte writes to /dev/null", expect=r"^done$",
        ops_arg=0, unit="write",
    ),
    Workload(
        "spawn", "spawn_chain", ("300", EXITCODE), ("50", EXITCODE),
        what="vfork + execve(exitcode) + _exit + waitpid cycles",
        expect=r"spawn_chain: \d+ spawns, 0 wrong",
        ops_arg=0, unit="cycle", show_rate=True, target=2.0,
    ),
    Workload(
        "posix-spawn", "spawn_chain",
        ("300", EXITCODE, "posix_spawn"), ("50", EXITCODE, "posix_spawn"),
        what="posix_spawn(exitcode) + _exit + waitpid cycles",
        expect=r"spawn_chain: \d+ spawns, 0 wrong",
        ops_arg=0, unit="cycle", show_rate=True,
    ),
    Workload(
        "pthread", "thread_cycle", ("2000",), ("300",),
        what="pthread_create + pthread_join cycles, one thread at a time",
        expect=r"thread_cycle: \d+ threads, total",
        ops_arg=0, unit="thread", show_rate=True,
    ),
    Workload(
        "threads", "threads", (), (),
        what="4 pthreads: create, 400000 contended mutex adds, join",
        expect=r"counter=400000",
    ),
    Workload(
        "pipe-setup", "pingpong", ("0", "--", SELF), ("0", "--", SELF),
        what="the pipe workload's set-up alone: spawn the partner, no round trip",
        expect=r"pingpong: 0 round trips ok", one_cpu=True,
    ),
    Workload(
        "pipe", "pingpong", ("10000", "--", SELF), ("2000", "--", SELF),
        what="1-byte pipe round trips between pingpong and a posix_spawn'ed pingpong --echo",
        expect=r"pingpong: \d+ round trips ok",
        ops_arg=0, unit="rt", show_rate=True, target=0.2, net_base="pipe-setup", one_cpu=True,
    ),
    Workload(
        "futex", "futex_pingpong", ("10000",), ("2000",),
        what="futex wait/wake round trips between two threads",
        expect=r"futex_pingpong: \d+ round trips ok",
        ops_arg=0, unit="rt", show_rate=True, target=0.2, one_cpu=True,
    ),
    Workload(
        "epoll", "epoll_pingpong", ("10000",), ("2000",),
        what="pipe write -> epoll_wait wakeup round trips between two threads",
        expect=r"epoll_pingpong: \d+ round trips ok",
        ops_arg=0, unit="rt", show_rate=True, one_cpu=True,
    ),
    Workload(
        "tcp-rt", "sockbench", ("tcp", "10000"), ("tcp", "2000"),
        what="1-byte loopback TCP round trips between two threads (TCP_NODELAY)",
        expect=r"sockbench: \d+ round trips ok",
        ops_arg=1, unit="rt", show_rate=True, target=0.2, one_cpu=True, group="net",
    ),
    Workload(
        "unix-rt", "sockbench", ("unix", "10000"), ("unix", "2000"),
        what="1-byte AF_UNIX stream socketpair round trips between two threads",
        expect=r"sockbench: \d+ round trips ok",
        ops_arg=1, unit="rt", show_rate=True, target=0.2, one_cpu=True, group="net",
    ),
    Workload(
        "tcp-bulk", "sockbench", ("bulk", "256"), ("bulk", "32"),
        what="a loopback TCP stream between two threads, 64 KiB writes; MiB/s",
        expect=r"sockbench: \d+ MiB ok",
        ops_arg=1, unit="MiB", show_rate=True, one_cpu=True, group="net",
    ),
    Workload(
        "cpu-mmu", "cpuloop", ("260000000",), ("50000000",),
        what="the cpu workload under --mmu (every access through the TLB)",
        expect=r"cpuloop: \d+ iterations, result [0-9a-f]{8}",
        ops_arg=0, unit="iter", target=0.7, baseline="cpu", group="mmu",
        nommu_args=("--mmu",),
    ),
    *(
        w
        for mib in (1, 16, 64)
        for w in (
            Workload(
                f"setup-{mib}M", "fork_big", (str(mib), "0"), (str(mib), "0"),
                what=f"fork_big's set-up alone: allocate and touch {mib} MiB, no fork",
                expect=r"fork_big: 0 fork cycles", group="mmu", nommu_args=FORK_MACHINE,
            ),
            *(
                Workload(
                    f"{call}-{mib}M", "fork_big", (str(mib), "300", call), (str(mib), "40", call),
                    what=f"{call} + _exit + waitpid cycles of a {mib} MiB process, under --mmu"
                    + (" (copy-on-write)" if call == "fork" else " (nothing copied)"),
                    expect=rf"fork_big: \d+ {call} cycles of a {mib} MiB process, 0 wrong",
                    ops_arg=1, unit="cycle", show_rate=True, net_base=f"setup-{mib}M",
                    group="mmu", nommu_args=FORK_MACHINE,
                )
                for call in ("fork", "vfork")
            ),
        )
    ),
]  # fmt: skip


@dataclass
class Measure:
    """The runs of one workload under one runner."""

    times: list[float] = field(default_factory=list)
    error: str | None = None
    stdout: str = ""

    @property
    def best(self) -> float | None:
        return None if self.error or not self.times else min(self.times)


# ---------------------------------------------------------------- running


def run_timed(
    cmd: list[str], cwd: str, timeout: float, env: dict[str, str] | None = None
) -> tuple[float, int, str, str] | str:
    """Runs cmd in its own session; (seconds, status, stdout, stderr) or an error text."""
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return f"cannot start {cmd[0]}: {exc.strerror}"
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the session this run created, nothing else
        proc.communicate()
        return f"timeout: still running after {timeout:g} s, killed"
    elapsed = time.perf_counter() - start
    return elapsed, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def failure(status: int, out: str, err: str, w: Workload, reference: str | None) -> str | None:
    """Why a finished run does not count (None when it succeeded with the right output)."""
    if status != 0 or not re.search(w.expect, out, re.M):
        what = f"exit {status}" if status > 0 else f"killed by signal {-status}"
        return f"{what if status else 'wrong output'}: {explain(out, err)}"
    if reference is not None and out != reference:
        return f"output differs from native: {explain(out, '')}"
    return None


def explain(out: str, err: str) -> str:
    """The most telling line of a failed run's output."""
    err_lines = [line.strip() for line in err.splitlines() if line.strip()]
    if err_lines and "internal error" in err_lines[0]:
        return f"{err_lines[0]} ... {err_lines[-1]}"  # the last line names the exception
    if err_lines:
        return err_lines[0]
    out_lines = [line.strip() for line in out.splitlines() if line.strip()]
    for line in out_lines:
        if re.search(r": (E[A-Z0-9]+ \(|no$)|failed", line):
            return line
    return out_lines[-1] if out_lines else "(no output)"


def placeholders(runner: str, w: Workload, quick: bool, root: str) -> list[str]:
    """w's arguments with EXITCODE and SELF replaced as `runner` needs them.

    Guest programs exec these paths themselves, so for native and qemu they are
    host paths. Without binfmt_misc, qemu-i386's execve of an i386 program runs
    it natively, so under qemu SELF is `/path/to/qemu-i386 HOSTPATH`: the child
    program is emulated by a second qemu-i386, as nommu emulates its child."""
    host = runner in ("native", "qemu")
    out: list[str] = []
    for a in w.argv(quick):
        if a == EXITCODE:
            out.append(os.path.join(root, "exitcode") if host else "/exitcode")
        elif a == SELF and runner == "qemu":
            out += [shutil.which("qemu-i386") or "qemu-i386", os.path.join(root, w.program)]
        elif a == SELF:
            out.append(os.path.join(root, w.program) if host else f"/{w.program}")
        else:
            out.append(a)
    return out


def command(runner: str, w: Workload, quick: bool, root: str, nommu: list[str]) -> list[str]:
    args = placeholders(runner, w, quick, root)
    if runner == "native" or runner == "qemu":
        prefix = ["qemu-i386"] if runner == "qemu" else []
        if w.one_cpu and shutil.which("taskset"):
            prefix = ["taskset", "-c", "0", *prefix]
        return [*prefix, f"./{w.program}", *args]
    if runner == "nommu":
        return [*nommu, "run", "--no-hints", *w.nommu_args, "--root", root, f"/{w.program}", *args]
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--api-worker",
        root,
        *w.nommu_args,
        f"/{w.program}",
        *args,
    ]


def measure_once(
    runner: str, w: Workload, opts: argparse.Namespace, root: str, m: Measure, ref: str | None
) -> None:
    """Runs w once under runner: adds the time to m, or sets m.error."""
    cmd = command(runner, w, opts.quick, root, opts.nommu_cmd)
    if runner in ("native", "qemu"):
        env: dict[str, str] | None = GUEST_ENV | {"PATH": os.environ.get("PATH", "")}
    else:
        env = os.environ | {"PYTHONPATH": opts.src} if opts.src else None
    got = run_timed(cmd, root, opts.timeout, env)
    if isinstance(got, str):
        m.error = got
        return
    elapsed, status, out, err = got
    if runner == "api":
        status, out, err, elapsed = api_report(status, out, err)
    m.stdout = out
    m.error = failure(status, out, err, w, ref)
    if not m.error:
        m.times.append(elapsed)


def api_report(status: int, out: str, err: str) -> tuple[int, str, str, float]:
    """Unpacks the API worker's JSON line into (guest status, stdout, stderr, seconds)."""
    try:
        rep = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return (status or 1), "", err or out or "API worker produced no report", 0.0
    if "exception" in rep:
        return 1, "", rep["exception"], 0.0
    return rep["returncode"], rep["stdout"], rep["stderr"], rep["seconds"]


def machine_options(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """A workload's nommu_args (--mmu, --mem SIZE) as Machine keywords, and the argv after."""
    options: dict[str, Any] = {}
    while args and args[0].startswith("--"):
        if args[0] == "--mmu":
            options["mmu"] = True
            args = args[1:]
        elif args[0] == "--mem":
            options["mem"] = args[1]
            args = args[2:]
        else:
            raise SystemExit(f"bench: api worker: unknown machine option {args[0]}")
    return options, args


def api_worker(root: str, argv: list[str]) -> int:
    """Runs argv (after any machine options) once in this process through the API
    and prints a JSON report."""
    from nommu.api import Machine  # imported before the clock starts

    options, argv = machine_options(argv)
    try:
        start = time.perf_counter()
        res = Machine(root=root, hints=False, **options).run(argv, capture=True)
        seconds = time.perf_counter() - start
    except Exception as err:  # noqa: BLE001 (reported; the bench keeps going)
        print(json.dumps({"exception": f"{type(err).__name__}: {err}"}))
        return 0
    stderr = (res.stderr or b"").decode(errors="replace")
    if res.deadlock:
        stderr = "nommu: deadlock: " + "; ".join(res.deadlock) + "\n" + stderr
    print(
        json.dumps(
            {
                "seconds": seconds,
                "returncode": res.returncode,
                "stdout": (res.stdout or b"").decode(errors="replace"),
                "stderr": stderr,
            }
        )
    )
    return 0


# ---------------------------------------------------------------- setup


def guestbin(src: str | None) -> Path:
    if src:
        return Path(src) / "nommu" / "guestbin"
    try:
        from importlib import resources

        path = Path(str(resources.files("nommu") / "guestbin"))
        if path.is_dir():
            return path
    except ImportError:
        pass
    return REPO / "src" / "nommu" / "guestbin"


def nommu_command(override: str | None) -> list[str]:
    """The nommu CLI, avoiding wrapper shims (pyenv's add ~50 ms per start)."""
    if override:
        return override.split()
    script = Path(sys.executable).parent / "nommu"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "nommu"]


def make_root(programs: set[str], src: str | None) -> str:
    """A scratch guest root: the programs at /NAME, plus /dev, /tmp, /etc."""
    root = tempfile.mkdtemp(prefix="nommu-bench-")
    for name in programs:
        shutil.copy2(guestbin(src) / name, os.path.join(root, name))
    for d in ("dev", "tmp", "etc"):
        os.mkdir(os.path.join(root, d))
    return root


def machine_info(opts: argparse.Namespace) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "unicorn": package_version("unicorn"),
        "nommu": package_version("nommu"),
        "nommu_git": None if opts.src else git_describe(),
        "qemu": first_line(["qemu-i386", "--version"]),
        "nommu_command": opts.nommu_cmd,
        "nommu_src": opts.src,
    }


def package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def first_line(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.splitlines()[0] if out else None


def git_describe() -> str | None:
    rev = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = first_line(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"])
    return f"{rev}{'+dirty' if dirty else ''}" if rev else None


# ---------------------------------------------------------------- analysis


def analyse(
    w: Workload,
    ms: dict[str, Measure],
    startup: dict[str, Measure] | None,
    quick: bool,
    baseline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Per-runner net time and per-op cost, and the nommu/qemu ratios and target status.

    `startup` is what is subtracted for the net time (the startup row, or the
    workload's net_base). With a `baseline` (another workload's result) the
    target judges nommu against that workload's nommu instead of against qemu."""
    ops = w.ops(quick)
    runners: dict[str, Any] = {}
    for r, m in ms.items():
        entry: dict[str, Any] = {
            "best": m.best,
            "times": m.times,
            "error": f"n/a (error: {m.error})" if m.error else None,
        }
        base = startup[r].best if startup and r in startup else None
        if ops and m.best is not None and base is not None and m.best > base:
            entry["net"] = m.best - base
            entry["per_op"] = entry["net"] / ops
            entry["rate"] = ops / entry["net"]
        runners[r] = entry
    res: dict[str, Any] = {
        "what": w.what,
        "program": w.program,
        "args": list(w.argv(quick)),
        "ops": ops,
        "unit": w.unit,
        "target": w.target,
        "runners": runners,
    }
    res["ratio"] = ratio(runners, "best", "nommu")
    res["api_ratio"] = ratio(runners, "best", "api")
    res["net_ratio"] = ratio(runners, "net", "nommu")
    judged = res["net_ratio"] if res["net_ratio"] is not None else res["ratio"]
    if baseline is not None:
        res["baseline"] = w.baseline
        judged = res["baseline_ratio"] = speed_vs(baseline["runners"], runners)
    res["judged_ratio"] = judged
    if w.target is not None:
        res["status"] = "n/a" if judged is None else "PASS" if judged >= w.target else "MISS"
    return res


def speed_vs(base: dict[str, Any], runners: dict[str, Any]) -> float | None:
    """nommu's speed here relative to nommu's in the baseline workload (net times)."""
    b, n = base.get("nommu", {}).get("net"), runners.get("nommu", {}).get("net")
    return b / n if b and n else None


def ratio(runners: dict[str, Any], key: str, who: str) -> float | None:
    q, n = runners.get("qemu", {}).get(key), runners.get(who, {}).get(key)
    return q / n if q and n else None


# ---------------------------------------------------------------- output


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1000:.1f}ms" if s < 1 else f"{s:.2f}s"


def fmt_per_op(res: dict[str, Any], w: Workload) -> str:
    vals = []
    for r in ("native", "qemu", "nommu"):
        e = res["runners"].get(r, {})
        if "per_op" not in e:
            vals.append("-")
        elif w.show_rate:
            vals.append(f"{e['rate']:,.0f}")
        else:
            vals.append(fmt_small(e["per_op"]))
    unit = f"{w.unit}/s" if w.show_rate else f"/{w.unit}"
    return f"{' / '.join(vals)} {unit}" if any(v != "-" for v in vals) else ""


def fmt_small(s: float) -> str:
    """A short duration in ns, us or ms, three significant digits."""
    for limit, scale, suffix in ((1e-6, 1e9, "ns"), (1e-3, 1e6, "us"), (float("inf"), 1e3, "ms")):
        if s < limit:
            v = s * scale
            return f"{v:.3g}{suffix}" if v < 100 else f"{v:.0f}{suffix}"
    raise AssertionError("unreachable")


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


def print_table(
    results: dict[str, Any], workloads: list[Workload], info: dict[str, Any], api: bool
) -> None:
    notes: dict[str, list[str]] = {}  # error text -> the workloads that hit it
    head = [
        "workload",
        "native",
        "qemu",
        "nommu",
        *(["nommu-api"] if api else []),
        "nommu/qemu",
        "net",
        "net per op or rate (native / qemu / nommu)",
        "target",
    ]
    rows = [head]
    for w in workloads:
        res = results[w.name]
        cells = [w.name]
        for r in ("native", "qemu", "nommu", *(["api"] if api else [])):
            e = res["runners"].get(r)
            if e is None:
                cells.append("skipped")
            elif e["error"]:
                key = f"under {label(r)}: {shorten(ms_error(e['error']))}"
                notes.setdefault(key, []).append(w.name)
                cells.append(f"n/a [e{list(notes).index(key) + 1}]")
            else:
                cells.append(fmt_time(e["best"]))
        cells += [fmt_ratio(res["ratio"]), fmt_ratio(res["net_ratio"]), fmt_per_op(res, w)]
        vs = f" of {w.baseline}" if w.baseline else ""
        cells.append(f">={w.target:g}x{vs} {res['status']}" if w.target is not None else "")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print(
        f"\nnommu benchmark  {info['date']}  {info['cpu']}  nproc={info['nproc']}  "
        f"python {info['python']}  unicorn {info['unicorn']}  "
        f"nommu {info['nommu_git'] or info['nommu_src']}"
    )
    for i, row in enumerate(rows):
        print(
            "  ".join(
                c.ljust(wd) if j == 0 else c.rjust(wd) if j < len(head) - 2 else c.ljust(wd)
                for j, (c, wd) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if i == 0:
            print("  ".join("-" * wd for wd in widths))
    print(
        "\nnommu/qemu = qemu time / nommu time (>1: nommu faster); net = the same with each "
        "runner's startup (or setup) row subtracted first; targets are judged on net where it "
        "exists."
    )
    for i, (text, names) in enumerate(notes.items(), 1):
        print(f"[e{i}] {', '.join(names)} {text}")


def ms_error(text: str) -> str:
    return text.removeprefix("n/a (error: ").removesuffix(")") if text.startswith("n/a") else text


def shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def label(r: str) -> str:
    return {"api": "nommu (in-process API)", "qemu": "qemu-i386"}.get(r, r)


PLOT_MIN, PLOT_MAX = 0.01, 100.0  # the chart's ratio axis (log scale)


def plot(results: dict[str, Any], path: Path, title: str = "") -> Path | None:
    """A bar chart of the nommu/qemu ratios (net) with the targets, as SVG next
    to the JSON: one bar per workload measured per operation, on a log scale
    with 1x (as fast as qemu) marked; a target is a red tick, and a bar is
    green when it meets its target, orange when it misses, blue without one."""
    names = [  # workloads with a per-operation rate against qemu (not start-up rows)
        n
        for n, r in results.items()
        if r.get("judged_ratio") and r.get("ops") and not r.get("baseline")
    ]
    if not names:
        return None
    label_w, bar_w, row_h, top = 110, 520, 22, 46
    height = top + row_h * len(names) + 40

    def x(ratio: float) -> float:
        ratio = min(max(ratio, PLOT_MIN), PLOT_MAX)
        span = math.log10(PLOT_MAX) - math.log10(PLOT_MIN)
        return label_w + bar_w * (math.log10(ratio) - math.log10(PLOT_MIN)) / span

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 70}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
        '<text x="10" y="34" fill="#555">nommu speed / qemu-i386 speed, net of start-up'
        " (log scale; red tick: target)</text>",
    ]
    for tick in (0.01, 0.1, 1, 10, 100):
        tx = x(tick)
        bottom = top + row_h * len(names)
        dash = "" if tick == 1 else ' stroke-dasharray="2,3"'
        out.append(
            f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{bottom}" stroke="#999"{dash}/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{bottom + 14}" text-anchor="middle" '
            f'fill="#555">{tick:g}x</text>'
        )
    for i, name in enumerate(names):
        r = results[name]
        ratio, target = r["judged_ratio"], r.get("target")
        color = "#4c78a8" if not target else "#54a24b" if ratio >= target else "#f58518"
        y = top + row_h * i
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(name)}</text>')
        out.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{x(ratio) - label_w:.1f}" '
            f'height="{row_h - 8}" fill="{color}"/>'
        )
        label_x = max(x(ratio), x(target) + 2 if target else 0) + 4  # (clear of the tick)
        out.append(f'<text x="{label_x:.1f}" y="{y + 15}">{ratio:.2f}x</text>')
        if target:
            out.append(
                f'<line x1="{x(target):.1f}" y1="{y + 1}" x2="{x(target):.1f}" '
                f'y2="{y + row_h - 1}" stroke="#d62728" stroke-width="3"/>'
            )
    out.append("</svg>")
    svg = path.with_suffix(".svg")
    svg.write_text("\n".join(out) + "\n")
    return svg


# ---------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small N and one repeat")
    p.add_argument(
        "--only",
        metavar="NAME,...",
        help="workloads to run: " + ",".join(w.name for w in WORKLOADS),
    )
    p.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help=f"results file (default {DEFAULT_JSON.relative_to(REPO)})",
    )
    p.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help="runs per measurement, best counts (default 3, 1 with --quick)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="limit per run (default 120)",
    )
    p.add_argument(
        "--src",
        metavar="DIR",
        help="benchmark the nommu package in DIR (a tree's src/, e.g. from git archive) "
        "instead of the installed one",
    )
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--no-api", action="store_true", help="skip the in-process API timing")
    p.add_argument(
        "--nommu",
        metavar="CMD",
        help="nommu command (default: the console script next to this Python)",
    )
    opts = p.parse_args(argv)
    opts.repeat = opts.repeat or (1 if opts.quick else 3)
    if opts.src:
        opts.src = str(Path(opts.src).resolve())
        if not (Path(opts.src) / "nommu" / "__init__.py").is_file():
            sys.exit(f"bench: --src {opts.src}: no nommu package there")
    opts.nommu_cmd = nommu_command(opts.nommu)
    return opts


def selected(only: str | None) -> list[Workload]:
    if not only:
        return WORKLOADS
    names = {n.strip() for n in only.split(",") if n.strip()}
    groups = {w.group for w in WORKLOADS if w.group}
    unknown = names - {w.name for w in WORKLOADS} - groups - {"check"}
    if unknown:
        sys.exit(
            f"bench: unknown workload(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(w.name for w in WORKLOADS)}, check, "
            f"or a group: {', '.join(sorted(groups))}"
        )
    names |= {w.name for w in WORKLOADS if w.group in names}
    # what the chosen ones are measured against comes too
    names |= {dep for w in WORKLOADS if w.name in names for dep in (w.net_base, w.baseline) if dep}
    # startup is always measured: the per-op columns subtract it
    return [w for w in WORKLOADS if w.name in names or w.name == "startup"]


# ---------------------------------------------------------------- nommu check

CHECK_LIMIT = 3.0  # `nommu check` may take at most this many times `nommu run` (issue 7)


def wants_check(only: str | None) -> bool:
    return not only or "check" in {n.strip() for n in only.split(",")}


def measure_check(opts: argparse.Namespace, root: str) -> dict[str, Any]:
    """`nommu check` against `nommu run` on the spawn workload (best of --repeat,
    interleaved): what watching every vfork child costs. Both must succeed with
    the same output, and check must find nothing in this correct program."""
    w = next(w for w in WORKLOADS if w.name == "spawn")
    run_cmd = command("nommu", w, opts.quick, root, opts.nommu_cmd)
    n = len(opts.nommu_cmd)
    cmds = {"run": run_cmd, "check": [*run_cmd[:n], "check", *run_cmd[n + 1 :]]}
    env = os.environ | {"PYTHONPATH": opts.src} if opts.src else None
    ms = {name: Measure() for name in cmds}
    for _ in range(opts.repeat):
        for name, cmd in cmds.items():
            m = ms[name]
            got = None if m.error else run_timed(cmd, root, opts.timeout, env)
            if isinstance(got, str):
                m.error = got
            elif got is not None:
                elapsed, status, out, err = got
                m.error = failure(status, out, err, w, ms["run"].stdout or None)
                if name == "check" and "no no-MMU problems found" not in err:
                    m.error = m.error or f"check reported findings: {explain('', err)}"
                m.stdout = out
                if not m.error:
                    m.times.append(elapsed)
    run, check = ms["run"].best, ms["check"].best
    res = {
        "workload": " ".join(run_cmd[run_cmd.index(root) + 1 :]),
        "run": run,
        "check": check,
        "errors": {k: m.error for k, m in ms.items() if m.error},
        "ratio": check / run if run and check else None,
        "limit": CHECK_LIMIT,
    }
    res["status"] = "n/a" if res["ratio"] is None else (
        "PASS" if res["ratio"] <= CHECK_LIMIT else "MISS"
    )  # fmt: skip
    print(f"  check    nommu check / run        {fmt_ratio(res['ratio'])}", file=sys.stderr)
    return res


def print_check(res: dict[str, Any]) -> None:
    print(
        f"\ncheck: `nommu check` vs `nommu run` on {res['workload']}: "
        f"{fmt_time(res['check'])} vs {fmt_time(res['run'])} = {fmt_ratio(res['ratio'])} "
        f"(limit <={res['limit']:g}x) {res['status']}"
    )
    for name, err in res["errors"].items():
        print(f"  {name}: {shorten(err)}")


def run_all(workloads: list[Workload], opts: argparse.Namespace, root: str) -> dict[str, Any]:
    """Each workload: `repeat` rounds of one run per runner (interleaved, so a burst of
    load on the host hits every runner alike); a runner stops at its first failure."""
    runners = [r for r in RUNNERS if not (r == "api" and opts.no_api)]
    results: dict[str, Any] = {}
    startup: dict[str, Measure] | None = None
    measured: dict[str, dict[str, Measure]] = {}
    for w in workloads:
        ms = {r: Measure() for r in runners}
        for _ in range(opts.repeat):
            for r in runners:
                native = ms["native"]
                ref = native.stdout if r != "native" and native.best is not None else None
                if not ms[r].error:
                    measure_once(r, w, opts, root, ms[r], ref)
        for r in runners:
            best, err = ms[r].best, ms[r].error or ""
            shown = f"{best:.3f}s" if best is not None else f"FAILED ({shorten(err, 120)})"
            print(f"  {w.name:9} {label(r):24} {shown}", file=sys.stderr, flush=True)
        if w.name == "startup":
            startup = ms
        measured[w.name] = ms
        base = measured.get(w.net_base, startup) if w.net_base else startup
        baseline = results.get(w.baseline) if w.baseline else None
        results[w.name] = analyse(w, ms, base, opts.quick, baseline)
    return results


def main(argv: list[str]) -> int:
    if argv[:1] == ["--api-worker"]:
        return api_worker(argv[1], argv[2:])
    opts = parse_args(argv)
    if opts.list:
        for w in WORKLOADS:
            print(f"{w.name:8} {w.program} {' '.join(w.args)}: {w.what}")
        return 0
    workloads = selected(opts.only)
    if shutil.which("qemu-i386") is None:
        print("bench: qemu-i386 not found; its column will show the error", file=sys.stderr)
    info = machine_info(opts)
    extra = {"exitcode", "spawn_chain"} if wants_check(opts.only) else {"exitcode"}
    root = make_root({w.program for w in workloads} | extra, opts.src)
    try:
        print(
            f"bench: {'quick, ' if opts.quick else ''}{opts.repeat} repeat(s), "
            f"timeout {opts.timeout:g} s, root {root}",
            file=sys.stderr,
        )
        results = run_all(workloads, opts, root)
        if wants_check(opts.only):
            results["check"] = measure_check(opts, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_table(results, workloads, info, not opts.no_api)
    if "check" in results:
        print_check(results["check"])
    settings = {
        "quick": opts.quick,
        "repeat": opts.repeat,
        "timeout": opts.timeout,
        "api": not opts.no_api,
    }
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(
        json.dumps({"machine": info, "settings": settings, "workloads": results}, indent=2) + "\n"
    )
    print(f"\nresults: {opts.json}")
    chart = plot(results, opts.json, f"nommu {info['nommu_git']} on {info['cpu']} ({info['date']})")
    if chart:
        print(f"plot: {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
