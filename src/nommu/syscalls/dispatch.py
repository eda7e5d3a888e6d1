"""The syscall crossing: from the CPU's trap to a handler and back.

This runs for every system call the guest makes, so it does as little as
possible: the CPU layer has already read the number and six arguments in
one batch; here we index the prebuilt table, call the handler with exactly
its arguments, and then take the one post-handler step, which every mode
(plain, `--strace`, `nommu check`) shares:

* a return value is the result;
* `SyscallError` becomes -errno (the only place that happens);
* `Blocked` parks the task and rewinds it to re-execute the syscall later;
* None means the handler replaced the task's registers (execve) or ended it;
* any other exception is a bug in nommu: it stops the run as an
  `InternalError` naming the pid, the syscall and the pc.

If the handler changed who should run (it blocked, exited, exec'd, created a
task that must run first) or the slice is over, the CPU is asked to
reschedule; else a signal that became deliverable is delivered on the way
back to user mode.

A tracer (`k.tracer`: --strace, nommu check) does not run syscalls itself:
it observes each one through two hooks, `syscall_entry` before the handler
and `syscall_exit` after it (with the result, or blocked), and the step
above is the same with or without it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nommu.abi.errno import Errno
from nommu.kernel.errors import Blocked, InternalError, SyscallError
from nommu.kernel.signal import deliver, set_syscall_result
from nommu.kernel.task import BlockedCall, TaskState
from nommu.syscalls.table import Syscall, build_private, build_table, load_handlers

if TYPE_CHECKING:
    from nommu.arch.base import Arch
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task


def unknown_syscall(k: Kernel, t: Task, nr: int) -> int:
    """-ENOSYS, and say so once per syscall number. A call Linux has (not one
    without an entry point, nor, without an MMU, one that needs an MMU) is a
    gap in nommu: the event sink hears of it (`nommu check` lists it)."""
    name = k.arch.SYSCALL_NAMES.get(nr)
    what = f"syscall {nr} ({name})" if name else f"syscall {nr} (no such syscall on {k.arch.NAME})"
    if name in k.arch.NO_ENTRY:
        what += ", which Linux lacks too,"
    elif name in k.memory.missing_calls:
        what += ", which needs an MMU,"
    elif name is not None:
        k.events.unimplemented(t, name)
    k.hint(f"enosys:{nr}", f"{what} is not implemented; the guest got ENOSYS")
    return -Errno.ENOSYS


def make_dispatcher(k: Kernel) -> Callable[[Any], int | None]:
    """The function the CPU calls with its syscall registers.

    `regs` is indexed by `k.cpu.syscall_index` (number, then the six argument
    registers): each row gets a prebuilt getter that picks exactly its
    arguments in one C call."""
    index = k.cpu.syscall_index
    table, private, fast, far = prepared_rows(k.arch, index)
    nr_at = index[0]
    size = len(table)
    cpu = k.cpu
    RUNNABLE = TaskState.RUNNABLE

    def dispatch(regs: Any) -> int | None:
        t: Task = k.current  # type: ignore[assignment]
        nr = regs[nr_at]
        entry = fast[nr] if nr < size else far.get(nr)
        if entry is None:
            return unknown_syscall(k, t, nr)
        handler, args = entry
        tracer = k.tracer
        if tracer is not None:  # (row and argv exist only while tracing: the fast path stays lean)
            row = table[nr] if nr < size else private[nr]
            argv = args(regs) if args else ()
            observe(k, t, nr, tracer.syscall_entry, row, argv)
        try:
            result = handler(k, t, *args(regs)) if args else handler(k, t)
        except SyscallError as err:
            result = -err.errno
        except Blocked as b:
            if tracer is not None:
                observe(k, t, nr, tracer.syscall_exit, row, argv, None, True)
            block(k, t, b, nr)
            return None
        except Exception as exc:  # a kernel bug, never an errno: stop and report it
            raise internal_error(k, t, nr, exc) from exc
        if tracer is not None:
            observe(k, t, nr, tracer.syscall_exit, row, argv, result, False)
        # -- the post-handler step: the syscall has finished --
        if t.blocked is not None:
            t.blocked = None  # a re-executed syscall has finished
        if t.state is not RUNNABLE or k.current is not t or cpu.preempt:
            cpu.reschedule = True  # someone else should run now
        elif t.pending & ~t.sigmask:
            signal_on_return(k, t, result)
            return None
        return None if result is None else result & 0xFFFFFFFF

    if k.seeded is None:
        return dispatch
    timed = dispatch

    def counted(regs: Any) -> int | None:
        """Deterministic mode: a slice ends after its number of syscalls."""
        result = timed(regs)
        k.syscall_budget -= 1
        if k.syscall_budget <= 0 and k.sched.runqueue:
            cpu.stop()
        return result

    return counted


# (a handler, and the getter of its arguments from the registers: `_getter`)
Entry = tuple[Callable[..., Any], "Callable[[Any], tuple[int, ...]] | None"]
Rows = tuple[
    list[Syscall | None],  # the table (syscalls/table.py: build_table)
    dict[int, Syscall],  # the private calls far above it (build_private)
    list[Entry | None],  # per number in the table: (handler, argument getter)
    dict[int, Entry],  # the same for the private calls
]

# The rows and their argument getters depend only on the architecture and on
# where the CPU keeps the syscall registers, never on the kernel, so every
# kernel of one architecture shares them: building them anew costs each
# machine's start-up ~0.5 ms (paid again and again by a test suite, or a
# program that runs many machines through the API).
_prepared: dict[tuple[Arch, tuple[int, ...]], tuple[dict[str, Syscall], Rows]] = {}


def prepared_rows(arch: Arch, index: tuple[int, ...]) -> Rows:
    """The dispatcher's tables for `arch` with the syscall registers at
    `index`, built once (and again only if the registered rows changed: a
    test may swap a handler in the registry)."""
    registry = load_handlers()
    cached = _prepared.get((arch, index))
    if cached is not None and cached[0] == registry:
        return cached[1]
    numbers = arch.SYSCALL_NUMBERS
    table = build_table(numbers)
    private = build_private(numbers)
    orders = {numbers[name]: order for name, order in arch.SYSCALL_ARG_ORDER.items()}
    fast: list[Entry | None] = [
        None if row is None else (row.handler, _getter(index, row.nargs, orders.get(nr)))
        for nr, row in enumerate(table)
    ]
    far = {nr: (row.handler, _getter(index, row.nargs)) for nr, row in private.items()}
    rows = (table, private, fast, far)
    _prepared[(arch, index)] = (dict(registry), rows)
    return rows


def _getter(
    index: tuple[int, ...], nargs: int, order: tuple[int, ...] | None = None
) -> Callable[[Any], tuple[int, ...]] | None:
    """A function returning the `nargs` argument registers as a tuple, or None
    for no arguments. `order` (Arch.SYSCALL_ARG_ORDER) says which argument
    register holds each argument when they are not simply in order. (In
    32-bit mode the upper half of Unicorn's 64-bit register slots is always
    zero, so no masking is needed.)"""
    if nargs == 0:
        return None
    where = [index[1 + j] for j in order] if order else list(index[1 : nargs + 1])
    if nargs == 1:
        i = where[0]
        return lambda regs: (regs[i],)
    return operator.itemgetter(*where[:nargs])


def internal_error(k: Kernel, t: Task, nr: int, exc: Exception) -> InternalError:
    """The report of a bug met in syscall `nr`: pid, syscall name and pc travel with it."""
    name = k.arch.SYSCALL_NAMES.get(nr, "?")
    where = f"pid {t.pid} ({t.comm}), syscall {name} ({nr}), pc {k.cpu.pc:#010x}"
    return InternalError(where, exc)


def observe(k: Kernel, t: Task, nr: int, hook: Callable[..., None], *args: Any) -> None:
    """Call a tracer's hook; a bug in the tracer is reported as one in the
    kernel is (a SyscallError escaping it too: it is not the call's errno)."""
    try:
        hook(k, t, *args)
    except Exception as exc:
        raise internal_error(k, t, nr, exc) from exc


def signal_on_return(k: Kernel, t: Task, result: int | None) -> None:
    """A signal is deliverable as the syscall returns: set the result, enter the handler."""
    if result is not None:
        set_syscall_result(k, result)
    pc = k.cpu.pc
    new_pc = deliver(k, t, pc)
    if new_pc != pc or not t.alive:
        k.cpu.stop()


def block(k: Kernel, t: Task, b: Blocked, nr: int) -> None:
    """Park `t` on the channel and arrange for the syscall to run again."""
    call = t.blocked
    if call is None:
        call = t.blocked = BlockedCall()
    call.nr = nr
    k.cpu.rewind_syscall()
    # A deliverable signal interrupts it before it sleeps; a task that stopped
    # itself in the call (job control) runs it again once it continues.
    if not t.pending & ~t.sigmask and t.state is TaskState.RUNNABLE:
        k.sched.sleep(t, b.channel, b.deadline)
    k.cpu.reschedule = True
