"""ARM's private system calls (arch/arm/kernel/traps.c, `arm_syscall`): the
numbers 0xf0001-0xf0006 an ARM program calls with `svc #0` like any other.

* set_tls (0xf0005): the thread pointer becomes r0; returns 0.
* get_tls (0xf0006): returns the thread pointer. This is how a C library
  for Cortex-M (uClibc-ng's `__aeabi_read_tp`) reads it, since the chip
  has no TPIDRURO register to read with `mrc p15`.
* cacheflush (0xf0002): code was written into [start, end): drop what the
  CPU translated from there. EINVAL for end < start or non-zero flags.

The others (breakpoint, usr26, usr32) answer ENOSYS here, as the
architecture table has no handler for them (Linux raises SIGTRAP and
SIGILL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task


@syscall("set_tls", "hex")
def sys_set_tls(k: Kernel, t: Task, tp: int) -> int:
    k.arch.set_tls(t.tls, k.uspace.read, tp)
    if k.current is t:
        k.load_tls(t, reload=True)
    return 0


@syscall("get_tls", ret="hex")
def sys_get_tls(k: Kernel, t: Task) -> int:
    return k.arch.thread_pointer(k.cpu, t.tls)


@syscall("cacheflush", "ptr", "ptr", "hex")
def sys_cacheflush(k: Kernel, t: Task, start: int, end: int, flags: int) -> int:
    if end < start or flags:
        raise SyscallError(Errno.EINVAL)
    if end > start:
        k.uspace.span(start, end - start)  # (EFAULT outside memory)
        k.cpu.drop_code(start, end)
    return 0
