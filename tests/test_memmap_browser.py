"""The memory map in a real browser: headless Chromium renders the page and
takes a screenshot, which must show a picture, not a blank page.

Skipped where /usr/bin/chromium is not installed (it is too heavy for every
CI machine; `apt-get install chromium` to run it). The PNG is decoded here
with zlib alone: no imaging library needed.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from nommu import Machine

CHROMIUM = Path("/usr/bin/chromium")


def chromium_screenshot(page: Path, png: Path, profile: Path) -> None:
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1400,900",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = color = 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    assert depth == 8 and color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    prev = bytearray(stride)
    for y in range(height):
        at = y * (stride + 1)
        ftype, line = raw[at], bytearray(raw[at + 1 : at + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)")
def test_memmap_renders_in_chromium(guest_root: Path, tmp_path: Path) -> None:
    page, png = tmp_path / "memmap.html", tmp_path / "memmap.png"
    Machine(root=guest_root, mem="4M", hints=False, memmap=page).run(
        ["/fragment"], capture=True, stdin=b""
    )
    chromium_screenshot(page, png, tmp_path / "profile")
    assert png.exists() and png.stat().st_size > 20_000
    width, height, rows = png_pixels(png.read_bytes())
    assert (width, height) == (1400, 900)
    bpp = len(rows[0]) // width
    pixels = [tuple(row[i : i + 3]) for row in rows[::3] for i in range(0, len(row), bpp * 3)]
    colors = set(pixels)
    assert len(colors) > 50, "a real picture has many colours"
    background = max(colors, key=pixels.count)
    assert sum(p != background for p in pixels) > len(pixels) // 10, "mostly blank"
    # the failure banner (red), the blocks (blue) and the largest free block (green) show
    assert any(r > 140 and g < 70 and b < 70 for r, g, b in pixels)
    assert any(b > 140 and r < 110 for r, g, b in pixels)
    assert any(g > 150 and r < 60 and b < 100 for r, g, b in pixels)
