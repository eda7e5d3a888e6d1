"""Guest root file systems: the directory a guest sees as /.

`nommu mkroot DIR` makes one that ordinary programs expect: the bundled
shell and utilities in /bin (so system() and popen(), which musl runs as
`/bin/sh -c`, work, and so do shell scripts and `#!/usr/bin/env sh`), /tmp
(mode 1777), /etc with passwd, group and hosts for the one user, root, and
/root as its home. /dev and /proc are mount points only: the kernel
provides /dev/null, /dev/zero, /dev/random, /dev/urandom, /dev/tty, /dev/shm
and /proc itself, whether or not the root has the directories (the network
is the machine's own loopback, so no resolv.conf: /etc/hosts answers
"localhost").

The bundled programs exist for each architecture nommu runs: i386 (the
default) and ARM (`--arch arm`: Thumb-2 builds of the same sources, for a
Cortex-M machine). A machine is built for the architecture of the first
program it runs and execs only programs of that architecture (one CPU, as
on a board), so a root's /bin must match its programs: an ARM program's
system() needs an ARM /bin/sh.

A root is marked by a `.nommu-root` file at its top; mkroot refreshes a
marked root (the guest's own files stay) and refuses, without --force, a
non-empty directory that is not one, so it never mixes its files into a
user's project.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from nommu import __version__
from nommu.kernel.errors import NommuError

MARKER = ".nommu-root"
DIRS = {"bin": 0o755, "dev": 0o755, "dev/shm": 0o1777, "etc": 0o755, "proc": 0o555}
DIRS |= {"root": 0o700, "home": 0o755, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755}
ETC = {
    "passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "group": "root:x:0:root\n",
    "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "shells": "/bin/sh\n",
}
LINKS = {"usr/bin/env": "/bin/env"}  # for `#!/usr/bin/env sh` scripts


ARCHES = ("i386", "arm")  # the architectures the bundled userland is built for


def guestbin(arch: str = "i386") -> Path:
    """The directory of bundled guest programs for `arch` inside the installed
    package (the ARM builds sit in its subdirectory arm/)."""
    top = Path(str(resources.files("nommu") / "guestbin"))
    return top if arch == "i386" else top / arch


def mkroot(where: str | os.PathLike[str], force: bool = False, arch: str | None = None) -> Path:
    """Make (or refresh) a guest root at `where` whose /bin holds the bundled
    programs built for `arch` (default: the architecture the root was made
    for, else i386); NommuError if `where` holds something else and `force`
    is not given. Refreshing for another architecture replaces the bundled
    programs (a program of the old one that the new one lacks, such as an
    x86-assembly test, is removed: it could not run there)."""
    root = Path(where)
    arch = arch or root_arch(root) or "i386"
    if arch not in ARCHES:
        raise NommuError(f"no bundled userland for '{arch}': choose {' or '.join(ARCHES)}")
    _check_target(root, force)
    for name, mode in DIRS.items():
        if (root / name).is_symlink():
            raise NommuError(f"{root / name} is a symlink: mkroot writes no files through it")
        (root / name).mkdir(parents=True, exist_ok=True)
        os.chmod(root / name, mode)  # (mkdir's mode is cut by the umask)
    _remove_other_arches_programs(root, arch)
    for program in _bundled_programs(arch):
        shutil.copy2(program, _fresh(root / "bin" / program.name))
    for name, text in ETC.items():
        _fresh(root / "etc" / name).write_text(text)
    for name, target in LINKS.items():
        _fresh(root / name).symlink_to(target)
    _fresh(root / MARKER).write_text(f"made by nommu mkroot {__version__}\narch {arch}\n")
    return root


def root_arch(root: Path) -> str | None:
    """The architecture a root made by mkroot holds programs for (None: not
    such a root, or one made before roots recorded it)."""
    try:
        lines = (root / MARKER).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return next((line.split()[1] for line in lines if line.startswith("arch ")), None)


def _bundled_programs(arch: str) -> list[Path]:
    """The bundled programs of `arch` (files with no dot in their name: not
    the .bflt variants or other data)."""
    return sorted(p for p in guestbin(arch).iterdir() if p.is_file() and "." not in p.name)


def _remove_other_arches_programs(root: Path, arch: str) -> None:
    """Remove from the root's /bin the bundled programs that `arch` has no
    build of (another architecture's only)."""
    ours = {p.name for p in _bundled_programs(arch)}
    theirs = {p.name for other in ARCHES for p in _bundled_programs(other)}
    for name in theirs - ours:
        (root / "bin" / name).unlink(missing_ok=True)


def _fresh(path: Path) -> Path:
    """`path`, with whatever was there removed: writing through an old symlink
    (bin/sh -> /bin/bash) would change a file outside the root."""
    path.unlink(missing_ok=True)
    return path


def _check_target(root: Path, force: bool) -> None:
    """mkroot writes into an absent or empty directory, or a root it made."""
    if root.exists() and not root.is_dir():
        raise NommuError(f"{root} exists and is not a directory")
    if force or not root.exists() or (root / MARKER).exists() or not any(root.iterdir()):
        return
    raise NommuError(
        f"{root} is not empty and not a root made by nommu mkroot: choose a new "
        "directory, or add --force to put the root's files into this one"
    )


def bundled_root(arch: str = "i386") -> tempfile.TemporaryDirectory[str]:
    """A fresh root for `arch` in a temporary directory (removed when the
    context ends), so guests of `nommu shell` and `nommu demo` never modify
    the package."""
    tmp = tempfile.TemporaryDirectory(prefix="nommu-root-")
    mkroot(tmp.name, arch=arch)
    return tmp
