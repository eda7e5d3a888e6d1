"""SysV shared memory: shmget, shmat, shmdt, shmctl (ipc/shm.c).

A segment is an unnamed ramfs file (kernel/ramfs.py). On a no-MMU kernel
`__shmem_file_setup` calls `ramfs_nommu_expand_for_mapping`, so all of a
segment's pages are allocated, as one contiguous run, by shmget: that is
where a fragmented machine says ENOMEM, not shmat. shmat maps the segment's
own pages, so every process that attaches it gets the same address.

The no-MMU rules (reference section 3):
* shmat with a non-zero address asks for MAP_FIXED: EINVAL. Use address 0.
* shmdt must name the exact start of an attachment, else EINVAL.

With an MMU, shmat may place the segment at a chosen address and the pages
are reached through the page tables (kernel/vm.py `Pager`).

Segment ids follow ipc/util.c: index + sequence << 15, the index handed out
cyclically, so the first segment of a fresh machine is 0. IPC_RMID marks a
segment SHM_DEST; it is destroyed when the last attachment goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import (
    IPC_PRIVATE,
    PAGE_SIZE,
    SHM_DEST,
    SHM_EXEC,
    SHM_RDONLY,
    SHM_REMAP,
    SHM_RND,
)
from nommu.kernel.errors import SyscallError
from nommu.kernel.ipcids import IpcIds
from nommu.kernel.ramfs import RamInode, pages_for

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

SHMLBA = PAGE_SIZE  # i386
SHMMAX = SHMALL = 0xFFFFFFFF - (1 << 24)  # ULONG_MAX - 2^24 (bytes / pages)
SHMMNI = 4096


@dataclass(eq=False)
class ShmSegment:
    """One segment (struct shmid_kernel). Also the `Pager` and `Backing` of its
    attachments: opened/closed is shm_open/shm_close."""

    k: Kernel
    id: int
    key: int
    mode: int  # permission bits | SHM_DEST | SHM_LOCKED
    size: int  # as asked for (shm_segsz)
    inode: RamInode
    cpid: int
    lpid: int = 0
    nattch: int = 0
    atime: int = 0
    dtime: int = 0
    ctime: int = 0

    @property
    def name(self) -> str:
        return f"/SYSV{self.key:08x} (deleted)"

    def page(self, index: int) -> int:
        return self.inode.page(index)

    def _now(self) -> int:
        return int(self.k.config.clock_realtime())

    def _pid(self) -> int:
        return self.k.current.pid if self.k.current is not None else 0

    def opened(self) -> None:
        self.nattch += 1
        self.atime, self.lpid = self._now(), self._pid()

    def closed(self) -> None:
        self.nattch -= 1
        self.dtime, self.lpid = self._now(), self._pid()
        if self.nattch == 0 and self.mode & SHM_DEST:
            self.k.sysv_shm.destroy(self)

    drop = closed  # a no-MMU attachment going away (kernel/mm.py Backing)


@dataclass(eq=False)
class SysvShm:
    """The machine's segments (the IPC namespace's shm_ids)."""

    k: Kernel
    ids: IpcIds[ShmSegment] = field(default_factory=lambda: IpcIds(SHMMNI))
    pages_total: int = 0

    @property
    def segments(self) -> dict[int, ShmSegment]:
        """index -> segment"""
        return self.ids.objects

    def lookup(self, shmid: int) -> ShmSegment:
        return self.ids.lookup(shmid)

    def newseg(self, key: int, size: int, flags: int) -> int:
        """A new segment, its pages allocated now (contiguously without an MMU)."""
        if size < 1 or size > SHMMAX:
            raise SyscallError(Errno.EINVAL)
        if self.pages_total + pages_for(size) > SHMALL:
            raise SyscallError(Errno.ENOSPC)
        assert self.k.vfs.shmfs is not None
        inode = self.k.vfs.shmfs.new_inode(flags & 0o777)
        inode.nlink = 0
        inode.opened()  # the segment holds its file
        inode.expand_for_mapping(size)  # ENOMEM here when no run of pages is long enough
        now = int(self.k.config.clock_realtime())
        pid = self.k.current.pid if self.k.current is not None else 0
        seg = ShmSegment(self.k, self.ids.new_id(), key, flags & 0o777, size, inode, pid, ctime=now)
        self.ids.add(seg)
        self.pages_total += pages_for(size)
        return seg.id

    def shmget(self, key: int, size: int, flags: int) -> int:
        def check(seg: ShmSegment) -> None:
            if seg.size < size:
                raise SyscallError(Errno.EINVAL)

        return self.ids.get(key, flags, lambda: self.newseg(key, size, flags), check)

    def rmid(self, seg: ShmSegment) -> None:
        """IPC_RMID: destroy now, or when the last attachment goes."""
        seg.mode |= SHM_DEST
        seg.key = IPC_PRIVATE  # shmget can no longer find it
        if seg.nattch == 0:
            self.destroy(seg)

    def destroy(self, seg: ShmSegment) -> None:
        self.ids.remove(seg)
        self.pages_total -= pages_for(seg.size)
        seg.inode.closed()

    def total_pages(self) -> int:
        return sum(len(s.inode.pages) for s in self.segments.values())


def shmat_address(addr: int, flags: int) -> int:
    """do_shmat's address checks: the (rounded) address asked for, 0 for any."""
    if addr:
        if addr & (SHMLBA - 1):
            if not flags & SHM_RND:
                raise SyscallError(Errno.EINVAL)
            addr &= ~(SHMLBA - 1)
            if not addr and flags & SHM_REMAP:
                raise SyscallError(Errno.EINVAL)
    elif flags & SHM_REMAP:
        raise SyscallError(Errno.EINVAL)
    return addr


def do_shmat(k: Kernel, t: Task, shmid: int, addr: int, flags: int) -> int:
    """Attach segment `shmid`; the address it is attached at."""
    if shmid < 0:
        raise SyscallError(Errno.EINVAL)
    fixed = bool(addr)
    addr = shmat_address(addr, flags)
    seg = k.sysv_shm.lookup(shmid)
    prot = 1 if flags & SHM_RDONLY else 3
    prot |= 4 if flags & SHM_EXEC else 0
    return k.memory.shm_attach(t, seg, addr, fixed, prot, flags)


def do_shmdt(k: Kernel, t: Task, addr: int) -> int:
    """Detach the attachment that starts exactly at `addr`."""
    if addr & (PAGE_SIZE - 1):
        raise SyscallError(Errno.EINVAL)
    k.memory.shm_detach(t, addr)
    return 0
