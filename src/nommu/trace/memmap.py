"""The memory map: a picture of physical memory over a run (`nommu run --memmap FILE`).

Without an MMU every program image, stack, mmap and shared memory segment is
one contiguous run of physical memory, so an allocation fails when no single
free run is long enough, however much is free in total. The picture shows
exactly that: RAM as rows of blocks coloured by owner process, patterned by
kind, free runs between them, the largest free run outlined, and each
refused allocation drawn as the request that does not fit.

`MemmapRecorder` listens to the physical allocator (kernel/alloc.py) and keeps
one `Event` per change, with the free-memory facts right after it. `render`
replays the events into "pieces" (a block or free run and the steps it
exists for) and writes one self-contained HTML page: inline SVG and CSS, and
a small script whose timeline slider only shows and hides pieces. Nothing is
loaded from anywhere else.
"""

from __future__ import annotations

import bisect
import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nommu.kernel.alloc import Block
from nommu.trace.memmap_assets import CSS, PATTERNS, SCRIPT, TEMPLATE

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel

KIB = 1024
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
    "#edc948", "#ff9da7", "#9c755f", "#3b8ea5", "#8cd17d",
    "#d4a6c8", "#f1ce63", "#86bcb6", "#a0cbe8", "#ffbe7d",
)  # fmt: skip
KERNEL_COLOR = "#6b7280"
KINDS = {  # kind: (legend label, pattern over the owner's colour)
    "image": ("program image", ""),
    "stack": ("stack", "hatch"),
    "mmap": ("mmap", "dots"),
    "shm": ("shared memory (/dev/shm, SysV)", "cross"),
    "page": ("page (MMU)", "dots"),
    "kernel": ("kernel", ""),
}


@dataclass(frozen=True, slots=True)
class Event:
    """One allocator change, and the free memory right after it."""

    what: str  # "alloc", "free", "fail", "retag"
    start: int
    size: int
    owner: int
    kind: str
    time: float
    free: int
    largest: int
    largest_start: int
    nfree: int


@dataclass
class Recording:
    """What `render` needs: the machine, the starting state and the events."""

    base: int
    size: int
    mmu: bool
    title: str
    initial: list[tuple[int, int, int, str]]  # (start, size, owner, kind) of used blocks
    initial_stats: tuple[int, int, int, int]  # free, largest, largest start, free runs
    events: list[Event] = field(default_factory=list)
    names: dict[int, list[str]] = field(default_factory=dict)  # pid -> its names, in order


class MemmapRecorder:
    """Records every physical allocation, free and failure of a kernel's run."""

    def __init__(self, k: Kernel, argv: list[str]) -> None:
        self.k = k
        alloc = k.alloc
        self.rec = Recording(
            alloc.base,
            alloc.size,
            k.memory.has_mmu,
            " ".join(argv),
            [(b.start, b.size, b.owner, b.kind) for b in alloc.used_blocks()],
            self._stats(),
        )
        alloc.listener = self.on_event

    def _stats(self) -> tuple[int, int, int, int]:
        runs = self.k.alloc.free_runs()
        start, size = max(runs, key=lambda r: r[1], default=(0, 0))  # the lowest of the largest
        return sum(r[1] for r in runs), size, start, len(runs)

    def on_event(self, what: str, block: Block) -> None:
        self._note_name(block.owner)
        if self.k.current is not None:
            self._note_name(self.k.current.pid)
        now = self.k.config.clock_monotonic() - self.k.boot_monotonic
        free, largest, largest_start, nfree = self._stats()
        self.rec.events.append(
            Event(what, block.start, block.size, block.owner, block.kind, now, free, largest,
                  largest_start, nfree)
        )  # fmt: skip

    def _note_name(self, pid: int) -> None:
        task = self.k.tasks.get(pid)
        if pid and task is not None:
            names = self.rec.names.setdefault(pid, [])
            if not names or names[-1] != task.comm:
                names.append(task.comm)

    def finish(self) -> Recording:
        """The recording, with the last names of every process noted."""
        for pid in list(self.k.tasks):
            self._note_name(pid)
        self.k.alloc.listener = None
        return self.rec

    def write(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(render(self.finish()), encoding="utf-8")


# -- replay: pieces and the steps they exist for ------------------------------------------


@dataclass(slots=True)
class Piece:
    """A used block or a free run, alive for steps [born, died)."""

    id: int
    start: int
    size: int
    owner: int
    kind: str  # "free" for free runs
    born: int
    died: int = -1

    @property
    def end(self) -> int:
        return self.start + self.size


class Replay:
    """Replays a recording into pieces; step 0 is the start, step i follows event i."""

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self.pieces: list[Piece] = []
        self.used: dict[int, Piece] = {}
        self.free: dict[int, Piece] = {}
        self.largest: list[int] = []  # per step: id of the largest free run, or -1
        self._start(rec)
        for step, ev in enumerate(rec.events, 1):
            getattr(self, f"_{ev.what}")(ev, step)
            self.largest.append(self._piece_at(ev.largest_start, ev.largest))
        last = len(rec.events) + 1
        for p in self.pieces:
            if p.died < 0:
                p.died = last

    def _new(self, start: int, size: int, owner: int, kind: str, step: int) -> Piece:
        p = Piece(len(self.pieces), start, size, owner, kind, step)
        self.pieces.append(p)
        (self.free if kind == "free" else self.used)[start] = p
        return p

    def _kill(self, p: Piece, step: int) -> None:
        p.died = step
        del (self.free if p.kind == "free" else self.used)[p.start]

    def _start(self, rec: Recording) -> None:
        at = rec.base
        for start, size, owner, kind in sorted(rec.initial):
            if start > at:
                self._new(at, start - at, 0, "free", 0)
            self._new(start, size, owner, kind, 0)
            at = start + size
        if at < rec.base + rec.size:
            self._new(at, rec.base + rec.size - at, 0, "free", 0)
        _, largest, largest_start, _ = rec.initial_stats
        self.largest.append(self._piece_at(largest_start, largest))

    def _piece_at(self, start: int, size: int) -> int:
        p = self.free.get(start)
        return p.id if p is not None and size else -1

    def _containing(self, pieces: dict[int, Piece], addr: int) -> Piece:
        p = pieces.get(addr)
        if p is not None:
            return p
        starts = sorted(pieces)
        p = pieces[starts[bisect.bisect_right(starts, addr) - 1]]
        assert p.start <= addr < p.end, "the allocator and the replay disagree"
        return p

    def _alloc(self, ev: Event, step: int) -> None:
        run = self._containing(self.free, ev.start)
        self._kill(run, step)
        if run.start < ev.start:
            self._new(run.start, ev.start - run.start, 0, "free", step)
        if ev.start + ev.size < run.end:
            self._new(ev.start + ev.size, run.end - ev.start - ev.size, 0, "free", step)
        self._new(ev.start, ev.size, ev.owner, ev.kind, step)

    def _free(self, ev: Event, step: int) -> None:
        block = self._containing(self.used, ev.start)
        self._kill(block, step)
        end = ev.start + ev.size
        if block.start < ev.start:
            self._new(block.start, ev.start - block.start, block.owner, block.kind, step)
        if end < block.end:
            self._new(end, block.end - end, block.owner, block.kind, step)
        start = ev.start
        before = next((p for p in self.free.values() if p.end == start), None)
        if before is not None:
            self._kill(before, step)
            start = before.start
        after = self.free.get(end)
        if after is not None:
            self._kill(after, step)
            end = after.end
        self._new(start, end - start, 0, "free", step)

    def _fail(self, ev: Event, step: int) -> None:
        pass

    def _retag(self, ev: Event, step: int) -> None:
        block = self.used[ev.start]
        self._kill(block, step)
        self._new(block.start, block.size, ev.owner, ev.kind, step)


# -- rendering ------------------------------------------------------------------------------

LEFT, WIDTH, ROW_H, GAP, TOP = 104, 1180, 26, 18, 16


def kib(n: int) -> str:
    """A size the way the page shows it: 64 KiB, 1.5 MiB."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 4 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n // KIB} KiB"


class Page:
    """Builds the HTML page for one recording."""

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self.replay = Replay(rec)
        self.steps = len(rec.events) + 1
        self.row_bytes = self._row_bytes()
        self.rows = -(-rec.size // self.row_bytes)
        owners = sorted({p.owner for p in self.replay.pieces if p.owner} | set(rec.names))
        self.colors = {pid: PALETTE[i % len(PALETTE)] for i, pid in enumerate(owners)}
        self.fails = [i for i, ev in enumerate(rec.events, 1) if ev.what == "fail"]
        self.default = self._first_fragmented() or (self.fails[0] if self.fails else self._peak())

    def _first_fragmented(self) -> int:
        """The first failure with enough memory free in total: fragmentation."""
        evs = self.rec.events
        return next((s for s in self.fails if evs[s - 1].free >= evs[s - 1].size), 0)

    def _row_bytes(self) -> int:
        """Bytes per row: 16 rows, page aligned (8 for small machines)."""
        rows = 16 if self.rec.size >= 8 << 20 else 8
        return max(4096, (self.rec.size // rows + 4095) & ~4095)

    def _peak(self) -> int:
        """The step with the least free memory (the fullest moment)."""
        free = [self.rec.initial_stats[0], *(ev.free for ev in self.rec.events)]
        return min(range(len(free)), key=lambda i: (free[i], i))

    # -- names and colours ------------------------------------------------------------

    def owner_label(self, pid: int) -> str:
        if not pid:
            return "kernel"
        names = self.rec.names.get(pid, [])
        if len(names) > 1 and names[0] == "init":  # the first process before its exec
            names = names[1:]
        return f"pid {pid} ({' → '.join(names)})" if names else f"pid {pid}"

    def color(self, p: Piece) -> str:
        if p.kind == "kernel" or not p.owner:
            return KERNEL_COLOR
        return self.colors.get(p.owner, PALETTE[0])

    # -- geometry -------------------------------------------------------------------------

    def spans(self, start: int, size: int) -> list[tuple[float, float, float]]:
        """(x, y, width) of the row segments covering [start, start+size)."""
        out: list[tuple[float, float, float]] = []
        off, end = start - self.rec.base, start - self.rec.base + size
        while off < end:
            row = off // self.row_bytes
            row_end = min(end, (row + 1) * self.row_bytes)
            x = LEFT + (off - row * self.row_bytes) * WIDTH / self.row_bytes
            w = max((row_end - off) * WIDTH / self.row_bytes, 0.8)
            out.append((round(x, 2), TOP + row * (ROW_H + GAP), round(w, 2)))
            off = row_end
        return out

    @property
    def ram_height(self) -> int:
        return TOP + self.rows * (ROW_H + GAP) + 4

    # -- the SVG of RAM ----------------------------------------------------------------

    def piece_svg(self, p: Piece) -> str:
        on = p.born <= self.default < p.died
        where = f"{p.start:#010x} to {p.end:#010x}"
        if p.kind == "free":
            title = f"free: {kib(p.size)}\n{where}"
            cls, fill, pattern = "p free", "", ""
        else:
            label = KINDS.get(p.kind, (p.kind, ""))[0]
            title = f"{self.owner_label(p.owner)} · {label}: {kib(p.size)}\n{where}"
            cls, fill, pattern = f"p k-{p.kind}", self.color(p), KINDS.get(p.kind, ("", ""))[1]
        title += (
            f"\nsteps {p.born} to {p.died - 1}" if p.died < self.steps else f"\nfrom step {p.born}"
        )
        parts = [
            f'<g class="{cls}{"" if on else " off"}" id="p{p.id}" data-b="{p.born}" '
            f'data-d="{p.died}"><title>{html.escape(title)}</title>'
        ]
        for i, (x, y, w) in enumerate(self.spans(p.start, p.size)):
            style = f' fill="{fill}"' if fill else ""
            parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{ROW_H}"{style}/>')
            if pattern:
                parts.append(
                    f'<rect class="pat" x="{x}" y="{y}" width="{w}" height="{ROW_H}" '
                    f'fill="url(#{pattern})"/>'
                )
            if i == 0 and w >= 42:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + ROW_H / 2 + 4}">{kib(p.size)}</text>'
                )
        parts.append("</g>")
        return "".join(parts)

    def failure_svg(self, step: int) -> str:
        """The refused request, drawn from the largest free run's start onwards."""
        ev = self.rec.events[step - 1]
        start = ev.largest_start if ev.largest else self.rec.base
        parts = [f'<g class="fail{"" if step == self.default else " off"}" data-s="{step}">']
        for x, y, w in self.spans(start, min(ev.size, self.rec.base + self.rec.size - start)):
            parts.append(f'<rect x="{x}" y="{y - 3}" width="{w}" height="{ROW_H + 6}" rx="3"/>')
        x, y, _ = self.spans(start, 1)[0]
        label = f"{kib(ev.size)} requested: no free run is that long"
        if x + 7.2 * len(label) > LEFT + WIDTH:  # keep the label inside the picture
            x, anchor = LEFT + WIDTH, "end"
        else:
            anchor = "start"
        parts.append(
            f'<text x="{x}" y="{y - 6}" text-anchor="{anchor}">{html.escape(label)}</text></g>'
        )
        return "".join(parts)

    def ram_svg(self) -> str:
        rows = []
        for r in range(self.rows):
            y = TOP + r * (ROW_H + GAP)
            addr = self.rec.base + r * self.row_bytes
            rows.append(
                f'<text class="addr" x="{LEFT - 10}" y="{y + ROW_H / 2 + 4}">{addr:#010x}</text>'
                f'<rect class="row" x="{LEFT}" y="{y}" width="{WIDTH}" height="{ROW_H}"/>'
            )
        pieces = "".join(self.piece_svg(p) for p in self.replay.pieces)
        fails = "".join(self.failure_svg(s) for s in self.fails)
        w, h = LEFT + WIDTH + 12, self.ram_height
        return (
            f'<svg id="ram" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="physical memory">'
            f"{PATTERNS}{''.join(rows)}{pieces}{fails}</svg>"
        )

    # -- the timeline -------------------------------------------------------------------

    def timeline_svg(self) -> str:
        h, n = 96, max(self.steps - 1, 1)
        size = self.rec.size

        def pt(i: int, v: int) -> str:
            return f"{LEFT + i * WIDTH / n:.1f},{8 + (h - 16) * (1 - v / size):.1f}"

        free = [self.rec.initial_stats[0], *(ev.free for ev in self.rec.events)]
        largest = [self.rec.initial_stats[1], *(ev.largest for ev in self.rec.events)]
        used = " ".join(pt(i, size - f) for i, f in enumerate(free))
        area = f"{pt(0, 0)} {used} {pt(len(free) - 1, 0)}"
        big = " ".join(pt(i, v) for i, v in enumerate(largest))
        marks = "".join(
            f'<path class="failmark" d="M{LEFT + s * WIDTH / n:.1f},{h - 6} l-5,8 h10 z">'
            f"<title>step {s}: allocation failed</title></path>"
            for s in self.fails
        )
        x, full = LEFT + self.default * WIDTH / n, LEFT + WIDTH + 12
        return (
            f'<svg id="timeline" viewBox="0 0 {full} {h + 4}" width="{full}" height="{h + 4}" '
            f'xmlns="http://www.w3.org/2000/svg">'
            f'<text class="axis" x="{LEFT - 10}" y="14">{kib(size)}</text>'
            f'<text class="axis" x="{LEFT - 10}" y="{h - 6}">0</text>'
            f'<rect class="tlbg" x="{LEFT}" y="8" width="{WIDTH}" height="{h - 16}"/>'
            f'<polygon class="used" points="{area}"><title>memory in use</title></polygon>'
            f'<polyline class="big" points="{big}"><title>largest free block</title></polyline>'
            f'{marks}<line id="cursor" x1="{x:.1f}" x2="{x:.1f}" y1="4" y2="{h - 4}"/></svg>'
        )

    # -- data for the script -----------------------------------------------------------

    def describe(self, ev: Event) -> str:
        who, kind = self.owner_label(ev.owner), KINDS.get(ev.kind, (ev.kind, ""))[0]
        if ev.what == "alloc":
            return f"{who} gets {kind}: {kib(ev.size)} at {ev.start:#010x}"
        if ev.what == "free":
            return f"{who} gives back {kind}: {kib(ev.size)} at {ev.start:#010x}"
        if ev.what == "retag":
            return f"{kind} at {ev.start:#010x} now belongs to {who}"
        return f"{who} asks for {kind}: {kib(ev.size)}, and gets ENOMEM"

    def why(self, ev: Event) -> str:
        """A failure, explained."""
        kind = KINDS.get(ev.kind, (ev.kind, ""))[0]
        what = f"{kib(ev.size)} of {kind} for {self.owner_label(ev.owner)}"
        if ev.free >= ev.size:
            return (
                f"{what}: ENOMEM. {kib(ev.free)} are free in total, but the largest contiguous "
                f"free block is only {kib(ev.largest)}: memory is fragmented."
            )
        return f"{what}: ENOMEM. Only {kib(ev.free)} are free in total."

    def data(self) -> dict[str, object]:
        evs, r = self.rec.events, self.rec
        fails = {s: self.why(evs[s - 1]) for s in self.fails}
        return {
            "steps": self.steps,
            "total": r.size,
            "free": [r.initial_stats[0], *(e.free for e in evs)],
            "largestSize": [r.initial_stats[1], *(e.largest for e in evs)],
            "nfree": [r.initial_stats[3], *(e.nfree for e in evs)],
            "largest": self.replay.largest,
            "time": [0.0, *(round(e.time, 4) for e in evs)],
            "desc": ["the machine before the first program", *map(self.describe, evs)],
            "fails": fails,
            "default": self.default,
        }

    # -- the page --------------------------------------------------------------------------

    def legend(self) -> str:
        procs = "".join(
            f'<li><span class="sw" style="background:{c}"></span>{html.escape(name)}</li>'
            for name, c in ((self.owner_label(p), c) for p, c in self.colors.items())
        )
        kinds_used = {p.kind for p in self.replay.pieces} - {"free"}
        kinds = "".join(
            '<li><svg width="22" height="14"><rect width="22" height="14" fill="#8a94a6"/>'
            + (f'<rect width="22" height="14" fill="url(#{pat})"/>' if pat else "")
            + f"</svg>{html.escape(label)}</li>"
            for kind, (label, pat) in KINDS.items()
            if kind in kinds_used
        )
        return (
            '<div class="legend"><div><h3>Processes</h3><ul>'
            f'<li><span class="sw" style="background:{KERNEL_COLOR}"></span>kernel</li>{procs}'
            f"</ul></div><div><h3>Kinds</h3><ul>{kinds}</ul></div><div><h3>Free memory</h3><ul>"
            '<li><span class="sw free"></span>free run</li>'
            '<li><span class="sw largest"></span>largest free block</li>'
            '<li><span class="sw failed"></span>a request that did not fit</li>'
            "</ul></div></div>"
        )

    def failure_list(self) -> str:
        if not self.fails:
            return '<p class="nofail">No allocation failed during this run.</p>'
        items = "".join(
            f'<li><button data-step="{s}">step {s}</button> '
            f"{html.escape(self.describe(self.rec.events[s - 1]))} "
            f"(largest free block {kib(self.rec.events[s - 1].largest)})</li>"
            for s in self.fails
        )
        return f'<h3>Allocations that failed</h3><ol class="fails">{items}</ol>'

    def html(self) -> str:
        r = self.rec
        mode = "with an MMU (pages need not be contiguous)" if r.mmu else "no MMU"
        head = (
            f"{kib(r.size)} of RAM at {r.base:#010x} · {mode} · {len(r.events)} allocator "
            f"events · {len(self.fails)} failed allocation{'s' if len(self.fails) != 1 else ''}"
        )
        data = json.dumps(self.data(), separators=(",", ":")).replace("</", "<\\/")
        return TEMPLATE.format(
            title=html.escape(r.title or "nommu"),
            head=html.escape(head),
            ram=self.ram_svg(),
            timeline=self.timeline_svg(),
            legend=self.legend(),
            fails=self.failure_list(),
            last=self.steps - 1,
            default=self.default,
            left=LEFT,
            width=WIDTH,
            row=kib(self.row_bytes),
            explain=EXPLAIN_MMU if r.mmu else EXPLAIN_NOMMU,
            css=CSS,
            script=SCRIPT,
            data=data,
        )


EXPLAIN_NOMMU = (
    "Without an MMU, every program image, stack, mmap and shared memory segment is "
    "<b>one contiguous run</b> of physical memory. An allocation fails when no single free "
    "run is long enough, however much memory is free in total."
)
EXPLAIN_MMU = (
    "With an MMU, memory is handed out <b>one page at a time</b>, when a page is first "
    "touched, and the page tables make scattered pages look contiguous: fragmentation of "
    "physical memory does not matter."
)


def render(rec: Recording) -> str:
    """The self-contained HTML page of a recording."""
    return Page(rec).html()
