"""The memory model (kernel/memmodel.py): one object per machine, asked
instead of a flag, and able to say whose memory an address is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nommu.kernel.kernel import Kernel, KernelConfig
from nommu.kernel.memmodel import Area, MemoryModel
from nommu.kernel.mmu_model import MmuModel
from nommu.kernel.nommu_model import NoMmuModel

SRC = Path(__file__).resolve().parent.parent / "src" / "nommu"
MODEL_FILES = {"memmodel.py", "mmu_model.py", "nommu_model.py"}


@pytest.mark.parametrize(("mmu", "model"), [(False, NoMmuModel), (True, MmuModel)])
def test_the_config_chooses_the_model(tmp_path: Path, mmu: bool, model: type) -> None:
    k = Kernel(KernelConfig(mem=4 << 20, root=str(tmp_path), mmu=mmu))
    assert isinstance(k.memory, model) and isinstance(k.memory, MemoryModel)
    assert k.memory.has_mmu is mmu and k.memory.can_fork is mmu
    assert k.memory.virtual_is_physical is not mmu
    assert k.cpu.tlb is k.tlb  # the CPU's translation, whichever the model


def test_no_mmu_area_names_the_owner_of_any_block(tmp_path: Path) -> None:
    """Without an MMU every block is reachable by everyone: the model says
    whose it is (the kernel's GDT page here)."""
    k = Kernel(KernelConfig(mem=4 << 20, root=str(tmp_path)))
    assert k.memory.area_at(None, k.gdt + 4) == Area(k.gdt, k.gdt + 4096, 0, "kernel")  # type: ignore[arg-type]
    assert k.memory.area_at(None, 0x1000) is None  # type: ignore[arg-type]


def test_only_three_places_ask_which_model_is_in_use() -> None:
    """Outside the model objects, code asks the model, not which one it is:
    the kernel chooses it, and the memmap report and the vfork checker (both
    about no-MMU life) read `has_mmu`. No `k.mmu` flag is left."""
    asks: list[str] = []
    for path in SRC.rglob("*.py"):
        if path.name in MODEL_FILES and path.parent.name == "kernel":
            continue
        text = path.read_text()
        asks += [f"{path.name}: {m}" for m in re.findall(r"\w+\.has_mmu|make_memory_model\(", text)]
        assert not re.search(r"\bk\.mmu\b|self\.mmu_unit|isinstance\([^)]*AddressSpace", text), path
    assert len(asks) <= 3, asks
