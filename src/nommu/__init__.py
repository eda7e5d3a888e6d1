"""nommu: a no-MMU Linux machine, emulated in Python."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from nommu.api import Machine, RunResult

__all__ = ["Machine", "RunResult", "__version__"]


def __getattr__(name: str) -> object:
    """Machine and RunResult, imported on first use: `nommu-cc` (nommu.cc) then
    starts without loading the emulator."""
    if name in ("Machine", "RunResult"):
        from nommu import api

        return getattr(api, name)
    raise AttributeError(f"module 'nommu' has no attribute {name!r}")
