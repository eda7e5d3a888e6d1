"""Vfs.resolve: guest paths stay inside the guest root, whatever `..` and symlinks say."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.vfs import MAXSYMLINKS, Vfs


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/outside/{etc/passwd, secret}  and the root tmp/root/{etc/passwd, a/b/c, file}."""
    outside = tmp_path / "outside"
    (outside / "etc").mkdir(parents=True)
    (outside / "etc" / "passwd").write_text("host\n")
    (outside / "secret").write_text("host secret\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("guest\n")
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "file").write_text("x")
    return root


@pytest.fixture
def vfs(tree: Path) -> Vfs:
    return Vfs(tree)


def inside(vfs: Vfs, host: str) -> bool:
    root = os.path.realpath(vfs.root)
    return os.path.commonpath([root, os.path.abspath(host)]) == root


def errno_of(fn: Callable[[], object]) -> Errno:
    with pytest.raises(SyscallError) as exc:
        fn()
    return exc.value.errno


def test_root_itself(vfs: Vfs, tree: Path) -> None:
    r = vfs.resolve("/", "/")
    assert (r.guest, r.exists) == ("/", True)
    assert Path(r.host) == tree.resolve()


@pytest.mark.parametrize(
    "path",
    ["/..", "/../..", "../../../..", "/a/../../..", "/a/b/c/../../../../../..", "/./../a/../.."],
)
def test_dotdot_cannot_climb_above_root(vfs: Vfs, path: str) -> None:
    r = vfs.resolve("/a", path)
    assert r.guest == "/"
    assert inside(vfs, r.host)


def test_dotdot_then_name_lands_inside(vfs: Vfs) -> None:
    r = vfs.resolve("/", "/../../../etc/passwd")
    assert r.guest == "/etc/passwd"
    assert Path(r.host).read_text() == "guest\n"


def test_relative_to_cwd(vfs: Vfs) -> None:
    r = vfs.resolve("/a/b", "c/../../b/./c")
    assert (r.guest, r.exists) == ("/a/b/c", True)


def test_absolute_symlink_resolves_inside_root(vfs: Vfs, tree: Path) -> None:
    (tree / "link").symlink_to("/etc")
    r = vfs.resolve("/", "/link/passwd")
    assert r.guest == "/etc/passwd"
    assert Path(r.host).read_text() == "guest\n"
    assert inside(vfs, r.host)


def test_absolute_symlink_to_file(vfs: Vfs, tree: Path) -> None:
    (tree / "a" / "pw").symlink_to("/etc/passwd")
    r = vfs.resolve("/a", "pw")
    assert r.guest == "/etc/passwd" and Path(r.host).read_text() == "guest\n"


def test_relative_symlink_with_many_dotdots_stays_inside(vfs: Vfs, tree: Path) -> None:
    (tree / "a" / "b" / "up").symlink_to("../" * 12 + "outside/secret")
    # the host has tmp/outside/secret; inside the root there is no /outside
    assert errno_of(lambda: vfs.resolve("/", "/a/b/up")) == Errno.ENOENT
    (tree / "outside").mkdir()
    (tree / "outside" / "secret").write_text("guest secret\n")
    r = vfs.resolve("/", "/a/b/up")
    assert r.guest == "/outside/secret"
    assert Path(r.host).read_text() == "guest secret\n"


def test_relative_symlink_to_etc_through_dotdots(vfs: Vfs, tree: Path) -> None:
    (tree / "a" / "b" / "c" / "pw").symlink_to("../../../../../../etc/passwd")
    r = vfs.resolve("/", "/a/b/c/pw")
    assert Path(r.host).read_text() == "guest\n"


def test_symlink_to_host_absolute_path_of_outside(vfs: Vfs, tree: Path) -> None:
    outside = tree.parent / "outside" / "secret"  # exists on the host
    (tree / "s").symlink_to(outside)
    assert errno_of(lambda: vfs.resolve("/", "/s")) == Errno.ENOENT
    r = vfs.resolve("/", "/s", follow=False)
    assert r.guest == "/s" and inside(vfs, r.host)


def test_symlink_loop_is_eloop(vfs: Vfs, tree: Path) -> None:
    (tree / "l1").symlink_to("l2")
    (tree / "l2").symlink_to("l1")
    assert errno_of(lambda: vfs.resolve("/", "/l1")) == Errno.ELOOP
    assert errno_of(lambda: vfs.resolve("/", "/l1/x")) == Errno.ELOOP


def test_self_loop_is_eloop(vfs: Vfs, tree: Path) -> None:
    (tree / "me").symlink_to("/me")
    assert errno_of(lambda: vfs.resolve("/", "/me")) == Errno.ELOOP


def test_long_chain_under_limit_resolves(vfs: Vfs, tree: Path) -> None:
    n = MAXSYMLINKS - 1
    for i in range(n):
        (tree / f"c{i}").symlink_to(f"c{i + 1}")
    (tree / f"c{n}").symlink_to("/etc/passwd")
    assert vfs.resolve("/", "/c0").guest == "/etc/passwd"


def test_chain_over_limit_is_eloop(vfs: Vfs, tree: Path) -> None:
    n = MAXSYMLINKS + 1
    for i in range(n):
        (tree / f"c{i}").symlink_to(f"c{i + 1}")
    (tree / f"c{n}").symlink_to("/etc/passwd")
    assert errno_of(lambda: vfs.resolve("/", "/c0")) == Errno.ELOOP


def test_final_symlink_not_followed_when_asked(vfs: Vfs, tree: Path) -> None:
    (tree / "link").symlink_to("/etc")
    r = vfs.resolve("/", "/link", follow=False)
    assert r.guest == "/link" and r.exists
    assert os.path.islink(r.host)


def test_intermediate_non_directory_is_enotdir(vfs: Vfs) -> None:
    assert errno_of(lambda: vfs.resolve("/", "/file/x")) == Errno.ENOTDIR
    assert errno_of(lambda: vfs.resolve("/", "/etc/passwd/x/y")) == Errno.ENOTDIR


def test_missing_intermediate_is_enoent(vfs: Vfs) -> None:
    assert errno_of(lambda: vfs.resolve("/", "/nope/x")) == Errno.ENOENT
    assert errno_of(lambda: vfs.resolve("/", "/a/nope/b/c")) == Errno.ENOENT


def test_missing_last_component_is_allowed(vfs: Vfs, tree: Path) -> None:
    r = vfs.resolve("/a", "new")
    assert (r.guest, r.exists) == ("/a/new", False)
    assert Path(r.host) == tree.resolve() / "a" / "new"
    assert errno_of(lambda: vfs.resolve_existing("/a", "new")) == Errno.ENOENT


def test_trailing_slash_on_file_is_enotdir(vfs: Vfs) -> None:
    assert errno_of(lambda: vfs.resolve("/", "/file/")) == Errno.ENOTDIR
    assert errno_of(lambda: vfs.resolve("/", "/etc/passwd/")) == Errno.ENOTDIR


def test_trailing_slash_on_dir_is_fine(vfs: Vfs) -> None:
    assert vfs.resolve("/", "/a/b/").guest == "/a/b"


def test_trailing_slash_follows_final_symlink_to_dir(vfs: Vfs, tree: Path) -> None:
    (tree / "link").symlink_to("/a")
    assert vfs.resolve("/", "/link/", follow=False).guest == "/a"


def test_empty_path_is_enoent(vfs: Vfs) -> None:
    assert errno_of(lambda: vfs.resolve("/", "")) == Errno.ENOENT


DEVICES = ["/dev/null", "/dev/zero", "/dev/urandom"]


@pytest.mark.parametrize("dev", DEVICES)
def test_device_paths_are_kernel_devices(vfs: Vfs, tree: Path, dev: str) -> None:
    (tree / "dev").mkdir()  # an empty /dev: the device nodes come from the kernel
    r = vfs.resolve_existing("/", dev)
    assert r.device == dev
    assert inside(vfs, r.host)


def test_device_path_through_dotdot(vfs: Vfs, tree: Path) -> None:
    (tree / "dev").mkdir()
    assert vfs.resolve_existing("/a/b", "../../../dev/null").device == "/dev/null"


@pytest.mark.parametrize("dev", DEVICES)
def test_device_paths_without_dev_directory(vfs: Vfs, dev: str) -> None:
    assert vfs.resolve_existing("/", dev).device == dev


def test_ordinary_path_is_no_device(vfs: Vfs) -> None:
    assert vfs.resolve("/", "/etc/passwd").device is None


def test_guest_path_of(vfs: Vfs, tree: Path) -> None:
    assert vfs.guest_path_of(str(tree.resolve())) == "/"
    assert vfs.guest_path_of(str(tree.resolve() / "a" / "b")) == "/a/b"


# -- a guest cannot leave the root either ----------------------------------------------


@pytest.mark.parametrize("program", ["fileio", "dirs", "errno"])
@pytest.mark.parametrize("link", ["absolute", "dotdot"])
def test_guest_works_through_links_that_would_escape(
    program: str, link: str, guest_root: Path, run_nommu: Callable[..., object]
) -> None:
    """A guest given DIR = a symlink whose target exists only *inside* the root
    (as an absolute path or through ../..) must work there; had it escaped, the
    target would be missing on the host and the program would fail."""
    name = f"nommu-escape-probe-{os.getpid()}"
    assert not Path("/" + name).exists()
    (guest_root / name).mkdir()
    target = "/" + name if link == "absolute" else "../" * 30 + name
    (guest_root / "tmp" / "probe").symlink_to(target)
    result = run_nommu([f"/{program}", "/tmp/probe"])
    assert result.exit_code == 0, result.stdout  # type: ignore[attr-defined]
    assert not Path("/" + name).exists()
    assert list((guest_root / name).iterdir()) == []  # the program cleaned up inside
