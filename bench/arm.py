#!/usr/bin/env python3
"""Benchmark nommu's ARM machine (a Cortex-M7) against qemu-arm on the same binaries.

    python bench/arm.py [--quick] [--repeat N]

Each workload is a shipped ARM guest program (src/nommu/guestbin/arm) run
under `qemu-arm -cpu max` (user mode: qemu-arm aborts on every binary with
a Cortex-M CPU, so its A-profile "max" CPU runs the same Thumb-2 code) and
under nommu through the API (`Machine(root).run`, in this process). Times
are CPU time (user + system: qemu-arm's as a child process, nommu's as this
process's), not wall time, so that other work on a shared machine does not
count; they are net of each runner's start-up (the `exitcode 0` program);
the best of --repeat runs counts. The ratio is nommu's speed over qemu-arm's (1.0: as
fast). qemu-arm cannot run the vfork+execve workload: its execve of an ARM
program would need binfmt_misc, so that row has nommu's time only.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARM_BIN = REPO / "src" / "nommu" / "guestbin" / "arm"
sys.path.insert(0, str(REPO / "src"))

from nommu import Machine  # noqa: E402

QEMU = [shutil.which("qemu-arm") or "qemu-arm", "-cpu", "max"]
SELF = "{self}"  # the partner program as the runner runs it
# name, program and arguments (full, quick), operations (index of the count argument)
WORKLOADS = [
    ("startup", ["exitcode", "0"], ["exitcode", "0"], None),
    ("cpu", ["cpuloop", "100000000"], ["cpuloop", "20000000"], 1),
    ("getpid", ["getpid_loop", "200000"], ["getpid_loop", "50000"], 1),
    ("spawn", ["spawn_chain", "300", "./exitcode"], ["spawn_chain", "50", "./exitcode"], 1),
    ("pipe", ["pingpong", "5000", "--", SELF], ["pingpong", "1000", "--", SELF], 1),
]


def qemu_time(root: str, argv: list[str]) -> float | None:
    """Seconds qemu-arm takes for argv, or None where it cannot run it."""
    if argv[0] == "spawn_chain" or shutil.which("qemu-arm") is None:
        return None
    host = [*QEMU, os.path.join(root, "pingpong")]
    args = [a for arg in argv[1:] for a in (host if arg == SELF else [arg])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [*QEMU, os.path.join(root, argv[0]), *args], cwd=root, capture_output=True, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    took = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return took if proc.returncode == 0 else None


def nommu_time(root: str, argv: list[str]) -> float | None:
    """Seconds the in-process API takes for argv, or None if it failed."""
    args = ["./pingpong" if a == SELF else a for a in argv[1:]]
    start = time.process_time()
    result = Machine(root=root, hints=False).run([f"/{argv[0]}", *args], capture=True)
    took = time.process_time() - start
    return took if result.exit_code == 0 else None


def best(runs: list[float | None]) -> float | None:
    done = [r for r in runs if r is not None]
    return min(done) if len(done) == len(runs) else None


def _per_op(seconds: float) -> str:
    return f"{seconds * 1e9:.1f} ns" if seconds < 1e-6 else f"{seconds * 1e6:.1f} us"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller counts")
    p.add_argument("--repeat", type=int, default=3, help="runs per workload (default 3)")
    opts = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nommu-bench-arm-") as root:
        for program in ARM_BIN.iterdir():
            shutil.copy2(program, os.path.join(root, program.name))
        nommu_time(root, ["exitcode", "0"])  # (warm up: the first run pays one-time costs)
        rows, base = [], {"qemu": 0.0, "nommu": 0.0}
        for name, full, quick, ops_at in WORKLOADS:
            args = quick if opts.quick else full
            q = best([qemu_time(root, args) for _ in range(opts.repeat)])
            n = best([nommu_time(root, args) for _ in range(opts.repeat)])
            if name == "startup":
                base = {"qemu": q or 0.0, "nommu": n or 0.0}
                rows.append((name, args, q, n, None))
                continue
            qn = None if q is None else max(q - base["qemu"], 1e-9)
            nn = None if n is None else max(n - base["nommu"], 1e-9)
            ops = int(args[ops_at]) if ops_at is not None else None
            rows.append((name, args, qn, nn, ops))
    print(f"{'workload':9} {'qemu-arm':>11} {'nommu':>11} {'per op (nommu)':>16} {'ratio':>7}")
    for name, args, q, n, ops in rows:
        ratio = f"{q / n:.2f}x" if q is not None and n is not None else "-"
        per = "" if n is None or not ops else _per_op(n / ops)
        qs = f"{q:.3f} s" if q is not None else "n/a"
        ns = f"{n:.3f} s" if n is not None else "failed"
        print(f"{name:9} {qs:>11} {ns:>11} {per:>16} {ratio:>7}   ({' '.join(args)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
