"""Physical RAM: one flat, contiguous range of host memory the CPU sees at `base`.

The same host buffer is mapped into the emulated CPU (so guest loads and
stores hit it at JIT speed) and read directly by the kernel through a
memoryview (so the kernel's copies cost no call into Unicorn). There is no
address translation here: on a no-MMU machine an address *is* the physical
address. Translation, when there is an MMU, lives in the kernel's address
spaces, not in RAM.
"""

from __future__ import annotations

import ctypes
import mmap
import struct

_U32 = struct.Struct("<I")


class BusError(Exception):
    """An access outside physical RAM (the kernel turns it into EFAULT)."""

    def __init__(self, addr: int, size: int) -> None:
        super().__init__(f"no RAM at {addr:#x} (+{size})")
        self.addr = addr
        self.size = size


class PhysicalRAM:
    """`size` bytes of RAM at physical address `base`; contents start zeroed."""

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.size = size
        self.end = base + size
        self.buffer = mmap.mmap(-1, size)
        self.view = memoryview(self.buffer)
        self.host_address = ctypes.addressof(ctypes.c_char.from_buffer(self.buffer))

    def _offset(self, addr: int, size: int) -> int:
        off = addr - self.base
        if off < 0 or size < 0 or off + size > self.size:
            raise BusError(addr, size)
        return off

    def read(self, addr: int, size: int) -> bytes:
        off = self._offset(addr, size)
        return self.buffer[off : off + size]

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        off = self._offset(addr, len(data))
        self.buffer[off : off + len(data)] = data

    def fill(self, addr: int, size: int, byte: int = 0) -> None:
        """Set `size` bytes at `addr` to `byte` (zeroing fresh blocks)."""
        off = self._offset(addr, size)
        # (straight into the mapping: no temporary object of `size` bytes to
        # build and copy, for each stack and anonymous mapping a program makes)
        ctypes.memset(self.host_address + off, byte, size)

    def read_u32(self, addr: int) -> int:
        value: int = _U32.unpack_from(self.buffer, self._offset(addr, 4))[0]
        return value

    def write_u32(self, addr: int, value: int) -> None:
        _U32.pack_into(self.buffer, self._offset(addr, 4), value & 0xFFFFFFFF)

    def find_nul(self, addr: int, limit: int) -> int:
        """Address of the first NUL at or after `addr` within `limit` bytes, or -1."""
        off = self._offset(addr, 0)
        stop = min(off + limit, self.size)
        found = self.buffer.find(b"\0", off, stop)
        return -1 if found < 0 else self.base + found

    def close(self) -> None:
        self.view.release()
