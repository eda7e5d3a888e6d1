"""`nommu mkroot`: a guest root where system(), popen() and scripts work."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import nommu_cli

from nommu import Machine
from nommu.api import RunResult
from nommu.kernel.errors import NommuError
from nommu.rootfs import MARKER, guestbin, mkroot

ENV = {"PATH": "/bin:/usr/bin", "HOME": "/root"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mkroot(tmp_path_factory.mktemp("mkroot") / "root")


def run(root: Path, *argv: str, mmu: bool = False) -> RunResult:
    return Machine(root=root, mmu=mmu, hints=False).run(list(argv), ENV, capture=True)


def test_layout(root: Path) -> None:
    programs = {p.name for p in guestbin().iterdir() if p.is_file() and "." not in p.name}
    assert {"sh", "cat", "echo", "ls", "env", "system", "popen"} <= programs
    assert programs <= {p.name for p in (root / "bin").iterdir()}
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    assert (root / "etc" / "passwd").read_text().startswith("root:x:0:0:root:/root:/bin/sh")
    assert "localhost" in (root / "etc" / "hosts").read_text()
    assert (root / "etc" / "group").read_text().startswith("root:x:0:")
    for d in ("dev", "proc", "root", "home"):
        assert (root / d).is_dir()
    assert (root / MARKER).is_file()


@pytest.mark.parametrize("mmu", [False, True])
def test_shell_pipeline_in_the_root(root: Path, mmu: bool) -> None:
    result = run(root, "/bin/sh", "-c", "echo hi | cat; cat /etc/hosts | wc -l", mmu=mmu)
    assert (result.stdout, result.returncode) == (b"hi\n2\n", 0)


@pytest.mark.parametrize("mmu", [False, True])
def test_system_runs_bin_sh(root: Path, mmu: bool) -> None:
    result = run(root, "/bin/system", "echo hi | cat", "exit 3", mmu=mmu)
    assert result.stdout == b"hi\nexit 0\nexit 3\n"
    assert result.returncode == 3


@pytest.mark.parametrize("mmu", [False, True])
def test_popen_reads_and_writes(root: Path, mmu: bool) -> None:
    result = run(root, "/bin/popen", "echo a; echo b; exit 4", "wc -l", mmu=mmu)
    assert result.stdout == b"read: a\nread: b\nreader: exit 4\n3\nwriter: exit 0\n"
    assert result.returncode == 0


def test_system_and_popen_agree_with_linux(differential: Callable[..., RunResult]) -> None:
    """The same programs natively (the host's /bin/sh) print the same."""
    differential(["./system", "echo hi | cat", "exit 3"])
    differential(["./popen", "echo a; echo b", "cat"])


def test_env_shebang_scripts_run(root: Path) -> None:
    script = root / "tmp" / "script"
    script.write_text("#!/usr/bin/env sh\necho from script $1\n")
    script.chmod(0o755)
    result = run(root, "/tmp/script", "x")
    assert (result.stdout, result.returncode) == (b"from script x\n", 0)


def test_cli_makes_a_root_that_runs_a_pipeline(tmp_path: Path) -> None:
    made = nommu_cli("mkroot", str(tmp_path / "r"))
    assert made.returncode == 0, made.stderr
    ran = nommu_cli("run", "--root", str(tmp_path / "r"), "/bin/sh", "-c", "echo hi | cat")
    assert (ran.stdout, ran.returncode) == ("hi\n", 0)
    home = nommu_cli("shell", "--root", str(tmp_path / "r"), "-c", "cd; pwd")
    assert home.stdout == "/root\n"  # the home /etc/passwd gives root


def test_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    proc = nommu_cli("mkroot", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "--force" in proc.stderr
    assert not (tmp_path / "bin").exists()
    forced = nommu_cli("mkroot", "--force", str(tmp_path))
    assert forced.returncode == 0 and (tmp_path / "bin" / "sh").is_file()
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_refresh_keeps_the_guests_files(tmp_path: Path) -> None:
    root = mkroot(tmp_path / "r")
    (root / "root" / "notes").write_text("mine")
    (root / "bin" / "sh").unlink()
    mkroot(root)  # a root it made: no --force needed
    assert (root / "root" / "notes").read_text() == "mine"
    assert (root / "bin" / "sh").is_file()


def test_a_file_is_not_a_root(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(NommuError, match="not a directory"):
        mkroot(tmp_path / "f")


def test_never_writes_through_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "host-file"
    outside.write_text("host data")
    root = tmp_path / "r"
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "bin" / "sh").symlink_to(outside)
    (root / "etc" / "passwd").symlink_to(outside)
    mkroot(root, force=True)
    assert outside.read_text() == "host data"
    assert not (root / "bin" / "sh").is_symlink() and (root / "bin" / "sh").stat().st_size > 1000


def test_refuses_a_symlinked_directory(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    root = tmp_path / "r"
    root.mkdir()
    (root / "bin").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(NommuError, match="symlink"):
        mkroot(root, force=True)
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.fixture(scope="module")
def arm_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mkroot(tmp_path_factory.mktemp("mkroot") / "arm", arch="arm")


def _elf_machine(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[18:20], "little")


def test_an_arm_root_holds_the_arm_builds(arm_root: Path) -> None:
    assert _elf_machine(arm_root / "bin" / "sh") == 40  # EM_ARM
    assert {p.name for p in (arm_root / "bin").iterdir()} == {
        p.name for p in guestbin("arm").iterdir() if p.is_file() and "." not in p.name
    }


def test_system_in_an_arm_root_runs_the_arm_shell(arm_root: Path) -> None:
    """An ARM program's system() execs /bin/sh on the same (ARM) machine: with
    the i386 userland it would get ENOEXEC (exit 127)."""
    result = run(arm_root, "/bin/system", "uname -m | cat", "exit 3")
    assert result.stdout == b"armv7ml\nexit 0\nexit 3\n"
    assert result.returncode == 3


def test_refreshing_for_another_arch_replaces_the_programs(tmp_path: Path) -> None:
    root = mkroot(tmp_path / "r")
    (root / "home" / "mine").write_text("kept")
    mkroot(root, arch="arm")
    assert _elf_machine(root / "bin" / "sh") == 40
    assert not (root / "bin" / "x87").exists()  # i386-only: it could not run here
    mkroot(root)  # a refresh keeps the root's architecture
    assert _elf_machine(root / "bin" / "sh") == 40
    mkroot(root, arch="i386")
    assert _elf_machine(root / "bin" / "sh") == 3
    assert (root / "bin" / "x87").exists()
    assert (root / "home" / "mine").read_text() == "kept"


def test_shell_refuses_arch_with_a_root_of_its_own(root: Path) -> None:
    out = nommu_cli("shell", "--root", str(root), "--arch", "arm", "-c", "uname -m")
    assert out.returncode != 0 and out.stdout == ""
    assert "--arch chooses the bundled userland; a --root runs its own /bin/sh" in out.stderr


def test_mkroot_refuses_an_unknown_arch(tmp_path: Path) -> None:
    with pytest.raises(NommuError, match="no bundled userland for 'mips'"):
        mkroot(tmp_path / "r", arch="mips")


@pytest.mark.parametrize(
    ("options", "machine"),
    [([], "i686"), (["--arch", "arm"], "armv7ml"), (["--cpu", "a9"], "armv7l")],
)
def test_shell_boots_the_userland_of_the_asked_arch(options: list[str], machine: str) -> None:
    out = nommu_cli("shell", *options, "-c", "uname -m; cat /proc/cpuinfo")
    assert out.stdout.startswith(f"{machine}\nprocessor\t: 0\n")
    assert ("CPU architecture" in out.stdout) == (machine != "i686")  # ARM's format
    assert out.returncode == 0
