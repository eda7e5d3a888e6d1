"""The one line `nommu run` prints the first time a process's store would
corrupt memory silently on a board (kernel/mpu.py): a stack overflow, a
write into another process's memory, a write into free memory.

    nommu: stack overflow: process 1 (recurse) ran past its 128 KiB stack (the
    default ...) at 0x4000118c <recurse+0x1c> (guest/src/recurse.c:20): the
    store to 0x4002dffc hit its own image block 0x40000000-0x4002e000. It
    lands, as on a board. Link with -Wl,-z,stack-size=N ...

Once per kind and process (`Kernel.hint`); --no-hints silences it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nommu.trace import symbols

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.mpu import Violation
    from nommu.kernel.task import Task


def where(t: Task, pc: int) -> str:
    """`0x40001234 <recurse+0x1c> (guest/src/recurse.c:20)`, as much as is known."""
    mm = t.mm
    text = f"{pc:#x}"
    sym = symbols.describe(mm.image, mm.load_base, pc)
    if sym:
        text += f" <{sym}>"
        src = symbols.source_line(mm.image, pc - mm.load_base)
        if src is not None:
            text += f" ({src.file}:{src.line})"
    return text


def who(k: Kernel, v: Violation) -> str:
    """The storing task, and whose stack it runs on when that is not its own."""
    t = v.task
    text = f"process {t.pid} ({t.comm})"
    if t.tid != t.pid:
        text = f"thread {t.tid} of {text}"
    area = v.area
    if area is not None and area.task.mm is t.mm and t.group is not area.task.group:
        text += f", a vfork child on the stack of process {area.task.pid},"
    return text


def line(k: Kernel, v: Violation) -> str:
    """The hint for `v`, in one line."""
    at = where(v.task, v.pc)
    if v.kind == "stack-overflow":
        assert v.area is not None
        return (
            f"stack overflow: {who(k, v)} ran past the bottom of its "
            f"{v.area.size // 1024} KiB stack ({v.area.origin}) at {at}: the store to "
            f"{v.address:#x} hit {v.hit}. "
            + (
                "--stack-guard: SIGSEGV. "
                if k.memory.mpu is not None and k.memory.mpu.stack_guard
                else "It lands, as on a board without an MPU. "
            )
            + f"To fix it, {v.area.advice}."
        )
    what = "another process's memory" if v.kind == "write-foreign-memory" else "free memory"
    return (
        f"wild write into {what}: {who(k, v)} stored to {v.address:#x} at {at}, which is "
        f"{v.hit}. It lands, as on a board without an MMU; nommu check lists every one."
    )


def hint(k: Kernel, v: Violation) -> None:
    """Say it once per kind and process."""
    k.hint(f"{v.kind}:{v.task.pid}", line(k, v))
