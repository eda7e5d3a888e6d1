"""nommu: a no-MMU Linux machine, emulated in Python."""

from __future__ import annotations

__version__ = "0.1.0"

from nommu.api import Machine, RunResult

__all__ = ["Machine", "RunResult", "__version__"]
