"""poll, ppoll and select: wait until one of several descriptors is ready.

Each open file reports its readiness (`OpenFile.poll`) and the channels that
are woken when that may change (`poll_channels`). If nothing is ready the
task sleeps on all of those channels at once (and the timeout); any wakeup
re-runs the syscall, which looks again.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM
from nommu.abi.structs import TIMEVAL32
from nommu.kernel.channels import Timer
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.signal import UNBLOCKABLE
from nommu.syscalls.fs import s32
from nommu.syscalls.table import syscall
from nommu.syscalls.time import read_timeout

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

POLLFD = struct.Struct("<ihh")
_IN = POLLIN | POLLRDNORM | POLLHUP | POLLERR
_OUT = POLLOUT | POLLWRNORM | POLLERR


def _wait(k: Kernel, t: Task, channels: list[object], deadline: float | None) -> int:
    """Nothing is ready: return 0 at the deadline, or sleep on every channel."""
    if deadline is not None and k.sched.clock() >= deadline:
        return 0
    raise Blocked((Timer(t.tid), *channels), deadline)


def do_poll(k: Kernel, t: Task, fds: int, nfds: int, deadline: float | None) -> int:
    if nfds > t.files.limit:
        raise SyscallError(Errno.EINVAL)
    raw = bytearray(k.uspace.read(fds, POLLFD.size * nfds))
    ready = 0
    channels: list[object] = []
    for i in range(nfds):
        fd, events, _ = POLLFD.unpack_from(raw, i * POLLFD.size)
        revents = 0
        if fd >= 0:
            entry = t.files.fds.get(fd)
            if entry is None:
                revents = POLLNVAL
            else:
                got = entry.file.poll()
                revents = got & (events | POLLERR | POLLHUP)
                if events & POLLRDNORM and got & POLLIN:
                    revents |= POLLRDNORM
                if events & POLLWRNORM and got & POLLOUT:
                    revents |= POLLWRNORM
                channels.extend(entry.file.poll_channels())
        POLLFD.pack_into(raw, i * POLLFD.size, fd, events, revents)
        ready += revents != 0
    if ready:
        k.uspace.write(fds, bytes(raw))
        return ready
    result = _wait(k, t, channels, deadline)
    k.uspace.write(fds, bytes(raw))
    return result


def ms_deadline(k: Kernel, t: Task, timeout_ms: int) -> float | None:
    ms = s32(timeout_ms)
    if ms < 0:
        return None
    if t.blocked is not None and t.deadline is not None:
        return t.deadline
    return k.sched.clock() + ms / 1000


@syscall("poll", "ptr", "uint", "int")
def sys_poll(k: Kernel, t: Task, fds: int, nfds: int, timeout: int) -> int:
    return do_poll(k, t, fds, nfds, ms_deadline(k, t, timeout))


def _ppoll(
    k: Kernel, t: Task, fds: int, nfds: int, tsp: int, mask: int, size: int, time64: bool
) -> int:
    deadline = read_timeout(k, t, tsp, time64, relative=True) if tsp else None
    if mask:
        temporary_mask(k, t, mask, size)
    return do_poll(k, t, fds, nfds, deadline)


def temporary_mask(k: Kernel, t: Task, mask: int, size: int) -> None:
    """ppoll/pselect: use `mask` while waiting, the old one again afterwards."""
    if size != 8:
        raise SyscallError(Errno.EINVAL)
    if t.saved_sigmask is None:
        t.saved_sigmask = t.sigmask
    t.sigmask = int.from_bytes(k.uspace.read(mask, 8), "little") & ~UNBLOCKABLE


@syscall("ppoll", "ptr", "uint", "timespec", "sigset", "size")
def sys_ppoll(k: Kernel, t: Task, fds: int, nfds: int, tsp: int, mask: int, size: int) -> int:
    result = _ppoll(k, t, fds, nfds, tsp, mask, size, time64=False)
    restore_mask(t)
    return result


@syscall("ppoll_time64", "ptr", "uint", "timespec64", "sigset", "size")
def sys_ppoll_time64(
    k: Kernel, t: Task, fds: int, nfds: int, tsp: int, mask: int, size: int
) -> int:
    result = _ppoll(k, t, fds, nfds, tsp, mask, size, time64=True)
    restore_mask(t)
    return result


def restore_mask(t: Task) -> None:
    if t.saved_sigmask is not None:
        t.sigmask, t.saved_sigmask = t.saved_sigmask, None


# -- select ---------------------------------------------------------------------


def _bitmap(k: Kernel, addr: int, n: int) -> list[int]:
    if not addr:
        return []
    raw = int.from_bytes(k.uspace.read(addr, (n + 31) // 32 * 4), "little")
    return [fd for fd in range(n) if raw >> fd & 1]


def _store(k: Kernel, addr: int, n: int, fds: set[int]) -> None:
    if addr:
        value = sum(1 << fd for fd in fds)
        k.uspace.write(addr, value.to_bytes((n + 31) // 32 * 4, "little"))


def do_select(k: Kernel, t: Task, n: int, rp: int, wp: int, ep: int, deadline: float | None) -> int:
    n = s32(n)
    if n < 0 or n > t.files.limit:
        raise SyscallError(Errno.EINVAL)
    want_r, want_w, want_e = _bitmap(k, rp, n), _bitmap(k, wp, n), _bitmap(k, ep, n)
    got_r: set[int] = set()
    got_w: set[int] = set()
    channels: list[object] = []
    for fd in sorted({*want_r, *want_w, *want_e}):
        f = t.files.get(fd)  # EBADF for a closed descriptor in any set
        bits = f.poll()
        if fd in want_r and bits & _IN:
            got_r.add(fd)
        if fd in want_w and bits & _OUT:
            got_w.add(fd)
        channels.extend(f.poll_channels())
    count = len(got_r) + len(got_w)
    if not count:
        count = _wait(k, t, channels, deadline)
    _store(k, rp, n, got_r)
    _store(k, wp, n, got_w)
    _store(k, ep, n, set())
    return count


def _tv_deadline(k: Kernel, t: Task, tv: int) -> float | None:
    if not tv:
        return None
    if t.blocked is not None and t.deadline is not None:
        return t.deadline
    sec, usec = k.uspace.read_struct(TIMEVAL32, tv)
    if sec < 0 or not 0 <= usec < 1_000_000:
        raise SyscallError(Errno.EINVAL)
    return k.sched.clock() + sec + usec / 1e6


@syscall("_newselect", "int", "ptr", "ptr", "ptr", "ptr")
def sys_newselect(k: Kernel, t: Task, n: int, rp: int, wp: int, ep: int, tv: int) -> int:
    return do_select(k, t, n, rp, wp, ep, _tv_deadline(k, t, tv))


def _pselect(
    k: Kernel, t: Task, n: int, rp: int, wp: int, ep: int, ts: int, sig: int, time64: bool
) -> int:
    deadline = read_timeout(k, t, ts, time64, relative=True) if ts else None
    if sig:
        mask, size = k.uspace.read_struct(struct.Struct("<II"), sig)
        if mask:
            temporary_mask(k, t, mask, size)
    try:
        return do_select(k, t, n, rp, wp, ep, deadline)
    except SyscallError:
        restore_mask(t)
        raise


@syscall("pselect6", "int", "ptr", "ptr", "ptr", "timespec", "ptr")
def sys_pselect6(k: Kernel, t: Task, n: int, rp: int, wp: int, ep: int, ts: int, sig: int) -> int:
    result = _pselect(k, t, n, rp, wp, ep, ts, sig, time64=False)
    restore_mask(t)
    return result


@syscall("pselect6_time64", "int", "ptr", "ptr", "ptr", "timespec64", "ptr")
def sys_pselect6_time64(
    k: Kernel, t: Task, n: int, rp: int, wp: int, ep: int, ts: int, sig: int
) -> int:
    result = _pselect(k, t, n, rp, wp, ep, ts, sig, time64=True)
    restore_mask(t)
    return result
