"""Memory syscalls under the no-MMU rules (mm/nommu.c, reference section 2).

* brk: may only move inside [start_brk, end_brk]; the ELF-FDPIC loader gives
  a zero-size brk, so a request to grow returns the old break (no errno) and
  malloc falls back to mmap.
* mmap (`validate_mmap_request`, `do_mmap`): MAP_FIXED is EINVAL (nothing can
  be placed at a chosen address) and an address hint is ignored. Anonymous
  memory, private or shared, is a fresh contiguous block of whole pages,
  always zeroed. A file is either copied into such a block (MAP_PRIVATE;
  read-only copies of the same file range are shared between mappings) or,
  when the file lives in RAM (/dev/shm), mapped directly: the mapping is the
  file's own pages. MAP_SHARED of a disk file is ENODEV.
* munmap: must name mapped memory (EINVAL otherwise, where an MMU kernel
  returns 0); anonymous regions may be unmapped whole or in part, file
  mappings only whole.
* mremap never moves: it shrinks, or grows back up to the block the mapping
  was given; a shareable mapping is EPERM.
* mprotect, madvise, mlock, msync, mincore...: -ENOSYS (the "CONFIG_MMU only"
  block of kernel/sys_ni.c): there is nothing to protect, lock or page.

With --mmu each handler hands over to the MMU versions in kernel/vm.py.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import (
    F_SEAL_FUTURE_WRITE,
    F_SEAL_WRITE,
    MAP_TYPE,
    MREMAP_FIXED,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    MapFlags,
)
from nommu.kernel import vm
from nommu.kernel.alloc import page_align
from nommu.kernel.errors import SyscallError
from nommu.kernel.files import (
    NOMMU_MAP_COPY,
    NOMMU_MAP_DIRECT,
    NOMMU_MAP_EXEC,
    NOMMU_MAP_READ,
    NOMMU_MAP_WRITE,
    DevZero,
    OpenFile,
)
from nommu.kernel.mm import Region
from nommu.kernel.pagecache import FilePages
from nommu.kernel.ramfs import RamFile, RamMapping
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

M = MapFlags
U32 = 0xFFFFFFFF
MMAP_ARG_STRUCT = struct.Struct("<6I")  # old mmap(2): addr, len, prot, flags, fd, offset


@syscall("brk", "ptr", ret="hex")
def sys_brk(k: Kernel, t: Task, addr: int) -> int:
    if k.mmu:
        return changed(k, vm.do_brk(space(t), addr))
    mm = t.mm
    if mm.start_brk <= addr <= mm.end_brk:
        mm.brk = addr
    return mm.brk


def do_mmap(
    k: Kernel, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
) -> int:
    """mmap2: the address of the new mapping (the hint `addr` is ignored)."""
    if k.mmu:
        return _mmap_mmu(k, t, addr, length, prot, flags, fd, pgoff)
    file = None if flags & M.MAP_ANONYMOUS else t.files.get(fd)  # EBADF comes first
    caps = validate_mmap_request(file, length, prot, flags, pgoff)
    size = page_align(length)
    if file is None:
        return map_anonymous(k, t, size, prot)
    shared = flags & MAP_TYPE == M.MAP_SHARED
    # determine_vm_flags: VM_MAYSHARE for direct mappings and read-only copies
    mayshare = bool(caps & NOMMU_MAP_DIRECT) or not prot & PROT_WRITE
    if mayshare:
        region = k.file_copies.share(file, pgoff, size, prot, bool(caps & NOMMU_MAP_DIRECT))
        if region is not None:
            return t.mm.insert(region).start
    if caps & NOMMU_MAP_DIRECT:
        assert isinstance(file, RamFile)
        start = file.ram.direct_address(pgoff, size // PAGE_SIZE)
        if start is not None:
            backing = RamMapping(file.ram, pgoff, size // PAGE_SIZE, shared)
            return _insert(k, t, start, size, prot, file, mayshare, backing)
        if not caps & NOMMU_MAP_COPY:  # the pages are not one run inside the file
            raise SyscallError(Errno.ENODEV, "the file's pages are not contiguous")
    return map_copy(k, t, file, pgoff, size, prot, mayshare)


def mapping_size(length: int, pgoff: int) -> int:
    """The bytes an mmap of `length` at page offset `pgoff` maps (whole pages),
    after the checks both kinds of kernel make: EINVAL for nothing, ENOMEM
    for more than an address space, EOVERFLOW when the offset wraps."""
    if length == 0:
        raise SyscallError(Errno.EINVAL)
    size = page_align(length) & U32
    if size == 0 or size > TASK_SIZE:
        raise SyscallError(Errno.ENOMEM)
    if (pgoff + (size >> 12)) & U32 < pgoff:
        raise SyscallError(Errno.EOVERFLOW)
    return size


def validate_mmap_request(
    file: OpenFile | None, length: int, prot: int, flags: int, pgoff: int
) -> int:
    """mm/nommu.c validate_mmap_request: the checks, in Linux's order, and what
    the mapping can be (NOMMU_MAP_COPY and/or NOMMU_MAP_DIRECT)."""
    if flags & M.MAP_FIXED:
        raise SyscallError(Errno.EINVAL, "MAP_FIXED needs an MMU")
    if flags & MAP_TYPE not in (M.MAP_PRIVATE, M.MAP_SHARED):  # MAP_SHARED_VALIDATE too
        raise SyscallError(Errno.EINVAL)
    mapping_size(length, pgoff)
    if file is None:
        return NOMMU_MAP_COPY
    caps = file.mmap_capabilities
    if not caps:
        raise SyscallError(Errno.ENODEV, "this kind of file cannot be mapped")
    if not file.readable:
        raise SyscallError(Errno.EACCES)
    if flags & MAP_TYPE == M.MAP_SHARED:
        if prot & PROT_WRITE and not file.writable:
            raise SyscallError(Errno.EACCES)
        check_write_seal(file, prot)
        if not caps & NOMMU_MAP_DIRECT:
            raise SyscallError(Errno.ENODEV, "MAP_SHARED of a file needs an MMU (or a RAM file)")
        caps &= ~NOMMU_MAP_COPY
    else:
        if not caps & NOMMU_MAP_COPY:
            raise SyscallError(Errno.ENODEV)
        if prot & PROT_WRITE:  # a private writable mapping is never the file's own memory
            caps &= ~NOMMU_MAP_DIRECT
    if caps & NOMMU_MAP_DIRECT and _prot_unsupported(prot, caps):
        caps &= ~NOMMU_MAP_DIRECT
        if flags & MAP_TYPE == M.MAP_SHARED:
            raise SyscallError(Errno.EINVAL, "MAP_SHARED not completely supported on !MMU")
    return caps


def check_write_seal(file: OpenFile, prot: int) -> None:
    """A shared writable mapping of a memfd sealed against writing: EPERM."""
    seals = file.ram.seals if isinstance(file, RamFile) else 0
    if prot & PROT_WRITE and seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE):
        raise SyscallError(Errno.EPERM)


def _prot_unsupported(prot: int, caps: int) -> bool:
    return bool(
        (prot & PROT_READ and not caps & NOMMU_MAP_READ)
        or (prot & PROT_WRITE and not caps & NOMMU_MAP_WRITE)
        or (prot & PROT_EXEC and not caps & NOMMU_MAP_EXEC)
    )


def map_anonymous(k: Kernel, t: Task, size: int, prot: int) -> int:
    """Anonymous memory, private or shared alike: a zeroed contiguous block."""
    block = k.alloc.alloc(size, t.pid, "mmap")
    k.ram.fill(block.start, size)
    k.cpu.flush_code(block.start, block.end)
    t.mm.add(block, "mmap", prot=prot)
    return block.start


def map_copy(
    k: Kernel, t: Task, file: OpenFile, pgoff: int, size: int, prot: int, mayshare: bool
) -> int:
    """do_mmap_private: the file's bytes copied into a fresh block, the part past
    the end of the file zeroed. A read-only copy may be shared by later mappings
    of the same file range (`FileCopies`)."""
    data = file.pread(size, pgoff * PAGE_SIZE)
    block = k.alloc.alloc(size, t.pid, "mmap")
    k.ram.write(block.start, data)
    k.ram.fill(block.start + len(data), size - len(data))
    k.cpu.flush_code(block.start, block.end)
    backing = k.file_copies.add(file.inode(), pgoff, block) if mayshare else None
    region = Region(block.start, block.end, block, "mmap", prot, file.path, file=file.inode())
    region.mayshare, region.backing = mayshare, backing
    return t.mm.insert(region).start


def _insert(
    k: Kernel, t: Task, start: int, size: int, prot: int, file: OpenFile, mayshare: bool,
    backing: RamMapping,
) -> int:  # fmt: skip
    """A direct mapping of a RAM file's own pages."""
    block = k.alloc.block_at(start)
    assert block is not None
    region = Region(start, start + size, block, "shm", prot, file.path, file=file.inode())
    region.mayshare, region.backing, region.shared = mayshare, backing, backing.shared
    return t.mm.insert(region).start


def _mmap_mmu(
    k: Kernel, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
) -> int:
    """mmap with an MMU: mm/mmap.c do_mmap's checks (i386: 32-bit offsets)."""
    file = None if flags & M.MAP_ANONYMOUS else t.files.get(fd)
    mtype = flags & MAP_TYPE
    size = mapping_size(length, pgoff)
    pager: vm.Pager | None = None
    if file is None and mtype not in (M.MAP_PRIVATE, M.MAP_SHARED):
        raise SyscallError(Errno.EINVAL)
    if file is not None:
        if mtype not in (M.MAP_PRIVATE, M.MAP_SHARED, M.MAP_SHARED_VALIDATE):
            raise SyscallError(Errno.EINVAL)
        if mtype != M.MAP_PRIVATE and prot & PROT_WRITE and not file.writable:
            raise SyscallError(Errno.EACCES)
        if not file.readable:
            raise SyscallError(Errno.EACCES)
        if not file.mmap_capabilities:
            raise SyscallError(Errno.ENODEV)
        if isinstance(file, DevZero):  # /dev/zero maps as anonymous memory
            file, flags = None, flags | M.MAP_ANONYMOUS
        elif isinstance(file, RamFile) and mtype != M.MAP_PRIVATE:
            check_write_seal(file, prot)
            pager = file.ram  # the mapping shows the file's own pages
        elif mtype != M.MAP_PRIVATE:
            pager = k.page_cache.pages_of(file)  # shared with every other mapping of it
    if file is None and mtype == M.MAP_SHARED:
        shmfs = k.vfs.shmfs
        assert shmfs is not None  # (the kernel always has one: /dev/shm)
        pager, pgoff = shmfs.anonymous(size), 0  # shared anonymous memory is shmem
    disk = isinstance(pager, FilePages)
    return changed(
        k,
        vm.do_mmap(space(t), addr, length, prot, flags, file, pgoff * PAGE_SIZE, pager, disk),
    )


def space(t: Task) -> vm.AddressSpace:
    """`t`'s memory as an MMU address space (MMU mode only)."""
    assert isinstance(t.mm, vm.AddressSpace)
    return t.mm


def changed(k: Kernel, result: int) -> int:
    """Mappings were removed, moved or downgraded: the TLB may hold stale
    translations to pages that are gone. Flush it (and code in new pages)."""
    assert k.mmu_unit is not None
    k.mmu_unit.flush()
    return result


@syscall("mmap2", "ptr", "size", "prot", "map_flags", "fd", "hex", ret="hex")
def sys_mmap2(
    k: Kernel, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
) -> int:
    return do_mmap(k, t, addr, length, prot, flags, fd, pgoff)


@syscall("mmap", "ptr", ret="hex")
def sys_old_mmap(k: Kernel, t: Task, args: int) -> int:
    """The old i386 mmap: six arguments in a struct, the offset in bytes."""
    addr, length, prot, flags, fd, offset = MMAP_ARG_STRUCT.unpack(k.uspace.read(args, 24))
    if offset & (PAGE_SIZE - 1):
        raise SyscallError(Errno.EINVAL)
    return do_mmap(k, t, addr, length, prot, flags, fd, offset >> 12)


@syscall("munmap", "ptr", "size")
def sys_munmap(k: Kernel, t: Task, addr: int, length: int) -> int:
    if k.mmu:
        return changed(k, vm.do_munmap(space(t), addr, length))
    length = page_align(length) & U32
    if length == 0:
        raise SyscallError(Errno.EINVAL)
    start, end = addr, addr + length
    region, whole = munmap_target(t, start, end)
    k.cpu.flush_code(start, end)
    if whole:
        t.mm.remove_range(region, region.start, region.end)
    else:
        t.mm.remove_range(region, start, end)
    return 0


def munmap_target(t: Task, start: int, end: int) -> tuple[Region, bool]:
    """nommu do_munmap's choice: the region to unmap and whether it goes whole.

    The first mapping overlapping [start, end) decides. A file mapping goes only
    whole: the first of the overlapping file mappings that starts at or after
    `start` and ends exactly at `end`. An anonymous one may lose a head, a tail
    or a middle part (page aligned), but the range must lie inside it."""
    hits = [r for r in t.mm.regions if r.start < end and start < r.end]
    if not hits:
        raise SyscallError(Errno.EINVAL, "munmap of memory that is not mapped")
    first = hits[0]
    if first.file is not None:
        for r in hits:
            if start > r.start:
                break
            if end == r.end:
                return r, True
        raise SyscallError(Errno.EINVAL, "a file mapping can only be unmapped whole")
    if (start, end) == (first.start, first.end):
        return first, True
    if start < first.start or end > first.end or start & (PAGE_SIZE - 1):
        raise SyscallError(Errno.EINVAL)
    if end != first.end and end & (PAGE_SIZE - 1):
        raise SyscallError(Errno.EINVAL)
    return first, False


@syscall("mremap", "ptr", "size", "size", "hex", "ptr", ret="hex")
def sys_mremap(k: Kernel, t: Task, addr: int, old: int, new: int, flags: int, new_addr: int) -> int:
    if k.mmu:
        return changed(k, vm.do_mremap(space(t), addr, old, new, flags, new_addr))
    old, new = page_align(old) & U32, page_align(new) & U32
    if old == 0 or new == 0 or addr & (PAGE_SIZE - 1):
        raise SyscallError(Errno.EINVAL)
    if flags & MREMAP_FIXED and new_addr != addr:
        raise SyscallError(Errno.EINVAL, "mremap cannot move a mapping without an MMU")
    region = next((r for r in t.mm.regions if (r.start, r.end) == (addr, addr + old)), None)
    if region is None:
        raise SyscallError(Errno.EINVAL, "mremap needs exactly one whole mapping")
    if region.mayshare:
        raise SyscallError(Errno.EPERM, "a shareable mapping cannot be resized")
    if new > region.top - region.start:
        raise SyscallError(Errno.ENOMEM, "mremap cannot grow past the block it was given")
    region.end = region.start + new  # shrinking frees nothing: the block stays whole
    return addr


# What a no-MMU Linux kernel answers ENOSYS: the "CONFIG_MMU only" block of
# kernel/sys_ni.c and the features that depend on an MMU (swap, NUMA memory
# policy, cross-process memory access, userfaultfd, protection keys). A call
# of one is a fact of no-MMU life, not a gap in nommu; those with a row here
# say so below, the rest get the dispatcher's ENOSYS for a number it lacks.
NEEDS_MMU = frozenset(
    {"mprotect", "pkey_mprotect", "madvise", "process_madvise", "msync", "mlock", "mlock2",
     "munlock", "mlockall", "munlockall", "mincore", "remap_file_pages", "mseal", "swapon",
     "swapoff", "mbind", "get_mempolicy", "set_mempolicy", "migrate_pages", "move_pages",
     "set_mempolicy_home_node", "process_vm_readv", "process_vm_writev", "userfaultfd",
     "pkey_alloc", "pkey_free", "memfd_secret"}
)  # fmt: skip


def _enosys(k: Kernel, t: Task, *args: int) -> int:
    raise SyscallError(Errno.ENOSYS, "needs an MMU")


@syscall("mprotect", "ptr", "size", "prot")
def sys_mprotect(k: Kernel, t: Task, addr: int, length: int, prot: int) -> int:
    if not k.mmu:
        return _enosys(k, t)
    return changed(k, vm.do_mprotect(space(t), addr, length, prot))


@syscall("madvise", "ptr", "size", "int")
def sys_madvise(k: Kernel, t: Task, addr: int, length: int, advice: int) -> int:
    if not k.mmu:
        return _enosys(k, t)
    size = page_align(length) & U32
    if addr & (PAGE_SIZE - 1) or (length and not size) or addr + size > U32 + 1:
        raise SyscallError(Errno.EINVAL)  # mm/madvise.c: unaligned, or wrapping around
    if advice == 4:  # MADV_DONTNEED
        vm.do_madvise_dontneed(space(t), addr, size)
        return changed(k, 0)
    return 0


@syscall("msync", "ptr", "size", "int")
def sys_msync(k: Kernel, t: Task, addr: int, length: int, flags: int) -> int:
    if not k.mmu:
        return _enosys(k, t)
    s = space(t)
    if not s.covered(addr, addr + page_align(length)):
        raise SyscallError(Errno.ENOMEM)
    for v in list(s.vmas):
        if v.start < addr + length and addr < v.end:
            s.writeback(v)
    return 0


def _mmu_only_ok(k: Kernel, t: Task, *args: int) -> int:
    """mlock and friends: nothing is ever swapped out here, so they succeed."""
    return 0 if k.mmu else _enosys(k, t)


for _name, _args in (
    ("mlock", ("ptr", "size")),
    ("munlock", ("ptr", "size")),
    ("mlockall", ("int",)),
    ("munlockall", ()),
    ("mincore", ("ptr", "size", "ptr")),
):
    syscall(_name, *_args)(_mmu_only_ok)


@syscall("mlock2", "ptr", "size", "hex")
def sys_mlock2(k: Kernel, t: Task, addr: int, length: int, flags: int) -> int:
    if not k.mmu:
        return _enosys(k, t)
    if flags & ~1:  # MLOCK_ONFAULT
        raise SyscallError(Errno.EINVAL)
    return 0


@syscall("pkey_mprotect", "ptr", "size", "prot", "int")
def sys_pkey_mprotect(k: Kernel, t: Task, addr: int, length: int, prot: int, pkey: int) -> int:
    if not k.mmu:
        return _enosys(k, t)
    if pkey != U32:  # no protection keys on this CPU: only -1 (none) is valid
        raise SyscallError(Errno.EINVAL)
    return changed(k, vm.do_mprotect(space(t), addr, length, prot))


def _enosys_always(k: Kernel, t: Task, *args: int) -> int:
    """Not in this kernel even with an MMU: remap_file_pages (deprecated),
    process_madvise (needs pidfds), mseal (64-bit kernels only)."""
    raise SyscallError(Errno.ENOSYS)


_NEVER: list[tuple[str, tuple[str, ...]]] = [
    ("remap_file_pages", ("ptr", "size", "prot", "uint", "hex")),
    ("process_madvise", ("fd", "ptr", "size", "int", "hex")),
    ("mseal", ("ptr", "size", "hex")),
]
for _never, _never_args in _NEVER:
    syscall(_never, *_never_args)(_enosys_always)
