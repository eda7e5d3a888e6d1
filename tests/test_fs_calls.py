"""File-system calls as Linux has them, native vs nommu (both modes): hard
links in /dev/shm and the named semaphores built on them, timestamps
(utimensat and its older forms), statfs, and POSIX record locks."""

from __future__ import annotations

from collections.abc import Callable

from nommu.api import RunResult

Differential = Callable[..., RunResult]


def test_shm_hard_links_and_named_semaphores(differential: Differential) -> None:
    """link/rename inside /dev/shm (link counts, EEXIST, EXDEV across file
    systems, a file outliving its names while open), then sem_open's
    temporary file + link, and a semaphore shared with a vfork+exec child and
    a posix_spawn child that the parent sleeps on."""
    out = differential(["./shmlink"]).stdout.decode()
    assert "b with three names: nlink 3, size 3\n" in out
    assert "sem_wait for its reply: ok\n" in out
