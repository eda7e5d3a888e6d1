"""The memory map (`--memmap`): the recording, its replay, and the HTML page."""

from __future__ import annotations

import contextlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from helpers import nommu_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from nommu import Machine
from nommu.kernel.alloc import PhysAllocator
from nommu.kernel.errors import SyscallError
from nommu.trace.memmap import MemmapRecorder, Replay, render

PAGE = 4096
BASE = 0x40000000
SVG = "{http://www.w3.org/2000/svg}"


def page_data(page: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="memmap-data">(.*?)</script>', page, re.S)
    assert m is not None
    data: dict[str, Any] = json.loads(m[1].replace("<\\/", "</"))
    return data


def svg(page: str, ident: str) -> ET.Element:
    m = re.search(rf'<svg id="{ident}".*?</svg>', page, re.S)
    assert m is not None
    return ET.fromstring(m[0])  # well-formed, or this raises


def test_memmap_of_the_fragmentation_demo(guest_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "memmap.html"
    m = Machine(root=guest_root, mem="4M", hints=False, memmap=path)
    m.run(["/fragment"], capture=True, stdin=b"")
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r"<(link|img|iframe|object)\b|\ssrc=|@import|url\((?!#)", page)
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}
    assert m.kernel is not None
    failures = m.kernel.alloc.failures
    data = page_data(page)
    ram = svg(page, "ram")
    fails = [g for g in ram.iter(f"{SVG}g") if g.get("class", "").startswith("fail")]
    assert len(fails) == len(failures) == len(data["fails"]) == 4
    # the page opens on the first failure caused by fragmentation, with its explanation
    step = data["default"]
    assert data["free"][step] >= 128 * 1024 > data["largestSize"][step] == 64 * 1024
    assert "fragmented" in data["fails"][str(step)]
    assert data["largest"][step] >= 0  # the largest free run is highlighted
    blocks = [g for g in ram.iter(f"{SVG}g") if g.get("class", "").startswith("p ")]
    assert all(g.find(f"{SVG}title") is not None for g in blocks)  # hover titles
    titles = [g.findtext(f"{SVG}title") or "" for g in blocks]
    assert any("pid 1 (fragment) · mmap: 64 KiB" in t for t in titles)
    assert any(t.startswith("free: ") for t in titles)
    assert 'id="step"' in page and "<script>" in page  # the timeline slider
    for word in ("Processes", "Kinds", "largest free block", "a request that did not fit"):
        assert word in page
    svg(page, "timeline")


def test_memmap_from_the_command_line(guest_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.html"
    proc = nommu_cli(
        "run", "--root", str(guest_root), "--mem", "2M", "--memmap", str(out), "/hello"
    )
    assert proc.returncode == 0, proc.stderr
    data = page_data(out.read_text())
    assert data["steps"] > 4 and not data["fails"]


# -- the replay agrees with the allocator at every step -------------------------------------------


def recorder_for(alloc: PhysAllocator) -> MemmapRecorder:
    k = SimpleNamespace(
        alloc=alloc,
        memory=SimpleNamespace(has_mmu=False),
        tasks={},
        current=None,
        boot_monotonic=0.0,
        config=SimpleNamespace(clock_monotonic=lambda: 0.0),
    )
    return MemmapRecorder(k, ["test"])  # type: ignore[arg-type]


ops = st.lists(
    st.one_of(
        st.tuples(st.just("alloc"), st.integers(1, 6), st.sampled_from(["mmap", "stack"])),
        st.tuples(st.just("free"), st.integers(0, 20), st.booleans()),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_replay_matches_the_allocator(script: list[tuple[Any, ...]]) -> None:
    alloc = PhysAllocator(BASE, 24 * PAGE)
    alloc.alloc(PAGE, 0, "kernel")
    rec = recorder_for(alloc)
    states = [layout(alloc)]
    for op in script:
        if op[0] == "alloc":
            with contextlib.suppress(SyscallError):
                alloc.alloc(op[1] * PAGE, 7, op[2])
        elif alloc.used_blocks():
            block = alloc.used_blocks()[op[1] % len(alloc.used_blocks())]
            if op[2] or block.size == PAGE:
                alloc.free(block)
            else:
                alloc.free_range(block.start + PAGE, PAGE)  # a partial munmap
        while len(states) < len(rec.rec.events) + 1:
            states.append(layout(alloc))
    recording = rec.finish()
    replay = Replay(recording)
    for step, want in enumerate(states):
        alive = sorted((p.start, p.size, p.kind) for p in replay.pieces if p.born <= step < p.died)
        assert alive == want, f"step {step}"
    render(recording)  # and it renders


def layout(alloc: PhysAllocator) -> list[tuple[int, int, str]]:
    return [(b.start, b.size, b.kind) for b in alloc.blocks()]
