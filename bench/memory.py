#!/usr/bin/env python3
"""nommu's own memory with many live guest processes (issue 8).

Starts `many N /bin/sleep S` inside nommu: N processes alive at once, and
reports nommu's peak resident memory (ru_maxrss) against a run with one
process, so the cost per live guest process can be read off.

    python bench/memory.py [N]
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "nommu" / "guestbin"


def peak_rss_kib(argv: list[str], root: Path) -> tuple[int, str]:
    code = (
        "import resource, sys\n"
        "from nommu import Machine\n"
        f"r = Machine(root={str(root)!r}, hints=False, mem='64M').run({argv!r}, capture=True)\n"
        "print(r.returncode, r.stdout.decode().strip())\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    ).stdout.splitlines()
    return int(out[-1]), out[0]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(SRC, root / "bin")
        one, _ = peak_rss_kib(["/bin/exitcode", "0"], root)
        many, status = peak_rss_kib(["/bin/many", str(n), "/bin/sleep", "1"], root)
    print(f"nommu peak RSS, 1 guest process:   {one / 1024:7.1f} MiB")
    print(f"nommu peak RSS, {n} live processes: {many / 1024:7.1f} MiB  ({status})")
    print(f"per live guest process:            {(many - one) / n:7.1f} KiB")
    print(
        f"(host: peak RSS of this script: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KiB)"
    )


if __name__ == "__main__":
    main()
