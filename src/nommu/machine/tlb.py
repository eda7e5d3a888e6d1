"""The CPU's address translation: a TLB that the kernel fills (Unicorn's virtual TLB).

This is the hardware half of memory management, always present. Which
pages it maps is the memory model's business (kernel/memmodel.py): without
an MMU the fill is the identity on RAM (an access outside RAM faults at the
instruction that made it); with one it walks the current address space.

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

A fill granted to a load or store of translated code may leave the CPU in
a state that code does not expect: Unicorn's fill first restores the state
of the instruction that missed. The architecture's `data_fill_repair` puts
it right (ARM: the Thumb IT state, which would otherwise leak into the next
translation block; arch/arm.py says how).

Unicorn's TLB pages are 4 KiB on i386 but 1 KiB on ARM (QEMU's smallest ARM
page), while the kernel's pages are 4 KiB: the fill asks the kernel about
the 4 KiB page and answers for the 1 KiB one inside it (the physical page
plus the offset of the TLB's page in it), and a refused access reports only
its 1 KiB page (the architecture's `fault_address` finds the address).

Execute permission is given only to pages code has been fetched from
(`code_pages`, physical). This matters for speed, not protection. Unicorn
sends a store through a slow helper, which drops any translated code the
store overwrites, while the store's TLB entry is "not dirty"; after the
first such store it marks the entry dirty, and later stores through it skip
every check, unless the entry allows execution or a memory hook covers the
address (notdirty_write in its cputlb.c). A data page filled without execute
is slow on its first store only; a page the CPU fetched from is filled with
execute, so every store to it is checked. No store changes translated code
unchecked as long as no dirty entry maps a page that holds some, which two
rules keep true:

1. No entry without execute maps a page in `code_pages`. Data fills of such
   a page keep the execute permission `translate` gives (every page code
   may run from has it), and when a page joins the set the TLB is flushed
   (before the fetch's own entry goes in), so no data entry made for it
   earlier, maybe dirty already, survives: not at this address, not at
   another one (a double mapping, with an MMU), not in another of Unicorn's
   per-mode tables or its victim TLB. (Unicorn re-arms the check when it
   translates code, but only at the address it translates from, and not at
   all where a hook covers that virtual address: tb_gen_code.)
2. Translated code exists only on pages in `code_pages`: code is translated
   only through an entry that allows execution, and only pages in the set
   get such entries. A page leaves the set (`code_flushed`) only once its
   code is dropped, and the TLB is flushed then, so no entry still allows
   execution there (Unicorn's own lookup while dropping code makes one for
   `begin`: a fetch fill, which is how the rule was first broken).

A flush from inside the fill is safe: whoever asked for the fill looks the
entry up again afterwards (a fill may resize the TLB in QEMU too).

Unicorn's TLB starts at 256 entries and only grows when it is flushed while
nearly full (tlb_mmu_resize_locked). A program that sweeps more memory than
that misses, and calls the fill below, on every page it touches, pass after
pass (4 MiB: 1024 fills a pass, ~1 ns a word); when fills keep coming, the
TLB is flushed so that it grows, up to the size of RAM.
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
TLB_R, TLB_W, TLB_X = 1, 2, 4
TLB_INITIAL = 256  # Unicorn's TLB entries at start (1 << CPU_TLB_DYN_DEFAULT_BITS)
ACCESS_NAMES = {UC_MEM_WRITE: "write", UC_MEM_FETCH: "fetch"}

# translate(vaddr, access) -> (physical address of the page, perms), or None: a fault
Translate = Callable[[int, str], "tuple[int, int] | None"]


class Tlb:
    """Owns the CPU's TLB: fills it from `translate`, flushes it on demand."""

    def __init__(self, cpu: Any, ram_pages: int) -> None:
        self.cpu = cpu
        self.translate: Translate = lambda vaddr, access: None
        self.last_fault: tuple[int, str] | None = None  # (vaddr, access) of a refused fill
        self.fills = 0
        self.code_pages: set[int] = set()  # physical pages code was fetched from
        self.identity = False  # virtual is physical (no MMU): see code_flushed
        # Growing the TLB: fills since the last flush, and a guess of its size.
        self._since_flush = 0
        self._tlb_size = TLB_INITIAL
        self._tlb_max = 1 << max(ram_pages - 1, 1).bit_length()
        cpu.uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        self._install()

    def _install(self) -> None:
        repair = self.cpu.arch.data_fill_repair(self.cpu)

        def fill(_h: int, vaddr: int, access: int, entry: Any, _user: int) -> bool:
            self.fills += 1
            self._since_flush += 1
            if self._since_flush > 2 * self._tlb_size and self._tlb_size < self._tlb_max:
                # The working set does not fit: flush while the TLB is full and
                # Unicorn doubles it. (QEMU lets a fill resize the TLB: see
                # tlb_fill in cputlb.c.)
                self._tlb_size *= 2
                self.flush()
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
                if paddr not in self.code_pages and perms & TLB_X:
                    self.code_pages.add(paddr)
                    self.flush()  # (its data entries must go: rule 1 above)
            else:
                if paddr not in self.code_pages:
                    perms &= ~TLB_X  # a data page: its stores can go the fast way
                if repair is not None:
                    repair()
            # (vaddr's offset in its 4 KiB page: Unicorn's ARM pages are 1 KiB)
            entry.contents.paddr, entry.contents.perms = paddr | (vaddr & 0xFFF), perms
            return True

        callback = HOOK_TLB_FILL_CFUNC(fill)
        handle = ctypes.c_size_t()
        err = uclib.uc_hook_add(
            self.cpu._h, ctypes.byref(handle), UC_HOOK_TLB_FILL, callback, None, 1, 0
        )
        if err:
            raise UcError(err)
        self.cpu._callbacks.append(callback)

    def holds_code(self, begin: int, end: int) -> bool:
        """Whether the physical range [begin, end) touches a page code was
        fetched from (it walks whichever is shorter: the range's pages or the set)."""
        pages, first = self.code_pages, begin & ~0xFFF
        if end - first <= 0x1000:  # (most writes: one page)
            return first in pages
        if (end - first) >> 12 > len(pages):
            return any(first <= page < end for page in pages)
        return any(p in pages for p in range(first, end, 0x1000))

    def may_hold_code(self, begin: int, end: int) -> bool:
        """Whether [begin, end) may hold translated code. Only without an MMU
        is the answer ever no: then nothing there needs dropping."""
        return not self.identity or self.holds_code(begin, end)

    def code_flushed(self, begin: int, end: int) -> None:
        """The translated code in [begin, end) was dropped: pages wholly inside
        hold none now. (Only without an MMU, where these addresses are the
        physical ones; with one the set just keeps every page that ever held
        code, which costs speed, never correctness.) Their TLB entries allow
        execution and go too: code run through one of them would be code on
        a page the set does not know. (Unicorn's own lookup while dropping the
        code makes such an entry for `begin`.)"""
        if self.identity:
            first, last = (begin + 0xFFF) & ~0xFFF, end & ~0xFFF
            gone = [page for page in self.code_pages if first <= page < last]
            if gone:
                self.code_pages.difference_update(gone)
                self.flush()

    def flush(self) -> None:
        """Forget every translation (a different address space is now current)."""
        self._since_flush = 0
        self.cpu.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
