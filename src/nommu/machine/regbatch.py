"""A fixed set of CPU registers read or written in one call into Unicorn.

The Python binding's uc.reg_read/reg_write pick a ctypes type per register
and call the library once per register: a few microseconds each. Saving the
x87/SSE state for a signal frame touches 20 registers, restoring and clearing
it 20 more, so a signal delivered and returned from cost ~60 such calls. A
RegisterBatch names its registers once and moves them all with a single
uc_reg_read_batch / uc_reg_write_batch call through a raw buffer.

The buffer holds one 16-byte slot per register, in the order given: the
library reads or writes each register at the start of its slot in the
register's own width (2 bytes for the x87 control word, 10 for an x87 data
register: the 8-byte mantissa then the 2-byte sign and exponent, 16 for an
XMM register), little-endian. Slots are zeroed before a read.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from typing import Any

from unicorn import UcError
from unicorn.unicorn_py3.unicorn import uclib

SLOT = 16  # bytes per register: the widest one here is an XMM register


class RegisterBatch:
    """Registers `regs` of a Unicorn engine, read and written all at once.

    One scratch buffer per thread (ctypes calls release the GIL, so two
    machines may run on two threads at once)."""

    def __init__(self, regs: Sequence[int]) -> None:
        self.regs = tuple(regs)
        self.size = SLOT * len(self.regs)
        self._local = threading.local()

    def _buffers(self) -> tuple[Any, Any, Any]:
        """This thread's (ids, buffer, slot pointers), made on first use."""
        bufs = getattr(self._local, "bufs", None)
        if bufs is None:
            n = len(self.regs)
            ids = (ctypes.c_int * n)(*self.regs)
            buf = ctypes.create_string_buffer(self.size)
            base = ctypes.addressof(buf)
            ptrs = (ctypes.c_void_p * n)(*[base + SLOT * i for i in range(n)])
            bufs = self._local.bufs = (ids, buf, ptrs)
        return bufs

    def read(self, uc: Any) -> bytes:
        """The registers of engine `uc` (a unicorn.Uc), SLOT bytes each."""
        ids, buf, ptrs = self._buffers()
        ctypes.memset(buf, 0, self.size)
        err = uclib.uc_reg_read_batch(uc._uch, ids, ptrs, len(self.regs))
        if err:
            raise UcError(err)
        return bytes(buf.raw)

    def write(self, uc: Any, data: bytes) -> None:
        """Load the registers of `uc` from `data` (SLOT bytes each, as read gives)."""
        if len(data) != self.size:
            raise ValueError(f"register batch wants {self.size} bytes, got {len(data)}")
        ids, buf, ptrs = self._buffers()
        ctypes.memmove(buf, data, self.size)
        err = uclib.uc_reg_write_batch(uc._uch, ids, ptrs, len(self.regs))
        if err:
            raise UcError(err)
