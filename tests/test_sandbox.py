"""The guest root holds: no guest path reaches a host file outside it.

A canary file lives outside the root (tmp/outside/secret). The guest program
`escape` tries every way out it knows (`..` chains, absolute host paths,
symlinks pointing outside, symlink loops, /proc/self/{root,cwd,fd,exe}, hard
links, renameat2, openat with a directory and `..`, O_PATH, fchdir, and
mkdir/unlink/rename/chmod/truncate/execve through all of them). Each route must
fail the way Linux fails it inside a chroot (the program holds the expected
errno of every route, checked natively in a real chroot where we may make one),
the canary must stay unread and unchanged, and nothing may appear outside the
root. Then: host-side races (a directory or file swapped for a symlink between
resolving a path and using it), host special files, set-user-ID bits, and the
read-only root.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import GUESTBIN, guarded_run, nommu_cli

from nommu import Machine
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.hostfs import HostFs
from nommu.kernel.vfs import Vfs

SECRET = "canary-7d3f-do-not-read-this"
GUEST_PASSWD = "guest-passwd"


def make_world(tmp_path: Path, programs: tuple[str, ...] = ("escape",)) -> tuple[Path, Path]:
    """tmp/outside/secret (the canary) and tmp/root/{tmp/, etc/passwd, programs}."""
    if not (GUESTBIN / "escape").is_file():
        pytest.skip("guest binaries not built (make -C guest)")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text(SECRET + "\n")
    root = tmp_path / "root"
    (root / "tmp").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text(GUEST_PASSWD + "\n")
    for name in programs:
        shutil.copy2(GUESTBIN / name, root / name)
    return root, outside / "secret"


def outside_state(tmp_path: Path, root: Path, canary: Path) -> tuple[object, ...]:
    """Every path under tmp_path outside the root, and the canary's bytes and times."""
    names = sorted(
        str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if root not in (p, *p.parents)
    )
    info = canary.stat()
    return names, canary.read_bytes(), info.st_mtime_ns, info.st_mode, info.st_nlink


def escape_argv(canary: Path) -> list[str]:
    return ["/escape", str(canary), str(canary.parent)]


def failed_routes(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.endswith(": no")]


@pytest.mark.parametrize("mmu", [False, True], ids=["nommu", "mmu"])
def test_every_escape_route_fails(tmp_path: Path, mmu: bool) -> None:
    root, canary = make_world(tmp_path)
    before = outside_state(tmp_path, root, canary)
    result = guarded_run(Machine(root=root, mmu=mmu, hints=False), escape_argv(canary))
    out = (result.stdout or b"").decode(errors="replace")
    err = (result.stderr or b"").decode(errors="replace")
    assert SECRET not in out + err
    assert "root:x:0" not in out  # the host's /etc/passwd
    assert result.exit_code == 0, "routes that did not fail as in a chroot:\n" + "\n".join(
        failed_routes(out)
    )
    assert "/proc/self/root" in out  # the /proc routes ran
    assert outside_state(tmp_path, root, canary) == before
    # what the guest made through links and `..` was made inside the root
    assert (root / "made-through-link").is_file()
    assert not os.path.lexists(root / "tmp" / "abs")  # unlinked: the link, not the canary


def _can_chroot() -> str | None:
    if os.geteuid() != 0:
        return "chroot needs root"
    try:
        proc = subprocess.run(
            ["exitcode", "5"], executable=GUESTBIN / "exitcode", capture_output=True, timeout=30
        )
    except OSError as err:
        return f"the host cannot run i386 programs ({err})"
    return None if proc.returncode == 5 else "the host cannot run i386 programs"


def test_escape_expectations_are_linux_in_a_chroot(tmp_path: Path) -> None:
    """The errno each route expects is what Linux gives inside a real chroot
    (without /proc there, so the /proc routes are skipped natively)."""
    why = _can_chroot()
    if why:
        pytest.skip(why)
    root, canary = make_world(tmp_path)
    before = outside_state(tmp_path, root, canary)
    proc = subprocess.run(
        escape_argv(canary),
        executable="/escape",
        cwd="/",
        preexec_fn=lambda: os.chroot(root),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode == 126 or "Operation not permitted" in proc.stderr:
        pytest.skip(f"chroot refused here: {proc.stderr.strip()}")
    assert proc.returncode == 0, "\n".join(failed_routes(proc.stdout))
    assert SECRET not in proc.stdout
    assert outside_state(tmp_path, root, canary) == before


def test_escape_through_the_command_line(tmp_path: Path) -> None:
    root, canary = make_world(tmp_path)
    before = outside_state(tmp_path, root, canary)
    proc = nommu_cli("run", "--no-hints", "--root", str(root), *escape_argv(canary))
    assert proc.returncode == 0, "\n".join(failed_routes(proc.stdout)) + proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert outside_state(tmp_path, root, canary) == before


# -- races with the host: a swap between resolving a path and using it ------------


@pytest.fixture
def racy(tmp_path: Path) -> tuple[Vfs, HostFs, Path, Path]:
    """root/dir/file and root/dir/sub/, and a canary outside with its own dir/."""
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "file").write_text(SECRET)
    (outside / "sub" / "file").write_text(SECRET)
    root = tmp_path / "root"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "file").write_text("inside")
    (root / "dir" / "sub" / "file").write_text("inside")
    vfs = Vfs(root)
    return vfs, HostFs(vfs.root), root, outside


def swap_for_link(path: Path, target: Path) -> None:
    """What a racing host process does: the name now points outside."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target)


def errno_of(fn: Callable[[], object]) -> Errno:
    with pytest.raises(SyscallError) as exc:
        fn()
    return exc.value.errno


def test_file_swapped_for_a_symlink_after_resolve(
    racy: tuple[Vfs, HostFs, Path, Path],
) -> None:
    vfs, hostfs, root, outside = racy
    r = vfs.resolve("/", "/dir/file")
    swap_for_link(root / "dir" / "file", outside / "file")
    assert Path(r.host).read_text() == SECRET  # a plain open of the path would escape
    assert errno_of(lambda: hostfs.open(r, os.O_RDONLY, 0)) == Errno.ELOOP
    assert errno_of(lambda: hostfs.open(r, os.O_WRONLY | os.O_TRUNC, 0)) == Errno.ELOOP
    assert errno_of(lambda: hostfs.truncate(r, 0)) == Errno.ELOOP
    assert errno_of(lambda: hostfs.chmod(r, 0o777)) == Errno.EOPNOTSUPP
    assert stat.S_ISLNK(hostfs.lstat(r).st_mode)  # the link itself, not the canary
    assert (outside / "file").read_text() == SECRET
    assert stat.S_IMODE((outside / "file").stat().st_mode) != 0o777


def test_directory_swapped_for_a_symlink_after_resolve(
    racy: tuple[Vfs, HostFs, Path, Path],
) -> None:
    vfs, hostfs, root, outside = racy
    r = vfs.resolve("/", "/dir/sub/file")
    new = vfs.resolve("/", "/dir/sub/new")
    keep = vfs.resolve("/", "/dir/file")
    swap_for_link(root / "dir" / "sub", outside / "sub")
    assert Path(r.host).read_text() == SECRET  # a plain open of the path would escape
    for call in (
        lambda: hostfs.open(r, os.O_RDONLY, 0),
        lambda: hostfs.open(new, os.O_WRONLY | os.O_CREAT, 0o644),
        lambda: hostfs.lstat(r),
        lambda: hostfs.readlink(r),
        lambda: hostfs.mkdir(new, 0o755),
        lambda: hostfs.remove(r, is_dir=False),
        lambda: hostfs.rename(r, keep),
        lambda: hostfs.rename(keep, new),
        lambda: hostfs.link(keep, new),
        lambda: hostfs.symlink("x", new),
        lambda: hostfs.chmod(r, 0o777),
        lambda: hostfs.truncate(r, 0),
    ):
        assert errno_of(call) in (Errno.ELOOP, Errno.ENOTDIR)
    assert sorted(p.name for p in (outside / "sub").iterdir()) == ["file"]
    assert (outside / "sub" / "file").read_text() == SECRET
    assert (root / "dir" / "file").read_text() == "inside"


def test_no_setuid_bits_on_host_files(racy: tuple[Vfs, HostFs, Path, Path]) -> None:
    vfs, hostfs, root, _ = racy
    r = vfs.resolve("/", "/dir/file")
    hostfs.chmod(r, 0o6755)
    assert stat.S_IMODE((root / "dir" / "file").stat().st_mode) == 0o755
    made = vfs.resolve("/", "/dir/made")
    os.close(hostfs.open(made, os.O_WRONLY | os.O_CREAT, 0o4755))
    assert not (root / "dir" / "made").stat().st_mode & (stat.S_ISUID | stat.S_ISGID)
    hostfs.mkdir(vfs.resolve("/", "/dir/newdir"), 0o2755)
    assert not (root / "dir" / "newdir").stat().st_mode & stat.S_ISGID


def test_host_fifo_in_the_root_does_not_stall_the_machine(tmp_path: Path) -> None:
    root, _ = make_world(tmp_path, ("cat",))
    os.mkfifo(root / "fifo")
    result = guarded_run(Machine(root=root, hints=False), ["/cat", "/fifo"], timeout=30)
    assert result.exit_code != 0
    assert b"fifo" in (result.stderr or b"")


# -- a read-only root ------------------------------------------------------------------


def tree_state(root: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        str(p.relative_to(root)): (
            p.lstat().st_mode,
            p.lstat().st_mtime_ns,
            p.read_bytes() if p.is_file() and not p.is_symlink() else b"",
        )
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("mmu", [False, True], ids=["nommu", "mmu"])
def test_read_only_root_refuses_every_change(tmp_path: Path, mmu: bool) -> None:
    root, _ = make_world(tmp_path, ("readonly",))
    (root / "data").write_text("data\n")
    before = tree_state(root)
    machine = Machine(root=root, mmu=mmu, hints=False, read_only=True)
    result = guarded_run(machine, ["/readonly", "/data"])
    out = (result.stdout or b"").decode()
    assert result.exit_code == 0, "\n".join(failed_routes(out))
    assert "mkdir /tmp/d: EROFS" in out
    assert tree_state(root) == before


def test_read_only_root_on_the_command_line(tmp_path: Path) -> None:
    root, _ = make_world(tmp_path, ("readonly",))
    (root / "data").write_text("data\n")
    before = tree_state(root)
    proc = nommu_cli("run", "--read-only", "--no-hints", "--root", str(root), "/readonly", "/data")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert tree_state(root) == before
    # and without --read-only the same program finds the root writable
    proc = nommu_cli("run", "--no-hints", "--root", str(root), "/readonly", "/data")
    assert proc.returncode == 1
    assert "mkdir /tmp/d: ok, expected EROFS: no" in proc.stdout
