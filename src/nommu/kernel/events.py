"""Kernel events that tracers and checkers observe.

The kernel calls these at the moments that matter for understanding a
no-MMU system (a task created by vfork or clone, an exec, an exit, a kill);
the base class ignores them, so an untraced run pays one method call.

The kernel owns this interface and trace/ implements it (--strace,
nommu check), so the dependency points down: kernel/ never imports trace/
for its events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.mpu import Violation
    from nommu.kernel.task import Task
    from nommu.syscalls.table import Syscall


class Tracer(Protocol):
    """Sees every syscall when installed as `k.tracer` (--strace, nommu check):
    runs it (syscalls/dispatch.py `call`) and returns what the dispatcher would."""

    def dispatch(self, k: Kernel, t: Task, row: Syscall, regs: Any) -> int | None: ...


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

    def memory_violation(self, v: Violation) -> None:
        """A store a board would let through silently (kernel/mpu.py): a
        stack overflow, or a write into another process's or free memory."""
