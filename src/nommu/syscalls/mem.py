"""Memory syscalls under the no-MMU rules (mm/nommu.c, reference section 2).

* brk: may only move inside [start_brk, end_brk]; the ELF-FDPIC loader gives
  a zero-size brk, so a request to grow returns the old break (no errno) and
  malloc falls back to mmap.
* mmap: every mapping is a fresh contiguous block of whole pages, always
  zeroed; MAP_FIXED is EINVAL (nothing can be placed at a chosen address)
  and an address hint is ignored.
* munmap: must name mapped memory (EINVAL otherwise, where an MMU kernel
  returns 0); anonymous regions may be unmapped whole or in part.
* mprotect, madvise, mlock, msync...: -ENOSYS, there is nothing to protect.

With --mmu each handler hands over to the MMU versions in kernel/vm.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import MAP_TYPE, PAGE_SIZE, MapFlags
from nommu.kernel import vm
from nommu.kernel.alloc import page_align
from nommu.kernel.errors import SyscallError
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

TASK_SIZE = 0xC0000000
M = MapFlags


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
    if k.mmu:
        return _mmap_mmu(k, t, addr, length, prot, flags, fd, pgoff)
    if flags & M.MAP_FIXED:
        raise SyscallError(Errno.EINVAL, "MAP_FIXED needs an MMU")
    if flags & MAP_TYPE not in (M.MAP_PRIVATE, M.MAP_SHARED, M.MAP_SHARED_VALIDATE):
        raise SyscallError(Errno.EINVAL)
    if length == 0:
        raise SyscallError(Errno.EINVAL)
    size = page_align(length)
    if size == 0 or size > TASK_SIZE:
        raise SyscallError(Errno.ENOMEM)
    if not flags & M.MAP_ANONYMOUS:
        return mmap_file(k, t, size, prot, flags, fd, pgoff)
    block = k.alloc.alloc(size, t.pid, "mmap")
    k.ram.fill(block.start, size)
    k.cpu.flush_code(block.start, block.end)
    t.mm.add(block, "mmap", prot=prot)
    return block.start


def mmap_file(k: Kernel, t: Task, size: int, prot: int, flags: int, fd: int, pgoff: int) -> int:
    """A file mapping: MAP_PRIVATE is a private copy of the file's bytes; MAP_SHARED
    of a regular file is ENODEV (it would need the file's own pages in RAM)."""
    f = t.files.get(fd)
    if not f.readable:
        raise SyscallError(Errno.EACCES)
    if flags & MAP_TYPE != M.MAP_PRIVATE:
        raise SyscallError(Errno.ENODEV, "MAP_SHARED of a file needs an MMU (or a ramfs file)")
    data = f.pread(size, pgoff * PAGE_SIZE)
    block = k.alloc.alloc(size, t.pid, "mmap")
    k.ram.fill(block.start, size)
    k.ram.write(block.start, data)
    k.cpu.flush_code(block.start, block.end)
    t.mm.add(block, "mmap", name=f.path, prot=prot)
    return block.start


def _mmap_mmu(
    k: Kernel, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
) -> int:
    if flags & MAP_TYPE not in (M.MAP_PRIVATE, M.MAP_SHARED, M.MAP_SHARED_VALIDATE) or not length:
        raise SyscallError(Errno.EINVAL)
    if page_align(length) == 0 or page_align(length) > TASK_SIZE:
        raise SyscallError(Errno.ENOMEM)
    file = None
    if not flags & M.MAP_ANONYMOUS:
        file = t.files.get(fd)
        if not file.readable or (
            flags & MAP_TYPE != M.MAP_PRIVATE and prot & 2 and not file.writable
        ):
            raise SyscallError(Errno.EACCES)
    return changed(k, vm.do_mmap(space(t), addr, length, prot, flags, file, pgoff * PAGE_SIZE))


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


@syscall("munmap", "ptr", "size")
def sys_munmap(k: Kernel, t: Task, addr: int, length: int) -> int:
    if k.mmu:
        return changed(k, vm.do_munmap(space(t), addr, length))
    if addr & (PAGE_SIZE - 1) or length == 0:
        raise SyscallError(Errno.EINVAL)
    end = addr + page_align(length)
    region = t.mm.find(addr)
    if region is None or end > region.end:
        raise SyscallError(Errno.EINVAL, "munmap of memory that is not mapped")
    if region.kind != "mmap" and (addr, end) != (region.start, region.end):
        raise SyscallError(Errno.EINVAL)
    k.cpu.flush_code(addr, end)
    t.mm.remove_range(region, addr, end)
    return 0


@syscall("mremap", "ptr", "size", "size", "hex", "ptr", ret="hex")
def sys_mremap(k: Kernel, t: Task, addr: int, old: int, new: int, flags: int, new_addr: int) -> int:
    if k.mmu:
        return changed(k, vm.do_mremap(space(t), addr, old, new, flags, new_addr))
    old, new = page_align(old), page_align(new)
    region = t.mm.find(addr)
    if new == 0 or addr & (PAGE_SIZE - 1) or region is None or region.start != addr:
        raise SyscallError(Errno.EINVAL)
    if region.size != old:
        raise SyscallError(Errno.EINVAL)
    if new > region.block.size:
        raise SyscallError(Errno.ENOMEM, "mremap cannot move or grow a region without an MMU")
    if new < old:
        t.mm.remove_range(region, addr + new, addr + old)
    return addr


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
    if advice == 4:  # MADV_DONTNEED
        vm.do_madvise_dontneed(space(t), addr, length)
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
