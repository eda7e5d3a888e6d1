"""Copying between the kernel and user memory: the one place a bad pointer
becomes EFAULT.

On a no-MMU machine a user address is a physical address, so "user memory"
is RAM itself: any address inside RAM is reachable by any process (nothing
protects one process from another: that is the no-MMU bargain), and only an
address outside RAM faults. The MMU model reaches memory through the
current task's page tables instead (kernel/mmu_model.py `MmuUserMemory`).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import PATH_MAX
from nommu.kernel.errors import SyscallError
from nommu.machine.ram import BusError, PhysicalRAM

if TYPE_CHECKING:
    from nommu.machine.cpu import Cpu

_U32 = struct.Struct("<I")


class UserMemory:
    """User-space accessors over flat physical memory (identity mapping).

    A kernel write into memory the CPU has translated code from (a read()
    into a buffer that held code, say) drops that code's translations, as
    the CPU's own stores do: x86 keeps code and data coherent."""

    def __init__(self, ram: PhysicalRAM, cpu: Cpu | None = None) -> None:
        self.ram = ram
        self.cpu = cpu

    def read(self, addr: int, size: int) -> bytes:
        if size == 0:
            return b""
        try:
            return self.ram.read(addr, size)
        except BusError:
            raise SyscallError(Errno.EFAULT) from None

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        try:
            self.ram.write(addr, data)
        except BusError:
            raise SyscallError(Errno.EFAULT) from None
        cpu = self.cpu
        if cpu is not None and cpu.tlb.holds_code(addr, addr + len(data)):
            cpu.flush_code(addr, addr + len(data))

    def span(self, addr: int, count: int) -> int:
        """How many of `count` bytes at `addr` memory can hold (EFAULT if none).

        A transfer into user memory is cut to this before the kernel makes a
        buffer for it, so read(fd, buf, 0x7fffffff) costs nommu no more than
        the RAM behind `buf`, never gigabytes."""
        if count <= 0:
            return 0
        if not self.ram.base <= addr < self.ram.end:
            raise SyscallError(Errno.EFAULT)
        return min(count, self.ram.end - addr)

    def read_u32(self, addr: int) -> int:
        try:
            return self.ram.read_u32(addr)
        except BusError:
            raise SyscallError(Errno.EFAULT) from None

    def write_u32(self, addr: int, value: int) -> None:
        try:
            self.ram.write_u32(addr, value)
        except BusError:
            raise SyscallError(Errno.EFAULT) from None

    def read_struct(self, fmt: struct.Struct, addr: int) -> tuple[int, ...]:
        return fmt.unpack(self.read(addr, fmt.size))

    def write_struct(self, fmt: struct.Struct, addr: int, *values: int) -> None:
        self.write(addr, fmt.pack(*values))

    def read_cstr(self, addr: int, limit: int = PATH_MAX) -> bytes:
        """A NUL-terminated string; ENAMETOOLONG if longer than `limit`."""
        try:
            end = self.ram.find_nul(addr, limit)
        except BusError:
            raise SyscallError(Errno.EFAULT) from None
        if end < 0:
            if addr + limit > self.ram.end:
                raise SyscallError(Errno.EFAULT)
            raise SyscallError(Errno.ENAMETOOLONG)
        return self.ram.read(addr, end - addr)

    def read_path(self, addr: int) -> str:
        """A path argument: ENOENT when empty (callers that allow "" check first)."""
        raw = self.read_cstr(addr, PATH_MAX)
        return raw.decode("utf-8", "surrogateescape")

    def read_ptr_array(self, addr: int, limit: int) -> list[int]:
        """A NULL-terminated array of pointers (argv, envp); E2BIG past `limit`."""
        out: list[int] = []
        while True:
            ptr = self.read_u32(addr + 4 * len(out))
            if ptr == 0:
                return out
            if len(out) >= limit:
                raise SyscallError(Errno.E2BIG)
            out.append(ptr)
