"""bench/run.py: how the runners spell a workload's command (its placeholders)."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from xml.etree import ElementTree

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nommu_bench_run", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def pipe(bench: ModuleType, n: str = "10000") -> object:
    w = next(w for w in bench.WORKLOADS if w.name == "pipe")
    return dataclasses.replace(w, args=(n, "--", bench.SELF))


def test_pipe_partner_per_runner(bench: ModuleType) -> None:
    """SELF is pingpong as each runner runs it: under qemu a second qemu-i386 (whose
    execve of an i386 binary would otherwise run it natively)."""
    w, root = pipe(bench), "/r"
    qemu = shutil.which("qemu-i386") or "qemu-i386"
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []  # (one_cpu: see below)
    assert bench.command("native", w, False, root, ["nommu"]) == [
        *pin, "./pingpong", "10000", "--", "/r/pingpong"
    ]  # fmt: skip
    assert bench.command("qemu", w, False, root, ["nommu"]) == [
        *pin, "qemu-i386", "./pingpong", "10000", "--", qemu, "/r/pingpong"
    ]  # fmt: skip
    nommu = bench.command("nommu", w, False, root, ["nommu"])
    assert nommu[0] == "nommu" and nommu[-5:] == ["/r", "/pingpong", "10000", "--", "/pingpong"]
    assert bench.command("api", w, False, root, ["nommu"])[-5:] == nommu[-5:]


def test_ping_pongs_pin_native_and_qemu_to_one_cpu(bench: ModuleType) -> None:
    """nommu is one emulated CPU; unpinned, qemu's two sides sit on two host CPUs
    and every wakeup crosses CPUs, which is slower and varies from run to run.
    Pinned is qemu's best case: the stricter comparison for the targets."""
    if shutil.which("taskset") is None:
        pytest.skip("no taskset")
    for name in ("pipe", "pipe-setup", "futex"):
        w = next(w for w in bench.WORKLOADS if w.name == name)
        for runner in ("native", "qemu"):
            assert bench.command(runner, w, False, "/r", ["nommu"])[:3] == ["taskset", "-c", "0"]
        assert bench.command("nommu", w, False, "/r", ["nommu"])[0] == "nommu"


def test_pipe_runs_under_qemu(bench: ModuleType, guest_root: Path, native_ok: None) -> None:
    """The pipe workload's command gives native's output under qemu-i386 (whose clone
    refuses the default clone(CLONE_VM|SIGCHLD) mode of pingpong)."""
    if shutil.which("qemu-i386") is None:
        pytest.skip("qemu-i386 not on PATH")
    w = pipe(bench, "50")
    out = {}
    for runner in ("native", "qemu"):
        cmd = bench.command(runner, w, False, str(guest_root), ["nommu"])
        proc = subprocess.run(cmd, cwd=guest_root, capture_output=True, timeout=60, check=False)
        assert proc.returncode == 0, (runner, proc)
        out[runner] = proc.stdout
    assert out["native"] == out["qemu"] == b"pingpong: 50 round trips ok\n"


def test_plot_is_an_svg_bar_chart(bench: ModuleType, tmp_path: Path) -> None:
    """One bar per workload judged against qemu, coloured by its target, with
    the target ticks; no plotting library needed."""
    results = {
        "cpu": {"judged_ratio": 0.7, "target": 0.9, "ops": 10},
        "spawn": {"judged_ratio": 2.4, "target": 2.0, "ops": 10},
        "mem": {"judged_ratio": 0.85, "target": None, "ops": 10},
        "cpu-mmu": {"judged_ratio": 0.97, "target": 0.7, "baseline": "cpu", "ops": 10},
        "startup": {"judged_ratio": 0.04, "ops": None},  # a row others subtract
    }
    svg = bench.plot(results, tmp_path / "latest.json", "nommu <test>")
    assert svg == tmp_path / "latest.svg"
    root = ElementTree.parse(svg).getroot()
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "nommu <test>" in texts
    assert {"cpu", "spawn", "mem"} <= set(texts) and not {"cpu-mmu", "startup"} & set(texts)
    assert {"0.70x", "2.40x", "0.85x"} <= set(texts)
    fills = [r.get("fill") for r in root.iter("{http://www.w3.org/2000/svg}rect")][1:]
    assert fills == ["#f58518", "#54a24b", "#4c78a8"]  # missed, met, no target
    ticks = [
        ln for ln in root.iter("{http://www.w3.org/2000/svg}line") if ln.get("stroke") == "#d62728"
    ]
    assert len(ticks) == 2
