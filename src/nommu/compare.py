"""`nommu compare`: one program, run without and then with an MMU, side by side.

The point of the machine is the contrast: the same binary on a no-MMU kernel
and on one with an MMU. This runs it both ways on the same root with the same
arguments, environment and input, traces both runs into memory, and reports
what differs: how each run ended, its output (as a diff), and the first
system call at which the two traces part.

Traces are compared after normalization: addresses differ between the two
machines by design (a no-MMU process lives wherever physical memory was free;
with an MMU a PIE sits at 0x56555000 and the stack below 0xC0000000), so long
hex numbers and pointer-sized decimals are replaced by a placeholder.

The verdict answers "does my program behave the same without an MMU?", so
it leaves out what follows from the memory model alone: memory-management
calls (brk, mmap2, munmap, mprotect...) are set aside before the traces are
compared (musl's malloc, refused by brk on no-MMU, takes mmap instead and
the program goes on the same way), and nommu's own messages (hints, crash
reports with addresses) are shown but not compared with the program's
stderr. `output_only` compares the exit status, stdout and stderr alone.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from nommu.api import Machine, RunResult
from nommu.kernel.errors import NommuError

LABELS = ("without MMU", "with MMU")
# Calls whose results differ by design between the memory models (mm/nommu.c).
MEMORY_CALLS = frozenset(
    {"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mlock", "mlock2"}
    | {"munlock", "mlockall", "munlockall", "msync", "mincore", "remap_file_pages"}
)
_CALL = re.compile(r"\[pid \d+\] (?:<\.\.\. )?(\w+)[( ]")
_HEX = re.compile(r"0x[0-9a-fA-F]{5,}")
_BIG_DECIMAL = re.compile(r"(?<![\w.])\d{9,}(?![\w.])")


@dataclass
class Run:
    """One side of the comparison."""

    label: str
    result: RunResult | None  # None: the program could not be started
    error: str = ""  # why it could not start (nommu's one-line message)
    trace: list[str] = field(default_factory=list)  # strace lines, as printed
    status: int = 0  # nommu's exit status for `error`

    @property
    def ending(self) -> str:
        if self.result is None:
            return f"not started: {self.error}"
        if self.result.deadlock:
            return "deadlock"
        return self.result.describe()

    @property
    def stdout(self) -> bytes:
        return (self.result.stdout or b"") if self.result else b""

    @property
    def stderr(self) -> bytes:
        """What the program wrote to stderr (nommu's own messages left out)."""
        if not self.result or not self.result.stderr:
            return b""
        return self.result.stderr[: len(self.result.stderr) - len(self.result.messages)]

    @property
    def messages(self) -> list[str]:
        """nommu's own lines about the run (hints, crash reports)."""
        return self.result.messages.decode(errors="replace").splitlines() if self.result else []

    @property
    def behaviour(self) -> list[tuple[int, str]]:
        """The trace without memory-management calls: (line index, line)."""
        return [(i, line) for i, line in enumerate(self.trace) if not is_memory_call(line)]


@dataclass
class Comparison:
    argv: list[str]
    runs: tuple[Run, Run]
    output_only: bool = False  # the traces are neither taken nor compared

    @property
    def differences(self) -> list[str]:
        """What differs: any of 'exit status', 'stdout', 'stderr', 'syscalls'
        (memory-management calls and nommu's messages do not count)."""
        a, b = self.runs
        found = [
            name
            for name, x, y in (
                ("exit status", a.ending, b.ending),
                ("stdout", a.stdout, b.stdout),
                ("stderr", a.stderr, b.stderr),
            )
            if x != y
        ]
        if not self.output_only and self.first_behaviour_difference() is not None:
            found.append("syscalls")
        return found

    def first_behaviour_difference(self) -> tuple[int | None, int | None] | None:
        """Trace line indexes (either None: that trace ended) of the first
        difference outside memory management, or None if there is none."""
        a, b = (run.behaviour for run in self.runs)
        i = first_difference([line for _, line in a], [line for _, line in b])
        if i is None:
            return None
        return (a[i][0] if i < len(a) else None, b[i][0] if i < len(b) else None)

    @property
    def memory_only(self) -> bool:
        """The traces differ, but only in memory-management calls."""
        a, b = self.runs
        return first_difference(a.trace, b.trace) is not None and (
            self.first_behaviour_difference() is None
        )


def is_memory_call(line: str) -> bool:
    """Whether a trace line is a memory-management call (brk, mmap2...)."""
    match = _CALL.match(line)
    return match is not None and match.group(1) in MEMORY_CALLS


def normalize(line: str) -> str:
    """A trace line with the numbers that are addresses replaced."""
    return _BIG_DECIMAL.sub("…", _HEX.sub("0x…", line))


def first_difference(a: Sequence[str], b: Sequence[str]) -> int | None:
    """Index of the first trace line that differs after normalization, or None."""
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b) or normalize(a[i]) != normalize(b[i]):
            return i
    return None


def run_one(
    machine: Machine,
    label: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    stdin: bytes,
    *,
    cwd: str = "/",
    trace: bool = True,
) -> Run:
    """Run `argv` on `machine` with output captured and (if `trace`) syscalls
    traced in memory."""
    lines = io.StringIO()
    machine.strace = lines if trace else None
    try:
        result = machine.run(argv, env, stdin=stdin, capture=True, cwd=cwd)
    except NommuError as err:
        return Run(label, None, str(err), status=err.status)
    return Run(label, result, trace=lines.getvalue().splitlines())


def compare(
    without: Machine,
    with_mmu: Machine,
    argv: Sequence[str],
    env: Mapping[str, str],
    stdin: bytes = b"",
    *,
    cwd: str = "/",
    output_only: bool = False,
) -> Comparison:
    """Run `argv` on both machines (their `strace` is replaced by an in-memory
    trace). NommuError if the program starts on neither: nothing to compare."""
    if without.mmu or not with_mmu.mmu:
        raise ValueError("compare wants a machine without an MMU, then one with")
    runs = (
        run_one(without, LABELS[0], argv, env, stdin, cwd=cwd, trace=not output_only),
        run_one(with_mmu, LABELS[1], argv, env, stdin, cwd=cwd, trace=not output_only),
    )
    if runs[0].result is None and runs[1].result is None:
        raise NommuError(runs[0].error, runs[0].status)
    return Comparison(list(argv), runs, output_only)


# -- the report ------------------------------------------------------------------------------

WIDTH = 38  # of each column in the side-by-side rows


def report(c: Comparison) -> str:
    """The side-by-side report: endings, outputs, first differing syscall, verdict."""
    a, b = c.runs
    lines = [f"nommu compare: {' '.join(c.argv)}", _row("", a.label, b.label)]
    lines.append(_row("exit status", a.ending, b.ending))
    lines += [f"    {r.label}: nommu: {r.error}" for r in c.runs if r.result is None]
    for name in ("stdout", "stderr"):
        lines += _output(name, getattr(a, name), getattr(b, name))
    lines += _messages(a, b)
    if not c.output_only:
        lines += _syscalls(c)
    lines.append(f"verdict: {_verdict(c)}")
    return "\n".join(lines)


def _verdict(c: Comparison) -> str:
    diffs = c.differences
    if diffs:
        return "different: " + ", ".join(diffs)
    if c.output_only:
        return "the same (exit status, stdout and stderr; syscalls not compared)"
    if c.memory_only:
        return "the same (only memory management differs, as it must without an MMU)"
    return "the same"


def _messages(a: Run, b: Run) -> list[str]:
    """nommu's own lines, shown for each run but never compared."""
    if not a.messages and not b.messages:
        return []
    out = [f"{'nommu said':13} (not the program's output; not compared)"]
    for run in (a, b):
        out += [f"    {run.label + ':':12} {_clip(line)}" for line in run.messages]
    return out


def _row(title: str, left: str, right: str) -> str:
    return f"{title:13} {_cut(left):{WIDTH}} {_cut(right)}".rstrip()


def _cut(text: str) -> str:
    return text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"


def _output(name: str, a: bytes, b: bytes) -> list[str]:
    a_lines = a.decode(errors="replace").splitlines()
    b_lines = b.decode(errors="replace").splitlines()
    if a == b:
        return [f"{name:13} identical ({_count(a_lines)})"]
    out = [_row(name, _count(a_lines), _count(b_lines))]
    diff = difflib.unified_diff(a_lines, b_lines, LABELS[0], LABELS[1], lineterm="", n=2)
    out += [f"    {line}" for line in diff]
    return out


def _count(lines: list[str]) -> str:
    return f"{len(lines)} line{'' if len(lines) == 1 else 's'}"


def _syscalls(c: Comparison) -> list[str]:
    a, b = c.runs
    i = first_difference(a.trace, b.trace)
    if i is None:
        return [f"{'syscalls':13} identical ({len(a.trace)} trace lines, addresses ignored)"]
    where = c.first_behaviour_difference()
    if where is None:
        calls = sorted({line.split("] ", 1)[-1].split("(")[0] for line in a.trace + b.trace})
        calls = [name for name in calls if name in MEMORY_CALLS]
        out = [
            f"{'syscalls':13} the same apart from memory management ({', '.join(calls)}),",
            f"{'':13} which a no-MMU kernel answers differently; first at trace line {i + 1}:",
        ]
        return out + _lines_at(a, b, i, i)
    j, k = where
    first = min(x for x in (j, k) if x is not None)
    out = [f"first differing syscall: trace line {first + 1} (addresses and memory calls ignored)"]
    return out + _lines_at(a, b, j, k)


def _lines_at(a: Run, b: Run, i: int | None, j: int | None) -> list[str]:
    """The two runs' trace lines at indexes i and j (after the line before,
    when both runs share it)."""
    out = []
    if (
        i is not None
        and i == j
        and i > 0
        and normalize(a.trace[i - 1]) == normalize(b.trace[i - 1])
    ):
        out.append(f"    {'both:':12} {_clip(a.trace[i - 1])}")
    for run, at in ((a, i), (b, j)):
        shown = _clip(run.trace[at]) if at is not None and at < len(run.trace) else "(trace ends)"
        out.append(f"    {run.label + ':':12} {shown}")
    return out


def _clip(line: str, limit: int = 160) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
