"""`--strace`: one line per syscall, like strace -f, plus the no-MMU events.

    [pid 1] openat(AT_FDCWD, "/etc/motd", O_RDONLY|O_LARGEFILE) = -1 ENOENT (No such file...)
    [pid 1] vfork() = 2
    [pid 1] --- suspended: vfork child 2 is running in this process's memory ---
    [pid 2] execve("/bin/true", ["true"], 0x4001ffd8 /* 3 vars */) = 0
    [pid 1] --- resumed: child 2 called execve ---

Arguments are decoded by the kinds in the syscall table row, so the trace
and the dispatcher agree on every syscall. Strings and buffers that the
call fills are read after it returns.
"""

from __future__ import annotations

import errno as host_errno
import os
import struct
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi import structs as S
from nommu.abi import termios as T
from nommu.abi.errno import Errno
from nommu.abi.signals import signal_name
from nommu.kernel.errors import SyscallError
from nommu.kernel.events import EventSink, SyscallRow
from nommu.syscalls.locks import FLOCK32, FLOCK32_CMDS, LOCK_CMDS
from nommu.trace import strace_net

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

STRSIZE = 48


def errno_text(err: int) -> str:
    try:
        name = Errno(err).name
    except ValueError:
        return f"errno {err}"
    host = getattr(host_errno, name, None)
    return f"{name} ({os.strerror(host)})" if host is not None else name


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _flags(value: int, names: dict[int, str], zero: str = "0") -> str:
    parts = [name for bit, name in names.items() if bit and value & bit == bit]
    rest = value
    for bit in names:
        if bit and value & bit == bit:
            rest &= ~bit
    if rest:
        parts.append(hex(rest))
    return "|".join(parts) or zero


_ACC = {F.O_RDONLY: "O_RDONLY", F.O_WRONLY: "O_WRONLY", F.O_RDWR: "O_RDWR"}
_CLONE = {int(f): f.name or "" for f in F.CloneFlags}
_MAP = {int(f): f.name or "" for f in F.MapFlags if f not in (F.MapFlags.MAP_SHARED_VALIDATE,)}
_PROT = {int(f): f.name or "" for f in F.Prot if f}
_AT = {
    F.AT_SYMLINK_NOFOLLOW: "AT_SYMLINK_NOFOLLOW",
    F.AT_REMOVEDIR: "AT_REMOVEDIR",
    F.AT_SYMLINK_FOLLOW: "AT_SYMLINK_FOLLOW",
    F.AT_NO_AUTOMOUNT: "AT_NO_AUTOMOUNT",
    F.AT_EMPTY_PATH: "AT_EMPTY_PATH",
}
_WAIT = {
    F.WNOHANG: "WNOHANG",
    F.WUNTRACED: "WUNTRACED",
    F.WCONTINUED: "WCONTINUED",
    F.__WNOTHREAD: "__WNOTHREAD",
    F.__WALL: "__WALL",
    F.__WCLONE: "__WCLONE",
}
_FUTEX = {
    F.FUTEX_WAIT: "FUTEX_WAIT",
    F.FUTEX_WAKE: "FUTEX_WAKE",
    F.FUTEX_REQUEUE: "FUTEX_REQUEUE",
    F.FUTEX_CMP_REQUEUE: "FUTEX_CMP_REQUEUE",
    F.FUTEX_WAKE_OP: "FUTEX_WAKE_OP",
    F.FUTEX_WAIT_BITSET: "FUTEX_WAIT_BITSET",
    F.FUTEX_WAKE_BITSET: "FUTEX_WAKE_BITSET",
}
_CLOCKS = [
    "CLOCK_REALTIME",
    "CLOCK_MONOTONIC",
    "CLOCK_PROCESS_CPUTIME_ID",
    "CLOCK_THREAD_CPUTIME_ID",
    "CLOCK_MONOTONIC_RAW",
    "CLOCK_REALTIME_COARSE",
    "CLOCK_MONOTONIC_COARSE",
    "CLOCK_BOOTTIME",
]
_IOCTL = {
    F.TCGETS: "TCGETS",
    F.TCSETS: "TCSETS",
    F.TCSETSW: "TCSETSW",
    F.TCSETSF: "TCSETSF",
    F.TCSBRK: "TCSBRK",
    F.TCXONC: "TCXONC",
    F.TCFLSH: "TCFLSH",
    F.TIOCSCTTY: "TIOCSCTTY",
    F.TIOCGPGRP: "TIOCGPGRP",
    F.TIOCSPGRP: "TIOCSPGRP",
    F.TIOCOUTQ: "TIOCOUTQ",
    F.TIOCGWINSZ: "TIOCGWINSZ",
    F.TIOCSWINSZ: "TIOCSWINSZ",
    F.FIONREAD: "FIONREAD",
    F.TIOCNOTTY: "TIOCNOTTY",
    F.TCSBRKP: "TCSBRKP",
    F.TIOCGSID: "TIOCGSID",
    F.TIOCGPTN: "TIOCGPTN",
    F.TIOCSPTLCK: "TIOCSPTLCK",
    F.TIOCGPTLCK: "TIOCGPTLCK",
    F.TIOCGPTPEER: "TIOCGPTPEER",
    F.TIOCPKT: "TIOCPKT",
    F.TIOCGPKT: "TIOCGPKT",
    F.FIONBIO: "FIONBIO",
    F.FIOCLEX: "FIOCLEX",
    F.FIONCLEX: "FIONCLEX",
}
_FCNTL = {
    F.F_DUPFD: "F_DUPFD",
    F.F_GETFD: "F_GETFD",
    F.F_SETFD: "F_SETFD",
    F.F_GETFL: "F_GETFL",
    F.F_SETFL: "F_SETFL",
    F.F_GETLK: "F_GETLK",
    F.F_SETLK: "F_SETLK",
    F.F_SETLKW: "F_SETLKW",
    F.F_GETLK64: "F_GETLK64",
    F.F_SETLK64: "F_SETLK64",
    F.F_SETLKW64: "F_SETLKW64",
    F.F_OFD_GETLK: "F_OFD_GETLK",
    F.F_OFD_SETLK: "F_OFD_SETLK",
    F.F_OFD_SETLKW: "F_OFD_SETLKW",
    F.F_DUPFD_CLOEXEC: "F_DUPFD_CLOEXEC",
    F.F_ADD_SEALS: "F_ADD_SEALS",
    F.F_GET_SEALS: "F_GET_SEALS",
}
_LOCK_TYPES = ["F_RDLCK", "F_WRLCK", "F_UNLCK"]
_FLOCK = {F.LOCK_SH: "LOCK_SH", F.LOCK_EX: "LOCK_EX", F.LOCK_NB: "LOCK_NB", F.LOCK_UN: "LOCK_UN"}
_HOW = ["SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK"]
_WHENCE = ["SEEK_SET", "SEEK_CUR", "SEEK_END"]
_ACCESS = {F.R_OK: "R_OK", F.W_OK: "W_OK", F.X_OK: "X_OK"}


class Strace(EventSink):
    """Writes a trace line per syscall and per process event to `out`, and
    passes every event on to `sink` (the one it replaces as `k.events`)."""

    def __init__(self, out: IO[str], sink: EventSink | None = None) -> None:
        self.out = out
        self.sink = sink or EventSink()
        self._unfinished: set[int] = set()
        self._in_syscall = False
        self._events: list[str] = []  # event lines held until the syscall's own line
        self._before: list[str] = []  # the current call's arguments, decoded at its entry

    def line(self, t: Task, text: str) -> None:
        self.out.write(f"[pid {t.tid}] {text}\n")
        self.out.flush()

    def event(self, t: Task, text: str) -> None:
        """An event line: after the current syscall's line, or now between syscalls."""
        if self._in_syscall:
            self._events.append(f"[pid {t.tid}] {text}\n")
        else:
            self.line(t, text)

    def _flush_events(self) -> None:
        self._in_syscall = False
        if self._events:
            self.out.write("".join(self._events))
            self._events.clear()
            self.out.flush()

    # -- syscalls ------------------------------------------------------------

    def syscall_entry(self, k: Kernel, t: Task, row: SyscallRow, args: tuple[int, ...]) -> None:
        """Decode the arguments now (what the call fills is read after it);
        a call that never returns (exit, exit_group) gets its line now."""
        self._before = [self.fmt_in(k, kind, args, i) for i, kind in enumerate(row.args)]
        if row.ret == "none" and row.name != "execve":
            self.line(t, f"{row.name}({', '.join(self._before)}) = ?")
        self._in_syscall = True

    def syscall_exit(
        self,
        k: Kernel,
        t: Task,
        row: SyscallRow,
        args: tuple[int, ...],
        result: int | None,
        blocked: bool,
    ) -> None:
        """The call's line (or `<unfinished ...>`), then the events it caused."""
        before = self._before
        if blocked:
            if t.tid not in self._unfinished:
                self._unfinished.add(t.tid)
                self.line(t, f"{row.name}({', '.join(before)}) <unfinished ...>")
        else:
            resumed = t.tid in self._unfinished
            self._unfinished.discard(t.tid)
            if row.ret != "none" or row.name == "execve":
                text = self._finish(k, row, args, before, result)
                self.line(t, f"<... {row.name} resumed> {text}" if resumed else f"{row.name}{text}")
        self._flush_events()

    def _finish(
        self,
        k: Kernel,
        row: SyscallRow,
        args: tuple[int, ...],
        before: list[str],
        result: int | None,
    ) -> str:
        ok = result is not None and result >= 0
        shown = [
            self.fmt_out(k, kind, args, i, result) if ok and kind in _OUT else before[i]
            for i, kind in enumerate(row.args)
        ]
        return f"({', '.join(shown)}) = {self.fmt_result(row, result)}"

    def fmt_result(self, row: SyscallRow, result: int | None) -> str:
        if result is None:
            return "0" if row.name == "execve" else "?"
        if result < 0:
            return f"-1 {errno_text(-result)}"
        return hex(result) if row.ret == "hex" else str(result)

    def fmt_in(self, k: Kernel, kind: str, args: tuple[int, ...], i: int) -> str:
        v = args[i]
        fmt = _IN.get(kind)
        if fmt is not None:
            try:
                return fmt(k, v, args, i)
            except SyscallError:
                return hex(v)
        return str(v)

    def fmt_out(
        self, k: Kernel, kind: str, args: tuple[int, ...], i: int, result: int | None
    ) -> str:
        v = args[i]
        try:
            if kind == "buf_out":
                n = result if result is not None else 0
                return _quote(k.uspace.read(v, min(n, STRSIZE)), n > STRSIZE)
            if kind == "ioctl_arg":
                return _IOCTL_OUT(k, v, args, i)
            if kind == "wstatus" and v and result:
                return f"[{{{describe_wait_status(k.uspace.read_u32(v))}}}]"
            if kind == "epoll_events_out":
                return _epoll_events(k, v, result or 0)
            if kind in strace_net.OUT:
                return strace_net.OUT[kind](k, v, args, i, result or 0)
        except SyscallError:
            pass
        return hex(v)

    # -- process events ------------------------------------------------------

    def task_created(self, parent: Task, child: Task, flags: int) -> None:
        self.sink.task_created(parent, child, flags)
        if flags & F.CloneFlags.CLONE_VFORK:
            where = "on its own stack" if child.own_stack else "on this process's stack"
            self.event(
                parent,
                f"--- suspended: vfork child {child.tid} runs in this process's "
                f"memory {where} until it calls execve or _exit ---",
            )

    def task_exec(self, t: Task, path: str, argv: list[bytes]) -> None:
        self.sink.task_exec(t, path, argv)

    def task_exit(self, t: Task, status: int) -> None:
        self.sink.task_exit(t, status)
        if status & 0x7F:
            self.event(t, f"+++ killed by {signal_name(status & 0x7F)} +++")
        else:
            self.event(t, f"+++ exited with {(status >> 8) & 0xFF} +++")

    def vfork_released(self, parent: Task, child: Task, why: str) -> None:
        self.sink.vfork_released(parent, child, why)
        self.event(parent, f"--- resumed: vfork child {child.tid} {why} ---")

    def signal_delivered(self, t: Task, sig: int, handler: int) -> None:
        self.sink.signal_delivered(t, sig, handler)
        self.event(t, f"--- {signal_name(sig)}: handler at {handler:#x} ---")

    def killed(self, t: Task, sig: int) -> None:
        self.sink.killed(t, sig)
        self.event(t, f"--- {signal_name(sig)}: default action ends process {t.pid} ---")

    def unimplemented(self, t: Task, call: str) -> None:
        self.sink.unimplemented(t, call)

    def fatal_fault(self, t: Task, sig: int) -> None:
        self.sink.fatal_fault(t, sig)


def _quote(data: bytes, more: bool = False) -> str:
    out = []
    for b in data:
        c = chr(b)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\x{b:02x}")
    return '"' + "".join(out) + '"' + ("..." if more else "")


def _str(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    if v == 0:
        return "NULL"
    raw = k.uspace.read_cstr(v, 4096)
    return _quote(raw[:STRSIZE], len(raw) > STRSIZE)


def _buf_in(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    n = args[i + 1]
    return _quote(k.uspace.read(v, min(n, STRSIZE)), n > STRSIZE)


def _iov_in(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    count = min(args[i + 1], 8)
    parts = []
    for j in range(count):
        base, n = k.uspace.read_struct(S.IOVEC, v + 8 * j)
        parts.append(f"{{{_quote(k.uspace.read(base, min(n, STRSIZE)), n > STRSIZE)}, {n}}}")
    return "[" + ", ".join(parts) + "]"


def _argv(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    if v == 0:
        return "NULL"
    ptrs = k.uspace.read_ptr_array(v, 4096)
    shown = [_str(k, p, args, i) for p in ptrs[:16]]
    return "[" + ", ".join(shown) + (", ..." if len(ptrs) > 16 else "") + "]"


def _envp(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    if v == 0:
        return "NULL"
    return f"{v:#x} /* {len(k.uspace.read_ptr_array(v, 4096))} vars */"


def _oflags(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    acc = _ACC.get(v & F.O_ACCMODE, hex(v & F.O_ACCMODE))
    rest = _flags(v & ~F.O_ACCMODE, F.OPEN_FLAG_NAMES, "")
    return acc + ("|" + rest if rest else "")


def _dirfd(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    return "AT_FDCWD" if _s32(v) == F.AT_FDCWD else str(_s32(v))


def _clone(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    sig = v & F.CSIGNAL
    text = _flags(v & ~F.CSIGNAL, _CLONE, "")
    return "|".join(p for p in (text, signal_name(sig) if sig else "") if p) or "0"


_IPC_CALLS = {  # the ipc(2) multiplexer's calls (version in the high half)
    getattr(F, name): name
    for name in ("SEMOP", "SEMGET", "SEMCTL", "SEMTIMEDOP", "MSGSND", "MSGRCV", "MSGGET",
                 "MSGCTL", "SHMAT", "SHMDT", "SHMGET", "SHMCTL")
}  # fmt: skip


def _futex(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    name = _FUTEX.get(v & F.FUTEX_CMD_MASK, str(v & F.FUTEX_CMD_MASK))
    if v & F.FUTEX_PRIVATE_FLAG:
        name += "_PRIVATE"
    return name + ("|FUTEX_CLOCK_REALTIME" if v & F.FUTEX_CLOCK_REALTIME else "")


def _timespec(time64: bool) -> Callable[[Kernel, int, tuple[int, ...], int], str]:
    def fmt(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
        if v == 0:
            return "NULL"
        sec, nsec = k.uspace.read_struct(S.TIMESPEC64 if time64 else S.TIMESPEC32, v)
        return f"{{tv_sec={sec}, tv_nsec={nsec}}}"

    return fmt


def _utimens(fmt: struct.Struct) -> Callable[[Kernel, int, tuple[int, ...], int], str]:
    """utimensat's times[2]: each a timespec, UTIME_NOW or UTIME_OMIT."""

    def one(sec: int, nsec: int) -> str:
        nsec = nsec & 0xFFFFFFFF if fmt.size == 16 else nsec  # time64: the upper half is padding
        special = {F.UTIME_NOW: "UTIME_NOW", F.UTIME_OMIT: "UTIME_OMIT"}
        return special.get(nsec) or f"{{tv_sec={sec}, tv_nsec={nsec}}}"

    def fmt_times(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
        if v == 0:
            return "NULL"
        pairs = fmt.iter_unpack(k.uspace.read(v, 2 * fmt.size))
        return "[" + ", ".join(one(*p) for p in pairs) + "]"

    return fmt_times


def _timevals(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    if v == 0:
        return "NULL"
    pairs = S.TIMEVAL32.iter_unpack(k.uspace.read(v, 2 * S.TIMEVAL32.size))
    return "[" + ", ".join(f"{{tv_sec={s}, tv_usec={u}}}" for s, u in pairs) + "]"


def _utimbuf(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    if v == 0:
        return "NULL"
    actime, modtime = k.uspace.read_struct(S.TIMEVAL32, v)
    return f"{{actime={actime}, modtime={modtime}}}"


def _fcntl_arg(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    """fcntl's third argument: a struct flock for the lock commands, else a number."""
    cmd = args[1]
    if cmd not in LOCK_CMDS:
        return hex(v)
    fmt = FLOCK32 if cmd in FLOCK32_CMDS else k.arch.FLOCK64
    ltype, whence, start, length, pid = k.uspace.read_struct(fmt, v)
    kind = _LOCK_TYPES[ltype] if 0 <= ltype < 3 else str(ltype)
    where = _WHENCE[whence] if 0 <= whence < 3 else str(whence)
    return f"{{l_type={kind}, l_whence={where}, l_start={start}, l_len={length}, l_pid={pid}}}"


# ioctl arguments: an int in memory ("[0]"), a struct, or a plain number.
_IOCTL_INT_IN = {F.TIOCSPTLCK, F.TIOCSPGRP, F.FIONBIO, F.TIOCPKT}
_IOCTL_INT_OUT = {
    F.TIOCGPTN, F.TIOCGPTLCK, F.TIOCGPGRP, F.TIOCGSID, F.FIONREAD, F.TIOCOUTQ, F.TIOCGPKT,
}  # fmt: skip
_TERMIOS_IN = {F.TCSETS, F.TCSETSW, F.TCSETSF}
_FLUSH = {F.TCIFLUSH: "TCIFLUSH", F.TCOFLUSH: "TCOFLUSH", F.TCIOFLUSH: "TCIOFLUSH"}
_FLOW = {F.TCOOFF: "TCOOFF", F.TCOON: "TCOON", 2: "TCIOFF", 3: "TCION"}
_IFLAG = {T.IGNBRK: "IGNBRK", T.BRKINT: "BRKINT", T.IGNPAR: "IGNPAR", T.PARMRK: "PARMRK",
          T.INPCK: "INPCK", T.ISTRIP: "ISTRIP", T.INLCR: "INLCR", T.IGNCR: "IGNCR",
          T.ICRNL: "ICRNL", T.IUCLC: "IUCLC", T.IXON: "IXON", T.IXANY: "IXANY",
          T.IXOFF: "IXOFF", T.IMAXBEL: "IMAXBEL", T.IUTF8: "IUTF8"}  # fmt: skip
_OFLAG = {T.OPOST: "OPOST", T.OLCUC: "OLCUC", T.ONLCR: "ONLCR", T.OCRNL: "OCRNL",
          T.ONOCR: "ONOCR", T.ONLRET: "ONLRET"}  # fmt: skip
_LFLAG = {T.ISIG: "ISIG", T.ICANON: "ICANON", T.ECHO: "ECHO", T.ECHOE: "ECHOE",
          T.ECHOK: "ECHOK", T.ECHONL: "ECHONL", T.NOFLSH: "NOFLSH", T.TOSTOP: "TOSTOP",
          T.ECHOCTL: "ECHOCTL", T.ECHOPRT: "ECHOPRT", T.ECHOKE: "ECHOKE",
          T.IEXTEN: "IEXTEN"}  # fmt: skip


def _termios(k: Kernel, v: int) -> str:
    t = T.Termios.unpack(k.uspace.read(v, T.TERMIOS.size))
    return (
        f"{{c_iflag={_flags(t.iflag, _IFLAG)}, c_oflag={_flags(t.oflag, _OFLAG)}, "
        f"c_cflag={t.cflag:#x}, c_lflag={_flags(t.lflag, _LFLAG)}, "
        f"VMIN={t.cc[T.VMIN]}, VTIME={t.cc[T.VTIME]}}}"
    )


def _ioctl_arg(out: bool) -> Callable[[Kernel, int, tuple[int, ...], int], str]:
    """ioctl's third argument for request args[1]: what it points to, read
    before the call for what the guest passes in and after it (`out`) for
    what the kernel fills in."""

    def fmt(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
        req = args[1]
        if req in _IOCTL_INT_IN or (out and req in _IOCTL_INT_OUT):
            return f"[{_s32(k.uspace.read_u32(v))}]"
        if req == F.TIOCSWINSZ or (out and req == F.TIOCGWINSZ):
            row, col, xpixel, ypixel = k.uspace.read_struct(S.WINSIZE, v)
            return f"{{ws_row={row}, ws_col={col}, ws_xpixel={xpixel}, ws_ypixel={ypixel}}}"
        if req in _TERMIOS_IN or (out and req == F.TCGETS):
            return _termios(k, v)
        if req == F.TCFLSH:
            return _FLUSH.get(v, str(v))
        if req == F.TCXONC:
            return _FLOW.get(v, str(v))
        if req == F.TIOCGPTPEER:
            return _oflags(k, v, args, i)
        if req in (F.TIOCSCTTY, F.TCSBRK, F.TCSBRKP):
            return str(_s32(v))
        return hex(v)

    return fmt


def _sigset(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    if v == 0:
        return "NULL"
    mask = int.from_bytes(k.uspace.read(v, 8), "little")
    names = [signal_name(s)[3:] for s in range(1, 65) if mask & (1 << (s - 1))]
    return "[" + " ".join(names) + "]"


def _user_desc(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    entry, base, limit, _ = k.uspace.read_struct(S.IOVEC.__class__("<IIII"), v)
    return f"{{entry_number={_s32(entry)}, base_addr={base:#x}, limit={limit:#x}}}"


def _table(names: dict[int, str] | list[str]) -> Callable[[Kernel, int, tuple[int, ...], int], str]:
    def fmt(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
        if isinstance(names, list):
            return names[v] if v < len(names) else str(v)
        return names.get(v, hex(v))

    return fmt


def _bits(
    names: dict[int, str], zero: str = "0"
) -> Callable[[Kernel, int, tuple[int, ...], int], str]:
    return lambda k, v, args, i: _flags(v, names, zero)


# -- the event-loop calls (issue 16) ----------------------------------------------

_EPOLL_OPS = {F.EPOLL_CTL_ADD: "EPOLL_CTL_ADD", F.EPOLL_CTL_DEL: "EPOLL_CTL_DEL",
              F.EPOLL_CTL_MOD: "EPOLL_CTL_MOD"}  # fmt: skip
_CLOEXEC_NONBLOCK = {F.O_CLOEXEC: "O_CLOEXEC", F.O_NONBLOCK: "O_NONBLOCK"}
_EFD = {F.EFD_SEMAPHORE: "EFD_SEMAPHORE", F.EFD_CLOEXEC: "EFD_CLOEXEC",
        F.EFD_NONBLOCK: "EFD_NONBLOCK"}  # fmt: skip
_TFD_SET = {F.TFD_TIMER_ABSTIME: "TFD_TIMER_ABSTIME",
            F.TFD_TIMER_CANCEL_ON_SET: "TFD_TIMER_CANCEL_ON_SET"}  # fmt: skip
_MFD = {F.MFD_CLOEXEC: "MFD_CLOEXEC", F.MFD_ALLOW_SEALING: "MFD_ALLOW_SEALING",
        F.MFD_HUGETLB: "MFD_HUGETLB", F.MFD_NOEXEC_SEAL: "MFD_NOEXEC_SEAL",
        F.MFD_EXEC: "MFD_EXEC"}  # fmt: skip
_FALLOC = {F.FALLOC_FL_KEEP_SIZE: "FALLOC_FL_KEEP_SIZE",
           F.FALLOC_FL_PUNCH_HOLE: "FALLOC_FL_PUNCH_HOLE"}  # fmt: skip
_RUSAGE = {F.RUSAGE_SELF: "RUSAGE_SELF", F.RUSAGE_CHILDREN: "RUSAGE_CHILDREN",
           F.RUSAGE_THREAD: "RUSAGE_THREAD"}  # fmt: skip
_ITIMERSPEC32 = struct.Struct("<iiii")
_ITIMERSPEC64 = struct.Struct("<qqqq")


def _epoll_event(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    """epoll_ctl's struct epoll_event (none for EPOLL_CTL_DEL)."""
    if v == 0 or args[1] == F.EPOLL_CTL_DEL:
        return "NULL" if v == 0 else hex(v)
    events, data = k.uspace.read_struct(k.arch.EPOLL_EVENT, v)
    return f"{{events={_flags(events, F.EPOLL_EVENT_NAMES)}, data={data:#x}}}"


def _epoll_events(k: Kernel, v: int, n: int) -> str:
    """epoll_wait's filled array: the `n` events it returned."""
    layout = k.arch.EPOLL_EVENT
    raw = k.uspace.read(v, layout.size * min(n, 8))
    shown = [
        f"{{events={_flags(e, F.EPOLL_EVENT_NAMES)}, data={d:#x}}}"
        for e, d in layout.iter_unpack(raw)
    ]
    return "[" + ", ".join(shown) + (", ..." if n > 8 else "") + "]"


def _itimerspec(time64: bool) -> Callable[[Kernel, int, tuple[int, ...], int], str]:
    def fmt(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
        if v == 0:
            return "NULL"
        isec, insec, vsec, vnsec = k.uspace.read_struct(
            _ITIMERSPEC64 if time64 else _ITIMERSPEC32, v
        )
        return (
            f"{{it_interval={{tv_sec={isec}, tv_nsec={insec}}}, "
            f"it_value={{tv_sec={vsec}, tv_nsec={vnsec}}}}}"
        )

    return fmt


def _sigevent(k: Kernel, v: int, args: tuple[int, ...], i: int) -> str:
    if v == 0:
        return "NULL"
    value, signo, notify, tid = k.uspace.read_struct(struct.Struct("<iiii"), v)
    how = F.SIGEV_NAMES.get(notify, str(notify))
    text = f"{{sigev_value={{sival_int={value}}}, sigev_signo={signal_name(signo) if signo else 0}"
    text += f", sigev_notify={how}"
    return text + (f", sigev_notify_thread_id={tid}}}" if notify == F.SIGEV_THREAD_ID else "}")


_IN: dict[str, Callable[[Kernel, int, tuple[int, ...], int], str]] = {
    "int": lambda k, v, a, i: str(_s32(v)),
    "pid_t": lambda k, v, a, i: str(_s32(v)),
    "fd": lambda k, v, a, i: str(_s32(v)),
    "hex": lambda k, v, a, i: hex(v),
    "ptr": lambda k, v, a, i: hex(v) if v else "NULL",
    "struct_out": lambda k, v, a, i: hex(v) if v else "NULL",
    "buf_out": lambda k, v, a, i: hex(v),
    "wstatus": lambda k, v, a, i: hex(v) if v else "NULL",
    "iov_out": lambda k, v, a, i: hex(v),
    "mode": lambda k, v, a, i: f"0{v:o}",
    "path": _str,
    "str": _str,
    "buf_in": _buf_in,
    "iov_in": _iov_in,
    "argv": _argv,
    "envp": _envp,
    "oflags": _oflags,
    "dirfd": _dirfd,
    "clone_flags": _clone,
    "futex_op": _futex,
    "timespec": _timespec(False),
    "timespec64": _timespec(True),
    "utimens": _utimens(S.TIMESPEC32),
    "utimens64": _utimens(S.TIMESPEC64),
    "timevals": _timevals,
    "utimbuf": _utimbuf,
    "fcntl_arg": _fcntl_arg,
    "flock_op": _bits(_FLOCK),
    "sigset": _sigset,
    "user_desc": _user_desc,
    "signal": lambda k, v, a, i: signal_name(v) if v else "0",
    "atflags": _bits(_AT),
    "map_flags": _bits(_MAP),
    "prot": _bits(_PROT, "PROT_NONE"),
    "wait_options": _bits(_WAIT),
    "access_mode": _bits(_ACCESS, "F_OK"),
    "ipc_call": lambda k, v, a, i: _IPC_CALLS.get(v & 0xFFFF, str(v)),
    "clockid": _table(_CLOCKS),
    "ioctl_req": _table(_IOCTL),
    "ioctl_arg": _ioctl_arg(out=False),
    "fcntl_cmd": _table(_FCNTL),
    "sigprocmask_how": _table(_HOW),
    "whence": _table(_WHENCE),
    "rlimit_resource": _table(F.RLIMIT_NAMES),
    "epoll_flags": _bits(_CLOEXEC_NONBLOCK),
    "epoll_op": _table(_EPOLL_OPS),
    "epoll_event": _epoll_event,
    "epoll_events_out": lambda k, v, a, i: hex(v),
    "fd_flags": _bits(_CLOEXEC_NONBLOCK),
    "efd_flags": _bits(_EFD),
    "sfd_flags": _bits(_CLOEXEC_NONBLOCK),
    "tfd_settime_flags": _bits(_TFD_SET),
    "timer_flags": _bits({F.TIMER_ABSTIME: "TIMER_ABSTIME"}),
    "itimerspec": _itimerspec(False),
    "itimerspec64": _itimerspec(True),
    "sigevent": _sigevent,
    "inotify_mask": _bits(F.INOTIFY_NAMES),
    "memfd_flags": _bits(_MFD),
    "falloc_mode": _bits(_FALLOC),
    "rusage_who": lambda k, v, a, i: _RUSAGE.get(_s32(v), str(_s32(v))),
}
_IN.update(strace_net.IN)
strace_net.ALL_IN = _IN  # (socketcall's array holds arguments of every kind)
_OUT = {"buf_out", "iov_out", "wstatus", "ioctl_arg", "epoll_events_out", *strace_net.OUT}
_IOCTL_OUT = _ioctl_arg(out=True)


def describe_wait_status(status: int) -> str:
    """A wait status the way strace spells it."""
    sig = status & 0x7F
    if sig == 0:
        return f"WIFEXITED(s) && WEXITSTATUS(s) == {(status >> 8) & 0xFF}"
    if sig == 0x7F:
        return f"WIFSTOPPED(s) && WSTOPSIG(s) == {signal_name((status >> 8) & 0xFF)}"
    core = " && WCOREDUMP(s)" if status & 0x80 else ""
    return f"WIFSIGNALED(s) && WTERMSIG(s) == {signal_name(sig)}{core}"
