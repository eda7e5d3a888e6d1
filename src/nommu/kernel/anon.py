"""Anonymous-inode files: the descriptors epoll, eventfd, timerfd, signalfd
and inotify hand out.

Linux backs them all with one shared inode of the anon_inodefs file system:
fstat shows mode 0600 with no file type, /proc/self/fd names them
"anon_inode:[eventfd]" and so on. Each kind below is an `AnonFile`.
"""

from __future__ import annotations

from nommu.abi import flags as F
from nommu.abi.structs import StatInfo
from nommu.kernel.files import OpenFile
from nommu.kernel.statfs import StatFs, pseudo_fs

ANON_INODE = 1  # the one inode every anonymous file shares


class AnonFile(OpenFile):
    """An open file with no name in any file system; `kind` says what it is."""

    def __init__(self, flags: int, kind: str) -> None:
        super().__init__(flags, f"anon_inode:{kind}")

    def stat(self) -> StatInfo:
        return StatInfo(14, ANON_INODE, 0o600, 1, 0, 0, 0, 0, 4096, 0, 0, 0, 0)

    def statfs(self) -> StatFs:
        return pseudo_fs(F.ANON_INODE_FS_MAGIC)
