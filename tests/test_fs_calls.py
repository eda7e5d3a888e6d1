"""File-system calls as Linux has them, native vs nommu (both modes): hard
links in /dev/shm and the named semaphores built on them, timestamps
(utimensat and its older forms), statfs, and POSIX record locks."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from nommu import Machine
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


def test_file_times(differential: Differential) -> None:
    """utimensat (explicit, UTIME_NOW, UTIME_OMIT, AT_SYMLINK_NOFOLLOW, a
    directory descriptor, a NULL path), utimensat_time64 past 2038,
    futimesat, utimes and utime, on a root file and a /dev/shm file: what
    stat shows (to the nanosecond) and each error, in Linux's order."""
    out = differential(["./utimes"]).stdout.decode()
    assert "after utimensat: atime 1000000000.123456789 mtime 1500000000.987654321\n" in out
    assert "after utimensat_time64: atime 4102444800.000000111 mtime 4102444801.000000222\n" in out
    assert "the /dev/shm file: atime 1000000000.000000011 mtime 1000000001.000000022\n" in out


def test_strace_decodes_file_times(guest_root: Path) -> None:
    """--strace prints utimensat's times[2] (UTIME_NOW/UTIME_OMIT by name),
    utimes' timevals and utime's utimbuf."""
    trace = io.StringIO()
    Machine(root=guest_root, hints=False, strace=trace).run(["/utimes"], capture=True)
    text = trace.getvalue()
    assert ", [UTIME_OMIT, {tv_sec=1600000000, tv_nsec=5}], 0) = 0\n" in text
    assert ", [{tv_sec=0, tv_nsec=0}, {tv_sec=0, tv_nsec=-1}], 0) = -1 EINVAL" in text
    assert (
        ", [{tv_sec=1234567890, tv_usec=123456}, {tv_sec=1234567891, tv_usec=654321}]) = 0" in text
    )
    assert ", {actime=1111111111, modtime=1222222222}) = 0\n" in text
    assert "utimensat_time64(AT_FDCWD, " in text


def test_statfs(differential: Differential, guest_arch: str) -> None:
    """statfs/fstatfs/statfs64/fstatfs64/statvfs of the root (the host file
    system's numbers), /dev/shm (tmpfs), /proc, /dev/null and a pipe; the
    struct statfs64 size check; the old 32-bit statfs."""
    if guest_arch == "arm":
        pytest.skip("ARM's statfs64 also takes size 88 (sys_statfs64_wrapper): test_arm.py")
    out = differential(["./statfs"]).stdout.decode()
    assert "/dev/shm: type 0x1021994 bsize 4096 namelen 255 frsize 4096 rdonly 0\n" in out
    assert "/proc: type 0x9fa0 " in out
    assert "statfs64 size 88: EINVAL (Invalid argument)\n" in out


def test_strace_shows_statfs(guest_root: Path) -> None:
    trace = io.StringIO()
    Machine(root=guest_root, hints=False, strace=trace).run(["/statfs"], capture=True)
    assert 'statfs64(".", 88, ' in trace.getvalue()
    assert "fstatfs64(3, 84, " in trace.getvalue()


def test_record_locks_and_flock(differential: Differential) -> None:
    """Two processes (a vfork+execve child, then a posix_spawn child) and
    one file: fcntl record locks conflict, split, merge and go with any
    close and at exit; F_GETLK reports the holder; F_SETLKW waits, detects
    a deadlock (EDEADLK) and is interrupted by a signal (EINTR); OFD locks
    belong to the open file; flock is a namespace of its own."""
    out = differential(["./locks"]).stdout.decode()
    assert "B: F_GETLK write [0,EOF): F_WRLCK from 0 len 10 pid A\n" in out
    assert "held by B who waits for A: EDEADLK (Resource deadlock would occur)\n" in out
    assert "B: F_SETLKW after a signal: EINTR (Interrupted system call)\n" in out
    assert "A: F_GETLK after B exited: F_UNLCK\n" in out


def test_strace_decodes_struct_flock(guest_root: Path) -> None:
    trace = io.StringIO()
    Machine(root=guest_root, hints=False, strace=trace).run(["/locks"], capture=True)
    text = trace.getvalue()
    assert "F_SETLK64, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=10, l_pid=0})" in text
    assert "flock(3, LOCK_EX|LOCK_NB) = -1 EAGAIN" in text
