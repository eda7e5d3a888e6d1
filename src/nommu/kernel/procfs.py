"""/proc: the kernel's state as files, generated when opened.

What a no-MMU system shows there (Documentation/admin-guide/mm/nommu-mmap.rst):
each process's regions in /proc/PID/maps, and every region of the machine
in /proc/maps, since all processes share one physical memory. /proc/meminfo
adds two lines no MMU kernel needs: the largest free contiguous block and
the number of free blocks, which is what decides whether the next
allocation succeeds.

/proc/PID/status has one nommu line: `NommuVforkParent:` names the parent
whose memory and stack a vfork child is still running on.
"""

from __future__ import annotations

import stat as st
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.structs import StatInfo
from nommu.kernel.errors import SyscallError
from nommu.kernel.files import BytesFile, Listing, OpenFile, dirent
from nommu.kernel.mm import MAPS_MAYSHARE, MAPS_SHARED, MemoryMap
from nommu.kernel.statfs import PROC_FLAGS, StatFs, pseudo_fs
from nommu.kernel.task import Task, TaskState, ThreadGroup

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel


@dataclass(frozen=True, slots=True)
class ProcNode:
    kind: str  # "dir", "file" or "link"
    target: str = ""  # for links: the guest path it points to

    @property
    def mode(self) -> int:
        return {"dir": st.S_IFDIR | 0o555, "file": st.S_IFREG | 0o444, "link": st.S_IFLNK | 0o777}[
            self.kind
        ]

    @property
    def dtype(self) -> int:
        return {"dir": F.DT_DIR, "file": F.DT_REG, "link": F.DT_LNK}[self.kind]


DIR = ProcNode("dir")
FILE = ProcNode("file")
TOP_FILES = ("meminfo", "maps", "uptime", "version", "cpuinfo", "loadavg")
PID_FILES = ("stat", "status", "maps", "cmdline", "comm")
PID_LINKS = ("exe", "cwd", "root")


class ProcFs:
    def __init__(self, k: Kernel) -> None:
        self.k = k

    # -- the tree ------------------------------------------------------------

    def _group(self, name: str) -> ThreadGroup | None:
        if not name.isdigit():
            return None
        group = self.k.groups.get(int(name))
        return group if group is not None and not group.reaped else None

    def node(self, path: tuple[str, ...]) -> ProcNode | None:
        """The node at /proc/<path>, or None."""
        if not path:
            return DIR
        head, rest = path[0], path[1:]
        if head == "self" and not rest:
            current = self.k.current
            return ProcNode("link", f"/proc/{current.pid if current else 1}")
        if head in TOP_FILES and not rest:
            return FILE
        group = self._group(head)
        if group is None:
            return None
        return self._pid_node(group, rest)

    def _pid_node(self, group: ThreadGroup, rest: tuple[str, ...]) -> ProcNode | None:
        if not rest:
            return DIR
        name = rest[0]
        task = group.leader
        if len(rest) == 1:
            if name in PID_FILES:
                return FILE
            if name == "fd":
                return DIR
            if name in PID_LINKS:
                target = {"exe": task.mm.exe or "/", "cwd": task.fs.cwd, "root": "/"}[name]
                return ProcNode("link", target)
        if name == "fd" and len(rest) == 2 and rest[1].isdigit():
            entry = task.files.fds.get(int(rest[1]))
            if entry is not None:
                return ProcNode("link", entry.file.path)
        return None

    def listing(self, path: tuple[str, ...]) -> list[tuple[str, int]]:
        """(name, d_type) of the entries of a /proc directory."""
        if not path:
            pids = sorted(g.tgid for g in self.k.groups.values() if not g.reaped)
            return (
                [(str(p), F.DT_DIR) for p in pids]
                + [("self", F.DT_LNK)]
                + [(n, F.DT_REG) for n in TOP_FILES]
            )
        group = self._group(path[0])
        if group is None:
            return []
        if len(path) == 1:
            return (
                [(n, F.DT_REG) for n in PID_FILES]
                + [("fd", F.DT_DIR)]
                + [(n, F.DT_LNK) for n in PID_LINKS]
            )
        return [(str(fd), F.DT_LNK) for fd in sorted(group.leader.files.fds)]

    # -- file contents -------------------------------------------------------

    def content(self, path: tuple[str, ...]) -> bytes:
        if len(path) == 1:
            return getattr(self, f"_top_{path[0]}")().encode()  # type: ignore[no-any-return]
        group = self._group(path[0])
        if group is None:
            return b""
        text: str | bytes = getattr(self, f"_pid_{path[1]}")(group)
        return text if isinstance(text, bytes) else text.encode()

    def _top_meminfo(self) -> str:
        a = self.k.alloc
        total, free = a.size // 1024, a.free_total() // 1024
        free_blocks = sum(1 for b in a.blocks() if b.kind == "free")
        rows = [
            ("MemTotal", total),
            ("MemFree", free),
            ("MemAvailable", free),
            ("Buffers", 0),
            ("Cached", 0),
            ("SwapCached", 0),
            ("SwapTotal", 0),
            ("SwapFree", 0),
            ("Shmem", self._shmem_pages() * 4),
            ("Mlocked", 0),
            ("LargestFreeBlock", a.largest_free() // 1024),
        ]
        lines = [f"{name + ':':<16}{value:>8} kB" for name, value in rows]
        lines.append(f"{'FreeBlocks:':<16}{free_blocks:>8}")
        return "\n".join(lines) + "\n"

    def _shmem_pages(self) -> int:
        """Pages of /dev/shm files and SysV segments."""
        shmfs = self.k.vfs.shmfs
        return (shmfs.total_pages() if shmfs else 0) + self.k.sysv_shm.total_pages()

    def _top_maps(self) -> str:
        """Every block of physical memory (no-MMU's /proc/maps)."""
        lines = []
        for b in self.k.alloc.blocks():
            if b.kind == "free":
                continue
            owner = f"pid {b.owner}" if b.owner else "kernel"
            lines.append(f"{b.start:08x}-{b.end:08x} {b.size // 1024:>6} kB {b.kind:<6} {owner}")
        return "\n".join(lines) + "\n"

    def _top_uptime(self) -> str:
        up = self.k.config.clock_monotonic() - self.k.boot_monotonic
        return f"{up:.2f} {up:.2f}\n"

    def _top_version(self) -> str:
        return "Linux version 6.6.0-nommu (nommu) #1 no-MMU\n"

    def _top_cpuinfo(self) -> str:
        return self.k.arch.cpuinfo()

    def _top_loadavg(self) -> str:
        running = sum(1 for t in self.k.tasks.values() if t.state is TaskState.RUNNABLE)
        return f"0.00 0.00 0.00 {running}/{len(self.k.tasks)} {self.k._next_pid - 1}\n"

    def _pid_maps(self, group: ThreadGroup) -> str:
        lines = []
        for start, end, prot, name in group.leader.mm.areas():
            rwx = "".join(c if prot & bit else "-" for c, bit in (("r", 1), ("w", 2), ("x", 4)))
            share = "S" if prot & MAPS_SHARED else "s" if prot & MAPS_MAYSHARE else "p"
            tail = f"          {name}" if name else ""
            lines.append(f"{start:08x}-{end:08x} {rwx}{share} 00000000 00:00 0{tail}")
        return "\n".join(lines) + ("\n" if lines else "")

    def _pid_cmdline(self, group: ThreadGroup) -> bytes:
        return group.leader.mm.cmdline

    def _pid_comm(self, group: ThreadGroup) -> str:
        return group.leader.comm + "\n"

    def _pid_stat(self, group: ThreadGroup) -> str:
        t = group.leader
        ppid = group.parent.tgid if group.parent else 0
        size = t.mm.total()
        fields = [
            group.tgid,
            f"({t.comm})",
            _state(group),
            ppid,
            group.pgid,
            group.sid,
            group.tty.rdev if group.tty else 0,  # tty_nr: the controlling terminal
            group.tty.pgrp if group.tty and group.tty.pgrp else -1,  # tpgid: its foreground
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            20,
            0,
            len(group.tasks),
            0,
            0,
            size,
            size // 4096,
        ]
        return " ".join(str(f) for f in fields) + "\n"

    def _pid_status(self, group: ThreadGroup) -> str:
        t = group.leader
        ppid = group.parent.tgid if group.parent else 0
        kb = _kinds_kb(t.mm)
        lines = [
            f"Name:\t{t.comm}",
            f"Umask:\t{t.fs.umask:04o}",
            f"State:\t{_state(group)} ({_STATE_NAMES[_state(group)]})",
            f"Tgid:\t{group.tgid}",
            f"Pid:\t{group.tgid}",
            f"PPid:\t{ppid}",
            f"Threads:\t{len([x for x in group.tasks if x.alive])}",
            f"VmSize:\t{sum(kb.values()):>8} kB",
            f"VmRSS:\t{t.mm.total() // 1024:>8} kB",
            f"VmData:\t{kb['mmap'] + kb['heap']:>8} kB",
            f"VmStk:\t{kb['stack']:>8} kB",
            f"VmExe:\t{kb['image']:>8} kB",
        ]
        lines += self.k.memory.proc_status(t.mm)  # (no-MMU: task_nommu.c's task_mem)
        if group.vfork_child and t.vfork_done is not None:
            lines.append(f"NommuVforkParent:\t{t.vfork_done.pid}")
        return "\n".join(lines) + "\n"


def _kinds_kb(mm: MemoryMap) -> dict[str, int]:
    """KiB mapped per kind (image, stack, mmap, heap, shm) of a process's memory."""
    kb = dict.fromkeys(("image", "stack", "mmap", "heap", "shm"), 0)
    for kind, size in mm.sizes():
        kb[kind] = kb.get(kind, 0) + size // 1024
    return kb


_STATE_NAMES = {"R": "running", "S": "sleeping", "T": "stopped", "Z": "zombie", "X": "dead"}


def _state(group: ThreadGroup) -> str:
    if group.wait_status is not None:
        return "Z"
    live: list[Task] = [t for t in group.tasks if t.alive]
    return live[0].state.value if live else "X"


class ProcFile(BytesFile):
    """An open /proc file: a snapshot of its contents taken at open."""

    def stat(self) -> StatInfo:
        return proc_stat(FILE, 0)

    def statfs(self) -> StatFs:
        return pseudo_fs(F.PROC_SUPER_MAGIC, PROC_FLAGS)


class ProcDir(Listing):
    """An open /proc directory: getdents64 lists it."""

    def __init__(self, entries: list[tuple[str, int]], flags: int, path: str) -> None:
        super().__init__(flags, path)
        records = [dirent(1, 1, F.DT_DIR, b"."), dirent(1, 2, F.DT_DIR, b"..")]
        for i, (name, dtype) in enumerate(entries):
            records.append(dirent(100 + i, i + 3, dtype, name.encode()))
        self._records = records

    def records(self) -> list[bytes]:
        return self._records

    def stat(self) -> StatInfo:
        return proc_stat(DIR, 0)

    def statfs(self) -> StatFs:
        return pseudo_fs(F.PROC_SUPER_MAGIC, PROC_FLAGS)


def proc_stat(node: ProcNode, ino: int) -> StatInfo:
    return StatInfo(3, ino, node.mode, 1, 0, 0, 0, 0, 1024, 0, 0, 0, 0)


def open_proc(k: Kernel, path: tuple[str, ...], flags: int, guest: str) -> OpenFile:
    node = k.vfs.procfs.node(path) if k.vfs.procfs else None
    if node is None:
        raise SyscallError(Errno.ENOENT)
    if flags & F.O_ACCMODE != F.O_RDONLY:
        raise SyscallError(Errno.EACCES)
    assert k.vfs.procfs is not None
    if node.kind == "dir":
        return ProcDir(k.vfs.procfs.listing(path), flags, guest)
    if flags & F.O_DIRECTORY:
        raise SyscallError(Errno.ENOTDIR)
    return ProcFile(k.vfs.procfs.content(path), flags, guest)
