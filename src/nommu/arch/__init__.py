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


def names() -> str:
    """The architectures nommu runs, in words ("i386")."""
    return " and ".join(a.NAME for a in ARCHES.values())
