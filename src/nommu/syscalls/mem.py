"""The memory syscalls: thin handlers over the machine's memory model.

What each call does depends on the model (kernel/memmodel.py): without an MMU
(kernel/nommu_model.py, mm/nommu.c) MAP_FIXED is EINVAL, munmap must name a
mapping, mremap never moves and mprotect, madvise, mlock, msync... are ENOSYS;
with an MMU (kernel/mmu_model.py, kernel/vm.py) they do what Linux does.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import PAGE_SIZE
from nommu.kernel.errors import SyscallError
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

U32 = 0xFFFFFFFF
MMAP_ARG_STRUCT = struct.Struct("<6I")  # old mmap(2): addr, len, prot, flags, fd, offset


@syscall("brk", "ptr", ret="hex")
def sys_brk(k: Kernel, t: Task, addr: int) -> int:
    return k.memory.brk(t, addr)


@syscall("mmap2", "ptr", "size", "prot", "map_flags", "fd", "hex", ret="hex")
def sys_mmap2(
    k: Kernel, t: Task, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
) -> int:
    return k.memory.mmap(t, addr, length, prot, flags, fd, pgoff)


@syscall("mmap", "ptr", ret="hex")
def sys_old_mmap(k: Kernel, t: Task, args: int) -> int:
    """The old i386 mmap: six arguments in a struct, the offset in bytes."""
    addr, length, prot, flags, fd, offset = MMAP_ARG_STRUCT.unpack(k.uspace.read(args, 24))
    if offset & (PAGE_SIZE - 1):
        raise SyscallError(Errno.EINVAL)
    return k.memory.mmap(t, addr, length, prot, flags, fd, offset >> 12)


@syscall("munmap", "ptr", "size")
def sys_munmap(k: Kernel, t: Task, addr: int, length: int) -> int:
    return k.memory.munmap(t, addr, length)


@syscall("mremap", "ptr", "size", "size", "hex", "ptr", ret="hex")
def sys_mremap(k: Kernel, t: Task, addr: int, old: int, new: int, flags: int, new_addr: int) -> int:
    return k.memory.mremap(t, addr, old, new, flags, new_addr)


@syscall("mprotect", "ptr", "size", "prot")
def sys_mprotect(k: Kernel, t: Task, addr: int, length: int, prot: int) -> int:
    return k.memory.mprotect(t, addr, length, prot)


@syscall("madvise", "ptr", "size", "int")
def sys_madvise(k: Kernel, t: Task, addr: int, length: int, advice: int) -> int:
    return k.memory.madvise(t, addr, length, advice)


@syscall("msync", "ptr", "size", "int")
def sys_msync(k: Kernel, t: Task, addr: int, length: int, flags: int) -> int:
    return k.memory.msync(t, addr, length, flags)


def _paging_ok(k: Kernel, t: Task, *args: int) -> int:
    """mlock and friends: nothing is ever swapped out here, so they succeed
    (with paging; without it they are ENOSYS)."""
    k.memory.paging_call()
    return 0


for _name, _args in (
    ("mlock", ("ptr", "size")),
    ("munlock", ("ptr", "size")),
    ("mlockall", ("int",)),
    ("munlockall", ()),
    ("mincore", ("ptr", "size", "ptr")),
):
    syscall(_name, *_args)(_paging_ok)


@syscall("mlock2", "ptr", "size", "hex")
def sys_mlock2(k: Kernel, t: Task, addr: int, length: int, flags: int) -> int:
    k.memory.paging_call()
    if flags & ~1:  # MLOCK_ONFAULT
        raise SyscallError(Errno.EINVAL)
    return 0


@syscall("pkey_mprotect", "ptr", "size", "prot", "int")
def sys_pkey_mprotect(k: Kernel, t: Task, addr: int, length: int, prot: int, pkey: int) -> int:
    k.memory.paging_call()
    if pkey != U32:  # no protection keys on this CPU: only -1 (none) is valid
        raise SyscallError(Errno.EINVAL)
    return k.memory.mprotect(t, addr, length, prot)


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
