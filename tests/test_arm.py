"""ARM (issue 17): the machine's CPU comes from the program's ELF header; the
Cortex-M profiles; the EABI details an i386 run cannot show (the cp15
thread-pointer read and its `check` finding, the private calls, signal
frames, register pairs). That ARM builds print what the i386 builds print
natively is shown by every differential test's [arm] case (conftest.py)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from helpers import ENV, GUESTBIN, guarded_run, nommu_cli, populate_root
from unicorn.arm_const import (
    UC_ARM_REG_D8,
    UC_ARM_REG_LR,
    UC_ARM_REG_R0,
    UC_ARM_REG_R1,
    UC_ARM_REG_R2,
    UC_ARM_REG_R3,
    UC_ARM_REG_SP,
    UC_ARM_REG_XPSR,
)

from nommu import Machine, arch
from nommu.arch import arm
from nommu.arch import arm_signal as frames
from nommu.kernel.errors import NommuError
from nommu.kernel.kernel import Kernel, KernelConfig
from nommu.machine.cpu import Cpu, locate_cpu_state
from nommu.machine.ram import PhysicalRAM
from nommu.machine.tlb import Tlb
from nommu.trace.check import Checker

ARM_BIN = GUESTBIN / "arm"


@pytest.fixture
def arm_root(tmp_path: Path) -> Path:
    if not (ARM_BIN / "hello").is_file():
        pytest.skip("ARM guest binaries not built (make -C guest)")
    return populate_root(tmp_path / "root", ARM_BIN)


def run(root: Path, *argv: str, **machine: object) -> tuple[Machine, object]:
    m = Machine(root=root, hints=False, **machine)  # type: ignore[arg-type]
    return m, guarded_run(m, list(argv), ENV)


def test_the_program_header_picks_the_cpu(arm_root: Path) -> None:
    m, result = run(arm_root, "/hello", "x")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert b"argv[1]=x\n" in result.stdout  # type: ignore[attr-defined]
    assert m.kernel is not None
    assert m.kernel.arch.NAME == "arm" and m.kernel.arch.model.name == "cortex-m7"  # type: ignore[attr-defined]
    assert m.kernel.ram.base == 0x60000000  # executable in the M profile's memory map


@pytest.mark.parametrize("cpu", ["m4", "cortex-m33", "a9"])
def test_other_cpus_run_it(arm_root: Path, cpu: str) -> None:
    m, result = run(arm_root, "/hello", cpu=cpu)
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert m.kernel is not None and m.kernel.arch.model.name.endswith(cpu[-2:])  # type: ignore[attr-defined]


def test_a_cpu_without_fpu_faults_on_hard_float_code(arm_root: Path) -> None:
    """musl for armhf passes doubles in VFP registers; a Cortex-M3 has none,
    so the first FP instruction is a NOCP UsageFault: SIGILL, as on the chip."""
    _, result = run(arm_root, "/rand", cpu="m3")
    assert result.signal == 4  # type: ignore[attr-defined]
    assert b"NOCP" in result.stderr  # type: ignore[attr-defined]
    assert b"Cortex-M3 has no FPU" in result.stderr  # type: ignore[attr-defined]
    assert b"-mfloat-abi=soft" in result.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("cpu", "chip", "fpu", "gcc_fpu"),
    [
        ("m4", "Cortex-M4", "FPv4-SP", "fpv4-sp-d16"),
        ("m33", "Cortex-M33", "FPv5-SP", "fpv5-sp-d16"),
    ],
)
def test_a_double_instruction_on_a_single_precision_fpu_says_so(
    arm_root: Path, cpu: str, chip: str, fpu: str, gcc_fpu: str
) -> None:
    """Unicorn, like the chip, raises UNDEF on a .f64 instruction there (musl's
    printf converts with one); the report says why and what to do."""
    _, result = run(arm_root, "/printf", "%f\\n", "1.5", cpu=cpu)
    err = result.stderr.decode()  # type: ignore[attr-defined]
    assert result.signal == 4, err  # type: ignore[attr-defined]
    assert ".f64" in err.splitlines()[2]  # (the instruction)
    assert f"{chip}'s FPU ({fpu}) is single precision; this instruction is double" in err
    assert "need --cpu m7" in err and f"-mfpu={gcc_fpu}" in err
    _, result = run(arm_root, "/printf", "%f\\n", "1.5", cpu="m7")
    assert result.stdout == b"1.500000\n"  # type: ignore[attr-defined]


HWCAP_FEATURES = {
    # what AT_HWCAP says each CPU has (arch/arm.py: CPUS): VFP bits beyond
    # "vfp" mean double precision, which the M4's and M33's FPUs lack
    "m7": "half thumb fastmult vfp edsp vfpv3 vfpv3d16 vfpv4 idivt",
    "m4": "half thumb fastmult vfp edsp idivt",
    "m33": "half thumb fastmult vfp idivt",
    "a9": "swp half thumb fastmult vfp edsp neon vfpv3 tls vfpd32",
}


@pytest.mark.parametrize("cpu", sorted(HWCAP_FEATURES))
def test_hwcap_says_what_each_cpu_has(arm_root: Path, cpu: str) -> None:
    _, result = run(arm_root, "/hwcap", cpu=cpu)
    lines = result.stdout.decode().splitlines()  # type: ignore[attr-defined]
    assert lines[1] == "features: " + HWCAP_FEATURES[cpu]
    assert lines[2] == ("AT_PLATFORM=v7l" if cpu == "a9" else "AT_PLATFORM=v7ml")


def test_unknown_cpu_and_mmu_are_refused_in_words(arm_root: Path) -> None:
    with pytest.raises(NommuError, match="unknown CPU"):
        Machine(root=arm_root, cpu="cortex-m99")
    with pytest.raises(NommuError, match="no MMU"):
        run(arm_root, "/hello", mmu=True)
    proc = nommu_cli("run", "--mmu", "--root", str(arm_root), "/hello")
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1, proc.stderr


def test_an_arm_cpu_for_an_i386_program_is_refused(tmp_path: Path) -> None:
    root = populate_root(tmp_path / "root")
    with pytest.raises(NommuError, match="not an ARM program"):
        run(root, "/hello", cpu="m4")


def test_one_machine_runs_one_architecture(arm_root: Path) -> None:
    """An ARM program exec'ing an i386 one gets ENOEXEC, as a board would."""
    (arm_root / "x86").write_bytes((GUESTBIN / "exitcode").read_bytes())
    (arm_root / "x86").chmod(0o755)
    _, result = run(arm_root, "/fork_fail", "/x86")
    assert b"posix_spawn: ENOEXEC" in result.stdout  # type: ignore[attr-defined]


def test_check_reports_the_cp15_read(arm_root: Path) -> None:
    checker = Checker()
    _, result = run(arm_root, "/hello", checker=checker)
    assert result.exit_code == 0  # type: ignore[attr-defined]
    found = [f for f in checker.report.findings if f.kind == "cortex-m-tls"]
    assert found and "Cortex-M" in found[0].message
    assert found[0].stack[0].function == "__init_ssp"  # musl's first thread-pointer read


def test_check_text_names_the_finding(arm_root: Path) -> None:
    proc = nommu_cli("check", "--root", str(arm_root), "/hello")
    assert "cortex-m-tls" in proc.stdout + proc.stderr


def test_fault_report_disassembles_thumb(arm_root: Path) -> None:
    _, result = run(arm_root, "/crash_segv")
    assert result.signal == 11  # type: ignore[attr-defined]
    assert b"<main+" in result.stderr and b": str " in result.stderr  # type: ignore[attr-defined]


# -- pieces ---------------------------------------------------------------------------


def test_cp15_and_strex_decoding() -> None:
    assert arm.cp15_tls_read(0xEE1D, 0x2F70) == 2
    assert arm.cp15_tls_read(0xEE1D, 0x2F50) is None  # c13, c0, 2: TPIDRURW
    regs = {arm.GPRS[1]: 0x60001000, arm.GPRS[2]: 7}
    assert arm.strex_store(0xE841, 0x2302, regs.__getitem__) == (
        0x60001008,
        struct.pack("<I", 7),
        3,
    )  # strex r3, r2, [r1, #8]
    assert arm.strex_store(0xE8C1, 0x2F43, regs.__getitem__) == (0x60001000, b"\x07", 3)
    assert arm.strex_store(0xE8D1, 0xF000, regs.__getitem__) is None  # tbb


def test_eabi_register_pairs() -> None:
    order = arch.ARM.SYSCALL_ARG_ORDER
    assert order["pread64"] == (0, 1, 2, 4, 5)  # r3 is padding: the offset is in r4:r5
    assert order["ftruncate64"] == (0, 2, 3)
    assert arch.I386.SYSCALL_ARG_ORDER == {}


def test_stat64_has_eabi_padding() -> None:
    assert arch.ARM.STAT64.size == 104 and arch.I386.STAT64.size == 96
    assert arch.ARM.FLOCK64.size == 32 and arch.I386.FLOCK64.size == 24


def arm_kernel() -> Kernel:
    return Kernel(KernelConfig(arch=arch.ARM, hints=False))


def test_private_calls_set_and_get_the_thread_pointer() -> None:
    from nommu.kernel.task import Task
    from nommu.syscalls.arm_private import sys_cacheflush, sys_get_tls, sys_set_tls

    k = arm_kernel()
    t = Task.__new__(Task)  # (only its TLS slot is used)
    t.tls = arch.ARM.initial_tls()
    assert sys_set_tls(k, t, 0x60012340) == 0
    assert sys_get_tls(k, t) == 0x60012340
    from nommu.kernel.errors import SyscallError

    with pytest.raises(SyscallError):
        sys_cacheflush(k, t, 0x60002000, 0x60001000, 0)
    with pytest.raises(SyscallError):
        sys_cacheflush(k, t, 0x60001000, 0x60002000, 1)


@pytest.mark.parametrize("rt", [False, True])
def test_signal_frame_round_trip(rt: bool) -> None:
    """What a frame saves, sigreturn puts back: every register, the flags,
    the VFP registers, the mask. Without SA_RESTORER the handler returns
    through `movs r7, #nr; svc 0` written into the frame."""
    k = arm_kernel()
    cpu, a = k.cpu, arch.ARM
    regs = [0x1000 + i for i in range(13)] + [0x60100000, 0x60001235]
    cpu.regs_write(list(zip(arm.GPRS[:15], regs, strict=True)))
    cpu.reg_write(UC_ARM_REG_D8, 0x4000000000000000)
    info = bytes(range(128)) if rt else None
    frame = a.signal_frame(cpu, 0x60001000, regs[13], 10, 0x60002001, 0, info, 0x5, (0, 2, 0))
    ((addr, data),) = frame.writes
    assert addr % 8 == 0 and addr + len(data) <= regs[13]
    nr = frames.NR_RT_SIGRETURN if rt else frames.NR_SIGRETURN
    retcode = data[-8:]
    assert struct.unpack("<HH", retcode[:4]) == (0x2700 | nr, 0xDF00)
    k.ram.write(addr, data)
    a.enter_signal_handler(cpu, frame)
    assert cpu.reg_read(UC_ARM_REG_R0) == 10
    assert cpu.reg_read(UC_ARM_REG_LR) == (addr + len(data) - 8) | 1
    cpu.regs_write([(r, 0) for r in arm.GPRS[:13]] + [(UC_ARM_REG_D8, 0)])
    cpu.reg_write(UC_ARM_REG_SP, addr)
    mask = a.sigreturn(cpu, k.ram.read, rt)
    assert mask == 0x5
    assert [cpu.reg_read(r) for r in arm.GPRS[:14]] == regs[:14]
    assert cpu.reg_read(UC_ARM_REG_D8) == 0x4000000000000000
    assert cpu.pc == 0x60001000


def test_a_signal_inside_an_it_block() -> None:
    """A fault on a conditional load or store stops inside an IT block: the
    handler runs without the IT state (setup_return clears it), and sigreturn
    puts it back, so the rest of the block stays conditional."""
    k = arm_kernel()
    cpu, a = k.cpu, arch.ARM
    cpu.reg_write(UC_ARM_REG_SP, 0x60100000)
    cpu.reg_write(UC_ARM_REG_XPSR, 0x61000800)  # Z C, T, IT = eq (the block's last)
    frame = a.signal_frame(cpu, 0x60001000, 0x60100000, 11, 0x60002001, 0, None, 0, (0, 2, 0))
    ((addr, data),) = frame.writes
    k.ram.write(addr, data)
    a.enter_signal_handler(cpu, frame)
    assert cpu.reg_read(UC_ARM_REG_XPSR) & arm.PSR_IT == 0
    cpu.reg_write(UC_ARM_REG_SP, addr)
    a.sigreturn(cpu, k.ram.read, False)
    assert cpu.reg_read(UC_ARM_REG_XPSR) == 0x61000800


def test_cc_builds_for_arm(tmp_path: Path) -> None:
    """`nommu cc --arch arm` makes a Thumb-2 static-PIE program that runs as ARM."""
    import shutil

    if shutil.which("arm-linux-gnueabihf-gcc") is None:
        pytest.skip("no ARM cross compiler (scripts/setup installs it)")
    (tmp_path / "t.c").write_text(
        "#include <stdio.h>\n__thread int x = 5;\n"
        'int main(void) { printf("%d %.2f\\n", x, 2.5); return 3; }\n'
    )
    proc = nommu_cli("cc", "--arch", "arm", "-O2", "-o", "t", "t.c", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "t").read_bytes()[18] == 40  # EM_ARM
    _, result = run(tmp_path, "/t")
    assert result.stdout == b"5 2.50\n" and result.exit_code == 3  # type: ignore[attr-defined]
    assert nommu_cli("cc", "--arch=arm", "-dumpmachine").stdout == "arm-linux-musleabihf\n"
    assert "--arch mips" in nommu_cli("cc", "--arch", "mips", "t.c", cwd=tmp_path).stderr


def test_a_script_runs_on_its_interpreters_cpu(arm_root: Path) -> None:
    """`#!/bin/sh` in a root of ARM programs: the machine is built for ARM."""
    (arm_root / "script").write_text("#!/bin/sh\necho from an ARM shell\n")
    (arm_root / "script").chmod(0o755)
    m, result = run(arm_root, "/script")
    assert result.stdout == b"from an ARM shell\n"  # type: ignore[attr-defined]
    assert m.kernel is not None and m.kernel.arch.NAME == "arm"


# -- the TLB fill inside an IT block (machine/tlb.py, ArmArch.data_fill_repair) -------

# cmp r0, #1; it eq; streq r2, [r1]; cmp r0, #2; b next; next: movs r3, #0x22; b .
IT_STORE = bytes.fromhex("012808bf0a600228ffe72223fee7")
IT_CODE, IT_DATA = 0x60000000, 0x60010000


def _it_store_then_next_block(repair: bool) -> int:
    """Run IT_STORE on a bare Unicorn Cortex-M7 whose TLB a fill hook fills
    (the store misses inside the IT block); r3 after `movs r3, #0x22`, an
    unconditional instruction in the next translation block."""
    import ctypes

    from unicorn import (
        UC_ARCH_ARM,
        UC_HOOK_TLB_FILL,
        UC_MODE_THUMB,
        UC_TLB_VIRTUAL,
        Uc,
    )
    from unicorn.arm_const import UC_ARM_REG_R1, UC_ARM_REG_R2, UC_ARM_REG_R3
    from unicorn.unicorn_py3.unicorn import HOOK_TLB_FILL_CFUNC, uclib

    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
    uc.ctl_set_cpu_model(arm.CPUS["cortex-m7"].uc_model)
    uc.mem_map(IT_CODE, 0x20000)
    uc.mem_write(IT_CODE, IT_STORE)
    uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
    cpu = type("FakeCpu", (), {"_h": uc._uch})()
    fixup = arm.ARM.data_fill_repair(cpu) if repair else None  # type: ignore[arg-type]

    def fill(_h: int, vaddr: int, access: int, entry: object, _u: int) -> bool:
        if access != 18 and fixup is not None:  # (18: UC_MEM_FETCH)
            fixup()
        entry.contents.paddr, entry.contents.perms = vaddr, 7  # type: ignore[attr-defined]
        return True

    callback = HOOK_TLB_FILL_CFUNC(fill)
    handle = ctypes.c_size_t()
    uclib.uc_hook_add(uc._uch, ctypes.byref(handle), UC_HOOK_TLB_FILL, callback, None, 1, 0)
    uc.reg_write(UC_ARM_REG_R0, 1)
    uc.reg_write(UC_ARM_REG_R1, IT_DATA)
    uc.reg_write(UC_ARM_REG_R2, 0xAA)
    uc.emu_start(IT_CODE | 1, IT_CODE + len(IT_STORE) - 2)
    assert uc.mem_read(IT_DATA, 1) == b"\xaa"
    r3: int = uc.reg_read(UC_ARM_REG_R3)
    return r3


def test_unicorn_fill_inside_an_it_block_leaks_its_state_into_the_next_block() -> None:
    """Unicorn 2.1.4's fill restores the store's IT state (eq, last) into the
    CPU, where the translated code expects zero: the next block starts as if
    inside the IT block, and `movs` runs as `movseq` (eq is false by then).
    If this starts to pass, Unicorn fixed it and the repair can go."""
    assert _it_store_then_next_block(repair=False) == 0


def test_the_repair_after_a_data_fill_puts_the_it_state_back() -> None:
    assert _it_store_then_next_block(repair=True) == 0x22


@pytest.mark.parametrize(
    ("code", "span"),
    [
        ("0a60", (0x1100, 4)),  # str r2, [r1]
        ("42f8044f", (0x1204, 4)),  # str r4, [r2, #4]!
        ("44f82250", (0x1400 + 0x1200 * 4, 4)),  # str.w r5, [r4, r2, lsl #2]
        ("40f8803c", (0x1000 - 0x80, 4)),  # str r3, [r0, #-128]
        ("4bf8044b", (0x1B00, 4)),  # str r4, [fp], #4 (post-indexed: the base)
        ("70b5", (0x1D00 - 16, 16)),  # push {r4, r5, r6, lr}
        ("2de9f041", (0x1D00 - 24, 24)),  # push.w {r4-r8, lr}
        ("2ded048b", (0x1D00 - 16, 16)),  # vpush {d8, d9}
        ("c4e90001", (0x1400, 8)),  # strd r0, r1, [r4]
        ("0000", None),  # movs r0, r0: no access
    ],
)
def test_access_span_decodes_thumb_loads_and_stores(code: str, span: object) -> None:
    """The TLB reports the 1 KiB page of a refused access; the instruction
    gives the address (r_i = 0x1000 + 0x100 * i, sp = 0x1d00)."""
    regs = {reg: 0x1000 + 0x100 * i for i, reg in enumerate(arm.GPRS)}
    assert arm.access_span(bytes.fromhex(code) + bytes(2), 0x60000000, regs.__getitem__) == span


@pytest.mark.parametrize(
    ("r1", "expected"), [(0x6001_0400 - 2, 0x6001_0400), (0x6001_0402, 0x6001_0402)]
)
def test_the_fault_address_is_the_first_byte_touched_in_the_page(r1: int, expected: int) -> None:
    """An unaligned `str r0, [r1]` (Cortex-M allows it) that begins 2 bytes
    below the refused 1 KiB page touches the page first at its first byte."""
    regs = {reg: 0 for reg in arm.GPRS} | {arm.GPRS[1]: r1}
    at = arch.ARM.fault_address(bytes.fromhex("0860"), 0x60000000, regs.__getitem__, 0x6001_0400, 0)
    assert at == expected


# str r1, [r0]; str r1, [r2]; str r1, [r3]; b .
THREE_STORES = bytes.fromhex("016011601960fee7")


def _cpu_with_tlb() -> tuple[Cpu, Tlb]:
    """An ARM CPU over 1 MiB of RAM whose TLB fill grants every page, all access."""
    cpu = Cpu(arch.ARM, PhysicalRAM(arch.ARM.RAM_BASE, 1 << 20))
    cpu.tlb = tlb = Tlb(cpu, 256)
    tlb.translate = lambda vaddr, access: (vaddr & ~0xFFF, 7)
    cpu.uc.mem_write(arch.ARM.RAM_BASE, THREE_STORES)
    return cpu, tlb


def test_arm_drops_one_page_from_the_tlb() -> None:
    """Dropping a kernel page (four of Unicorn's 1 KiB ARM pages) refills only
    that page: a store to another page still goes through its entry."""
    cpu, tlb = _cpu_with_tlb()
    base = arch.ARM.RAM_BASE
    a, b = base + 0x10000, base + 0x11000
    regs = {UC_ARM_REG_R0: a, UC_ARM_REG_R1: 7, UC_ARM_REG_R2: a + 0xC00, UC_ARM_REG_R3: b}

    def stores() -> int:
        """Fills the three stores cost (run from the top each time)."""
        before = tlb.fills
        for reg, value in regs.items():
            cpu.uc.reg_write(reg, value)
        cpu.uc.emu_start(base | 1, base + 6)
        return tlb.fills - before

    stores()  # (the first run fills the code page and the three data pages)
    assert stores() == 0
    assert cpu.drop_tlb_pages([a])
    assert stores() == 2  # a and a + 0xC00 refill; b and the code page do not
    assert stores() == 0


def test_arm_cpu_state_must_point_back_at_its_env() -> None:
    """The CPUState is taken only if it names this env and this engine; if not
    found the CPU has no page helper and the kernel flushes the whole TLB."""
    import ctypes

    cpu, _tlb = _cpu_with_tlb()
    env = ctypes.addressof(cpu.window)
    state = locate_cpu_state(cpu.uc, env)
    assert state is not None and env - state > 0
    assert locate_cpu_state(cpu.uc, env + 8) is None


def test_arm_without_its_cpu_state_flushes_the_whole_tlb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nommu.machine.cpu.locate_cpu_state", lambda uc, env: None)
    cpu, _tlb = _cpu_with_tlb()
    assert not cpu.drop_tlb_pages([arch.ARM.RAM_BASE])


def test_a_pointer_below_the_cpu_state_is_not_taken_for_it() -> None:
    """Other pointers in the engine struct point below the CPUState, and the
    bytes from there to the env hold all its fields too: the check is anchored
    at the candidate (it must start like a CPUState)."""
    from nommu.machine.cpu import _is_cpu_state

    at, env, handle = 0x10000, 0x10100, 0x5000

    def state(start: int) -> bytes:
        """The bytes from `start` to the env of a made-up CPUState at `at`."""
        real = struct.pack("<ii4Q", 1, 1, env, env - 16, 0, handle)
        return (bytes(at - start) + real).ljust(env - start, b"\0")

    assert _is_cpu_state(state(at), at, env, handle)
    assert not _is_cpu_state(state(at - 64), at - 64, env, handle)
    assert not _is_cpu_state(state(at), at, env, handle + 8)
