"""What `nommu check` found, and how it is reported: text, JSON or SARIF.

A `Finding` is one problem at one place: a kind (a rule, below), a one-line
message, the task, and the symbolized stack where it happened (plus, for a
vfork child, its parent's stack at the vfork). Findings of the same kind at
the same call site (the first frame with source line information: the
program's own code, not libc's) are one finding with a count, so a loop that
hits a bug a thousand times reports it once.

Suppressions, one per line (`#` starts a comment), shell patterns allowed:

    fork:main                       kind:function, matches any frame
    vfork-write-global:src/a.c:42   kind:file:line (file: a path suffix)
    *:legacy_*                      every kind, in functions legacy_*
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nommu import __version__
from nommu.trace import symbols
from nommu.trace.unwind import Stack


@dataclass(frozen=True, slots=True)
class Rule:
    title: str  # short description
    help: str  # what it means on no-MMU and what to do instead
    level: str = "error"  # SARIF level: "error", "warning" or "note" (not a no-MMU problem)


RULES: dict[str, Rule] = {
    "fork": Rule(
        "fork() cannot work without an MMU",
        "fork() always fails with EINVAL on a no-MMU kernel: without an MMU the child "
        "cannot get a copy of its parent's memory at the same addresses. Start programs "
        "with posix_spawn(), or vfork() followed at once by execve() or _exit().",
    ),
    "daemon": Rule(
        "daemon() cannot go into the background without an MMU",
        "libc's daemon() calls fork() to go into the background; fork() fails with EINVAL "
        "on a no-MMU kernel, so the program never detaches. Stay in the foreground and let "
        "a supervisor put it in the background (the init system, or start-stop-daemon "
        "--background), or re-execute yourself as BusyBox does on no-MMU "
        "(bb_daemonize_or_rexec): start your own program again, with an argument saying it "
        "is the background copy, by vfork() and execve() or by posix_spawn() with "
        "POSIX_SPAWN_SETSID, and _exit() in the parent; the new copy calls setsid() (unless "
        "posix_spawn did) and carries on.",
    ),
    "clone-without-vm": Rule(
        "clone() without CLONE_VM",
        "Without an MMU, clone() without CLONE_VM gives the child no memory of its own: "
        "it runs in its parent's memory (on its parent's stack unless given one) while "
        "believing it has a copy. Pass CLONE_VM (and a stack), or use posix_spawn().",
    ),
    "vfork-syscall": Rule(
        "vfork child made a system call other than execve or _exit",
        "A vfork child runs on its parent's stack, in its parent's memory; POSIX allows "
        "it only execve() or _exit(). Anything else (stdio, close, dup2...) runs library "
        "code that changes the parent's state. Use posix_spawn() and its file actions.",
    ),
    "vfork-write-global": Rule(
        "vfork child wrote its parent's global data",
        "A vfork child shares its parent's memory: a store to a global variable changes "
        "the parent's. Only the pid variable that receives vfork()'s result may change.",
    ),
    "vfork-write-heap": Rule(
        "vfork child wrote its parent's heap",
        "A vfork child shares its parent's memory: a store to malloc'd or mmap'd memory "
        "changes the parent's data.",
    ),
    "vfork-write-stack": Rule(
        "vfork child wrote a local variable of its parent",
        "A vfork child runs on its parent's stack: only the part below the frame that "
        "called vfork() is its own. Stores above it change the parent's local variables.",
    ),
    "vfork-return-address": Rule(
        "vfork child overwrote a return address on its parent's stack",
        "The child's calls pushed their frames over a return address (or saved frame "
        "pointer) its parent still needs: when the parent resumes it returns to wherever "
        "the child left it. A vfork stub must keep its return address in a register.",
    ),
    "vfork-return": Rule(
        "vfork child returned from the function that called vfork",
        "After returning, the child's next calls overwrite the frames its suspended parent "
        "will return through. Call vfork() in the function that calls execve()/_exit().",
    ),
    "vfork-exit": Rule(
        "vfork child called exit() instead of _exit()",
        "exit() runs the parent's atexit handlers and flushes the parent's stdio buffers "
        "from the child, in the parent's memory: output is written by the wrong process "
        "and the parent's cleanup is used up. A vfork child must leave with _exit().",
    ),
    "vfork-exec-failed": Rule(
        "vfork child went on after a failed execve",
        "After execve() fails, a vfork child is still running in its parent's memory and "
        "must call _exit() at once (the parent can learn the error through a pipe, or a "
        "variable of its own given the errno).",
    ),
    "brk-growth": Rule(
        "heap growth with brk()",
        "No-MMU kernels (ELF-FDPIC) give a program a zero-size brk: brk() cannot grow the "
        "heap and returns the old break. Allocate with malloc() or mmap().",
        "warning",
    ),
    "mmap-fixed": Rule(
        "mmap() with MAP_FIXED",
        "Without an MMU nothing can be placed at a chosen address: MAP_FIXED fails with "
        "EINVAL. Let the kernel choose the address.",
        "warning",
    ),
    "mmap-hint": Rule(
        "mmap() address hint",
        "Without an MMU an address hint is ignored: the mapping lands wherever free "
        "physical memory is. Code must not depend on where it lands.",
        "warning",
    ),
    "mmap-shared-file": Rule(
        "MAP_SHARED mapping of a regular file",
        "A no-MMU kernel cannot share a disk file's pages: MAP_SHARED of a regular file "
        "fails with ENODEV (only ramfs/tmpfs files and some devices work). Use "
        "MAP_PRIVATE (a copy), read()/write(), or a file in /dev/shm.",
        "warning",
    ),
    "mprotect": Rule(
        "mprotect() or another MMU-only memory call",
        "mprotect, madvise, msync, mlock and mincore need an MMU: they fail with ENOSYS. "
        "Memory cannot be protected (no guard pages, no write-protected data).",
        "warning",
    ),
    "munmap-unmapped": Rule(
        "munmap() of memory that is not mapped",
        "A no-MMU kernel fails munmap() of an unmapped range with EINVAL (an MMU kernel "
        "returns 0), so a double unmap or a guessed range shows up as an error here.",
        "warning",
    ),
    "enomem-fragmentation": Rule(
        "allocation failed through fragmentation",
        "No-MMU memory must be contiguous: an allocation fails with ENOMEM when no free "
        "block is large enough, although enough memory is free in total. Allocate large "
        "blocks early, reuse them, or use smaller ones.",
        "warning",
    ),
    "stack-overflow": Rule(
        "stack overflow",
        "A no-MMU process's stack is a fixed block (128 KiB unless the program's PT_GNU_STACK "
        "header gives a size; a thread's is what pthread_create was given). Nothing stops a "
        "deeper stack: its stores land in the block below (often the program's own data, "
        "where libc keeps its state) and the program fails later, somewhere else. Link "
        "with -Wl,-z,stack-size=N, give threads a larger stack, or recurse less.",
    ),
    "write-foreign-memory": Rule(
        "store into another process's memory",
        "Without an MMU nothing stops a stray pointer: the store lands in a block another "
        "process owns and does not share with this one (not shared memory, not its threads' "
        "or vfork parent's memory), corrupting it silently.",
    ),
    "write-free-memory": Rule(
        "store into free memory",
        "The store landed in memory no process owns (freed, or never allocated): a "
        "use-after-free or a stray pointer. Whoever is given that memory next finds it "
        "changed.",
    ),
    "cortex-m-tls": Rule(
        "thread pointer read from cp15, which a Cortex-M does not have",
        "`mrc p15, 0, rX, c13, c0, 3` reads the thread pointer from the TPIDRURO register "
        "of an A- or R-profile ARM. A Cortex-M has no cp15: the instruction raises a NOCP "
        "UsageFault, and the process dies on the board (nommu carried it out so the program "
        "could go on). Stock musl reads its thread pointer this way on every ARMv7, M profile "
        "included. Use a C library that asks the kernel instead, with the get_tls call "
        "(0xf0006): uClibc-ng does on Thumb-only CPUs (its __aeabi_read_tp), as does a musl "
        "whose __get_tp is patched to; or keep the pointer in a register or variable of your own.",
    ),
    "crash": Rule(
        "process crashed after breaking no-MMU rules",
        "The process was killed by a CPU fault after the findings listed with it, which "
        "are the likely cause on a no-MMU machine.",
    ),
    "not-implemented": Rule(
        "call not implemented by nommu",
        "Linux has this call, with or without an MMU, but nommu does not implement it: "
        "the program got ENOSYS. This is a gap in the emulator, not a no-MMU problem of "
        "the program: a no-MMU board runs the call.",
        "note",
    ),
}
# Kinds that are listed apart and never count as no-MMU problems.
NOT_PROBLEMS = frozenset({"not-implemented"})


# -- frames and findings --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    address: int
    function: str  # '' when no symbol covers it
    offset: int
    file: str  # '' without DWARF line information
    line: int
    module: str  # the program (guest path)

    def describe(self) -> str:
        name = self.function or "??"
        if self.function and self.offset:
            name += f"+{self.offset:#x}"
        where = f" {self.file}:{self.line}" if self.file else f" ({self.module})"
        return f"{self.address:#010x} in {name}{where}"


def symbolize(stack: Stack) -> list[Frame]:
    """Name each frame; a return address is looked up one byte back (the call)."""
    frames = []
    for i, f in enumerate(stack.frames):
        link = f.pc - stack.load_base - (1 if i or not stack.exact else 0)
        found = symbols.lookup(stack.image, link)
        src = symbols.source_line(stack.image, link)
        name, off = (found[0].name, f.pc - stack.load_base - found[0].addr) if found else ("", 0)
        frames.append(
            Frame(f.pc, name, off, src.file if src else "", src.line if src else 0, stack.exe)
        )
    return frames


@dataclass
class Finding:
    kind: str
    message: str
    pid: int
    comm: str
    stack: list[Frame]
    stacks: list[tuple[str, list[Frame]]] = field(default_factory=list)  # (title, frames)
    notes: list[str] = field(default_factory=list)
    count: int = 1
    call: str = ""  # not-implemented: the call nommu lacks

    @property
    def site(self) -> Frame | None:
        """Where it happened in the program's own code: the first frame with a
        source line, else the first with a name."""
        for f in self.stack:
            if f.file:
                return f
        return next((f for f in self.stack if f.function), self.stack[0] if self.stack else None)

    def key(self) -> tuple[str, str, str, int, int]:
        s = self.site
        if s is None:
            return (self.kind, "", "", 0, 0)
        return (self.kind, s.module, s.file, s.line, 0 if s.file else s.address)

    def fingerprint(self) -> str:
        return hashlib.sha256(repr(self.key()).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StackUse:
    """How deep one stack got: `used` of `size` bytes (more: it overflowed)."""

    pid: int
    tid: int
    comm: str
    used: int
    size: int
    origin: str  # where the size came from
    overflowed: bool

    def describe(self) -> str:
        who = f"process {self.pid} ({self.comm})"
        if self.tid != self.pid:
            who = f"thread {self.tid} of {who}"
        if self.overflowed:
            return f"{who}: overflowed its {_kib(self.size)} stack ({self.origin})"
        pct = 100 * self.used // self.size if self.size else 0
        return f"{who}: {_kib(self.used)} of {_kib(self.size)} ({pct}%), {self.origin}"


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB".replace(".0 KiB", " KiB")


MAX_ALSO = 5  # distinct messages kept for one grouped finding


class Report:
    """Findings grouped by kind and call site, in the order first seen."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str, str, int, int], Finding] = {}
        self._gaps: dict[tuple[str, str, str, int, int], Finding] = {}
        self._notes: dict[tuple[str, str, str, int, int], Finding] = {}
        self.stack_use: list[StackUse] = []  # each stack's peak use, as its task ended
        self.suppressed = 0

    def add(self, finding: Finding) -> Finding:
        """Record `finding`, or count it against the same one already recorded."""
        existing = self._by_key.get(finding.key())
        if existing is not None:
            existing.count += finding.count
            also = f"also: {finding.message}"
            kept = sum(n.startswith("also: ") for n in existing.notes)
            new = finding.message != existing.message and also not in existing.notes
            if new and kept < MAX_ALSO:
                existing.notes.append(also)
            return existing
        self._by_key[finding.key()] = finding
        return finding

    def add_unimplemented(self, finding: Finding) -> None:
        """Record a call nommu lacks, counted per call and call site."""
        key = (finding.call, *finding.key()[1:])
        existing = self._gaps.get(key)
        if existing is not None:
            existing.count += finding.count
        else:
            self._gaps[key] = finding

    def add_note(self, finding: Finding) -> None:
        """Record something seen that is not a problem here (a vfork child's
        store its parent never read), counted per kind and call site."""
        existing = self._notes.get(finding.key())
        if existing is not None:
            existing.count += finding.count
        else:
            self._notes[finding.key()] = finding

    @property
    def notes(self) -> list[Finding]:
        """What is worth knowing but breaks nothing: not counted as problems."""
        return list(self._notes.values())

    @property
    def findings(self) -> list[Finding]:
        """The no-MMU problems: what the verdict and --error-exitcode count."""
        return list(self._by_key.values())

    @property
    def unimplemented(self) -> list[Finding]:
        """Calls nommu does not implement (kind not-implemented), listed apart."""
        return list(self._gaps.values())

    def suppress(self, rules: list[Suppression]) -> None:
        for table in (self._by_key, self._gaps, self._notes):
            for key, f in list(table.items()):
                if any(r.matches(f) for r in rules):
                    del table[key]
                    self.suppressed += f.count


# -- suppressions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suppression:
    kind: str
    function: str = ""
    file: str = ""
    line: int = 0

    def matches(self, finding: Finding) -> bool:
        if not fnmatch.fnmatchcase(finding.kind, self.kind):
            return False
        return any(self._frame(f) for f in finding.stack)

    def _frame(self, f: Frame) -> bool:
        if self.file:
            suffix = f.file == self.file or f.file.endswith("/" + self.file)
            return suffix and f.line == self.line
        return bool(f.function) and fnmatch.fnmatchcase(f.function, self.function)


def parse_suppressions(text: str, source: str = "suppressions") -> list[Suppression]:
    """`kind:function` or `kind:file:line` per line; ValueError names a bad line."""
    rules = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, sep, rest = line.partition(":")
        where, sep2, num = rest.rpartition(":")
        if not sep or not rest or (kind not in RULES and not any(c in kind for c in "*?[")):
            raise ValueError(f"{source}:{n}: expected KIND:FUNCTION or KIND:FILE:LINE: {raw!r}")
        if sep2 and num.isdigit():
            rules.append(Suppression(kind, file=where, line=int(num)))
        else:
            rules.append(Suppression(kind, function=rest))
    return rules


# -- output ---------------------------------------------------------------------


def format_text(report: Report, program: str, verbose: bool = False) -> str:
    """Sanitizer-style text: each finding with its stacks, then a summary;
    then, apart, the calls nommu does not implement, and with `verbose` the
    notes (what was seen but breaks nothing)."""
    found = report.findings
    tail = _gaps_text(report) + _stacks_text(report) + (_notes_text(report) if verbose else "")
    if not found:
        extra = f" ({report.suppressed} suppressed)" if report.suppressed else ""
        return f"nommu check: {program}: no no-MMU problems found{extra}\n" + tail
    out = [f"nommu check: {program}: {len(found)} no-MMU problem(s) found\n"]
    for i, f in enumerate(found, 1):
        out += _finding_text(f"#{i} ", f)
        out.append(f"  why: {RULES[f.kind].help}\n")
    kinds = Counter(f.kind for f in found)
    summary = ", ".join(f"{k} {n}" for k, n in kinds.items())
    total = sum(f.count for f in found)
    supp = f"; {report.suppressed} suppressed" if report.suppressed else ""
    out.append(f"\nSUMMARY: nommu check: {len(found)} finding(s), {total} occurrence(s): ")
    out.append(f"{summary}{supp}\n")
    return "".join(out) + tail


def _finding_text(label: str, f: Finding) -> list[str]:
    times = f" ({f.count} times)" if f.count > 1 else ""
    out = [f"\n{label}{f.kind}: {f.message}{times}\n", f"  in process {f.pid} ({f.comm}):\n"]
    out += [f"    #{j} {fr.describe()}\n" for j, fr in enumerate(f.stack)]
    for title, frames in f.stacks:
        out.append(f"  {title}:\n")
        out += [f"    #{j} {fr.describe()}\n" for j, fr in enumerate(frames)]
    out += [f"  {note}\n" for note in f.notes]
    return out


def _stacks_text(report: Report) -> str:
    """Each stack's peak use against its size."""
    if not report.stack_use:
        return ""
    return "\nstack use (peak):\n" + "".join(f"  {u.describe()}\n" for u in report.stack_use)


def _notes_text(report: Report) -> str:
    """The notes section (--verbose): seen, but not a problem here."""
    notes = report.notes
    if not notes:
        return ""
    out = [f"\nnotes: {len(notes)} thing(s) seen that break nothing here (not counted above)\n"]
    for f in notes:
        out += _finding_text("note: ", f)
    return "".join(out)


def _gaps_text(report: Report) -> str:
    """The section for calls nommu lacks: name, count, where they came from."""
    gaps = report.unimplemented
    if not gaps:
        return ""
    calls: Counter[str] = Counter()
    for g in gaps:
        calls[g.call] += g.count
    names = ", ".join(f"{c} {n}" for c, n in calls.items())
    out = [
        f"\nnot implemented by nommu: {names}\n"
        "  (Linux has these calls, with or without an MMU; here they got ENOSYS. Gaps in "
        "nommu, not no-MMU problems: they do not count above.)\n"
    ]
    for g in gaps:
        times = f" ({g.count} times)" if g.count > 1 else ""
        out.append(f"\n  {g.call}{times}, in process {g.pid} ({g.comm}):\n")
        out += [f"    #{j} {fr.describe()}\n" for j, fr in enumerate(g.stack)]
    return "".join(out)


def _frame_json(f: Frame) -> dict[str, Any]:
    return {
        "address": f.address,
        "function": f.function or None,
        "offset": f.offset,
        "file": f.file or None,
        "line": f.line or None,
        "module": f.module,
    }


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "message": f.message,
        "count": f.count,
        "pid": f.pid,
        "comm": f.comm,
        "stack": [_frame_json(fr) for fr in f.stack],
        "other_stacks": [
            {"title": t, "stack": [_frame_json(fr) for fr in frames]} for t, frames in f.stacks
        ],
        "notes": f.notes,
    }


def format_json(report: Report, program: str, status: int) -> str:
    """`findings` are the no-MMU problems; `not_implemented` the calls nommu lacks;
    `notes` what was seen but breaks nothing (a vfork child's store its parent
    never read)."""
    doc = {
        "tool": "nommu check",
        "version": __version__,
        "program": program,
        "exit_status": status,
        "suppressed": report.suppressed,
        "findings": [_finding_json(f) for f in report.findings],
        "not_implemented": [{"call": f.call, **_finding_json(f)} for f in report.unimplemented],
        "notes": [_finding_json(f) for f in report.notes],
        "stack_use": [dataclasses.asdict(u) for u in report.stack_use],
    }
    return json.dumps(doc, indent=2) + "\n"


def _location(f: Frame) -> dict[str, Any]:
    loc: dict[str, Any] = {}
    if f.file:
        loc["physicalLocation"] = {
            "artifactLocation": {"uri": f.file},
            "region": {"startLine": f.line},
        }
    else:
        loc["physicalLocation"] = {"address": {"absoluteAddress": f.address}}
    if f.function:
        loc["logicalLocations"] = [{"name": f.function, "kind": "function"}]
    return loc


def _sarif_stack(title: str, frames: list[Frame]) -> dict[str, Any]:
    return {
        "message": {"text": title},
        "frames": [{"location": _location(fr), "module": fr.module} for fr in frames],
    }


def format_sarif(report: Report, program: str, status: int) -> str:
    """SARIF 2.1.0: one run, a rule per finding kind, a result per finding.
    Calls nommu lacks are results of level "note" under their own rule."""
    kinds = list(RULES)
    results = []
    for f in report.findings + report.unimplemented:
        site = f.site
        result: dict[str, Any] = {
            "ruleId": f.kind,
            "ruleIndex": kinds.index(f.kind),
            "level": RULES[f.kind].level,
            "message": {"text": f.message},
            "locations": [_location(site)] if site is not None else [],
            "stacks": [
                _sarif_stack(f"process {f.pid} ({f.comm})", f.stack),
                *(_sarif_stack(t, frames) for t, frames in f.stacks),
            ],
            "partialFingerprints": {"nommuCheck/v1": f.fingerprint()},
            "properties": {"count": f.count, "pid": f.pid, "comm": f.comm, "notes": f.notes},
        }
        results.append(result)
    rules = [
        {
            "id": kind,
            "name": "".join(w.capitalize() for w in kind.split("-")),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.help},
            "help": {"text": rule.help},
            "defaultConfiguration": {"level": rule.level},
        }
        for kind, rule in RULES.items()
    ]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nommu check",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "commandLine": program,
                        "exitCode": status,
                    }
                ],
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
