"""Accounting and machine-wide counters: getrusage, times, sysinfo (and the
rusage wait4 fills, with kernel/accounting.py's per-task CPU times)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.kernel import accounting
from nommu.kernel.accounting import Usage
from nommu.kernel.errors import SyscallError
from nommu.syscalls.fs import s32
from nommu.syscalls.table import syscall

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

# ru_utime, ru_stime (struct timeval, 32-bit), ru_maxrss, then 13 more longs
RUSAGE = struct.Struct("<iiiii13i")
TMS = struct.Struct("<iiii")  # tms_utime, tms_stime, tms_cutime, tms_cstime (clock ticks)
USER_HZ = 100
# uptime, loads[3], totalram freeram sharedram bufferram totalswap freeswap,
# procs, pad, totalhigh, freehigh, mem_unit, and 8 bytes of padding
SYSINFO = struct.Struct("<i3I6IHHIII8x")


def pack_rusage(u: Usage) -> bytes:
    us, ss = round(u.user * 1e6), round(u.system * 1e6)
    return RUSAGE.pack(
        us // 1_000_000, us % 1_000_000, ss // 1_000_000, ss % 1_000_000, u.maxrss_kb, *[0] * 13
    )


def usage_of(k: Kernel, t: Task, who: int) -> Usage:
    k.sched.charge(t)  # (its time up to now)
    if who == F.RUSAGE_SELF:
        return accounting.self_usage(t.group)
    if who == F.RUSAGE_CHILDREN:
        return accounting.children_usage(t.group)
    if who == F.RUSAGE_THREAD:
        return accounting.thread_usage(t)
    raise SyscallError(Errno.EINVAL)


@syscall("getrusage", "rusage_who", "ptr")
def sys_getrusage(k: Kernel, t: Task, who: int, usage: int) -> int:
    k.uspace.write(usage, pack_rusage(usage_of(k, t, s32(who))))
    return 0


def ticks(seconds: float) -> int:
    return int(seconds * USER_HZ) & 0xFFFFFFFF


@syscall("times", "ptr")
def sys_times(k: Kernel, t: Task, buf: int) -> int:
    """The process's and its reaped children's CPU times, in clock ticks, and
    the ticks since boot (what callers subtract to measure elapsed time)."""
    mine, theirs = usage_of(k, t, F.RUSAGE_SELF), usage_of(k, t, F.RUSAGE_CHILDREN)
    if buf:
        values = (mine.user, mine.system, theirs.user, theirs.system)
        k.uspace.write(buf, TMS.pack(*(s32(ticks(v)) for v in values)))
    return ticks(k.config.clock_monotonic() - k.boot_monotonic)


@syscall("sysinfo", "ptr")
def sys_sysinfo(k: Kernel, t: Task, info: int) -> int:
    uptime = int(k.config.clock_monotonic() - k.boot_monotonic) + 1
    runnable = sum(1 for x in k.tasks.values() if x.state.value == "R")
    load = min(runnable << 16, 0xFFFFFFFF)  # (an instant value, not an average)
    total, free = k.config.mem, k.alloc.free_total()
    procs = min(sum(1 for x in k.tasks.values() if x.alive), 0xFFFF)
    packed = SYSINFO.pack(uptime, load, load, load, total, free, 0, 0, 0, 0, procs, 0, 0, 0, 1)
    k.uspace.write(info, packed)
    return 0
