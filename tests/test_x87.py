"""x87 floating point as a real x87 does it (issue 13; kernel/mathemu.py).

The guest program `x87` prints results and exception flags; they must match
a native run. `x87 results` needs only the default fixups; `x87 flags` (OE,
UE, PE, IE for 0/0 on ordinary + - * / and conversions) needs `--fpu exact`.
The unit tests below show the software FPU's rules one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from nommu.api import Machine, RunResult
from nommu.arch import i386_x87, x87
from nommu.arch import x87_float as xf
from nommu.arch.x87_float import DOUBLE, EXTENDED, SINGLE, Rounding
from nommu.kernel.errors import NommuError

Differential = Callable[..., RunResult]


# -- differential: native vs nommu ---------------------------------------------------


def test_x87_results_with_fixups(differential: Differential) -> None:
    """fmod(2^i, 3), remquo's quotient bits, sqrt's double rounding, log(0),
    expl/logl/atan2l/powl: right without the exact mode's cost."""
    out = differential(["/x87"]).stdout.decode()
    assert "fmod(2^0.., 3) 1212121212121212" in out
    assert "log(0) = -inf divbyzero 1" in out


@pytest.mark.slow
def test_x87_results_exact(differential: Differential) -> None:
    differential(["/x87"], fpu="exact")


def test_x87_flags_exact(differential: Differential) -> None:
    out = differential(["/x87", "flags"], fpu="exact").stdout.decode()
    assert "0/0                    invalid 1 divbyzero 0" in out
    assert "1e308*10               invalid 0 divbyzero 0 overflow 1 underflow 0 inexact 1" in out


def test_fpu_mode_is_checked() -> None:
    with pytest.raises(NommuError):
        Machine(fpu="fast")


def test_fpu_option_on_the_command_line(guest_root: Path) -> None:
    from helpers import nommu_cli

    proc = nommu_cli("run", "--fpu", "exact", "--root", str(guest_root), "/x87", "flags")
    assert proc.returncode == 0, proc.stderr
    assert "0/0                    invalid 1 divbyzero 0" in proc.stdout
    assert nommu_cli("run", "--fpu", "fast", "/x87").returncode != 0


def test_fixup_sites_are_every_faulty_encoding() -> None:
    code = bytes.fromhex("d9fa 90 d9e8 d9f8 00d9f1 d9")  # fsqrt, nop, fld1, fprem, .., fyl2x
    assert i386_x87.fixup_sites(code, 0x1000) == [0x1000, 0x1005, 0x1008]


# -- the software FPU, rule by rule ---------------------------------------------------


def extended(value: Fraction | int) -> int:
    return xf.round_to(Fraction(value), EXTENDED, Rounding.NEAREST).raw


class NoMemory:
    def read(self, address: int, size: int) -> bytes:
        raise AssertionError("no memory operand expected")

    def write(self, address: int, data: bytes) -> None:
        raise AssertionError("no memory operand expected")


def run(code: bytes, *stack: int, cw: int = x87.DEFAULT_CW) -> x87.FpuState:
    """Run one register-form instruction with ST(0), ST(1)... = stack."""
    state = x87.FpuState(cw=cw)
    state.top = 8 - len(stack)
    for i, raw in enumerate(stack):
        state.regs[(state.top + i) & 7], state.empty[(state.top + i) & 7] = raw, False
    insn = x87.decode(code, lambda name: 0, lambda seg: 0)
    assert insn is not None
    x87.execute(state, insn, NoMemory())
    return state


def st0(state: x87.FpuState) -> Fraction:
    return EXTENDED.decode(state.regs[state.top]).value


FSQRT, FPREM, FPREM1, FDIVP, FYL2X = b"\xd9\xfa", b"\xd9\xf8", b"\xd9\xf5", b"\xde\xf9", b"\xd9\xf1"


def test_zero_by_zero_is_invalid_not_divide_by_zero() -> None:
    state = run(FDIVP, extended(0), extended(0))
    assert state.sw & x87.IE and not state.sw & x87.ZE
    assert state.regs[state.top] == xf.INDEFINITE


def test_fsqrt_reports_rounding_up_in_c1() -> None:
    two = run(FSQRT, extended(2))  # sqrt(2) = 1.0110...: rounded down at 64 bits
    three = run(FSQRT, extended(3))  # sqrt(3) rounds up at 64 bits
    assert (two.sw & x87.C1, three.sw & x87.C1) == (0, x87.C1)
    assert two.sw & x87.PE and not run(FSQRT, extended(4)).sw & x87.PE


def test_fprem_is_exact_and_reports_quotient_bits() -> None:
    state = run(FPREM, extended(2**60), extended(3))  # 2^60 = 3q + 1, q % 8 = 5
    assert st0(state) == 1 and not state.sw & x87.C2
    assert (state.sw & x87.C0, state.sw & x87.C3, state.sw & x87.C1) == (x87.C0, 0, x87.C1)
    partial = run(FPREM, extended(2**200), extended(3))
    assert partial.sw & x87.C2  # not done yet: FPREM goes at most 63 bits at a time
    assert st0(run(FPREM1, extended(7), extended(2))) == -1  # 7 = 4*2 - 1


def test_fyl2x_of_zero_is_minus_infinity_with_zero_divide() -> None:
    state = run(FYL2X, extended(0), extended(1))  # 1 * log2(0)
    assert state.regs[state.top] == EXTENDED.infinity(1)
    assert state.sw & x87.ZE


def test_precision_control_rounds_register_results() -> None:
    single_precision = x87.DEFAULT_CW & ~0x300
    state = run(FDIVP, extended(3), extended(1), cw=single_precision)  # ST(1) / ST(0)
    assert st0(state) == Fraction(SINGLE.decode(0x3EAAAAAB).value)


def test_rounding_to_double_overflows_and_underflows() -> None:
    big = xf.round_to(Fraction(2) ** 1024, DOUBLE, Rounding.NEAREST)
    assert big.overflow and big.raw == DOUBLE.infinity(0)
    toward_zero = xf.round_to(Fraction(2) ** 1024, DOUBLE, Rounding.ZERO)
    assert toward_zero.raw == DOUBLE.largest(0)
    tiny = xf.round_to(Fraction(1, 3) * Fraction(2) ** -1030, DOUBLE, Rounding.NEAREST)
    assert tiny.tiny and tiny.inexact and DOUBLE.decode(tiny.raw).denormal


def test_a_tiny_transcendental_result_underflows() -> None:
    fpatan = b"\xd9\xf3"  # atan2(ST(1), ST(0)) = atan(2^-16383): a denormal, never exact
    state = run(fpatan, extended(1), extended(Fraction(1, 2**16383)))
    assert state.sw & x87.UE and state.sw & x87.PE
