"""Pseudo-terminals: /dev/ptmx and the devpts file system /dev/pts.

A pseudo-terminal is a pair. Its slave side, /dev/pts/N, is a terminal
like any other (kernel/tty.py: a line discipline, job control); its master
side is the program playing the device: what the master writes is what was
"typed" (the slave's line discipline cooks it and echoes it back), and what
programs write on the slave is what the master reads.

* Opening /dev/ptmx makes a new pair and returns its master; /dev/pts/N
  appears, locked: opening it fails with EIO until the master unlocks it
  (TIOCSPTLCK 0: unlockpt). TIOCGPTN tells N (ptsname). grantpt has
  nothing to do here (musl's does nothing either).
* When every master descriptor is closed, /dev/pts/N disappears and the
  slave hangs up: its reads return 0, its writes and ioctls fail with EIO,
  its session leader gets SIGHUP (see `Tty.hangup`).
* When every slave descriptor is closed, the master reads what is left,
  then fails with EIO, and polls POLLHUP; the slave may be opened again.
* The slave's output waits in the master's queue; a full queue (65536
  bytes, Linux's tty buffer limit) makes slave writers wait, and a full
  input queue (the line discipline's 4096) makes master writers wait.
* In packet mode (TIOCPKT, for telnetd-like programs) each master read
  starts with a byte: 0 before data, or alone, what happened to the slave
  since the last read: its input or output flushed, its output stopped or
  started (POLLPRI says one is waiting).
"""

from __future__ import annotations

import stat as st
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi import termios as T
from nommu.abi.errno import Errno
from nommu.abi.flags import POLLERR, POLLHUP, POLLIN, POLLOUT, POLLPRI
from nommu.abi.signals import Signal
from nommu.abi.structs import StatInfo
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.files import Listing, OpenFile, char_device_stat, dirent
from nommu.kernel.ldisc import LineDiscipline, Wait
from nommu.kernel.statfs import StatFs, pseudo_fs
from nommu.kernel.tty import Tty, TtyChannel, job_control, open_sets_ctty, tty_ioctl

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

OUTPUT_LIMIT = 65536  # slave output the master has not read yet
PTY_MAX = 4096  # pairs at once (/proc/sys/kernel/pty/max)
PTS_MAJOR = 136  # UNIX98_PTY_SLAVE_MAJOR
DEVPTS_DEV = 0x1A  # st_dev of the files on /dev/pts
DEVPTS_SUPER_MAGIC = 0x1CD1


class Pty:
    """One pseudo-terminal pair (see the module doc)."""

    def __init__(self, k: Kernel, devpts: DevPts, index: int) -> None:
        self.k = k
        self.devpts = devpts
        self.index = index
        self.output = bytearray()  # what the slave side sent, for the master to read
        self.tty = Tty(k, f"/dev/pts/{index}", pts_rdev(index), self.transmit, self.discard)
        self.locked = True  # TIOCSPTLCK
        self.masters = 0  # open master descriptions
        self.slaves = 0  # open slave descriptions
        self.slave_closed = False  # every slave description was closed since one opened
        self.master_readable = TtyChannel(f"read from pty master {index}")
        self.master_writable = TtyChannel(f"write to pty master {index}")
        self.packet = False  # TIOCPKT
        self.pktstatus = 0  # TIOCPKT_* events the master has not read yet

    def transmit(self, data: bytes) -> None:
        """Bytes the slave side puts on the line (writes, echoes)."""
        if data:
            self.output += data
            self.k.sched.wakeup(self.master_readable)

    def discard(self) -> None:
        """^C flushed the slave's queues (ISIG): its output is dropped."""
        self.output.clear()
        self.status(F.TIOCPKT_FLUSHREAD | F.TIOCPKT_FLUSHWRITE)

    def status(self, event: int) -> None:
        """Tell a packet-mode master what happened (STOP and START undo
        each other)."""
        if self.packet:
            undone = {F.TIOCPKT_STOP: F.TIOCPKT_START, F.TIOCPKT_START: F.TIOCPKT_STOP}
            self.pktstatus = (self.pktstatus & ~undone.get(event, 0)) | event
            self.k.sched.wakeup(self.master_readable)

    def output_stopped(self, stopped: bool) -> None:
        """^S/^Q or tcflow changed whether slave output flows."""
        self.tty.ldisc.stopped = stopped
        self.status(F.TIOCPKT_STOP if stopped else F.TIOCPKT_START)
        self.k.sched.wakeup(self.tty.writable)


class DevPts:
    """The devpts file system: the pairs, by index (the lowest free one is
    taken, as Linux does)."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.ptys: dict[int, Pty] = {}

    def open_master(self, flags: int) -> PtyMaster:
        """Opening /dev/ptmx: a new pair (ENOSPC past kernel.pty.max)."""
        index = 0
        while index in self.ptys:
            index += 1
        if index >= PTY_MAX:
            raise SyscallError(Errno.ENOSPC)
        pty = self.ptys[index] = Pty(self.k, self, index)
        return PtyMaster(pty, flags)

    def lookup(self, name: str) -> Pty | None:
        """The pair /dev/pts/`name` names, while its master is open."""
        pty = self.ptys.get(int(name)) if name.isdigit() and name == str(int(name)) else None
        return pty if pty is not None and pty.masters else None

    def names(self) -> list[str]:
        return [str(i) for i, p in sorted(self.ptys.items()) if p.masters]

    def open_slave(self, t: Task, name: str, flags: int) -> PtySlave:
        pty = self.lookup(name)
        if pty is None:
            raise SyscallError(Errno.ENOENT)
        if pty.locked or pty.tty.hung_up:
            raise SyscallError(Errno.EIO)
        slave = PtySlave(pty, flags)
        if not flags & F.O_NOCTTY:
            open_sets_ctty(t, pty.tty)
        return slave

    def released(self, pty: Pty) -> None:
        """A side closed for good: the pair goes once both have."""
        if not pty.masters and not pty.slaves:
            self.ptys.pop(pty.index, None)

    def stat(self, name: str) -> StatInfo:
        if name == "":
            return StatInfo(DEVPTS_DEV, 1, st.S_IFDIR | 0o755, 2, 0, 0, 0, 0, 4096, 0, 0, 0, 0)
        pty = self.lookup(name)
        if pty is None:
            raise SyscallError(Errno.ENOENT)
        return pts_stat(pty.index)


def pts_rdev(index: int) -> int:
    """The device number of /dev/pts/N: 136:N (in the kernel's encoding)."""
    return (index & 0xFF) | (PTS_MAJOR << 8) | ((index & ~0xFF) << 12)


def pts_stat(index: int) -> StatInfo:
    """/dev/pts/N: character device 136:N, inode N + 3 (as devpts numbers them)."""
    rdev = pts_rdev(index)
    return StatInfo(DEVPTS_DEV, index + 3, st.S_IFCHR | 0o620, 1, 0, 0, rdev, 0, 1024, 0, 0, 0, 0)


class PtsDirectory(Listing):
    """/dev/pts opened as a directory: one entry per pair."""

    def __init__(self, devpts: DevPts, flags: int) -> None:
        super().__init__(flags, "/dev/pts")
        self.devpts = devpts

    def records(self) -> list[bytes]:
        out = [dirent(1, 1, F.DT_DIR, b"."), dirent(1, 2, F.DT_DIR, b"..")]
        for name in self.devpts.names():
            out.append(dirent(int(name) + 3, len(out) + 1, F.DT_CHR, name.encode()))
        return out

    def stat(self) -> StatInfo:
        return self.devpts.stat("")

    def statfs(self) -> StatFs:
        return pseudo_fs(DEVPTS_SUPER_MAGIC)


class PtyMaster(OpenFile):
    """The master side, as an open file (/dev/ptmx)."""

    def __init__(self, pty: Pty, flags: int) -> None:
        super().__init__(flags, "/dev/ptmx")
        self.pty = pty
        pty.masters += 1

    def is_tty(self) -> bool:
        return True

    def read(self, count: int) -> bytes:
        p = self.pty
        if p.packet and p.pktstatus:
            status, p.pktstatus = p.pktstatus, 0
            return bytes([status])
        if not p.output:
            if p.slave_closed:
                raise SyscallError(Errno.EIO)
            if self.flags & F.O_NONBLOCK:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(p.master_readable)
        count -= p.packet  # (packet mode: a 0 byte comes first)
        data = bytes(p.output[:count])
        del p.output[:count]
        p.k.sched.wakeup(p.tty.writable)
        return b"\0" + data if p.packet else data

    def write(self, data: bytes) -> int:
        """Typing: the slave's line discipline takes what fits in its queue
        (in canonical mode with no line finished, always at least up to the
        next line end: past a full line it drops all but the line's end, so
        a writer never waits for a reader that waits for a newline)."""
        p, ld = self.pty, self.pty.tty.ldisc
        room = min(max(ld.room(), _canon_least(ld, data)), len(data))
        if room <= 0 and data:
            if self.flags & F.O_NONBLOCK:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(p.master_writable)
        stopped = ld.stopped
        ld.receive(data[:room], p.k.sched.clock())
        if ld.stopped != stopped:
            p.output_stopped(ld.stopped)
        p.k.sched.wakeup(p.tty.readable)
        return room

    def poll(self) -> int:
        p = self.pty
        ready = (POLLIN if p.output else 0) | (POLLOUT if p.tty.ldisc.room() > 0 else 0)
        if p.packet and p.pktstatus:
            ready |= POLLIN | POLLPRI
        return ready | (POLLHUP if p.slave_closed else 0)

    def poll_channels(self) -> tuple[object, ...]:
        return (self.pty.master_readable, self.pty.master_writable)

    def stat(self) -> StatInfo:
        return char_device_stat(5, 2)

    def ioctl(self, k: Kernel, t: Task, req: int, arg: int) -> int:
        p = self.pty
        if req == F.TIOCGPTN:
            k.uspace.write_u32(arg, p.index)
        elif req == F.TIOCSPTLCK:
            p.locked = k.uspace.read_u32(arg) != 0
        elif req == F.TIOCGPTLCK:
            k.uspace.write_u32(arg, int(p.locked))
        elif req == F.TIOCPKT:
            p.packet, p.pktstatus = k.uspace.read_u32(arg) != 0, 0
        elif req == F.TIOCGPKT:
            k.uspace.write_u32(arg, int(p.packet))
        elif req == F.TIOCGPTPEER:
            slave = p.devpts.open_slave(t, str(p.index), arg | F.O_NOCTTY)
            return t.files.install(slave, cloexec=bool(arg & F.O_CLOEXEC))
        elif req in (F.FIONREAD, F.TCFLSH, F.TIOCOUTQ, F.TCXONC):
            return queue_ioctl(k, p, True, req, arg)
        else:
            return tty_ioctl(k, t, self, p.tty, True, req, arg)
        return 0

    def release(self) -> None:
        p = self.pty
        p.masters -= 1
        if not p.masters:
            p.tty.hangup()
            p.k.sched.wakeup(p.master_writable)
            p.devpts.released(p)


class PtySlave(OpenFile):
    """The slave side, /dev/pts/N, as an open file: the terminal itself."""

    def __init__(self, pty: Pty, flags: int) -> None:
        super().__init__(flags, pty.tty.name)
        self.pty = pty
        pty.slaves += 1
        pty.slave_closed = False

    def is_tty(self) -> bool:
        return True

    def read(self, count: int) -> bytes:
        p, tty, k = self.pty, self.pty.tty, self.pty.k
        t = k.current  # (the task making the read: Linux's `current`)
        assert t is not None
        if tty.hung_up:
            if t.blocked is not None and t.blocked.result is not None:
                raise SyscallError(Errno.EIO)  # (it was waiting when the line hung up)
            return b""
        job_control(k, t, tty, Signal.SIGTTIN)
        last = t.deadline if t.blocked is not None else None
        got = tty.ldisc.read(count, k.sched.clock(), last)
        if isinstance(got, Wait):
            if self.flags & F.O_NONBLOCK:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(tty.readable, got.deadline)
        k.sched.wakeup(p.master_writable)
        return got

    def write(self, data: bytes) -> int:
        p, tty, k = self.pty, self.pty.tty, self.pty.k
        if tty.hung_up:
            raise SyscallError(Errno.EIO)
        if tty.ldisc.lflag(T.TOSTOP) and k.current is not None:
            job_control(k, k.current, tty, Signal.SIGTTOU)
        room = OUTPUT_LIMIT - len(p.output)
        if (room <= 0 or tty.ldisc.stopped) and data:
            if self.flags & F.O_NONBLOCK:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(tty.writable)
        chunk = data[:room]
        p.transmit(tty.ldisc.output(chunk))
        return len(chunk)

    def poll(self) -> int:
        p, tty = self.pty, self.pty.tty
        if tty.hung_up:
            return POLLIN | POLLOUT | POLLERR | POLLHUP
        room = len(p.output) < OUTPUT_LIMIT and not tty.ldisc.stopped
        return (POLLIN if tty.ldisc.readable() else 0) | (POLLOUT if room else 0)

    def poll_channels(self) -> tuple[object, ...]:
        return (self.pty.tty.readable, self.pty.tty.writable)

    def stat(self) -> StatInfo:
        return pts_stat(self.pty.index)

    def statfs(self) -> StatFs:
        return pseudo_fs(DEVPTS_SUPER_MAGIC)

    def ioctl(self, k: Kernel, t: Task, req: int, arg: int) -> int:
        if req in (F.FIONREAD, F.TCFLSH, F.TIOCOUTQ, F.TCXONC) and not self.pty.tty.hung_up:
            return queue_ioctl(k, self.pty, False, req, arg)
        return tty_ioctl(k, t, self, self.pty.tty, False, req, arg)

    def release(self) -> None:
        p = self.pty
        p.slaves -= 1
        if not p.slaves:
            p.slave_closed = True
            p.k.sched.wakeup(p.master_readable)  # master readers now get EIO
            p.devpts.released(p)


def _canon_least(ld: LineDiscipline, data: bytes) -> int:
    """What a canonical line discipline with no finished line must take of
    `data` whatever its room: up to the first CR or NL (all if none)."""
    if not ld.lflag(T.ICANON) or ld.lines:
        return 0
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    return min(ends) + 1 if ends else len(data)


def queue_ioctl(k: Kernel, p: Pty, master: bool, req: int, arg: int) -> int:
    """The queue requests, each side seeing its own input and output: the
    master's input is the slave's output, and the master's output is the
    slave's input (still in its line discipline)."""
    ld = p.tty.ldisc
    if req == F.FIONREAD:
        k.uspace.write_u32(arg, len(p.output) if master else ld.available())
    elif req == F.TIOCOUTQ:
        k.uspace.write_u32(arg, 0 if master else len(p.output))
    elif req == F.TCFLSH:
        if arg not in (F.TCIFLUSH, F.TCOFLUSH, F.TCIOFLUSH):
            raise SyscallError(Errno.EINVAL)
        slave_input = arg == F.TCIOFLUSH or (arg == F.TCOFLUSH) == master
        if slave_input:
            ld.flush_input()
            k.sched.wakeup(p.master_writable)
            if not master:
                p.status(F.TIOCPKT_FLUSHREAD)
        if arg == F.TCIOFLUSH or not slave_input:
            del p.output[:]
            k.sched.wakeup(p.tty.writable)
            if not master:
                p.status(F.TIOCPKT_FLUSHWRITE)
    elif req == F.TCXONC and arg in (F.TCOOFF, F.TCOON) and not master:
        p.output_stopped(arg == F.TCOOFF)  # (the master's own output is never held)
    return 0
