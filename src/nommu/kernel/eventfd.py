"""eventfd: a 64-bit counter as a file, for waking another thread or process.

* write(8 bytes) adds the value; the counter never exceeds 2**64 - 2, so a
  write that would go past waits for a read (EAGAIN when non-blocking); the
  value 2**64 - 1 is refused with EINVAL.
* read(8 bytes) waits until the counter is not zero and takes all of it, or
  with EFD_SEMAPHORE takes 1.
* Buffers shorter than 8 bytes are EINVAL. Readable when the counter is not
  zero, writable while another 1 still fits.

Readers and writers wait on the file's one channel, woken after every change.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno
from nommu.abi.flags import POLLIN, POLLOUT
from nommu.kernel.anon import AnonFile
from nommu.kernel.errors import Blocked, SyscallError

if TYPE_CHECKING:
    from nommu.kernel.sched import Scheduler

COUNTER_MAX = (1 << 64) - 2
U64 = struct.Struct("<Q")


@dataclass(frozen=True, slots=True, eq=False)
class EventfdChanged:
    """Wait channel: an eventfd's counter changed."""

    def __str__(self) -> str:
        return "eventfd (counter zero, or full)"


class EventFd(AnonFile):
    def __init__(self, sched: Scheduler, count: int, flags: int) -> None:
        super().__init__(flags & ~F.EFD_SEMAPHORE | F.O_RDWR, "[eventfd]")
        self.sched = sched
        self.count = count
        self.semaphore = bool(flags & F.EFD_SEMAPHORE)
        self.changed = EventfdChanged()

    def _wait(self) -> None:
        if self.flags & F.O_NONBLOCK:
            raise SyscallError(Errno.EAGAIN)
        raise Blocked(self.changed)

    def read(self, count: int) -> bytes:
        if count < U64.size:
            raise SyscallError(Errno.EINVAL)
        if self.count == 0:
            self._wait()
        value = 1 if self.semaphore else self.count
        self.count -= value
        self.sched.wakeup(self.changed)
        return U64.pack(value)

    def write(self, data: bytes) -> int:
        if len(data) < U64.size:
            raise SyscallError(Errno.EINVAL)
        (value,) = U64.unpack_from(data)
        if value > COUNTER_MAX:
            raise SyscallError(Errno.EINVAL)
        if self.count + value > COUNTER_MAX:
            self._wait()
        self.count += value
        if value:
            self.sched.wakeup(self.changed)
        return len(data)  # (Linux returns 8 for a longer buffer; its excess is ignored)

    def poll(self) -> int:
        return (POLLIN if self.count else 0) | (POLLOUT if self.count < COUNTER_MAX else 0)

    def poll_channels(self) -> tuple[object, ...]:
        return (self.changed,)
