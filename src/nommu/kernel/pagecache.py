"""Shared pages of mapped disk files (MMU mode): a small page cache.

Every MAP_SHARED mapping of one disk file, in any process, shows the same
physical pages, as Linux's page cache makes them: a store through one
mapping is seen through every other at once. A page is read from the file
when some mapping first touches it; the pages go back to the file at msync,
munmap and exit (vm.writeback) and are freed when the last mapping of the
file goes. read() and write() on the file still reach the host file itself,
so they see a mapping's stores once those are written back (Linux's one
page cache serves both).

(Without an MMU a shared mapping of a disk file is ENODEV, as in mm/nommu.c:
the file's pages cannot be handed out at one address to every process.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi.flags import PAGE_SIZE
from nommu.kernel.files import OpenFile, put_file

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel


@dataclass(eq=False)
class FilePages:
    """The cached pages of one file (a vm `Pager`: every mapping of it reaches
    these frames). It holds the file open while any mapping exists."""

    cache: PageCache
    key: object
    file: OpenFile
    pages: dict[int, int] = field(default_factory=dict)  # page index -> frame
    maps: int = 0

    def page(self, index: int) -> int:
        frame = self.pages.get(index)
        if frame is None:
            k = self.cache.k
            owner = k.current.pid if k.current is not None else 0
            data = self.file.pread(PAGE_SIZE, index * PAGE_SIZE)  # (short past the end)
            frame = self.pages[index] = k.memory.file_page(owner, data)
        return frame

    def opened(self) -> None:
        self.maps += 1

    def closed(self) -> None:
        self.maps -= 1
        if self.maps == 0:  # (each mapping wrote its pages back as it went)
            memory = self.cache.k.memory
            for frame in self.pages.values():
                memory.free_page(frame)
            del self.cache.files[self.key]
            put_file(self.file)


@dataclass(eq=False)
class PageCache:
    k: Kernel
    files: dict[object, FilePages] = field(default_factory=dict)  # file identity -> pages

    def pages_of(self, file: OpenFile) -> FilePages:
        """The shared pages of `file` (the same for every open of it)."""
        key = file.inode()
        pages = self.files.get(key)
        if pages is None:
            file.refs += 1  # (the pages keep a way to read the file)
            pages = self.files[key] = FilePages(self, key, file)
        return pages
