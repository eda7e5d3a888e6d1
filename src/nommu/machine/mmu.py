"""The optional MMU: address translation for the CPU, through Unicorn's virtual TLB.

With an MMU the CPU no longer sees physical addresses. Every access goes
through the TLB; on a miss Unicorn calls the fill hook below with the
virtual address and the kind of access, and the kernel's page tables answer
with a physical page and its permissions (or refuse: a page fault). Misses
are rare (a loop touching the same pages misses once per page), so the
MMU costs almost nothing on compute.

Copy-on-write lives entirely in the fill: a shared page is filled read-only;
the first write to it misses again as a write, the kernel copies the page,
and the fill answers with the copy, writable.

On a context switch to another address space the TLB is flushed, so the
next accesses refill from the new page tables.

Execute permission is given only to pages code has been fetched from. This
matters for speed, not protection: Unicorn sends every store through a slow
helper until the page is marked dirty, and it never marks a page dirty while
its TLB entry allows execution (that is how it notices self-modifying code:
each store to a page that may hold translated code checks for it). A data
page filled read/write without execute takes the slow path on its first
store only; a page the CPU has fetched from keeps execute, so stores to it
are still checked, exactly as Unicorn intends. Translated code only ever
exists on pages in `code_pages` (the CPU fetches through the TLB), so no
store that could change translated code escapes the check.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from unicorn import (
    UC_CTL_IO_WRITE,
    UC_CTL_TLB_FLUSH,
    UC_HOOK_TLB_FILL,
    UC_MEM_FETCH,
    UC_MEM_WRITE,
    UC_TLB_VIRTUAL,
    UcError,
)
from unicorn.unicorn_py3.unicorn import HOOK_TLB_FILL_CFUNC, uclib

# Permission bits of a TLB entry (UC_PROT_*), and what a fault was doing.
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
ACCESS_NAMES = {UC_MEM_WRITE: "write", UC_MEM_FETCH: "fetch"}

# translate(vaddr, access) -> (physical address of the page, perms), or None: a fault
Translate = Callable[[int, str], "tuple[int, int] | None"]


class Mmu:
    """Owns the CPU's TLB: fills it from `translate`, flushes it on demand."""

    def __init__(self, cpu: Any) -> None:
        self.cpu = cpu
        self.translate: Translate = lambda vaddr, access: None
        self.last_fault: tuple[int, str] | None = None  # (vaddr, access) of a refused fill
        self.fills = 0
        self.code_pages: set[int] = set()  # physical pages code was fetched from
        self.identity = False  # virtual is physical (no MMU): see code_flushed
        cpu.uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        self._install()

    def _install(self) -> None:
        def fill(_h: int, vaddr: int, access: int, entry: Any, _user: int) -> bool:
            self.fills += 1
            kind = ACCESS_NAMES.get(access, "read")
            try:
                found = self.translate(vaddr, kind)
            except BaseException as exc:
                self.cpu._pending = exc
                found = None
            if found is None:
                self.last_fault = (vaddr, kind)
                return False
            paddr, perms = found
            if access == UC_MEM_FETCH:
                self.code_pages.add(paddr)
            elif paddr not in self.code_pages:
                perms &= ~PROT_EXEC  # a data page: its stores can go the fast way
            entry.contents.paddr, entry.contents.perms = paddr, perms
            return True

        callback = HOOK_TLB_FILL_CFUNC(fill)
        handle = ctypes.c_size_t()
        err = uclib.uc_hook_add(
            self.cpu._h, ctypes.byref(handle), UC_HOOK_TLB_FILL, callback, None, 1, 0
        )
        if err:
            raise UcError(err)
        self.cpu._callbacks.append(callback)

    def code_flushed(self, begin: int, end: int) -> None:
        """The translated code in [begin, end) was dropped: pages wholly inside
        hold none now. (Only without an MMU, where these addresses are the
        physical ones; with one the set just keeps every page that ever held
        code, which costs speed, never correctness.)"""
        if self.identity:
            first, last = (begin + 0xFFF) & ~0xFFF, end & ~0xFFF
            self.code_pages.difference_update(range(first, last, 0x1000))

    def flush(self) -> None:
        """Forget every translation (a different address space is now current)."""
        self.cpu.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
