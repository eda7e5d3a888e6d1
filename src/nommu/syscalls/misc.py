"""The rest: uname, randomness, resource limits, scheduling, signal dispositions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi.errno import Errno
from nommu.kernel.errors import SyscallError
from nommu.kernel.signal import sigpending_limit
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

UNAME = ("Linux", "nommu", "6.6.0-nommu", "#1 no-MMU")  # then the machine, "(none)"
GETRANDOM_MAX = 33554431


@syscall("uname", "struct_out")
def sys_uname(k: Kernel, t: Task, buf: int) -> int:
    uname = (*UNAME, k.arch.UTS_MACHINE, "(none)")
    fields = [s.encode()[: S.UTSNAME_FIELD - 1].ljust(S.UTSNAME_FIELD, b"\0") for s in uname]
    k.uspace.write(buf, b"".join(fields))
    return 0


@syscall("getrandom", "buf_out", "size", "hex")
def sys_getrandom(k: Kernel, t: Task, buf: int, count: int, flags: int) -> int:
    if flags & ~(F.GRND_NONBLOCK | F.GRND_RANDOM | 4):
        raise SyscallError(Errno.EINVAL)
    count = k.uspace.span(buf, min(count, GETRANDOM_MAX))
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
    if resource == 11:  # RLIMIT_SIGPENDING: real-time signals queued at once
        limit = sigpending_limit(k, t.group)
        return limit, max(limit, k.config.max_tasks)
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
        if resource == 11:
            t.group.sigpending_limit = min(soft, k.config.max_tasks)
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


PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_SET_NAME, PR_GET_NAME = 15, 16
TASK_COMM_LEN = 16


@syscall("prctl", "int", "hex", "hex", "hex", "hex")
def sys_prctl(k: Kernel, t: Task, option: int, a2: int, a3: int, a4: int, a5: int) -> int:
    """The few prctl options programs use at start-up (glibc, busybox); others EINVAL,
    as Linux answers an option it does not know."""
    if option == PR_SET_NAME:
        name = k.uspace.read(a2, TASK_COMM_LEN)
        t.comm = name.split(b"\0", 1)[0][: TASK_COMM_LEN - 1].decode(errors="replace")
        return 0
    if option == PR_GET_NAME:
        k.uspace.write(a2, t.comm.encode()[: TASK_COMM_LEN - 1].ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option in (PR_SET_PDEATHSIG, PR_SET_DUMPABLE):
        return 0  # accepted: no parent-death signal is sent, no core is dumped
    if option == PR_GET_PDEATHSIG:
        k.uspace.write_u32(a2, 0)
        return 0
    if option == PR_GET_DUMPABLE:
        return 1
    raise SyscallError(Errno.EINVAL)


ROBUST_LIST_HEAD_SIZE = 12  # sizeof(struct robust_list_head) on i386


@syscall("set_robust_list", "ptr", "size")
def sys_set_robust_list(k: Kernel, t: Task, head: int, size: int) -> int:
    """Where `t`'s robust futex list is: walked when it exits (kernel/futex.py)."""
    if size != ROBUST_LIST_HEAD_SIZE:
        raise SyscallError(Errno.EINVAL)
    t.robust_list = head
    return 0


@syscall("get_robust_list", "pid_t", "ptr", "ptr")
def sys_get_robust_list(k: Kernel, t: Task, tid: int, head_ptr: int, len_ptr: int) -> int:
    """A thread's robust list head (musl asks it, to learn the kernel has them)."""
    target = t if tid == 0 else k.tasks.get(tid)
    if target is None:
        raise SyscallError(Errno.ESRCH)
    k.uspace.write_u32(head_ptr, target.robust_list)
    k.uspace.write_u32(len_ptr, ROBUST_LIST_HEAD_SIZE)
    return 0


@syscall("rseq", "ptr", "size", "hex", "hex")
def sys_rseq(k: Kernel, t: Task, rseq: int, size: int, flags: int, sig: int) -> int:
    """Restartable sequences are not provided: ENOSYS, on which glibc carries on
    without them (as on kernels before 4.18). Quiet: it is not a gap to report."""
    raise SyscallError(Errno.ENOSYS)
