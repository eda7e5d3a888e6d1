"""The guest's file system: a host directory seen as `/`, and nothing beyond it.

Path resolution walks the guest path one component at a time, the way the
kernel's namei does, with the guest root as a hard floor: `..` at the root
stays at the root, and a symlink's target (absolute or relative) is
resolved again from inside the root, so no path the guest can write names a
host file outside it. A chain of more than 40 symlinks is ELOOP, as in Linux.

Device files (/dev/null, /dev/zero, /dev/urandom...) are provided by the
kernel, not the host, whatever the root holds, and so are /dev/shm, a RAM
file system (kernel/ramfs.py), and /dev/pts, the pseudo-terminals'
(kernel/pty.py).
"""

from __future__ import annotations

import os
import stat as st
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno, from_host
from nommu.kernel.errors import SyscallError

if TYPE_CHECKING:
    from nommu.kernel.procfs import ProcFs
    from nommu.kernel.pty import DevPts
    from nommu.kernel.ramfs import RamFs

MAXSYMLINKS = 40
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/tty", "/dev/ptmx")


@dataclass(frozen=True, slots=True)
class Resolved:
    """A guest path resolved inside the root."""

    guest: str  # canonical guest path ("/a/b")
    host: str  # the host path it names (always inside the root; "" for /proc)
    exists: bool
    proc: tuple[str, ...] | None = None  # the path below /proc, for kernel files
    shm: str | None = None  # the name below /dev/shm ("" for the directory itself)
    pts: str | None = None  # the name below /dev/pts ("" for the directory itself)

    @property
    def device(self) -> str | None:
        """The device file this names (a kernel device, or a pty's slave)."""
        if self.pts:
            return self.guest if self.exists else None
        return self.guest if self.guest in DEVICES else None


class Vfs:
    """Resolves guest paths to host paths under `root`."""

    def __init__(self, root: str | os.PathLike[str], procfs: ProcFs | None = None) -> None:
        self.root = str(Path(root).resolve())
        self.procfs = procfs
        self.shmfs: RamFs | None = None  # /dev/shm, when the kernel provides it
        self.devpts: DevPts | None = None  # /dev/pts, likewise

    def host_path(self, parts: list[str]) -> str:
        return os.path.join(self.root, *parts) if parts else self.root

    def resolve(self, cwd: str, path: str, *, follow: bool = True) -> Resolved:  # noqa: C901 (namei: one walk through procfs, devices and the host; to be split)
        """Resolve `path` (relative to the guest directory `cwd`).

        Intermediate components must exist and be directories (ENOENT,
        ENOTDIR); the last one may be missing (for creation). `follow`
        decides whether a final symlink is followed.
        """
        if path == "":
            raise SyscallError(Errno.ENOENT)
        must_be_dir = path.endswith("/")
        full = path if path.startswith("/") else f"{cwd}/{path}"
        todo = [c for c in full.split("/") if c]
        parts: list[str] = []
        links = 0
        while todo:
            name = todo.pop(0)
            if name == ".":
                continue
            if name == "..":
                if parts:
                    parts.pop()
                continue
            last = not todo
            if self.procfs is not None and (
                parts[:1] == ["proc"] or (not parts and name == "proc")
            ):
                node = self.procfs.node((*parts[1:], name) if parts else ())
                if node is None:
                    if not last:
                        raise SyscallError(Errno.ENOENT)
                    parts.append(name)
                    return Resolved("/" + "/".join(parts), "", False, tuple(parts[1:]))
                if node.kind == "link" and (not last or follow or must_be_dir):
                    links += 1
                    if links > MAXSYMLINKS:
                        raise SyscallError(Errno.ELOOP)
                    if node.target.startswith("/"):
                        parts = []
                    todo[0:0] = [c for c in node.target.split("/") if c]
                    continue
                if not last and node.kind != "dir":
                    raise SyscallError(Errno.ENOTDIR)
                parts.append(name)
                continue
            if not parts and name == "dev" and self.shmfs is not None and _below(todo, "shm"):
                return self._resolve_shm(todo[1] if len(todo) == 2 else "", must_be_dir)
            if not parts and name == "dev" and self.devpts is not None and _below(todo, "pts"):
                return self._resolve_pts(todo[1] if len(todo) == 2 else "", must_be_dir)
            if not parts and name == "dev" and len(todo) == 1 and f"/dev/{todo[0]}" in DEVICES:
                device = f"/dev/{todo[0]}"  # a kernel device, whether the root has /dev or not
                return Resolved(device, self.host_path(["dev", todo[0]]), True)
            host = self.host_path([*parts, name])
            try:
                info = os.lstat(host)
            except FileNotFoundError:
                if not last:
                    raise SyscallError(Errno.ENOENT) from None
                parts.append(name)
                return Resolved("/" + "/".join(parts), host, False)
            except OSError as err:
                raise SyscallError(from_host(err)) from None
            if st.S_ISLNK(info.st_mode) and (not last or follow or must_be_dir):
                links += 1
                if links > MAXSYMLINKS:
                    raise SyscallError(Errno.ELOOP)
                target = os.readlink(host)
                if target.startswith("/"):
                    parts = []
                todo[0:0] = [c for c in target.split("/") if c]
                continue
            if not last and not st.S_ISDIR(info.st_mode):
                raise SyscallError(Errno.ENOTDIR)
            parts.append(name)
            if last and must_be_dir and not st.S_ISDIR(info.st_mode):
                raise SyscallError(Errno.ENOTDIR)
        if parts[:1] == ["proc"] and self.procfs is not None:
            return Resolved("/" + "/".join(parts), "", True, tuple(parts[1:]))
        return Resolved("/" + "/".join(parts), self.host_path(parts), True)

    def _resolve_shm(self, name: str, must_be_dir: bool) -> Resolved:
        assert self.shmfs is not None
        exists = name == "" or name in self.shmfs.files
        if name and exists and must_be_dir:
            raise SyscallError(Errno.ENOTDIR)
        return Resolved(f"/dev/shm/{name}".rstrip("/"), "", exists, shm=name)

    def _resolve_pts(self, name: str, must_be_dir: bool) -> Resolved:
        assert self.devpts is not None
        exists = name == "" or self.devpts.lookup(name) is not None
        if name and exists and must_be_dir:
            raise SyscallError(Errno.ENOTDIR)
        return Resolved(f"/dev/pts/{name}".rstrip("/"), "", exists, pts=name)

    def resolve_existing(self, cwd: str, path: str, *, follow: bool = True) -> Resolved:
        r = self.resolve(cwd, path, follow=follow)
        if not r.exists and r.device is None:
            raise SyscallError(Errno.ENOENT)
        return r

    def is_dir(self, r: Resolved) -> bool:
        if r.shm is not None:
            return r.shm == ""
        if r.pts is not None:
            return r.pts == ""
        if r.proc is not None:
            node = self.procfs.node(r.proc) if self.procfs else None
            return node is not None and node.kind == "dir"
        return os.path.isdir(r.host)

    def guest_path_of(self, host: str) -> str:
        """The guest path of a host path inside the root."""
        rel = os.path.relpath(host, self.root)
        return "/" if rel == "." else "/" + rel


def _below(todo: list[str], directory: str) -> bool:
    """Whether the components after /dev are `directory` or `directory`/NAME."""
    if todo[:1] != [directory]:
        return False
    return len(todo) == 1 or (len(todo) == 2 and todo[1] not in (".", ".."))
