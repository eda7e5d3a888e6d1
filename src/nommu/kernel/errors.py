"""How kernel code reports failure and waiting.

* `SyscallError(Errno.X)`: the syscall fails with -X. Exactly one place (the
  syscall dispatcher) turns it into the value the guest sees.
* `Blocked(channel)`: the syscall cannot finish yet. The dispatcher parks the
  task on `channel` and re-executes the syscall after a wakeup (the xv6
  sleep/wakeup pattern; Linux's -ERESTARTSYS is the same idea).
"""

from __future__ import annotations

from nommu.abi.errno import Errno


class SyscallError(Exception):
    """The current syscall fails with `errno`."""

    def __init__(self, errno: Errno, why: str = "") -> None:
        super().__init__(errno.name if not why else f"{errno.name}: {why}")
        self.errno = errno
        self.why = why


class Blocked(Exception):
    """The current task must sleep on `channel` (until `deadline`, a monotonic
    time in seconds, if given) and then retry the syscall."""

    def __init__(self, channel: object, deadline: float | None = None) -> None:
        super().__init__()  # (raised on every wait: no message to format)
        self.channel = channel
        self.deadline = deadline

    def __str__(self) -> str:
        return f"blocked on {self.channel}"


class InternalError(Exception):
    """A bug in nommu itself surfaced while running the guest: where it happened
    (task, syscall, guest pc) travels with it, for the report."""

    def __init__(self, where: str, cause: BaseException) -> None:
        super().__init__(f"{where}: {type(cause).__name__}: {cause}")
        self.where = where
        self.cause = cause


class NommuError(Exception):
    """A problem to tell the user in one line (bad program, bad option).

    `status` is nommu's exit status for it: 127 when the program is not
    found and 126 when it cannot be executed, as shells use; 1 otherwise."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status
