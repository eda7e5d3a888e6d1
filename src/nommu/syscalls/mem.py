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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import MAP_TYPE, PAGE_SIZE, MapFlags
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
    mm = t.mm
    if mm.start_brk <= addr <= mm.end_brk:
        mm.brk = addr
    return mm.brk


def do_mmap(
    k: Kernel, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
) -> int:
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


@syscall("mmap2", "ptr", "size", "prot", "map_flags", "fd", "hex", ret="hex")
def sys_mmap2(
    k: Kernel, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
) -> int:
    return do_mmap(k, t, addr, length, prot, flags, fd, pgoff)


@syscall("munmap", "ptr", "size")
def sys_munmap(k: Kernel, t: Task, addr: int, length: int) -> int:
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


for _name, _args in (
    ("mprotect", ("ptr", "size", "prot")),
    ("madvise", ("ptr", "size", "int")),
    ("msync", ("ptr", "size", "int")),
    ("mlock", ("ptr", "size")),
    ("munlock", ("ptr", "size")),
    ("mlockall", ("int",)),
    ("munlockall", ()),
    ("mincore", ("ptr", "size", "ptr")),
):
    syscall(_name, *_args)(_enosys)
