"""Process syscalls: creating, replacing, ending and waiting for tasks; ids; TLS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.signals import SI_TKILL, SI_USER
from nommu.kernel import exec as kexec
from nommu.kernel import exit as kexit
from nommu.kernel import fork as kfork
from nommu.kernel import futex as kfutex
from nommu.kernel import signal as ksignal
from nommu.kernel.accounting import Usage
from nommu.kernel.errors import SyscallError
from nommu.syscalls.fs import s32
from nommu.syscalls.rusage import pack_rusage
from nommu.syscalls.table import syscall
from nommu.syscalls.time import read_timeout

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task, ThreadGroup


# -- creating -------------------------------------------------------------------


@syscall("fork")
def sys_fork(k: Kernel, t: Task) -> int:
    return kfork.do_fork(k, t)


@syscall("vfork", ret="pid")
def sys_vfork(k: Kernel, t: Task) -> int:
    return kfork.do_vfork(k, t)


@syscall("clone", "clone_flags", "ptr", "ptr", "ptr", "ptr", ret="pid")
def sys_clone(k: Kernel, t: Task, flags: int, sp: int, ptid: int, tls: int, ctid: int) -> int:
    return kfork.do_clone(k, t, flags, sp, ptid, tls, ctid)


def string_array(k: Kernel, addr: int) -> list[bytes]:
    """argv or envp from user memory; NULL is an empty list, as Linux takes it."""
    if not addr:
        return []
    return [k.uspace.read_cstr(p, kexec.ARG_MAX) for p in k.uspace.read_ptr_array(addr, 0x7FFF)]


@syscall("execve", "path", "argv", "envp", ret="none")
def sys_execve(k: Kernel, t: Task, path: int, argv: int, envp: int) -> int | None:
    filename = k.uspace.read_path(path)
    args, env = string_array(k, argv), string_array(k, envp)
    if not args:  # Linux 5.18+: a NULL or empty argv becomes { "" }
        args = [b""]
    kexec.check_args(args, env)
    try:
        prog = kexec.find_program(k, t, filename, args)
    except SyscallError as err:
        kexec.explain_failure(k, filename, err)
        raise
    kexec.exec_program(k, t, prog, env)
    k.events.task_exec(t, prog.guest_path, prog.argv)
    return None


# -- ending and waiting ---------------------------------------------------------


@syscall("exit", "int", ret="none")
def sys_exit(k: Kernel, t: Task, code: int) -> None:
    kexit.do_exit(k, t, kexit.exit_status(code))


@syscall("exit_group", "int", ret="none")
def sys_exit_group(k: Kernel, t: Task, code: int) -> None:
    kexit.do_group_exit(k, t, kexit.exit_status(code))


@syscall("wait4", "pid_t", "wstatus", "wait_options", "ptr", ret="pid")
def sys_wait4(k: Kernel, t: Task, pid: int, status: int, options: int, rusage: int) -> int:
    if options & ~(F.WNOHANG | F.WUNTRACED | F.WCONTINUED | F.__WNOTHREAD | F.__WALL | F.__WCLONE):
        raise SyscallError(Errno.EINVAL)
    child, wstatus, usage = kexit.do_wait(k, t, s32(pid), options)
    if child and status:
        k.uspace.write_u32(status, wstatus)
    if child and rusage:
        k.uspace.write(rusage, pack_rusage(usage or Usage(0.0, 0.0, 0)))
    return child


@syscall("waitpid", "pid_t", "wstatus", "wait_options", ret="pid")
def sys_waitpid(k: Kernel, t: Task, pid: int, status: int, options: int) -> int:
    return sys_wait4(k, t, pid, status, options, 0)


@syscall("kill", "pid_t", "signal")
def sys_kill(k: Kernel, t: Task, pid: int, sig: int) -> int:
    ksignal.check_signal(sig)
    pid = s32(pid)
    if pid > 0:
        group = k.groups.get(pid)
        if group is None or group.wait_status is not None:
            raise SyscallError(Errno.ESRCH)
        targets = [group]
    else:
        pgid = t.group.pgid if pid == 0 else -pid
        targets = [
            g
            for g in k.groups.values()
            if g.wait_status is None
            and ((pid == -1 and g.tgid != 1) or (pid != -1 and g.pgid == pgid))
        ]
        if not targets:
            raise SyscallError(Errno.ESRCH)
    info = ksignal.siginfo(sig, SI_USER, pid=t.pid)
    for group in targets:
        ksignal.send_to_group(k, group, sig, info)
    return 0


def _thread(k: Kernel, tid: int, tgid: int | None = None) -> Task:
    target = k.tasks.get(s32(tid))
    if s32(tid) <= 0:
        raise SyscallError(Errno.EINVAL)
    if target is None or (tgid is not None and target.pid != tgid):
        raise SyscallError(Errno.ESRCH)
    return target


@syscall("tkill", "int", "signal")
def sys_tkill(k: Kernel, t: Task, tid: int, sig: int) -> int:
    ksignal.check_signal(sig)
    ksignal.send_to_task(k, _thread(k, tid), sig, ksignal.siginfo(sig, SI_TKILL, t.pid))
    return 0


@syscall("tgkill", "int", "int", "signal")
def sys_tgkill(k: Kernel, t: Task, tgid: int, tid: int, sig: int) -> int:
    ksignal.check_signal(sig)
    if s32(tgid) <= 0:
        raise SyscallError(Errno.EINVAL)
    target = _thread(k, tid, s32(tgid))
    ksignal.send_to_task(k, target, sig, ksignal.siginfo(sig, SI_TKILL, t.pid))
    return 0


# -- identity -------------------------------------------------------------------


@syscall("getpid")
def sys_getpid(k: Kernel, t: Task) -> int:
    return t.group.tgid


@syscall("gettid")
def sys_gettid(k: Kernel, t: Task) -> int:
    return t.tid


@syscall("getppid")
def sys_getppid(k: Kernel, t: Task) -> int:
    parent = t.group.parent
    return parent.tgid if parent is not None else 0


@syscall("set_tid_address", "ptr")
def sys_set_tid_address(k: Kernel, t: Task, tidptr: int) -> int:
    t.clear_child_tid = tidptr
    return t.tid


@syscall("set_thread_area", "user_desc")
def sys_set_thread_area(k: Kernel, t: Task, u_info: int) -> int:
    entry = k.arch.set_tls(t.tls, k.uspace.read, u_info)
    k.uspace.write_u32(u_info, entry)
    if k.current is t:
        k.load_tls(t, reload=True)
    return 0


@syscall("getpgid", "pid_t")
def sys_getpgid(k: Kernel, t: Task, pid: int) -> int:
    return _group(k, t, pid).pgid


@syscall("getpgrp")
def sys_getpgrp(k: Kernel, t: Task) -> int:
    return t.group.pgid


@syscall("setpgid", "pid_t", "pid_t")
def sys_setpgid(k: Kernel, t: Task, pid: int, pgid: int) -> int:
    if s32(pgid) < 0:
        raise SyscallError(Errno.EINVAL)
    group = _group(k, t, pid)
    if group is not t.group and group.parent is not t.group:
        raise SyscallError(Errno.ESRCH)
    if group.sid == group.tgid:
        raise SyscallError(Errno.EPERM)
    group.pgid = pgid or group.tgid
    return 0


@syscall("getsid", "pid_t")
def sys_getsid(k: Kernel, t: Task, pid: int) -> int:
    return _group(k, t, pid).sid


@syscall("setsid")
def sys_setsid(k: Kernel, t: Task) -> int:
    group = t.group
    if any(g.pgid == group.tgid for g in k.groups.values() if g.wait_status is None):
        raise SyscallError(Errno.EPERM)
    group.sid = group.pgid = group.tgid
    group.tty = None  # a new session starts without a controlling terminal
    return group.tgid


def _group(k: Kernel, t: Task, pid: int) -> ThreadGroup:
    if pid == 0:
        return t.group
    group = k.groups.get(s32(pid))
    if group is None:
        raise SyscallError(Errno.ESRCH)
    return group


for _name in (
    "getuid32",
    "geteuid32",
    "getgid32",
    "getegid32",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
):
    syscall(_name)(lambda k, t: 0)


@syscall("getresuid32", "ptr", "ptr", "ptr")
def sys_getresuid32(k: Kernel, t: Task, r: int, e: int, s: int) -> int:
    for addr in (r, e, s):
        k.uspace.write_u32(addr, 0)
    return 0


@syscall("getresgid32", "ptr", "ptr", "ptr")
def sys_getresgid32(k: Kernel, t: Task, r: int, e: int, s: int) -> int:
    return sys_getresuid32(k, t, r, e, s)


@syscall("getgroups32", "int", "ptr")
def sys_getgroups32(k: Kernel, t: Task, size: int, lst: int) -> int:
    return 0


for _name, _nargs in (
    ("setuid32", 1),
    ("setgid32", 1),
    ("setreuid32", 2),
    ("setregid32", 2),
    ("setresuid32", 3),
    ("setresgid32", 3),
):
    syscall(_name, *["int"] * _nargs)(lambda k, t, *ids: 0)  # one user, root: always allowed


# -- futex ----------------------------------------------------------------------


def do_futex(
    k: Kernel,
    t: Task,
    addr: int,
    op: int,
    val: int,
    timeout: int,
    addr2: int,
    val3: int,
    time64: bool,
) -> int:
    cmd = op & F.FUTEX_CMD_MASK
    if cmd in (F.FUTEX_WAIT, F.FUTEX_WAIT_BITSET):
        deadline = None
        if timeout:
            relative = cmd == F.FUTEX_WAIT
            deadline = read_timeout(
                k, t, timeout, time64, relative, realtime=bool(op & F.FUTEX_CLOCK_REALTIME)
            )
        bitset = val3 if cmd == F.FUTEX_WAIT_BITSET else F.FUTEX_BITSET_MATCH_ANY
        return kfutex.futex_wait(k, t, addr, val, deadline, bitset)
    if cmd in (F.FUTEX_WAKE, F.FUTEX_WAKE_BITSET):
        bitset = val3 if cmd == F.FUTEX_WAKE_BITSET else F.FUTEX_BITSET_MATCH_ANY
        return kfutex.futex_wake(k, t, addr, val, bitset)
    if cmd in (F.FUTEX_REQUEUE, F.FUTEX_CMP_REQUEUE):
        expected = val3 if cmd == F.FUTEX_CMP_REQUEUE else None
        return kfutex.futex_requeue(k, t, addr, val, timeout, addr2, expected)
    if op & F.FUTEX_CLOCK_REALTIME and cmd != F.FUTEX_LOCK_PI2:
        raise SyscallError(Errno.ENOSYS)
    if cmd in (F.FUTEX_LOCK_PI, F.FUTEX_LOCK_PI2):
        deadline = None
        if timeout:  # absolute; LOCK_PI's on CLOCK_REALTIME, LOCK_PI2's as the flag says
            realtime = cmd == F.FUTEX_LOCK_PI or bool(op & F.FUTEX_CLOCK_REALTIME)
            deadline = read_timeout(k, t, timeout, time64, relative=False, realtime=realtime)
        return kfutex.futex_lock_pi(k, t, addr, deadline)
    if cmd == F.FUTEX_TRYLOCK_PI:
        return kfutex.futex_lock_pi(k, t, addr, None, trylock=True)
    if cmd == F.FUTEX_UNLOCK_PI:
        return kfutex.futex_unlock_pi(k, t, addr)
    if cmd in FUTEX_LACKING:  # (musl uses none of them)
        raise k.lacks(t, f"futex {FUTEX_LACKING[cmd]}")
    raise SyscallError(Errno.ENOSYS)  # no such operation (FUTEX_FD is gone from Linux too)


# futex operations Linux has and nommu does not implement.
FUTEX_LACKING = {
    5: "FUTEX_WAKE_OP",
    11: "FUTEX_WAIT_REQUEUE_PI",
    12: "FUTEX_CMP_REQUEUE_PI",
}


@syscall("futex", "ptr", "futex_op", "int", "ptr", "ptr", "hex")
def sys_futex(
    k: Kernel, t: Task, addr: int, op: int, val: int, timeout: int, addr2: int, val3: int
) -> int:
    return do_futex(k, t, addr, op, val, timeout, addr2, val3, time64=False)


@syscall("futex_time64", "ptr", "futex_op", "int", "ptr", "ptr", "hex")
def sys_futex_time64(
    k: Kernel, t: Task, addr: int, op: int, val: int, timeout: int, addr2: int, val3: int
) -> int:
    return do_futex(k, t, addr, op, val, timeout, addr2, val3, time64=True)
