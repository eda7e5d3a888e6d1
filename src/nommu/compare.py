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
_HEX = re.compile(r"0x[0-9a-fA-F]{5,}")
_BIG_DECIMAL = re.compile(r"(?<![\w.])\d{9,}(?![\w.])")


@dataclass
class Run:
    """One side of the comparison."""

    label: str
    result: RunResult | None  # None: the program could not be started
    error: str = ""  # why it could not start (nommu's one-line message)
    trace: list[str] = field(default_factory=list)  # strace lines, as printed

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
        return (self.result.stderr or b"") if self.result else b""


@dataclass
class Comparison:
    argv: list[str]
    runs: tuple[Run, Run]

    @property
    def differences(self) -> list[str]:
        """What differs: any of 'exit status', 'stdout', 'stderr', 'syscalls'."""
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
        if first_difference(a.trace, b.trace) is not None:
            found.append("syscalls")
        return found


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
    machine: Machine, label: str, argv: Sequence[str], env: Mapping[str, str], stdin: bytes
) -> Run:
    """Run `argv` on `machine` with output captured and syscalls traced in memory."""
    trace = io.StringIO()
    machine.strace = trace
    try:
        result: RunResult | None = machine.run(argv, env, stdin=stdin, capture=True)
        error = ""
    except NommuError as err:
        result, error = None, str(err)
    return Run(label, result, error, trace.getvalue().splitlines())


def compare(
    without: Machine,
    with_mmu: Machine,
    argv: Sequence[str],
    env: Mapping[str, str],
    stdin: bytes = b"",
) -> Comparison:
    """Run `argv` on both machines (their `strace` is replaced by an in-memory trace)."""
    if without.mmu or not with_mmu.mmu:
        raise ValueError("compare wants a machine without an MMU, then one with")
    runs = (
        run_one(without, LABELS[0], argv, env, stdin),
        run_one(with_mmu, LABELS[1], argv, env, stdin),
    )
    return Comparison(list(argv), runs)


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
    lines += _syscalls(a, b)
    diffs = c.differences
    verdict = "the same" if not diffs else "different: " + ", ".join(diffs)
    lines.append(f"verdict: {verdict}")
    return "\n".join(lines)


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


def _syscalls(a: Run, b: Run) -> list[str]:
    i = first_difference(a.trace, b.trace)
    if i is None:
        return [f"{'syscalls':13} identical ({len(a.trace)} trace lines, addresses ignored)"]
    out = [f"first differing syscall: trace line {i + 1} (addresses ignored)"]
    if i > 0:
        out.append(f"    {'both:':12} {_clip(a.trace[i - 1])}")
    for run in (a, b):
        shown = _clip(run.trace[i]) if i < len(run.trace) else "(trace ends)"
        out.append(f"    {run.label + ':':12} {shown}")
    return out


def _clip(line: str, limit: int = 160) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
