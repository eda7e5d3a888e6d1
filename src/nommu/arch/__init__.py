"""Guest architectures: everything the kernel must not know about a
particular CPU (registers, the syscall trap and table, signal frames, TLS,
where RAM sits, how a program starts).

`base.Arch` is the protocol every architecture satisfies; the kernel holds
its machine's as `k.arch`. Architectures are registered here by the ELF
machine number of the programs they run: the loader picks one from the
program's header. i386 (the module `i386` is its Arch) and ARM (arch/arm.py:
one `ArmArch` per CPU model, Cortex-M7 by default).
"""

from __future__ import annotations

from nommu.arch import arm, i386
from nommu.arch.base import Arch

I386: Arch = i386
ARM: Arch = arm.ARM  # a Cortex-M7; `for_cpu` gives the other ARM CPUs

# e_machine -> the architecture that runs such programs
ARCHES: dict[int, Arch] = {I386.ELF_MACHINE: I386, ARM.ELF_MACHINE: ARM}
DEFAULT: Arch = I386  # what a machine is built for when nothing else says


def for_elf_machine(machine: int) -> Arch | None:
    """The architecture that runs programs of ELF machine `machine`, if any."""
    return ARCHES.get(machine)


def for_cpu(name: str) -> Arch:
    """The architecture of the CPU called `name` ("cortex-m4", "m4"...; the
    ARM CPUs of arch/arm.py); KeyError if nommu has none of that name."""
    return arm.ARCHES[arm.cpu_model(name).name]


def cpu_names() -> list[str]:
    """The CPUs `for_cpu` knows, by their full names."""
    return list(arm.CPUS)


def for_program(head: bytes) -> Arch | None:
    """The architecture a program's first bytes ask for: an ELF file names its
    machine in e_machine (a 16-bit field at offset 18, in the file's byte
    order). A bFLT file names no machine: nommu runs bFLT on ARM only (the
    format's users today are no-MMU ARM boards), so "bFLT" means ARM. None
    for anything else (a script, a bad file): the kernel's loader then says
    what is wrong, in its own words."""
    if head[:4] == b"bFLT":
        return ARM
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[5] not in (1, 2):
        return None
    return for_elf_machine(int.from_bytes(head[18:20], "little" if head[5] == 1 else "big"))


def names() -> str:
    """The architectures nommu runs, in words ("i386 or arm")."""
    return " or ".join(a.NAME for a in ARCHES.values())
