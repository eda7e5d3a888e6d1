"""Guest architectures: everything the kernel must not know about a
particular CPU (registers, the syscall trap and table, signal frames, TLS,
where RAM sits, how a program starts).

`base.Arch` is the protocol every architecture satisfies; the kernel holds
its machine's as `k.arch`. Architectures are registered here by the ELF
machine number of the programs they run: the loader picks one from the
program's header. Only i386 exists today (the module `i386` is its Arch).
"""

from __future__ import annotations

from nommu.arch import i386
from nommu.arch.base import Arch

I386: Arch = i386

# e_machine -> the architecture that runs such programs
ARCHES: dict[int, Arch] = {I386.ELF_MACHINE: I386}
DEFAULT: Arch = I386  # what a machine is built for when nothing else says


def for_elf_machine(machine: int) -> Arch | None:
    """The architecture that runs programs of ELF machine `machine`, if any."""
    return ARCHES.get(machine)


def for_program(head: bytes) -> Arch | None:
    """The architecture a program's first bytes ask for: an ELF file names its
    machine in e_machine (a 16-bit field at offset 18, in the file's byte
    order). None for anything else (a script, a bad file): the kernel's
    loader then says what is wrong, in its own words."""
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[5] not in (1, 2):
        return None
    return for_elf_machine(int.from_bytes(head[18:20], "little" if head[5] == 1 else "big"))


def names() -> str:
    """The architectures nommu runs, in words ("i386")."""
    return " and ".join(a.NAME for a in ARCHES.values())
