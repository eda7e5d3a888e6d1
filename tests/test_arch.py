"""The architecture seam (nommu.arch): the registry, and that what an Arch
says (RAM placement, ELF machine) is what the machine does."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from helpers import GUESTBIN, populate_root

from nommu import Machine, arch
from nommu.api import _run, boot, new_kernel, program_arch
from nommu.arch import i386
from nommu.kernel.errors import NommuError
from nommu.kernel.kernel import Kernel, KernelConfig
from nommu.loaders.elf import LoadError, parse

HELLO = (GUESTBIN / "hello").read_bytes() if (GUESTBIN / "hello").is_file() else b""
pytestmark = pytest.mark.skipif(not HELLO, reason="guest binaries not built")


class Variant:
    """i386 with some of its answers changed (an Arch for the tests)."""

    def __init__(self, **changes: Any) -> None:
        self.changes = changes

    def __getattr__(self, name: str) -> Any:
        return self.changes[name] if name in self.changes else getattr(i386, name)


def run_hello(root: Path, chosen: Any, mmu: bool = False) -> tuple[Kernel, int | None, bytes]:
    k = new_kernel(KernelConfig(root=str(root), arch=chosen, mmu=mmu, hints=False))
    out = bytearray()
    init = boot(k, ["/hello", "x"], {}, Machine._stdio(None, out, out, k.limits.output), "/")
    return k, _run(k, init).exit_code, bytes(out)


def test_registry_maps_elf_machine_to_arch() -> None:
    assert arch.for_elf_machine(3) is arch.I386 is i386
    assert arch.for_elf_machine(40) is arch.ARM  # a Cortex-M7 (issue 17)
    assert arch.for_elf_machine(8) is None  # MIPS
    assert arch.DEFAULT is arch.I386
    assert arch.names() == "i386 or arm"


def test_machine_uses_its_arch() -> None:
    k = Kernel(KernelConfig(root=str(GUESTBIN)))
    try:
        assert k.arch is i386
        assert k.ram.base == i386.RAM_BASE
    finally:
        k.cpu.timer.shutdown()


def test_foreign_elf_says_what_it_is_and_what_runs() -> None:
    mips = bytearray(HELLO)
    struct.pack_into("<H", mips, 18, 8)
    with pytest.raises(LoadError) as info:
        parse(bytes(mips))
    message = info.value.message
    assert message == "not an i386 or arm program: it is a 32-bit MIPS ELF file (e_machine 8)"


@pytest.mark.parametrize("mmu", [False, True])
def test_ram_sits_where_the_arch_says(tmp_path: Path, mmu: bool) -> None:
    """An architecture with RAM at 512 MiB (as ARM M-profile will need) runs
    the same program; the program is loaded in that RAM."""
    root = populate_root(tmp_path / "root")
    k, status, out = run_hello(root, Variant(RAM_BASE=0x20000000), mmu)
    assert status == 0 and out.startswith(b"Hello, world!")
    assert k.ram.base == 0x20000000
    assert all(0x20000000 <= start < 0x20000000 + k.ram.size for start, _ in k.alloc.free_runs())


def test_program_for_another_cpu_is_refused_clearly(tmp_path: Path) -> None:
    """A machine runs programs of its own architecture only (one CPU)."""
    root = populate_root(tmp_path / "root")
    other = Variant(ELF_MACHINE=0x7777, NAME="other")
    with pytest.raises(NommuError) as info:
        run_hello(root, other)
    assert "not a program for this other machine's CPU" in str(info.value)


def test_machine_is_built_for_the_programs_arch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nommu run prog` reads prog's ELF header and builds the machine for the
    architecture it names (here a stand-in registered for machine 0x7777)."""
    root = populate_root(tmp_path / "root")
    other = Variant(ELF_MACHINE=0x7777, NAME="other")
    monkeypatch.setitem(arch.ARCHES, 0x7777, other)
    prog = bytearray(HELLO)
    struct.pack_into("<H", prog, 18, 0x7777)
    (root / "other").write_bytes(bytes(prog))
    (root / "other").chmod(0o755)
    machine = Machine(root=root, hints=False)
    result = machine.run(["/other", "x"], capture=True)
    assert result.exit_code == 0 and result.stdout.startswith(b"Hello, world!")
    assert machine.kernel is not None and machine.kernel.arch is other
    assert machine.run(["/hello", "x"], capture=True).exit_code == 0
    assert machine.kernel.arch is i386


def test_program_arch_stays_inside_the_root(tmp_path: Path) -> None:
    """Choosing the machine reads only files inside the guest's root; anything
    else (missing, outside, not ELF) gets the default machine."""
    root = populate_root(tmp_path / "root")
    outside = tmp_path / "elsewhere"
    outside.write_bytes(HELLO[:18] + b"\x77\x77" + HELLO[20:64])
    (root / "leave").symlink_to(outside)
    assert program_arch(str(root), "/leave") is arch.DEFAULT
    assert program_arch(str(root), "../elsewhere") is arch.DEFAULT
    assert program_arch(str(root), "/missing") is arch.DEFAULT
    assert program_arch(str(root), "hello", "/") is i386
