"""Pipes: a bounded byte buffer with a read end and a write end.

* A read takes what is there; with nothing there it waits for a writer, or
  returns 0 (end of file) once every write end is closed.
* A write of at most PIPE_BUF bytes is atomic: it waits until all of it
  fits. A larger write goes in pieces as room appears (and, for a blocking
  descriptor, does not return until all of it is written).
* Writing with no read end left fails with EPIPE (the caller then gets
  SIGPIPE).

Waiting uses the scheduler's channels: readers sleep on `PipeReadable`,
writers on `PipeWritable`; each side wakes the other after it moves data.
"""

from __future__ import annotations

import stat as st
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.flags import POLLERR, POLLHUP, POLLIN, POLLOUT
from nommu.abi.structs import StatInfo
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.files import OpenFile
from nommu.kernel.statfs import StatFs, pseudo_fs

if TYPE_CHECKING:
    from nommu.kernel.sched import Scheduler

PIPE_BUF = 4096  # writes up to this size are atomic
PIPE_SIZE = 65536  # the buffer's capacity (Linux's default: 16 pages)


@dataclass(eq=False)
class Pipe:
    ino: int
    sched: Scheduler
    data: bytearray = field(default_factory=bytearray)
    readers: int = 0
    writers: int = 0
    readable: PipeReadable = field(init=False)  # the channel readers wait on
    writable: PipeWritable = field(init=False)  # ... and writers

    def __post_init__(self) -> None:
        self.readable, self.writable = PipeReadable(self.ino), PipeWritable(self.ino)


# One of each per pipe, made with it: compared by identity (a cheap hash on
# every wait and wakeup), not by value.
@dataclass(frozen=True, slots=True, eq=False)
class PipeReadable:
    ino: int

    def __str__(self) -> str:
        return f"read from pipe:[{self.ino}] (empty)"


@dataclass(frozen=True, slots=True, eq=False)
class PipeWritable:
    ino: int

    def __str__(self) -> str:
        return f"write to pipe:[{self.ino}] (full)"


class PipeEnd(OpenFile):
    """One end of a pipe, as an open file."""

    def __init__(self, pipe: Pipe, flags: int) -> None:
        super().__init__(flags, f"pipe:[{pipe.ino}]")
        self.pipe = pipe
        if self.readable:
            pipe.readers += 1
        else:
            pipe.writers += 1

    def read(self, count: int) -> bytes:
        p = self.pipe
        if not p.data:
            if p.writers == 0 or count == 0:
                return b""
            if self.flags & F.O_NONBLOCK:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(p.readable)
        chunk = bytes(p.data[:count])
        del p.data[:count]
        p.sched.wakeup(p.writable)
        return chunk

    def write_some(self, data: bytes) -> int:
        """Put as much of `data` as the rules allow into the pipe, or wait."""
        p = self.pipe
        if p.readers == 0:
            raise SyscallError(Errno.EPIPE)
        room = PIPE_SIZE - len(p.data)
        if room <= 0 or (len(data) <= PIPE_BUF and room < len(data)):
            if self.flags & F.O_NONBLOCK:
                raise SyscallError(Errno.EAGAIN)
            raise Blocked(p.writable)
        n = min(room, len(data))
        p.data += data[:n]
        p.sched.wakeup(p.readable)
        return n

    def write(self, data: bytes) -> int:
        return self.write_some(data)

    def stat(self) -> StatInfo:
        return StatInfo(
            9, self.pipe.ino, st.S_IFIFO | 0o600, 1, 0, 0, 0, len(self.pipe.data), 4096, 0, 0, 0, 0
        )

    def statfs(self) -> StatFs:
        return pseudo_fs(F.PIPEFS_MAGIC)

    def release(self) -> None:
        p = self.pipe
        if self.readable:
            p.readers -= 1
            p.sched.wakeup(p.writable)  # writers now get EPIPE
        else:
            p.writers -= 1
            p.sched.wakeup(p.readable)  # readers now see end of file

    def nread(self) -> int:
        return len(self.pipe.data)

    def poll(self) -> int:
        p = self.pipe
        if self.readable:
            return (POLLIN if p.data else 0) | (POLLHUP if p.writers == 0 else 0)
        if p.readers == 0:
            return POLLOUT | POLLERR
        return POLLOUT if len(p.data) + PIPE_BUF <= PIPE_SIZE else 0

    def poll_channels(self) -> tuple[object, ...]:
        p = self.pipe
        return (p.readable,) if self.readable else (p.writable,)
