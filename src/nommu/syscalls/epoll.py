"""epoll_create/create1, epoll_ctl and epoll_wait/pwait/pwait2 (kernel/epoll.py
holds the instances). struct epoll_event is a u32 of events then the u64 of
user data: packed on i386 (12 bytes), 8-aligned on ARM (16): `k.arch`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.flags import TASK_SIZE
from nommu.kernel.channels import Timer
from nommu.kernel.epoll import EXCLUSIVE_OK, Epoll
from nommu.kernel.errors import Blocked, SyscallError
from nommu.syscalls.fs import s32
from nommu.syscalls.poll import ms_deadline, restore_mask, temporary_mask
from nommu.syscalls.table import syscall
from nommu.syscalls.time import read_timeout

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task


def _create(k: Kernel, t: Task, flags: int) -> int:
    ep = Epoll(k.sched, F.O_RDWR, k.next_ino())
    return t.files.install(ep, cloexec=bool(flags & F.EPOLL_CLOEXEC))


@syscall("epoll_create", "int", ret="fd")
def sys_epoll_create(k: Kernel, t: Task, size: int) -> int:
    if s32(size) <= 0:
        raise SyscallError(Errno.EINVAL)
    return _create(k, t, 0)


@syscall("epoll_create1", "epoll_flags", ret="fd")
def sys_epoll_create1(k: Kernel, t: Task, flags: int) -> int:
    if flags & ~F.EPOLL_CLOEXEC:
        raise SyscallError(Errno.EINVAL)
    return _create(k, t, flags)


def epoll_of(t: Task, epfd: int) -> Epoll:
    return t.files.get_a(epfd, Epoll)


@syscall("epoll_ctl", "fd", "epoll_op", "fd", "epoll_event")
def sys_epoll_ctl(k: Kernel, t: Task, epfd: int, op: int, fd: int, event: int) -> int:
    """Linux's order of checks: the event (EFAULT), both descriptors (EBADF),
    a target that cannot be polled (EPERM: regular files), then EINVAL for
    the wrong kind of epfd, fd == epfd and EPOLLEXCLUSIVE misuse."""
    events = data = 0
    if op != F.EPOLL_CTL_DEL:
        events, data = k.uspace.read_struct(k.arch.EPOLL_EVENT, event)
    ep_file, target = t.files.get(epfd), t.files.get(fd)
    if not target.has_poll:
        raise SyscallError(Errno.EPERM)
    if not isinstance(ep_file, Epoll) or ep_file is target:
        raise SyscallError(Errno.EINVAL)
    events &= ~F.EPOLLWAKEUP  # (needs CAP_BLOCK_SUSPEND; Linux drops it quietly)
    misused = op == F.EPOLL_CTL_MOD or isinstance(target, Epoll) or events & ~EXCLUSIVE_OK
    if events & F.EPOLLEXCLUSIVE and op != F.EPOLL_CTL_DEL and misused:
        raise SyscallError(Errno.EINVAL)
    if op == F.EPOLL_CTL_ADD:
        ep_file.add(fd, target, events, data)
    elif op == F.EPOLL_CTL_MOD:
        ep_file.modify(fd, target, events, data)
    elif op == F.EPOLL_CTL_DEL:
        ep_file.delete(fd, target)
    else:
        raise SyscallError(Errno.EINVAL)
    return 0


def do_epoll_wait(
    k: Kernel, t: Task, epfd: int, events: int, maxevents: int, deadline: float | None
) -> int:
    """Report up to `maxevents` ready items at `events`, or sleep until one
    has an event (or the deadline: 0)."""
    maxevents, layout = s32(maxevents), k.arch.EPOLL_EVENT
    if not 0 < maxevents <= 0x7FFFFFFF // layout.size:  # (EP_MAX_EVENTS)
        raise SyscallError(Errno.EINVAL)
    if events + maxevents * layout.size > TASK_SIZE:
        raise SyscallError(Errno.EFAULT)
    ep = epoll_of(t, epfd)
    ready = ep.collect(maxevents)
    if ready:
        k.uspace.write(events, b"".join(layout.pack(e, d) for e, d in ready))
        return len(ready)
    channels = ep.poll_channels()
    if deadline is None:
        raise Blocked(channels if len(channels) > 1 else channels[0])
    if k.sched.clock() >= deadline:
        return 0
    raise Blocked((Timer(t.tid), *channels), deadline)


@syscall("epoll_wait", "fd", "epoll_events_out", "int", "int")
def sys_epoll_wait(k: Kernel, t: Task, epfd: int, events: int, maxevents: int, ms: int) -> int:
    return do_epoll_wait(k, t, epfd, events, maxevents, ms_deadline(k, t, ms))


def _pwait(
    k: Kernel, t: Task, args: tuple[int, int, int], deadline: float | None, mask: int, size: int
) -> int:
    """epoll_wait with `mask` as the signal mask while it waits (ppoll's rule)."""
    if mask:
        temporary_mask(k, t, mask, size)
    try:
        result = do_epoll_wait(k, t, *args, deadline)
    except SyscallError:
        restore_mask(t)
        raise
    restore_mask(t)
    return result


@syscall("epoll_pwait", "fd", "epoll_events_out", "int", "int", "sigset", "size")
def sys_epoll_pwait(
    k: Kernel, t: Task, epfd: int, events: int, maxevents: int, ms: int, mask: int, size: int
) -> int:
    return _pwait(k, t, (epfd, events, maxevents), ms_deadline(k, t, ms), mask, size)


@syscall("epoll_pwait2", "fd", "epoll_events_out", "int", "timespec64", "sigset", "size")
def sys_epoll_pwait2(
    k: Kernel, t: Task, epfd: int, events: int, maxevents: int, ts: int, mask: int, size: int
) -> int:
    deadline = read_timeout(k, t, ts, time64=True, relative=True) if ts else None
    return _pwait(k, t, (epfd, events, maxevents), deadline, mask, size)
