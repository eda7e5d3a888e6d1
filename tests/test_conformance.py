"""scripts/conformance, the libc-test runner, on a few of our own guest programs.

libc-test itself is built outside the repository (README, "Conformance"), so
these tests give the runner a small directory in libc-test's layout made of
bundled programs whose outcome is known: true passes everywhere, false fails
everywhere, fork_wait passes only where fork() works (native, --mmu), and
crash_segv dies by SIGSEGV.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from helpers import GUESTBIN

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "conformance"


def load_script() -> ModuleType:
    """scripts/conformance as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("conformance_script", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up here
    loader.exec_module(module)
    return module


conformance = load_script()


def make_testdir(base: Path, layout: dict[str, str]) -> Path:
    """A directory in libc-test's layout: layout[test name] = bundled program."""
    testdir = base / "tests"
    for name, prog in layout.items():
        dst = testdir / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes((GUESTBIN / prog).read_bytes())
        dst.chmod(0o755)
    return testdir


LAYOUT = {
    "functional/true": "true",
    "functional/false": "false",
    "regression/fork_wait": "fork_wait",
    "regression/crash_segv": "crash_segv",
    "exitcode": "exitcode",
}


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = conformance.main(["--quiet", *argv])
    return code, capsys.readouterr().out


@pytest.mark.usefixtures("guestbin")
def test_table_differences_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    testdir = make_testdir(tmp_path, LAYOUT)
    out_json = tmp_path / "r.json"
    code, out = run_main(capsys, str(testdir), "--json", str(out_json), "--runners", "nommu,mmu")
    assert code == 0
    doc = json.loads(out_json.read_text())
    counts = doc["counts"]
    assert counts["functional"] == {
        "tests": 2,
        "native": None,
        "qemu-i386": None,
        "nommu": 1,
        "nommu --mmu": 1,
    }
    assert counts["regression"]["nommu"] == 0
    assert counts["regression"]["nommu --mmu"] == 1
    assert counts["."]["nommu"] == 1
    assert counts["total"]["tests"] == 5
    assert doc["differences"] == ["regression/fork_wait"]
    fork = doc["tests"]["regression/fork_wait"]
    assert fork["nommu"]["status"] == "exit 1"
    assert fork["nommu --mmu"]["status"] == "pass"
    assert "Invalid argument" in fork["nommu"]["output"]
    segv = doc["tests"]["regression/crash_segv"]
    assert segv["nommu"]["status"] == segv["nommu --mmu"]["status"] == "signal 11"
    assert doc["tests"]["functional/false"]["nommu"]["status"] == "exit 1"
    # the printed table and difference list
    assert out.splitlines()[0].split() == [
        "group",
        "tests",
        "native",
        "qemu-i386",
        "nommu",
        "nommu",
        "--mmu",
    ]
    assert "regression/fork_wait: nommu exit 1, nommu --mmu pass" in out
    assert "nommu: fork" in out  # the failing run's first line
    assert "(n/a) native: not selected" in out


@pytest.mark.usefixtures("guestbin", "native_ok")
def test_native_column_agrees_with_mmu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    testdir = make_testdir(tmp_path, LAYOUT)
    out_json = tmp_path / "r.json"
    run_main(capsys, str(testdir), "--json", str(out_json), "--runners", "native,mmu")
    doc = json.loads(out_json.read_text())
    assert doc["counts"]["total"]["native"] == doc["counts"]["total"]["nommu --mmu"] == 3
    assert doc["tests"]["regression/crash_segv"]["native"]["status"] == "signal 11"
    assert doc["differences"] == []


@pytest.mark.usefixtures("guestbin")
def test_missing_qemu_is_na(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    testdir = make_testdir(tmp_path, {"functional/true": "true"})
    code, out = run_main(
        capsys,
        str(testdir),
        "--json",
        str(tmp_path / "r.json"),
        "--runners",
        "qemu,nommu",
        "--qemu",
        str(tmp_path / "no-qemu"),
    )
    assert code == 0
    total = next(line for line in out.splitlines() if line.startswith("total")).split()
    assert total == ["total", "1", "n/a", "n/a", "1", "n/a"]
    assert "(n/a) qemu-i386: qemu-i386 not installed" in out


@pytest.mark.usefixtures("guestbin")
def test_timeout_and_patterns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    testdir = make_testdir(tmp_path, {"math/cpuspin": "spin", "math/true": "true"})
    listfile = tmp_path / "list"
    listfile.write_text("# only the loop\ncpu*\n")
    out_json = tmp_path / "r.json"
    run_main(
        capsys,
        str(testdir),
        "--json",
        str(out_json),
        "--list",
        str(listfile),
        "--runners",
        "nommu",
        "--timeout",
        "1",
    )
    doc = json.loads(out_json.read_text())
    assert list(doc["tests"]) == ["math/cpuspin"]
    assert doc["tests"]["math/cpuspin"]["nommu"]["status"] == "timeout"


ARM_LAYOUT = {
    "functional/true": "arm/true",
    "functional/false": "arm/false",
    "regression/fork_wait": "arm/fork_wait",
}


@pytest.mark.usefixtures("guestbin")
def test_arm_programs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ARM builds are recognized by their ELF header: they run on nommu's ARM
    machine (with the ARM builds of the bundled shell in /bin), QEMU's column
    is qemu-arm's, and --mmu is n/a (a Cortex-M has no MMU)."""
    testdir = make_testdir(tmp_path, ARM_LAYOUT)
    out_json = tmp_path / "r.json"
    code, out = run_main(capsys, str(testdir), "--json", str(out_json), "--runners", "nommu,mmu")
    assert code == 0
    doc = json.loads(out_json.read_text())
    assert doc["arch"] == "arm"
    assert doc["counts"]["total"] == {
        "tests": 3,
        "native": None,
        "qemu-arm": None,
        "nommu": 1,
        "nommu --mmu": None,
    }
    assert "Invalid argument" in doc["tests"]["regression/fork_wait"]["nommu"]["output"]
    assert "(n/a) nommu --mmu: no MMU on arm" in out


def test_arch_from_elf_header(tmp_path: Path) -> None:
    assert conformance.elf_arch(GUESTBIN / "true") == "i386"
    assert conformance.elf_arch(GUESTBIN / "arm" / "true") == "arm"
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert conformance.elf_arch(tmp_path / "script") is None


def test_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        conformance.main([str(tmp_path / "missing")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        conformance.main([str(tmp_path), "--runners", "bochs"])
    assert conformance.main(["--quiet", str(tmp_path)]) == 2
    assert "no test programs" in capsys.readouterr().err
    assert conformance.main(["--quiet", str(tmp_path), "--list", str(tmp_path / "nope")]) == 2


def test_selection_and_grouping() -> None:
    names = ["functional/strtod", "functional/string", "math/sin", "math/sinf", "top"]
    assert conformance.select(names, []) == names
    assert conformance.select(names, ["sin"]) == ["math/sin"]
    assert conformance.select(names, ["str*"]) == ["functional/strtod", "functional/string"]
    assert conformance.select(names, ["math/*", "top"]) == ["math/sin", "math/sinf", "top"]
    assert [conformance.group_of(n) for n in ("math/sin", "top")] == ["math", "."]
    ordered = sorted(["x/a", "math/b", "functional/c", "regression/d"], key=conformance.sort_key)
    assert ordered == ["functional/c", "regression/d", "math/b", "x/a"]


def test_nommu_args_reach_the_right_runs(tmp_path: Path) -> None:
    args = argparse.Namespace(
        runners=[],
        timeout=5.0,
        qemu="qemu-i386",
        arch="i386",
        nommu_arg=["--mem=64M"],
        math_nommu_arg=["--exact-x87"],
        as_init=False,
    )
    nommu, mmu = conformance.make_runners(tmp_path, args)[2:]
    assert nommu.available == "not selected"
    math, other = nommu.argv("math/sin"), nommu.argv("functional/env")
    assert "--mem=64M" in math and "--mem=64M" in other
    assert "--exact-x87" in math and "--exact-x87" not in other
    assert math[-3:] == ["/bin/sh", "-c", "/math/sin; exit $?"] and "--mmu" not in math
    assert "--exact-x87" in mmu.argv("math/sin") and "--mmu" in mmu.argv("x")
    args.as_init = True
    assert nommu.argv("math/sin")[-2:] == ["--exact-x87", "/math/sin"]


def test_status_of_nommu_exit_codes() -> None:
    nommu = conformance.Runner("nommu", "nommu", lambda n: [], timeout_grace=1.0)
    native = conformance.Runner("native", "native", lambda n: [])
    assert conformance.status_of(nommu, 0, "") == "pass"
    assert conformance.status_of(nommu, 124, "nommu: timeout after 1 s\n") == "timeout"
    assert conformance.status_of(nommu, 124, "") == "exit 124"
    assert conformance.status_of(nommu, 125, "nommu: deadlock: every task is waiting") == "deadlock"
    assert conformance.status_of(nommu, 139, "") == "signal 11"
    assert conformance.status_of(native, 139, "") == "exit 139"
    assert conformance.status_of(native, -6, "") == "signal 6"


def test_help() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "qemu-i386" in proc.stdout and "--nommu-arg" in proc.stdout
