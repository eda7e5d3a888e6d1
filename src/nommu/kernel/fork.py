"""Creating tasks without an MMU: vfork and clone. fork() cannot exist.

fork() promises the child a *copy* of the parent's address space at the
same addresses. Without an MMU two copies cannot live at one address, so a
no-MMU kernel refuses it with EINVAL (kernel/fork.c, `SYSCALL_DEFINE0(fork)`
under !CONFIG_MMU). What remains:

vfork()  The child *borrows* the parent: same memory, same stack, a copy of
         the parent's registers. The parent is suspended until the child
         calls execve (which gives the child memory of its own) or exits, so
         the two never run on the one stack at the same time. Nothing is
         copied, which is also why vfork is fast. The child must not return
         from the function that called vfork, nor touch anything but its own
         new stack frames: every write lands in the parent's memory.

clone()  The general form. CLONE_VM shares memory (threads, posix_spawn's
         child on its own stack); CLONE_VFORK suspends the parent as vfork
         does. Without CLONE_VM a no-MMU kernel does not refuse: the child
         gets an empty memory map yet runs in the same physical memory, on
         the parent's stack unless given a new one (reference, section 1).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import CSIGNAL, CloneFlags
from nommu.abi.signals import Signal
from nommu.kernel.channels import VforkDone
from nommu.kernel.errors import SyscallError
from nommu.kernel.futex import exit_robust_list, futex_wake
from nommu.kernel.mm import MemoryMap
from nommu.kernel.task import Task, ThreadGroup

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel

# CloneFlags' members as plain ints: `flags & CloneFlags.X` runs the enum's
# Python code and builds a new IntFlag (about a microsecond), and a clone
# tests some twenty flags; `flags & C.X` with an int is one machine operation.
C = SimpleNamespace(**{name: int(flag) for name, flag in CloneFlags.__members__.items()})
VFORK_FLAGS = C.CLONE_VM | C.CLONE_VFORK | Signal.SIGCHLD
_NAMESPACES = (
    C.CLONE_NEWNS
    | C.CLONE_NEWCGROUP
    | C.CLONE_NEWUTS
    | C.CLONE_NEWIPC
    | C.CLONE_NEWUSER
    | C.CLONE_NEWPID
    | C.CLONE_NEWNET
)


def check_flags(flags: int) -> None:
    """The flag combinations copy_process() refuses, with its errno."""
    if flags & C.CLONE_THREAD and not flags & C.CLONE_SIGHAND:
        raise SyscallError(Errno.EINVAL)
    if flags & C.CLONE_SIGHAND and not flags & C.CLONE_VM:
        raise SyscallError(Errno.EINVAL)
    if flags & C.CLONE_FS and flags & C.CLONE_NEWNS:
        raise SyscallError(Errno.EINVAL)
    if flags & C.CLONE_THREAD and flags & CSIGNAL:
        raise SyscallError(Errno.EINVAL)
    if flags & (_NAMESPACES | C.CLONE_PIDFD):
        raise SyscallError(Errno.EINVAL, "namespaces and pidfds are not supported")


def copy_process(k: Kernel, parent: Task, flags: int, new_sp: int, tls: int) -> Task:
    """A new task from `parent` according to clone `flags` (not yet running)."""
    check_flags(flags)
    if len(k.tasks) >= k.config.max_tasks:
        limit = k.config.max_tasks
        k.limits.note("procs", f"process limit reached: {limit} tasks (--max-procs)")
        raise SyscallError(Errno.EAGAIN, "too many tasks")
    tid = k.alloc_pid()
    mm = parent.mm.get() if flags & C.CLONE_VM else _copy_mm(k, parent, tid)
    files = parent.files if flags & C.CLONE_FILES else parent.files.copy()
    if flags & C.CLONE_FILES:
        files.users += 1
    fs = parent.fs if flags & C.CLONE_FS else parent.fs.copy()
    sighand = parent.sighand if flags & C.CLONE_SIGHAND else parent.sighand.copy()
    group = parent.group if flags & C.CLONE_THREAD else _new_group(k, parent, flags, tid)
    child = Task(
        tid,
        group,
        mm,
        files,
        fs,
        sighand,
        comm=parent.comm,
        tls=list(parent.tls),
        sigmask=parent.sigmask,
    )
    group.tasks.append(child)
    if flags & C.CLONE_SETTLS:
        k.arch.set_tls(child.tls, k.uspace.read, tls)
        child.reload_tls = True
    child.ctx = k.cpu.context_save()  # the parent's registers, as they are now
    child.ctx.reg_write(k.arch.RESULT_REG, 0)  # ...except that clone returns 0 here
    if new_sp:
        child.ctx.reg_write(k.arch.SP_REG, new_sp)
        child.own_stack = True
        k.memory.new_stack(child, new_sp)
    child.pc = k.cpu.pc
    k.tasks[tid] = child
    return child


def _copy_mm(k: Kernel, parent: Task, tid: int) -> MemoryMap:
    """The memory of a child that does not share its parent's (no CLONE_VM).

    With an MMU: a copy-on-write copy (fork). Without one there is nothing to
    copy into: the child gets an empty map and goes on running in the same
    physical memory as its parent (what a no-MMU kernel does)."""
    return k.memory.copy_for_clone(parent, tid)


def _new_group(k: Kernel, parent: Task, flags: int, tid: int) -> ThreadGroup:
    up = parent.group.parent if flags & C.CLONE_PARENT else parent.group
    group = ThreadGroup(tid, up, parent.group.pgid, parent.group.sid, exit_signal=flags & CSIGNAL)
    group.vfork_child = bool(flags & C.CLONE_VFORK)
    group.sigpending_limit = parent.group.sigpending_limit
    group.tty = parent.group.tty
    if up is not None:
        up.children.append(group)
    k.groups[tid] = group
    return group


def do_clone(
    k: Kernel, parent: Task, flags: int, new_sp: int, ptid: int, tls: int, ctid: int
) -> int:
    """clone(2): create the task, publish its tid, and suspend a vfork parent."""
    child = copy_process(k, parent, flags, new_sp, tls)
    if flags & C.CLONE_PARENT_SETTID:
        k.uspace.write_u32(ptid, child.tid)
    if flags & C.CLONE_CHILD_SETTID:
        k.uspace.write_u32(ctid, child.tid)
    if flags & C.CLONE_CHILD_CLEARTID:
        child.clear_child_tid = ctid
    k.sched.add(child)
    k.events.task_created(parent, child, flags)
    if flags & C.CLONE_VFORK:
        child.vfork_done = parent
        k.sched.sleep(parent, VforkDone(child.tid))
    return child.tid


def do_fork(k: Kernel, t: Task) -> int:
    """fork(): with an MMU, a copy-on-write child; without one, EINVAL."""
    if not k.memory.can_fork:
        return fork_refused(k, t)
    return do_clone(k, t, Signal.SIGCHLD, 0, 0, 0, 0)  # nothing shared


def do_vfork(k: Kernel, t: Task) -> int:
    """vfork(): the parent lends its memory (or, with --vfork-as-fork, forks)."""
    if k.config.vfork_as_fork:
        return do_fork(k, t)
    return do_clone(k, t, VFORK_FLAGS, 0, 0, 0, 0)


def fork_refused(k: Kernel, t: Task) -> int:
    """fork() on a no-MMU kernel: EINVAL, and tell the person why once."""
    k.hint(
        "fork",
        f"process {t.pid} ({t.comm}) called fork(), which a no-MMU kernel refuses "
        "with EINVAL: there is no MMU to give the child a copy of the parent's memory at "
        "the same addresses. Use vfork()+execve() or posix_spawn() (or run with --mmu).",
    )
    raise SyscallError(Errno.EINVAL, "fork is impossible without an MMU")


# -- a vfork parent's release ----------------------------------------------------


def mm_release(k: Kernel, t: Task, new: MemoryMap | None) -> None:
    """`t` stops using its memory: it exec'd (`new` is its new memory) or exits.

    This is where a vfork parent gets its memory back: it has slept on
    VforkDone since the vfork, and now the child no longer runs in it. The old
    blocks are freed only if nobody else still uses them."""
    old = t.mm
    if k.memory.reaches(t):  # (the robust list is read through uspace)
        exit_robust_list(k, t)
    if new is not None:
        t.mm = new
    clear_child_tid(k, t)
    if t.vfork_done is not None:
        k.sched.wakeup(VforkDone(t.tid))
        why = "called execve" if new is not None else "exited"
        k.events.vfork_released(t.vfork_done, t, why)
        t.vfork_done = None
    if old.put() and k.memory.mpu is not None:
        k.memory.mpu.forget_mm(old)


def clear_child_tid(k: Kernel, t: Task) -> None:
    """CLONE_CHILD_CLEARTID: zero the word and wake a futex waiter on it."""
    if t.clear_child_tid and t.mm.users > 1:
        addr, t.clear_child_tid = t.clear_child_tid, 0
        try:
            k.uspace.write_u32(addr, 0)
            futex_wake(k, t, addr, 1)
        except SyscallError:
            return
