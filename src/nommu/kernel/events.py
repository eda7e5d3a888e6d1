"""Kernel events that tracers and checkers observe.

The kernel calls these at the moments that matter for understanding a
no-MMU system (a task created by vfork or clone, an exec, an exit, a kill);
the base class ignores them, so an untraced run pays one method call.

The kernel owns this interface and trace/ implements it (--strace,
nommu check), so the dependency points down: kernel/ never imports trace/
for its events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.mpu import Violation
    from nommu.kernel.task import Task


class SyscallRow(Protocol):
    """What a tracer learns of a syscall: its row in the table (syscalls/table.py)."""

    @property
    def name(self) -> str: ...
    @property
    def args(self) -> tuple[str, ...]: ...
    @property
    def ret(self) -> str: ...


class Tracer(Protocol):
    """Sees every syscall when installed as `k.tracer` (--strace, nommu check).

    The dispatcher runs the call and takes the post-handler step itself
    (syscalls/dispatch.py); a tracer only observes, before and after the
    handler. It must not change what the call does."""

    def syscall_entry(self, k: Kernel, t: Task, row: SyscallRow, args: tuple[int, ...]) -> None:
        """`t` makes the call `row` with `args` (the handler has not run yet)."""

    def syscall_exit(
        self,
        k: Kernel,
        t: Task,
        row: SyscallRow,
        args: tuple[int, ...],
        result: int | None,
        blocked: bool,
    ) -> None:
        """The handler returned `result` (-errno for an error; None: no return
        value, as after execve), or it `blocked` and will run again after a
        wakeup. The result register is not written yet."""


class EventSink:
    def task_created(self, parent: Task, child: Task, flags: int) -> None:
        """`parent` made `child` with clone `flags` (vfork is CLONE_VM|CLONE_VFORK)."""

    def task_exec(self, t: Task, path: str, argv: list[bytes]) -> None:
        """`t` now runs a new program."""

    def task_exit(self, t: Task, status: int) -> None:
        """`t` ended with wait status `status`."""

    def killed(self, t: Task, sig: int) -> None:
        """`t`'s process is being terminated by signal `sig`."""

    def signal_delivered(self, t: Task, sig: int, handler: int) -> None:
        """`t` enters the handler of `sig`."""

    def vfork_released(self, parent: Task, child: Task, why: str) -> None:
        """A vfork parent may run again: its child exec'd or exited."""

    def unimplemented(self, t: Task, call: str) -> None:
        """`t` made `call`, which Linux has and nommu does not: it got ENOSYS."""

    def fatal_fault(self, t: Task, sig: int) -> None:
        """A CPU fault (`sig`; `k.last_fault` says where) ends `t`'s process:
        the front end's sink explains it to the person (trace/fault.py)."""

    def emulated(self, t: Task, kind: str, pc: int) -> None:
        """`t` ran, at `pc`, an instruction its CPU lacks, which the kernel
        carried out in its place (`kind` "cortex-m-tls": the cp15 thread-pointer
        read, which faults on a real Cortex-M)."""

    def memory_violation(self, v: Violation) -> None:
        """A store a board would let through silently (kernel/mpu.py): a
        stack overflow, or a write into another process's or free memory."""
