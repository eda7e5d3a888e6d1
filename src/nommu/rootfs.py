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


def guestbin() -> Path:
    """The directory of bundled guest programs inside the installed package."""
    return Path(str(resources.files("nommu") / "guestbin"))


def mkroot(where: str | os.PathLike[str], force: bool = False) -> Path:
    """Make (or refresh) a guest root at `where`; NommuError if `where` holds
    something else and `force` is not given."""
    root = Path(where)
    _check_target(root, force)
    for name, mode in DIRS.items():
        if (root / name).is_symlink():
            raise NommuError(f"{root / name} is a symlink: mkroot writes no files through it")
        (root / name).mkdir(parents=True, exist_ok=True)
        os.chmod(root / name, mode)  # (mkdir's mode is cut by the umask)
    for program in sorted(guestbin().iterdir()):
        if program.is_file() and "." not in program.name:
            shutil.copy2(program, _fresh(root / "bin" / program.name))
    for name, text in ETC.items():
        _fresh(root / "etc" / name).write_text(text)
    for name, target in LINKS.items():
        _fresh(root / name).symlink_to(target)
    _fresh(root / MARKER).write_text(f"made by nommu mkroot {__version__}\n")
    return root


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


def bundled_root() -> tempfile.TemporaryDirectory[str]:
    """A fresh root in a temporary directory (removed when the context ends),
    so guests of `nommu shell` and `nommu demo` never modify the package."""
    tmp = tempfile.TemporaryDirectory(prefix="nommu-root-")
    mkroot(tmp.name)
    return tmp
