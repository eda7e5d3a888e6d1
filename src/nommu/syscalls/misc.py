"""The rest: uname, randomness, resource limits, scheduling, signal dispositions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

UNAME = ("Linux", "nommu", "6.6.0-nommu", "#1 no-MMU", "i686", "(none)")
GETRANDOM_MAX = 33554431


@syscall("uname", "struct_out")
def sys_uname(k: Kernel, t: Task, buf: int) -> int:
    fields = [s.encode()[: S.UTSNAME_FIELD - 1].ljust(S.UTSNAME_FIELD, b"\0") for s in UNAME]
    k.uspace.write(buf, b"".join(fields))
    return 0


@syscall("getrandom", "buf_out", "size", "hex")
def sys_getrandom(k: Kernel, t: Task, buf: int, count: int, flags: int) -> int:
    if flags & ~(F.GRND_NONBLOCK | F.GRND_RANDOM | 4):
        raise SyscallError(Errno.EINVAL)
    count = min(count, GETRANDOM_MAX)
    k.uspace.write(buf, k.config.random(count))
    return count


def rlimit(k: Kernel, t: Task, resource: int) -> tuple[int, int]:
    """(soft, hard) for a resource, as the guest sees it."""
    inf = F.RLIM_INFINITY
    if resource == 7:  # RLIMIT_NOFILE
        return t.files.limit, t.files.limit
    if resource == 4:  # RLIMIT_CORE: nommu writes no core files
        return 0, inf
    if resource == 3:  # RLIMIT_STACK: what the loader gave
        return 131072, inf
    if resource == 6:  # RLIMIT_NPROC
        return k.config.max_tasks, k.config.max_tasks
    if resource == 2 or resource == 9:  # RLIMIT_DATA, RLIMIT_AS: physical RAM
        return k.ram.size, k.ram.size
    return inf, inf


@syscall("prlimit64", "pid_t", "rlimit_resource", "ptr", "ptr")
def sys_prlimit64(k: Kernel, t: Task, pid: int, resource: int, new: int, old: int) -> int:
    if resource >= len(F.RLIMIT_NAMES):
        raise SyscallError(Errno.EINVAL)
    if pid and pid != t.pid and pid not in k.groups:
        raise SyscallError(Errno.ESRCH)
    if old:
        k.uspace.write_struct(S.RLIMIT64, old, *rlimit(k, t, resource))
    if new:
        soft, hard = k.uspace.read_struct(S.RLIMIT64, new)
        if soft > hard:
            raise SyscallError(Errno.EINVAL)
        if resource == 7:
            t.files.limit = min(soft, 1 << 20)
    return 0


@syscall("ugetrlimit", "rlimit_resource", "ptr")
def sys_ugetrlimit(k: Kernel, t: Task, resource: int, rlim: int) -> int:
    if resource >= len(F.RLIMIT_NAMES):
        raise SyscallError(Errno.EINVAL)
    soft, hard = (min(v, 0xFFFFFFFF) for v in rlimit(k, t, resource))
    k.uspace.write_struct(S.RLIMIT32, rlim, soft, hard)
    return 0


@syscall("sched_yield")
def sys_sched_yield(k: Kernel, t: Task) -> int:
    k.cpu.stop()  # back to the end of the run queue
    return 0


@syscall("sched_getaffinity", "pid_t", "size", "ptr")
def sys_sched_getaffinity(k: Kernel, t: Task, pid: int, size: int, mask: int) -> int:
    if size < 4:
        raise SyscallError(Errno.EINVAL)
    k.uspace.write(mask, b"\x01\0\0\0")
    return 4


@syscall("membarrier", "int", "int", "int")
def sys_membarrier(k: Kernel, t: Task, cmd: int, flags: int, cpu_id: int) -> int:
    return 0
