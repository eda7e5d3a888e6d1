"""/dev/shm: a RAM file system whose files live in kernel memory.

On a no-MMU kernel tmpfs is ramfs (mm/shmem.c without CONFIG_SHMEM), and
ramfs is what makes MAP_SHARED possible at all (fs/ramfs/file-nommu.c):

* A file's pages are physical pages the kernel holds. A mapping of the file
  is those pages themselves, at their physical address (the "direct"
  mapping): every process that maps the file gets the same address and sees
  every other one's writes. Nothing is copied.
* A direct mapping needs the pages to be one contiguous run inside the file
  (ramfs_nommu_get_unmapped_area); otherwise MAP_SHARED fails with ENODEV
  (and MAP_PRIVATE falls back to a copy). Growing a file from size 0 with
  ftruncate allocates all its pages at once, contiguously
  (ramfs_nommu_expand_for_mapping): that is the shm_open + ftruncate + mmap
  idiom. Pages added by write() come one at a time; growing a non-empty
  file with ftruncate leaves holes.
* Shrinking a file under a MAP_SHARED mapping fails with ETXTBSY
  (nommu_shrink_inode_mappings).

With an MMU the same files exist; their pages are ordinary reference-counted
frames and mappings reach them through the page tables (kernel/vm.py).

A SysV shared memory segment (kernel/shm.py) is an unnamed `RamInode`.
Invariant: an inode's pages are freed when it has no name (nlink 0) and no
references (open files, mappings, a SysV segment).
"""

from __future__ import annotations

import stat as st
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.flags import NAME_MAX, PAGE_SIZE
from nommu.abi.structs import StatInfo
from nommu.kernel.errors import SyscallError
from nommu.kernel.files import (
    NOMMU_MAP_COPY,
    NOMMU_MAP_DIRECT,
    NOMMU_MAP_EXEC,
    NOMMU_MAP_READ,
    NOMMU_MAP_WRITE,
    Listing,
    OpenFile,
    Times,
    dirent,
)
from nommu.kernel.statfs import StatFs, tmpfs

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel

SHM_DIR = "/dev/shm"
RAMFS_DEV = 0x13  # st_dev of the tmpfs mount
ALL_SEALS = (
    F.F_SEAL_SEAL | F.F_SEAL_SHRINK | F.F_SEAL_GROW | F.F_SEAL_WRITE | F.F_SEAL_FUTURE_WRITE
) | F.F_SEAL_EXEC


def pages_for(size: int) -> int:
    return (size + PAGE_SIZE - 1) // PAGE_SIZE


@dataclass(eq=False)
class RamInode:
    """A ramfs file: its size and the physical page behind each page index."""

    k: Kernel
    ino: int
    mode: int
    size: int = 0
    pages: dict[int, int] = field(default_factory=dict)  # page index -> physical address
    nlink: int = 1
    refs: int = 0  # open files + mappings + a SysV segment
    shared_maps: list[tuple[int, int]] = field(default_factory=list)  # (pgoff, pages) MAP_SHARED
    atime_ns: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0
    seals: int = F.F_SEAL_SEAL  # memfd seals (F_ADD_SEALS): none may be added by default

    def now_ns(self) -> int:
        return int(self.k.config.clock_realtime() * 1e9)

    def modified(self) -> None:
        """The contents changed: mtime and ctime become now."""
        self.mtime_ns = self.ctime_ns = self.now_ns()

    def set_times(self, times: Times) -> None:
        """utimensat (see files.Times); ctime becomes now."""
        now = self.now_ns()
        atime, mtime = (now, now) if times is None else times
        if atime is not None:
            self.atime_ns = atime
        if mtime is not None:
            self.mtime_ns = mtime
        self.ctime_ns = now

    # -- pages ---------------------------------------------------------------------

    def _owner(self) -> int:
        return self.k.current.pid if self.k.current is not None else 0

    def _new_pages(self, n: int) -> list[int]:
        """`n` zeroed pages: one contiguous run without an MMU, frames with one."""
        return self.k.memory.alloc_pages(n, self._owner())

    def _free_page(self, index: int) -> None:
        self.k.memory.free_page(self.pages.pop(index))

    def page(self, index: int) -> int:
        """The physical page at `index`, allocated (zeroed) if it is a hole."""
        paddr = self.pages.get(index)
        if paddr is None:
            paddr = self.pages[index] = self._new_pages(1)[0]
        return paddr

    # -- size ----------------------------------------------------------------------

    def expand_for_mapping(self, size: int) -> None:
        """ramfs_nommu_expand_for_mapping: a file of size 0 grows to `size` with
        all its pages allocated at once, as one contiguous run."""
        n = pages_for(size)
        for i, paddr in enumerate(self._new_pages(n) if n else []):
            self.pages[i] = paddr
        self.size = size

    def check_seals(self, offset: int, end: int, write: bool) -> None:
        """EPERM if the seals forbid writing [offset, end) (`write`), growing
        the file to `end`, or shrinking it to `end` (a resize: not `write`)."""
        if write and self.seals & (F.F_SEAL_WRITE | F.F_SEAL_FUTURE_WRITE):
            raise SyscallError(Errno.EPERM)
        if end > self.size and self.seals & F.F_SEAL_GROW:
            raise SyscallError(Errno.EPERM)
        if not write and end < self.size and self.seals & F.F_SEAL_SHRINK:
            raise SyscallError(Errno.EPERM)

    def check_shared_map(self, writable: bool) -> None:
        """A MAP_SHARED mapping that may write, of a file sealed against
        writing (F_SEAL_WRITE, F_SEAL_FUTURE_WRITE): EPERM."""
        if writable and self.seals & (F.F_SEAL_WRITE | F.F_SEAL_FUTURE_WRITE):
            raise SyscallError(Errno.EPERM)

    def add_seals(self, seals: int, writable: bool, mapped_shared: bool) -> None:
        """F_ADD_SEALS: EPERM once F_SEAL_SEAL is set or without write access,
        EBUSY for F_SEAL_WRITE while a shared mapping may write to the file."""
        if seals & ~ALL_SEALS:
            raise SyscallError(Errno.EINVAL)
        if not writable or self.seals & F.F_SEAL_SEAL:
            raise SyscallError(Errno.EPERM)
        if seals & F.F_SEAL_WRITE and not self.seals & F.F_SEAL_WRITE and mapped_shared:
            raise SyscallError(Errno.EBUSY)
        self.seals |= seals

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        """As tmpfs: grow the file to the range's end (its pages as `resize`
        allocates them), or with FALLOC_FL_KEEP_SIZE leave it as it is; ENOSPC
        if the range has more pages than RAM has free. A punched hole reads as
        zeroes (its pages stay: a direct mapping may be using them)."""
        end = offset + length
        if mode & F.FALLOC_FL_PUNCH_HOLE:
            self.check_seals(offset, min(end, self.size), write=True)
            if offset < self.size:
                self.pwrite(bytes(min(end, self.size) - offset), offset)
            return
        if pages_for(end) - len(self.pages) > self.k.alloc.free_total() // PAGE_SIZE:
            raise SyscallError(Errno.ENOSPC)
        if not mode & F.FALLOC_FL_KEEP_SIZE and end > self.size:
            self.check_seals(offset, end, write=False)
            self.resize(end)

    def resize(self, size: int) -> None:
        """truncate/ftruncate (ramfs_nommu_resize)."""
        if size < 0:
            raise SyscallError(Errno.EINVAL)
        self.check_seals(size, size, write=False)
        if size == self.size:
            return
        if self.size == 0:
            self.expand_for_mapping(size)
        else:
            if size < self.size and any(off + n > size // PAGE_SIZE for off, n in self.shared_maps):
                raise SyscallError(Errno.ETXTBSY, "a MAP_SHARED mapping covers the cut-off part")
            for index in [i for i in self.pages if i >= pages_for(size)]:
                self._free_page(index)
            last, cut = divmod(size, PAGE_SIZE)
            if cut and last in self.pages:  # what was past the new end reads as zeroes
                self.k.ram.fill(self.pages[last] + cut, PAGE_SIZE - cut)
            self.size = size
        self.modified()

    # -- data ----------------------------------------------------------------------

    def pread(self, count: int, offset: int) -> bytes:
        out = bytearray()
        end = min(offset + count, self.size)
        while offset < end:
            n = min(end - offset, PAGE_SIZE - offset % PAGE_SIZE)
            paddr = self.pages.get(offset // PAGE_SIZE)
            out += self.k.ram.read(paddr + offset % PAGE_SIZE, n) if paddr else bytes(n)
            offset += n
        return bytes(out)

    def pwrite(self, data: bytes, offset: int) -> int:
        """Write `data` at `offset`, adding pages one at a time (ENOMEM if none
        is left before anything was written)."""
        done = 0
        try:
            while done < len(data):
                at = offset + done
                n = min(len(data) - done, PAGE_SIZE - at % PAGE_SIZE)
                self.k.ram.write(self.page(at // PAGE_SIZE) + at % PAGE_SIZE, data[done : done + n])
                done += n
        except SyscallError:
            if not done:
                raise
        self.size = max(self.size, offset + done)
        self.modified()
        return done

    # -- mappings ------------------------------------------------------------------

    def direct_address(self, pgoff: int, npages: int) -> int | None:
        """Where a direct mapping of pages [pgoff, pgoff+npages) starts, or None if
        it would pass the end of the file or the pages are not one contiguous run
        (ramfs_nommu_get_unmapped_area)."""
        if pgoff >= pages_for(self.size) or pages_for(self.size) - pgoff < npages:
            return None
        first = self.pages.get(pgoff)
        for i in range(npages):
            paddr = self.pages.get(pgoff + i)
            if first is None or paddr != first + i * PAGE_SIZE:
                return None
        return first

    def opened(self) -> None:
        self.refs += 1

    def closed(self) -> None:
        self.refs -= 1
        self.evict_if_unused()

    def evict_if_unused(self) -> None:
        if self.nlink == 0 and self.refs == 0:
            for index in list(self.pages):
                self._free_page(index)

    def stat(self) -> StatInfo:
        blocks = len(self.pages) * (PAGE_SIZE // 512)
        return StatInfo(
            RAMFS_DEV,
            self.ino,
            self.mode,
            self.nlink,
            0,
            0,
            0,
            self.size,
            PAGE_SIZE,
            blocks,
            self.atime_ns,
            self.mtime_ns,
            self.ctime_ns,
        )


@dataclass(eq=False)
class RamMapping:
    """One no-MMU mapping of a ramfs file's own pages (a Backing, kernel/mm.py)."""

    inode: RamInode
    pgoff: int
    npages: int
    shared: bool  # MAP_SHARED: the file may not shrink under it

    def __post_init__(self) -> None:
        self.inode.opened()
        if self.shared:
            self.inode.shared_maps.append((self.pgoff, self.npages))

    def drop(self) -> None:
        if self.shared:
            self.inode.shared_maps.remove((self.pgoff, self.npages))
        self.inode.closed()


class RamFs:
    """The /dev/shm directory: name -> inode, all in kernel memory.

    A name is a hard link: several names may share one inode (link(2) counts
    them in `nlink`), and the inode lives on while any name or reference does.
    """

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.files: dict[str, RamInode] = {}
        self.dir = RamInode(k, 1, st.S_IFDIR | 0o1777, nlink=2)  # the directory's own times
        self.dir.modified()
        self.dir.atime_ns = self.dir.mtime_ns

    def new_inode(self, mode: int) -> RamInode:
        inode = RamInode(self.k, self.k.next_ino(), st.S_IFREG | (mode & 0o7777))
        inode.modified()
        inode.atime_ns = inode.mtime_ns
        return inode

    def anonymous(self, size: int) -> RamInode:
        """The memory object behind a MAP_SHARED|MAP_ANONYMOUS mapping with an
        MMU (Linux's shmem_zero_setup): a file with no name, so that a page
        first touched after fork is still the same page in parent and child."""
        inode = self.new_inode(0o600)
        inode.size, inode.nlink = size, 0
        return inode

    def open(self, name: str, flags: int, mode: int, path: str) -> OpenFile:
        """open(2) of /dev/shm/NAME (name "" is the directory itself)."""
        if name == "":
            if flags & F.O_ACCMODE != F.O_RDONLY or flags & F.O_CREAT:
                raise SyscallError(Errno.EISDIR)
            return RamDir(self, flags, path)
        if len(name) > NAME_MAX:
            raise SyscallError(Errno.ENAMETOOLONG)
        inode = self.files.get(name)
        if inode is None:
            if not flags & F.O_CREAT:
                raise SyscallError(Errno.ENOENT)
            inode = self.files[name] = self.new_inode(mode)
            self.dir.modified()
        elif flags & F.O_CREAT and flags & F.O_EXCL:
            raise SyscallError(Errno.EEXIST)
        if flags & F.O_DIRECTORY:
            raise SyscallError(Errno.ENOTDIR)
        if flags & F.O_TRUNC:
            inode.resize(0)
        return RamFile(inode, flags, path)

    def inode(self, name: str) -> RamInode:
        """The inode named `name` ("" is the directory; ENOENT if there is none)."""
        inode = self.dir if name == "" else self.files.get(name)
        if inode is None:
            raise SyscallError(Errno.ENOENT)
        return inode

    def link(self, old: str, new: str) -> None:
        """A second name for the file `old` (EPERM for the directory, as Linux
        refuses hard links to directories)."""
        if old == "":
            raise SyscallError(Errno.EPERM)
        inode = self.inode(old)
        if new == "" or new in self.files:
            raise SyscallError(Errno.EEXIST)
        if len(new) > NAME_MAX:
            raise SyscallError(Errno.ENAMETOOLONG)
        self.files[new] = inode
        inode.nlink += 1
        inode.ctime_ns = self.dir.now_ns()
        self.dir.modified()

    def rename(self, old: str, new: str) -> None:
        """rename within /dev/shm: `new` now names `old`'s file; a file it named
        loses that name."""
        if old == "" or new == "":
            raise SyscallError(Errno.EBUSY)
        inode = self.inode(old)
        if len(new) > NAME_MAX:
            raise SyscallError(Errno.ENAMETOOLONG)
        if self.files.get(new) is inode:
            return  # two names of one file: rename does nothing
        if new in self.files:
            self.unlink(new)
        self.files[new] = self.files.pop(old)
        inode.ctime_ns = self.dir.now_ns()
        self.dir.modified()

    def unlink(self, name: str) -> None:
        inode = self.files.pop(name, None)
        if inode is None:
            raise SyscallError(Errno.EISDIR if name == "" else Errno.ENOENT)
        inode.nlink -= 1
        inode.ctime_ns = self.dir.now_ns()
        self.dir.modified()
        inode.evict_if_unused()

    def stat(self, name: str) -> StatInfo:
        if name == "":
            d = self.dir
            size = 40 + 20 * len(self.files)
            return StatInfo(
                RAMFS_DEV, 1, d.mode, 2, 0, 0, 0, size, PAGE_SIZE, 0,
                d.atime_ns, d.mtime_ns, d.ctime_ns,
            )  # fmt: skip
        return self.inode(name).stat()

    def total_pages(self) -> int:
        return sum(len(i.pages) for i in self.files.values())

    def statfs(self) -> StatFs:
        """statfs of /dev/shm (see kernel/statfs.py)."""
        return tmpfs(self.k.ram.size // PAGE_SIZE, self.total_pages(), len(self.files))


class RamFile(OpenFile):
    """An open /dev/shm file."""

    mmap_capabilities = (
        NOMMU_MAP_DIRECT | NOMMU_MAP_COPY | NOMMU_MAP_READ | NOMMU_MAP_WRITE | NOMMU_MAP_EXEC
    )
    has_poll = False  # (a regular file: epoll_ctl says EPERM)

    def __init__(self, inode: RamInode, flags: int, path: str) -> None:
        super().__init__(flags, path)
        self.ram = inode
        self.pos = 0
        inode.opened()

    def read(self, count: int) -> bytes:
        data = self.ram.pread(count, self.pos)
        self.pos += len(data)
        return data

    def write(self, data: bytes) -> int:
        if self.flags & F.O_APPEND:
            self.pos = self.ram.size
        self.ram.check_seals(self.pos, self.pos + len(data), write=True)
        n = self.ram.pwrite(data, self.pos)
        self.pos += n
        return n

    def pread(self, count: int, offset: int) -> bytes:
        return self.ram.pread(count, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        self.ram.check_seals(offset, offset + len(data), write=True)
        return self.ram.pwrite(data, offset)

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        if mode & ~(F.FALLOC_FL_KEEP_SIZE | F.FALLOC_FL_PUNCH_HOLE):
            raise SyscallError(Errno.EOPNOTSUPP)
        self.ram.fallocate(mode, offset, length)

    def lseek(self, offset: int, whence: int) -> int:
        base = {F.SEEK_SET: 0, F.SEEK_CUR: self.pos, F.SEEK_END: self.ram.size}.get(whence)
        if base is None or base + offset < 0:
            raise SyscallError(Errno.EINVAL)
        self.pos = base + offset
        return self.pos

    def stat(self) -> StatInfo:
        return self.ram.stat()

    def truncate(self, length: int) -> None:
        self.ram.resize(length)

    def set_times(self, times: Times) -> None:
        self.ram.set_times(times)

    def statfs(self) -> StatFs:
        assert self.ram.k.vfs.shmfs is not None
        return self.ram.k.vfs.shmfs.statfs()

    def inode(self) -> object:
        return self.ram

    def release(self) -> None:
        self.ram.closed()


class RamDir(Listing):
    """The open /dev/shm directory: getdents64 lists its files."""

    def __init__(self, fs: RamFs, flags: int, path: str) -> None:
        super().__init__(flags, path)
        self.fs = fs

    def records(self) -> list[bytes]:
        out = [dirent(1, 1, F.DT_DIR, b"."), dirent(1, 2, F.DT_DIR, b"..")]
        for name, inode in sorted(self.fs.files.items()):
            out.append(dirent(inode.ino, len(out) + 1, F.DT_REG, name.encode()))
        return out

    def stat(self) -> StatInfo:
        return self.fs.stat("")

    def set_times(self, times: Times) -> None:
        self.fs.dir.set_times(times)

    def statfs(self) -> StatFs:
        return self.fs.statfs()
