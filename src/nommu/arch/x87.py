"""The x87 floating-point unit, instruction by instruction, in software.

What Linux's math-emu does for CPUs without an FPU: every x87 instruction
that reaches `execute` is decoded and carried out here, on the FPU's state
as the `FpuState` record holds it, with the results and status-word flags
the Intel manuals (SDM vol. 1 ch. 8, vol. 2 "FADD" ... "FYL2XP1") give.

The FPU in brief:
* eight 80-bit data registers used as a stack: TOP (status word bits
  11-13) names the physical register that is ST(0); a push decrements it.
  The tag word marks each register empty or not; reading an empty one is a
  stack underflow, pushing onto a full one an overflow (both IE with SF).
* the control word: exception masks (bits 0-5), precision control PC
  (bits 8-9: 24, 53 or 64 bits for results of + - * / and sqrt), rounding
  control RC (bits 10-11).
* the status word: sticky exception flags IE DE ZE OE UE PE (bits 0-5),
  SF (6), ES (7, an unmasked exception is pending), condition codes
  C0 C1 C2 C3 (bits 8, 9, 10, 14), TOP, B (15).

A masked exception sets its flag and the instruction delivers the default
("masked response") result; an unmasked one also sets ES, and the next
waiting x87 instruction raises #MF (`FloatingPointError` here). For an
unmasked invalid or zero-divide the destination is left unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

from nommu.arch import x87_float as xf
from nommu.arch.x87_float import DOUBLE, EXTENDED, SINGLE, Format, Kind, Real, Rounding

# -- the status and control words ---------------------------------------------------

IE, DE, ZE, OE, UE, PE, SF, ES = (1 << i for i in range(8))
C0, C1, C2, C3 = 1 << 8, 1 << 9, 1 << 10, 1 << 14
BUSY = 1 << 15
TOP_SHIFT, TOP_MASK = 11, 0x3800
EXCEPTIONS = IE | DE | ZE | OE | UE | PE
CONDITION = C0 | C1 | C2 | C3
DEFAULT_CW = 0x037F  # all masked, 64-bit precision, round to nearest (after FNINIT)
PRECISION = {0: 24, 1: 64, 2: 53, 3: 64}  # PC field -> significand bits (1 is reserved)
TAG_VALID, TAG_ZERO, TAG_SPECIAL, TAG_EMPTY = 0, 1, 2, 3

INTEGER_INDEFINITE = {2: 0x8000, 4: 0x8000_0000, 8: 0x8000_0000_0000_0000}


class FloatingPointError(Exception):
    """#MF: a waiting x87 instruction found an unmasked exception pending."""


class Bus(Protocol):
    """What the FPU needs from the rest of the CPU."""

    def read(self, address: int, size: int) -> bytes: ...
    def write(self, address: int, data: bytes) -> None: ...


class RegisterFile(Protocol):
    """The eight data registers (a list will do)."""

    def __getitem__(self, i: int) -> int: ...
    def __setitem__(self, i: int, value: int) -> None: ...


@dataclass(slots=True)
class FpuState:
    """The FPU's programmer-visible state. `regs` are the physical registers
    R0-R7 as 80-bit integers; `empty` their tags (True: empty)."""

    cw: int = DEFAULT_CW
    sw: int = 0
    empty: list[bool] = field(default_factory=lambda: [True] * 8)
    regs: RegisterFile = field(default_factory=lambda: [0] * 8)
    fip: int = 0  # last non-control instruction: its address, selector+opcode, operand
    fcs: int = 0
    fop: int = 0
    fdp: int = 0
    fds: int = 0

    @property
    def top(self) -> int:
        return (self.sw & TOP_MASK) >> TOP_SHIFT

    @top.setter
    def top(self, value: int) -> None:
        self.sw = (self.sw & ~TOP_MASK) | ((value & 7) << TOP_SHIFT)

    def tag_word(self) -> int:
        """The full tag word FNSTENV stores: per physical register, empty,
        zero, special (NaN, infinity, denormal, unsupported) or valid."""
        word = 0
        for i in reversed(range(8)):
            word = word << 2 | self._tag(i)
        return word

    def _tag(self, i: int) -> int:
        if self.empty[i]:
            return TAG_EMPTY
        kind = EXTENDED.decode(self.regs[i])
        if kind.kind is Kind.ZERO:
            return TAG_ZERO
        if kind.kind is Kind.FINITE and not kind.denormal:
            return TAG_VALID
        return TAG_SPECIAL

    def set_tag_word(self, word: int) -> None:
        """FLDENV/FRSTOR: only 'empty' is kept; the rest follows the contents."""
        self.empty = [(word >> (2 * i)) & 3 == TAG_EMPTY for i in range(8)]


# -- decoding --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    """One decoded x87 instruction: escape opcode D8-DF, ModRM, and the
    effective address of its memory operand (None for a register form)."""

    opcode: int
    modrm: int
    length: int
    address: int | None
    operand16: bool = False  # a 0x66 prefix (16-bit FNSTENV/FLDENV layout)

    @property
    def reg(self) -> int:
        return (self.modrm >> 3) & 7

    @property
    def rm(self) -> int:
        return self.modrm & 7


SEGMENT_PREFIXES = {0x26: "es", 0x2E: "cs", 0x36: "ss", 0x3E: "ds", 0x64: "fs", 0x65: "gs"}
GPR_ORDER = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")


def decode(
    code: bytes, register: Callable[[str], int], segment_base: Callable[[str], int]
) -> Instruction | None:
    """Decode the x87 instruction at the start of `code` (32-bit addressing),
    or None if it is not one. `register(name)` reads a general register."""
    i, operand16, segment = 0, False, "ds"
    while i < len(code) and (code[i] in SEGMENT_PREFIXES or code[i] in (0x66, 0xF2, 0xF3)):
        operand16 |= code[i] == 0x66
        segment = SEGMENT_PREFIXES.get(code[i], segment)
        i += 1
    if i + 1 >= len(code) or not 0xD8 <= code[i] <= 0xDF:
        return None
    opcode, modrm = code[i], code[i + 1]
    i += 2
    mod, rm = modrm >> 6, modrm & 7
    if mod == 3:
        return Instruction(opcode, modrm, i, None, operand16)
    address = 0
    if rm == 4:  # a SIB byte follows
        sib = code[i]
        i += 1
        scale, index, base = sib >> 6, (sib >> 3) & 7, sib & 7
        if index != 4:
            address += register(GPR_ORDER[index]) << scale
        if base == 5 and mod == 0:
            address += int.from_bytes(code[i : i + 4], "little", signed=True)
            i += 4
        else:
            address += register(GPR_ORDER[base])
    elif rm == 5 and mod == 0:
        address += int.from_bytes(code[i : i + 4], "little", signed=True)
        i += 4
    else:
        address += register(GPR_ORDER[rm])
    if mod == 1:
        address += int.from_bytes(code[i : i + 1], "little", signed=True)
        i += 1
    elif mod == 2:
        address += int.from_bytes(code[i : i + 4], "little", signed=True)
        i += 4
    if segment in ("fs", "gs"):  # (the others are flat)
        address += segment_base(segment)
    address &= 0xFFFFFFFF
    return Instruction(opcode, modrm, i, address, operand16)


# -- the FPU at work -------------------------------------------------------------------


class StackFault(Exception):
    """An empty register was read (underflow) or a full one pushed onto."""

    def __init__(self, overflow: bool) -> None:
        self.overflow = overflow


@dataclass(slots=True)
class Outcome:
    """What `execute` did besides changing the FPU: new EFLAGS bits (FCOMI,
    FUCOMI) and a value for AX (FNSTSW AX), and EFLAGS read for FCMOVcc."""

    eflags: tuple[int, int] | None = None  # (mask, bits)
    ax: int | None = None


class X87:
    """Runs one instruction against `state`. Exceptions raised during it
    accumulate in `self.raised` and are folded into the status word once."""

    def __init__(self, state: FpuState, bus: Bus, eflags: int = 0) -> None:
        self.s = state
        self.bus = bus
        self.eflags = eflags
        self.raised = 0
        self.outcome = Outcome()

    # -- control word fields ----------------------------------------------------

    @property
    def rounding(self) -> Rounding:
        return Rounding((self.s.cw >> 10) & 3)

    @property
    def precision(self) -> int:
        return PRECISION[(self.s.cw >> 8) & 3]

    def masked(self, flag: int) -> bool:
        return bool(self.s.cw & flag)

    # -- the register stack -----------------------------------------------------

    def phys(self, i: int) -> int:
        return (self.s.top + i) & 7

    def raw(self, i: int) -> int:
        """ST(i) as stored; an empty register is a stack underflow."""
        if self.s.empty[self.phys(i)]:
            raise StackFault(overflow=False)
        return self.s.regs[self.phys(i)]

    def st(self, i: int) -> Real:
        return EXTENDED.decode(self.raw(i))

    def set_st(self, i: int, raw: int) -> None:
        self.s.regs[self.phys(i)] = raw
        self.s.empty[self.phys(i)] = False

    def push(self, raw: int) -> None:
        if not self.s.empty[self.phys(-1)]:
            raise StackFault(overflow=True)
        self.s.top -= 1
        self.set_st(0, raw)

    def pop(self) -> None:
        self.s.empty[self.phys(0)] = True
        self.s.top += 1

    def condition(self, c0: int = 0, c1: int = 0, c2: int = 0, c3: int = 0) -> None:
        bits = (C0 if c0 else 0) | (C1 if c1 else 0) | (C2 if c2 else 0) | (C3 if c3 else 0)
        self.s.sw = (self.s.sw & ~CONDITION) | bits

    def set_c1(self, value: bool) -> None:
        self.s.sw = (self.s.sw & ~C1) | (C1 if value else 0)

    # -- exceptions -------------------------------------------------------------

    def signal(self, flags: int) -> None:
        self.raised |= flags

    def invalid(self) -> bool:
        """Raise IE; True if masked (deliver the default result)."""
        self.signal(IE)
        return self.masked(IE)

    def stack_fault(self, fault: StackFault) -> None:
        self.signal(IE | SF)
        self.set_c1(fault.overflow)

    def finish(self) -> None:
        """Fold this instruction's exceptions into the status word."""
        sw = self.s.sw | self.raised
        if self.raised & ~self.s.cw & EXCEPTIONS:
            sw |= ES | BUSY
        self.s.sw = sw

    # -- operands and results ---------------------------------------------------

    def check_operands(self, *ops: Real) -> Real | None:
        """The usual operand checks of an arithmetic instruction: unsupported
        encodings and SNaNs are invalid, NaNs propagate, denormals are
        reported (DE). -> the NaN (or indefinite) result, or None."""
        if any(op.kind is Kind.UNSUPPORTED for op in ops):
            self.signal(IE)
            return INDEFINITE
        nans = [op for op in ops if op.is_nan]
        if nans:
            if any(op.is_snan for op in nans):
                self.signal(IE)
            return propagate(nans)
        if any(op.denormal for op in ops):
            self.signal(DE)
        return None

    def round_result(self, value: Fraction, precision: int | None = None) -> int:
        """A register result: the exact `value` rounded by the control word.
        Sets PE/OE/UE and C1 (rounded up)."""
        if value == 0:
            return EXTENDED.encode_zero(0)
        r = xf.round_to(value, EXTENDED, self.rounding, precision or self.precision)
        self.flag_rounding(r)
        return r.raw

    def flag_rounding(self, r: xf.Rounded) -> None:
        if r.overflow:
            self.signal(OE)
        if r.tiny and (r.inexact or not self.masked(UE)):
            self.signal(UE)
        if r.inexact:
            self.signal(PE)
        self.set_c1(r.up)

    def nan_result(self, nan: Real) -> int | None:
        """The NaN an operation returns, or None if it raised an unmasked IE."""
        if self.raised & IE and not self.masked(IE):
            return None
        return self.encode(nan)

    def encode(self, r: Real) -> int:
        """A register holding a special value (zero, infinity, NaN)."""
        return EXTENDED.encode(r)


INDEFINITE = EXTENDED.decode(xf.INDEFINITE)


def propagate(nans: list[Real]) -> Real:
    """Which NaN an operation returns (SDM vol. 1 table 4-7): a QNaN over an
    SNaN, else the larger significand; quieted."""
    quiet = [n for n in nans if not n.is_snan]
    pool = quiet if quiet and len(quiet) < len(nans) else nans
    best = max(pool, key=lambda n: (n.payload & ~xf.QUIET_BIT, -n.sign))
    return xf.quiet(best)


def exact(r: Real) -> Fraction:
    return r.value


def sign_bit(raw: int) -> int:
    return raw >> 79 & 1


# -- arithmetic -------------------------------------------------------------------------


def add(x: X87, a: Real, b: Real, negate_b: bool = False) -> int | None:
    """a + b (or a - b): the raw result, or None (unmasked invalid)."""
    if negate_b:
        b = negated(b)
    special = x.check_operands(a, b)
    if special is not None:
        return x.nan_result(special)
    if a.is_inf and b.is_inf and a.sign != b.sign:
        return x.encode(INDEFINITE) if x.invalid() else None
    if a.is_inf or b.is_inf:
        return x.encode(a if a.is_inf else b)
    total = exact(a) + exact(b)
    if total == 0:  # an exact zero: its sign (IEEE 754 6.3)
        x.set_c1(False)
        if a.is_zero and b.is_zero and a.sign == b.sign:
            return EXTENDED.encode_zero(a.sign)
        return EXTENDED.encode_zero(int(x.rounding is Rounding.DOWN))
    return x.round_result(total)


def negated(r: Real) -> Real:
    return Real(r.kind, r.sign ^ 1, -r.value, r.payload, r.denormal)


def mul(x: X87, a: Real, b: Real) -> int | None:
    special = x.check_operands(a, b)
    if special is not None:
        return x.nan_result(special)
    sign = a.sign ^ b.sign
    if (a.is_inf and b.is_zero) or (a.is_zero and b.is_inf):
        return x.encode(INDEFINITE) if x.invalid() else None
    if a.is_inf or b.is_inf:
        return EXTENDED.infinity(sign)
    if a.is_zero or b.is_zero:
        x.set_c1(False)
        return EXTENDED.encode_zero(sign)
    return x.round_result(exact(a) * exact(b))


def div(x: X87, a: Real, b: Real) -> int | None:
    """a / b. 0/0 and inf/inf are invalid; finite/0 divides by zero (ZE)."""
    special = x.check_operands(a, b)
    if special is not None:
        return x.nan_result(special)
    sign = a.sign ^ b.sign
    if (a.is_inf and b.is_inf) or (a.is_zero and b.is_zero):
        return x.encode(INDEFINITE) if x.invalid() else None
    if a.is_inf:
        return EXTENDED.infinity(sign)
    if b.is_zero:
        x.signal(ZE)
        return EXTENDED.infinity(sign) if x.masked(ZE) else None
    if b.is_inf or a.is_zero:
        x.set_c1(False)
        return EXTENDED.encode_zero(sign)
    return x.round_result(exact(a) / exact(b))


def sqrt_fraction(a: Fraction, bits: int) -> Fraction:
    """A number that rounds like sqrt(a) does at any precision up to `bits`:
    the exact root when there is one, else a value strictly between the
    same two neighbours as the root (the integer root with a half added)."""
    e = xf.exponent_of(a)
    k = max(0, (2 * bits + 8 - e) // 2 + 1)
    scaled = a * Fraction(4) ** k
    n = scaled.numerator // scaled.denominator
    s = math.isqrt(n)
    if s * s == n and scaled.denominator == 1:
        return Fraction(s, 2**k)
    return Fraction(2 * s + 1, 2 ** (k + 1))


def fsqrt(x: X87, a: Real) -> int | None:
    special = x.check_operands(a)
    if special is not None:
        return x.nan_result(special)
    if a.is_zero or (a.is_inf and not a.sign):
        return x.encode(a)
    if a.sign:
        return x.encode(INDEFINITE) if x.invalid() else None
    return x.round_result(sqrt_fraction(exact(a), 66))


# -- comparisons ------------------------------------------------------------------------


def compare(x: X87, a: Real, b: Real, quiet: bool) -> str:
    """'<', '=', '>' or 'unordered'. An ordered compare (FCOM) finds any
    NaN invalid; an unordered one (FUCOM) only an SNaN."""
    if a.kind is Kind.UNSUPPORTED or b.kind is Kind.UNSUPPORTED:
        x.signal(IE)
        return "unordered"
    if a.is_nan or b.is_nan:
        if not quiet or a.is_snan or b.is_snan:
            x.signal(IE)
        return "unordered"
    if a.denormal or b.denormal:
        x.signal(DE)
    va = math.copysign(math.inf, -1 if a.sign else 1) if a.is_inf else exact(a)
    vb = math.copysign(math.inf, -1 if b.sign else 1) if b.is_inf else exact(b)
    return "<" if va < vb else ">" if va > vb else "="


CONDITION_OF = {">": (0, 0, 0), "<": (1, 0, 0), "=": (0, 0, 1), "unordered": (1, 1, 1)}
CF, PF, ZF = 1, 4, 0x40


def set_compare_codes(x: X87, result: str) -> None:
    c0, c2, c3 = CONDITION_OF[result]
    x.condition(c0=c0, c2=c2, c3=c3)


def set_compare_eflags(x: X87, result: str) -> None:
    """FCOMI/FUCOMI: ZF, PF, CF as C3, C2, C0 would be; OF, SF, AF cleared."""
    c0, c2, c3 = CONDITION_OF[result]
    bits = (CF if c0 else 0) | (PF if c2 else 0) | (ZF if c3 else 0)
    x.outcome.eflags = (0x8D5, bits)
    x.set_c1(False)


def fxam(x: X87) -> None:
    """Classify ST(0) into C3 C2 C0, its sign into C1 (an empty register too)."""
    phys = x.phys(0)
    sign = sign_bit(x.s.regs[phys])
    if x.s.empty[phys]:
        c3, c2, c0 = 1, 0, 1
    else:
        r = EXTENDED.decode(x.s.regs[phys])
        c3, c2, c0 = {
            Kind.UNSUPPORTED: (0, 0, 0),
            Kind.NAN: (0, 0, 1),
            Kind.INF: (0, 1, 1),
            Kind.ZERO: (1, 0, 0),
        }.get(r.kind, (1, 1, 0) if r.denormal else (0, 1, 0))
    x.condition(c0=c0, c1=sign, c2=c2, c3=c3)


# -- conversions ---------------------------------------------------------------------


def load_real(x: X87, raw: int, fmt: Format) -> int:
    """FLD m32/m64: exact widening; an SNaN is invalid and quieted; a
    denormal source is reported (DE)."""
    r = fmt.decode(raw)
    if r.is_snan:
        x.signal(IE)
        return x.encode(xf.quiet(r))
    if r.denormal:
        x.signal(DE)
    if r.kind is Kind.FINITE:
        return xf.round_to(r.value, EXTENDED, Rounding.NEAREST).raw
    return x.encode(r)


def store_real(x: X87, r: Real, fmt: Format) -> int | None:
    """FST m32/m64: ST(0) narrowed with rounding (OE, UE, PE, C1)."""
    if r.kind is Kind.UNSUPPORTED or r.is_snan:
        x.signal(IE)
        if not x.masked(IE):
            return None
        return fmt.encode(INDEFINITE if r.kind is Kind.UNSUPPORTED else xf.quiet(r))
    if r.denormal:
        x.signal(DE)
    if r.kind is not Kind.FINITE:
        x.set_c1(False)
        return fmt.encode(r)
    rounded = xf.round_to(r.value, fmt, x.rounding)
    x.flag_rounding(rounded)
    return rounded.raw


def round_integer(value: Fraction, mode: Rounding) -> int:
    """`value` rounded to an integer under `mode`."""
    n = math.floor(value)
    rest = value - n
    if rest == 0:
        return n
    if mode is Rounding.NEAREST:
        return n + int(rest > Fraction(1, 2) or (rest == Fraction(1, 2) and n & 1 == 1))
    if mode is Rounding.DOWN:
        return n
    if mode is Rounding.UP:
        return n + 1
    return math.trunc(value)


def store_integer(x: X87, r: Real, size: int, mode: Rounding) -> int | None:
    """FIST/FISTP/FISTTP: ST(0) rounded to a `size`-byte integer; NaNs,
    infinities and values out of range are invalid (the integer indefinite)."""
    if r.kind in (Kind.NAN, Kind.INF, Kind.UNSUPPORTED):
        return INTEGER_INDEFINITE[size] if x.invalid() else None
    if r.denormal:
        x.signal(DE)
    n = round_integer(exact(r), mode)
    limit = 1 << (8 * size - 1)
    if not -limit <= n < limit:
        return INTEGER_INDEFINITE[size] if x.invalid() else None
    if n != exact(r):
        x.signal(PE)
        x.set_c1(abs(n) > abs(exact(r)))
    else:
        x.set_c1(False)
    return n & ((1 << (8 * size)) - 1)


def from_integer(n: int) -> int:
    """FILD: an integer, exactly."""
    if n == 0:
        return EXTENDED.encode_zero(0)
    return xf.round_to(Fraction(n), EXTENDED, Rounding.NEAREST).raw


def bcd_decode(data: bytes) -> int:
    digits = 0
    for byte in reversed(data[:9]):
        digits = digits * 100 + (byte >> 4) * 10 + (byte & 15)
    return -digits if data[9] & 0x80 else digits


def bcd_encode(n: int) -> bytes:
    sign, n = (0x80 if n < 0 else 0), abs(n)
    out = bytearray()
    for _ in range(9):
        n, pair = divmod(n, 100)
        out.append((pair // 10) << 4 | pair % 10)
    return bytes(out) + bytes([sign])


# -- the transcendental instructions ------------------------------------------------------
# Computed with mpmath at far more than 64 bits, then rounded once: a correctly
# rounded result whenever the 192-bit approximation decides the rounding.

WORKING_BITS = 192


class _Mpmath:
    """mpmath, imported when first used: most programs never need it, and
    importing it costs every run ~20 ms."""

    def __getattr__(self, name: str) -> Any:
        import mpmath as module

        return getattr(module, name)


mpmath = _Mpmath()


def to_mpf(value: Fraction) -> Any:
    """An exact dyadic `value` as an mpmath number (no rounding)."""
    shift = value.denominator.bit_length() - 1
    return mpmath.mpf((value.numerator, -shift))


def from_mpf(value: Any) -> Fraction:
    sign, man, exp, _bits = value._mpf_
    magnitude = xf.scaled(int(man), int(exp))
    return -magnitude if sign else magnitude


def transcendental(x: X87, compute: Callable[[], Any]) -> int:
    """Round `compute()` (run at WORKING_BITS) as a register result. The
    true value is irrational, so always inexact (PE), and tiny means
    underflow (UE) even when the approximation happens to fit exactly
    (atan(2^-16383) is 2^-16383 to 32,000 bits)."""
    with mpmath.workprec(WORKING_BITS):
        value = from_mpf(compute())
    if value == 0:
        return EXTENDED.encode_zero(0)
    r = xf.round_to(value, EXTENDED, x.rounding)
    x.flag_rounding(r)
    x.signal(PE | (UE if r.tiny else 0))
    return r.raw


def f2xm1(x: X87, a: Real) -> int | None:
    """2^x - 1, for -1 <= x <= 1."""
    special = x.check_operands(a)
    if special is not None:
        return x.nan_result(special)
    if a.is_zero:
        return x.encode(a)
    if a.is_inf:
        return EXTENDED.infinity(0) if not a.sign else x.round_result(Fraction(-1))
    v = exact(a)
    if v.denominator == 1:  # 2^n - 1 is exact
        return x.round_result(Fraction(2) ** int(v) - 1, 64)
    return transcendental(x, lambda: mpmath.expm1(to_mpf(v) * mpmath.ln2))


def log2_exact(v: Fraction) -> Fraction | None:
    """log2(v) when it is an integer (v a power of two), else None."""
    if v.numerator & (v.numerator - 1) == 0 and v.denominator & (v.denominator - 1) == 0:
        return Fraction(v.numerator.bit_length() - v.denominator.bit_length())
    return None


def fyl2x(x: X87, a: Real, y: Real) -> int | None:
    """y * log2(a): the result replaces ST(1), then the stack pops."""
    special = x.check_operands(a, y)
    if special is not None:
        return x.nan_result(special)
    if a.sign and not a.is_zero:
        return x.encode(INDEFINITE) if x.invalid() else None
    if a.is_zero:  # log2(0) = -inf: y * -inf
        if y.is_zero:
            return x.encode(INDEFINITE) if x.invalid() else None
        if not y.is_inf:
            x.signal(ZE)
            if not x.masked(ZE):
                return None
        return EXTENDED.infinity(y.sign ^ 1)
    if a.is_inf:
        return mul(x, xf.infinity(0), y)
    log = log2_exact(exact(a))
    if log is not None:
        return mul(x, xf.finite(log), y)
    if y.is_inf:
        return EXTENDED.infinity(y.sign ^ int(exact(a) < 1))
    if y.is_zero:
        return EXTENDED.encode_zero(y.sign ^ int(exact(a) < 1))
    va, vy = exact(a), exact(y)
    return transcendental(x, lambda: to_mpf(vy) * mpmath.log(to_mpf(va), 2))


def fyl2xp1(x: X87, a: Real, y: Real) -> int | None:
    """y * log2(a + 1), for |a| < 1 - sqrt(2)/2."""
    special = x.check_operands(a, y)
    if special is not None:
        return x.nan_result(special)
    if a.is_zero:
        if y.is_inf:
            return x.encode(INDEFINITE) if x.invalid() else None
        return EXTENDED.encode_zero(a.sign ^ y.sign)
    if a.is_inf or (exact(a) <= -1):
        return x.encode(INDEFINITE) if x.invalid() else None
    if y.is_inf or y.is_zero:
        return mul(x, xf.finite(exact(a)), y)
    va, vy = exact(a), exact(y)
    return transcendental(x, lambda: to_mpf(vy) * mpmath.log1p(to_mpf(va)) / mpmath.ln2)


def fpatan(x: X87, a: Real, y: Real) -> int | None:
    """atan2(y, a) (y = ST(1), a = ST(0)): the result replaces ST(1)."""
    special = x.check_operands(a, y)
    if special is not None:
        return x.nan_result(special)

    def angle(multiple: Fraction) -> int:  # +-(multiple * pi), with y's sign
        return transcendental(x, lambda: (-1 if y.sign else 1) * mpmath.pi * to_mpf(multiple))

    if y.is_zero:
        negative_x = a.sign == 1
        return angle(Fraction(1)) if negative_x else EXTENDED.encode_zero(y.sign)
    if y.is_inf:
        if a.is_inf:
            return angle(Fraction(3, 4) if a.sign else Fraction(1, 4))
        return angle(Fraction(1, 2))
    if a.is_zero:
        return angle(Fraction(1, 2))
    if a.is_inf:
        return angle(Fraction(1)) if a.sign else EXTENDED.encode_zero(y.sign)
    va, vy = exact(a), exact(y)
    return transcendental(x, lambda: mpmath.atan2(to_mpf(vy), to_mpf(va)))


def trig_in_range(x: X87, a: Real) -> bool:
    """FSIN, FCOS, FPTAN, FSINCOS take |x| < 2^63; beyond, C2 is set and
    nothing changes."""
    if a.kind is Kind.FINITE and abs(exact(a)) >= 2**63:
        x.condition(c2=1)
        return False
    x.condition()
    return True


def trig(x: X87, a: Real, function: str) -> int | None:
    """sin, cos or tan (mpmath's function of that name) of ST(0)."""
    special = x.check_operands(a)
    if special is not None:
        return x.nan_result(special)
    if a.is_inf:
        return x.encode(INDEFINITE) if x.invalid() else None
    if a.is_zero and function != "cos":
        return x.encode(a)
    v = exact(a)
    return transcendental(x, lambda: getattr(mpmath, function)(to_mpf(v)))


# -- remainders, scaling, rounding -----------------------------------------------------------


def fprem(x: X87, a: Real, b: Real, ieee: bool) -> int | None:
    """The partial remainder of ST(0) by ST(1): FPREM truncates the quotient
    (C's fmod), FPREM1 rounds it to nearest (IEEE remainder). When the
    exponents differ by 64 or more only part of the reduction is done and C2
    is set (the caller loops); otherwise C0 C3 C1 get the quotient's low
    three bits."""
    special = x.check_operands(a, b)
    if special is not None:
        return x.nan_result(special)
    if a.is_inf or b.is_zero:
        return x.encode(INDEFINITE) if x.invalid() else None
    if a.is_zero or b.is_inf:
        x.condition()
        return x.encode(a) if a.is_zero else xf.round_to(exact(a), EXTENDED, x.rounding).raw
    va, vb = exact(a), exact(b)
    d = xf.exponent_of(abs(va)) - xf.exponent_of(abs(vb))
    if d >= 64:
        step = Fraction(2) ** (d - 32 - d % 32)  # reduce by 32 to 63 bits of exponent
        q = math.trunc(va / (vb * step))
        r = va - q * vb * step
        x.condition(c2=1)
    else:
        ratio = va / vb
        q = round_integer(ratio, Rounding.NEAREST) if ieee else math.trunc(ratio)
        r = va - q * vb
        q = abs(q)
        x.condition(c0=q & 4, c1=q & 1, c3=q & 2)
    if r == 0:
        return EXTENDED.encode_zero(a.sign)
    return xf.round_to(r, EXTENDED, Rounding.NEAREST).raw


def frndint(x: X87, a: Real) -> int | None:
    special = x.check_operands(a)
    if special is not None:
        return x.nan_result(special)
    if a.kind is not Kind.FINITE:
        return x.encode(a)
    n = round_integer(exact(a), x.rounding)
    if n != exact(a):
        x.signal(PE)
    x.set_c1(abs(n) > abs(exact(a)))
    if n == 0:
        return EXTENDED.encode_zero(a.sign)
    return xf.round_to(Fraction(n), EXTENDED, Rounding.NEAREST).raw


def fscale(x: X87, a: Real, b: Real) -> int | None:
    """ST(0) * 2^trunc(ST(1))."""
    special = x.check_operands(a, b)
    if special is not None:
        return x.nan_result(special)
    if b.is_inf:
        if (a.is_zero and not b.sign) or (a.is_inf and b.sign):
            return x.encode(INDEFINITE) if x.invalid() else None
        if a.is_zero or a.is_inf:
            return x.encode(a)
        return EXTENDED.encode_zero(a.sign) if b.sign else EXTENDED.infinity(a.sign)
    if a.is_zero or a.is_inf:
        return x.encode(a)
    n = max(-(1 << 17), min(1 << 17, math.trunc(exact(b))))
    return x.round_result(exact(a) * Fraction(2) ** n, 64)


CONSTANTS: dict[int, Callable[[], Any]] = {
    0xE9: lambda: mpmath.log(10, 2),  # FLDL2T
    0xEA: lambda: 1 / mpmath.ln2,  # FLDL2E
    0xEB: lambda: +mpmath.pi,  # FLDPI
    0xEC: lambda: mpmath.log10(2),  # FLDLG2
    0xED: lambda: +mpmath.ln2,  # FLDLN2
}


def constant(x: X87, opcode: int) -> int:
    """FLD1, FLDZ and the five irrational constants, rounded to 64 bits by
    the rounding control (no PE: the SDM's rule)."""
    if opcode == 0xE8:
        return xf.round_to(Fraction(1), EXTENDED, Rounding.NEAREST).raw
    if opcode == 0xEE:
        return EXTENDED.encode_zero(0)
    with mpmath.workprec(WORKING_BITS):
        value = from_mpf(CONSTANTS[opcode]())
    return xf.round_to(value, EXTENDED, x.rounding).raw


# -- the instruction set ------------------------------------------------------------------

ARITH = ("add", "mul", "com", "comp", "sub", "subr", "div", "divr")  # the /reg order


def arithmetic(x: X87, op: str, a: Real, b: Real) -> int | None:
    """`a op b` for op in ARITH (not the compares)."""
    if op == "add":
        return add(x, a, b)
    if op == "mul":
        return mul(x, a, b)
    if op == "sub":
        return add(x, a, b, negate_b=True)
    if op == "subr":
        return add(x, b, a, negate_b=True)
    if op == "div":
        return div(x, a, b)
    return div(x, b, a)


def arith_to(x: X87, op: str, dest: int, a: Real, b: Real, pops: int = 0) -> None:
    """ST(dest) = a op b (a compare sets C0 C2 C3 instead), then pop `pops`."""
    if op in ("com", "comp"):
        set_compare_codes(x, compare(x, a, b, quiet=False))
        pops += op == "comp"
    else:
        result = arithmetic(x, op, a, b)
        if result is not None:
            x.set_st(dest, result)
    for _ in range(pops):
        x.pop()


def mem_operand(x: X87, insn: Instruction, kind: str) -> Real:
    """The memory operand of an arithmetic instruction, as a Real."""
    assert insn.address is not None
    if kind in ("m32", "m64"):
        size, fmt = (4, SINGLE) if kind == "m32" else (8, DOUBLE)
        raw = int.from_bytes(x.bus.read(insn.address, size), "little")
        r = fmt.decode(raw)
        return r
    size = 4 if kind == "m32int" else 2
    n = int.from_bytes(x.bus.read(insn.address, size), "little", signed=True)
    return xf.finite(Fraction(n)) if n else xf.zero(0)


def memory_arith(x: X87, insn: Instruction) -> None:
    """D8/DC (real) and DA/DE (integer) with a memory operand: ST(0) op m."""
    kind = {0xD8: "m32", 0xDC: "m64", 0xDA: "m32int", 0xDE: "m16int"}[insn.opcode]
    arith_to(x, ARITH[insn.reg], 0, x.st(0), mem_operand(x, insn, kind))


def register_arith(x: X87, insn: Instruction) -> None:
    """D8: ST(0) = ST(0) op ST(i). DC: ST(i) = ST(i) op ST(0), with the
    SUB/SUBR and DIV/DIVR encodings swapped (SDM "FSUB"); DE: the same and pop."""
    op, i = ARITH[insn.reg], insn.rm
    if insn.opcode == 0xD8 or op in ("com", "comp"):
        arith_to(x, op, 0, x.st(0), x.st(i))
        return
    op = {"sub": "subr", "subr": "sub", "div": "divr", "divr": "div"}.get(op, op)
    arith_to(x, op, i, x.st(i), x.st(0), pops=int(insn.opcode == 0xDE))


def load(x: X87, insn: Instruction) -> None:
    """FLD m32/m64/m80, FILD m16/m32/m64, FBLD."""
    assert insn.address is not None
    kind = LOADS[(insn.opcode, insn.reg)]
    data = x.bus.read(insn.address, LOAD_SIZES.get(kind, 8))
    if kind in ("m32", "m64"):
        raw = load_real(x, int.from_bytes(data, "little"), SINGLE if kind == "m32" else DOUBLE)
    elif kind == "m80":
        raw = int.from_bytes(data, "little")
    elif kind == "bcd":
        data += x.bus.read(insn.address + 8, 2)
        raw = from_integer(bcd_decode(data))
    else:
        raw = from_integer(int.from_bytes(data, "little", signed=True))
    x.push(raw)


LOAD_SIZES = {"m32": 4, "m64": 8, "m80": 10, "i16": 2, "i32": 4}
LOADS = {
    (0xD9, 0): "m32", (0xDD, 0): "m64", (0xDB, 5): "m80",
    (0xDF, 0): "i16", (0xDB, 0): "i32", (0xDF, 5): "i64", (0xDF, 4): "bcd",
}  # fmt: skip


def store(x: X87, insn: Instruction) -> None:
    """FST/FSTP m32/m64/m80, FIST/FISTP/FISTTP m16/m32/m64, FBSTP."""
    assert insn.address is not None
    kind, pop = STORES[(insn.opcode, insn.reg)]
    raw = x.raw(0)
    r = EXTENDED.decode(raw)
    data: bytes | None
    if kind == "m80":
        data = raw.to_bytes(10, "little")
    elif kind in ("m32", "m64"):
        value = store_real(x, r, SINGLE if kind == "m32" else DOUBLE)
        data = None if value is None else value.to_bytes(4 if kind == "m32" else 8, "little")
    elif kind == "bcd":
        data = store_bcd(x, r)
    else:
        size = {"i16": 2, "i32": 4, "i64": 8}[kind.rstrip("t")]
        mode = Rounding.ZERO if kind.endswith("t") else x.rounding
        n = store_integer(x, r, size, mode)
        data = None if n is None else n.to_bytes(size, "little")
    if data is None:  # an unmasked exception: nothing is stored, nothing popped
        return
    x.bus.write(insn.address, data)
    if pop:
        x.pop()


BCD_INDEFINITE = bytes.fromhex("00000000000000c0ffff")  # 0xFFFF_C000_0000_0000_0000


def store_bcd(x: X87, r: Real) -> bytes | None:
    """FBSTP: ST(0) rounded to an integer of at most 18 decimal digits."""
    n = store_integer(x, r, 8, x.rounding)
    if n is None:
        return None
    value = n - (1 << 64) if n >> 63 else n
    if abs(value) >= 10**18:  # (the integer indefinite too)
        return BCD_INDEFINITE if x.invalid() else None
    return bcd_encode(value)


STORES = {
    (0xD9, 2): ("m32", False), (0xD9, 3): ("m32", True),
    (0xDD, 2): ("m64", False), (0xDD, 3): ("m64", True), (0xDB, 7): ("m80", True),
    (0xDF, 2): ("i16", False), (0xDF, 3): ("i16", True), (0xDF, 1): ("i16t", True),
    (0xDB, 2): ("i32", False), (0xDB, 3): ("i32", True), (0xDB, 1): ("i32t", True),
    (0xDF, 7): ("i64", True), (0xDD, 1): ("i64t", True), (0xDF, 6): ("bcd", True),
}  # fmt: skip


# -- the environment: control word, status word, FNSTENV/FLDENV, FNSAVE/FRSTOR -----------


def store_environment(x: X87, address: int) -> None:
    """The 28-byte protected-mode environment (SDM vol. 1 fig. 8-9)."""
    s = x.s
    reserved = 0xFFFF0000  # the unused upper halves read as ones on real x87s
    words = [
        s.cw | reserved, s.sw | reserved, s.tag_word() | reserved,
        s.fip, s.fcs | (s.fop & 0x7FF) << 16, s.fdp, s.fds | reserved,
    ]  # fmt: skip
    x.bus.write(address, b"".join(w.to_bytes(4, "little") for w in words))


def load_environment(x: X87, address: int) -> None:
    data = x.bus.read(address, 28)
    words = [int.from_bytes(data[i : i + 4], "little") for i in range(0, 28, 4)]
    s = x.s
    s.cw, s.sw = words[0] & 0xFFFF, words[1] & 0xFFFF
    s.set_tag_word(words[2])
    s.fip, s.fcs, s.fop = words[3], words[4] & 0xFFFF, (words[4] >> 16) & 0x7FF
    s.fdp, s.fds = words[5], words[6] & 0xFFFF


def fninit(s: FpuState) -> None:
    s.cw, s.sw = DEFAULT_CW, 0
    s.empty = [True] * 8
    s.fip = s.fcs = s.fop = s.fdp = s.fds = 0


def environment(x: X87, insn: Instruction) -> None:
    """D9 /4 FLDENV, /5 FLDCW, /6 FNSTENV, /7 FNSTCW; DD /4 FRSTOR, /6 FNSAVE,
    /7 FNSTSW m16."""
    address = insn.address
    assert address is not None
    s = x.s
    key = (insn.opcode, insn.reg)
    if key == (0xD9, 4):
        load_environment(x, address)
    elif key == (0xD9, 5):
        s.cw = int.from_bytes(x.bus.read(address, 2), "little")
    elif key == (0xD9, 6):
        store_environment(x, address)
        s.cw |= 0x3F  # FNSTENV masks every exception afterwards
    elif key == (0xD9, 7):
        x.bus.write(address, (s.cw & 0xFFFF).to_bytes(2, "little"))
    elif key == (0xDD, 4):
        load_environment(x, address)
        data = x.bus.read(address + 28, 80)
        for i in range(8):
            s.regs[x.phys(i)] = int.from_bytes(data[10 * i : 10 * i + 10], "little")
    elif key == (0xDD, 6):
        store_environment(x, address)
        regs = b"".join(s.regs[x.phys(i)].to_bytes(10, "little") for i in range(8))
        x.bus.write(address + 28, regs)
        fninit(s)
    elif key == (0xDD, 7):
        x.bus.write(address, s.sw.to_bytes(2, "little"))
    else:
        raise InvalidOpcode


class InvalidOpcode(Exception):
    """An encoding that is not an x87 instruction (#UD)."""


CONTROL = {(0xD9, 4), (0xD9, 5), (0xD9, 6), (0xD9, 7), (0xDD, 4), (0xDD, 6), (0xDD, 7)}


def memory_form(x: X87, insn: Instruction) -> None:
    key = (insn.opcode, insn.reg)
    if insn.opcode in (0xD8, 0xDC, 0xDA, 0xDE):
        memory_arith(x, insn)
    elif key in LOADS:
        load(x, insn)
    elif key in STORES:
        store(x, insn)
    elif key in CONTROL:
        environment(x, insn)
    else:
        raise InvalidOpcode


# -- register forms ----------------------------------------------------------------------


def unary(x: X87, function: Callable[[X87, Real], int | None]) -> None:
    """ST(0) = function(ST(0))."""
    result = function(x, x.st(0))
    if result is not None:
        x.set_st(0, result)


def binary_pop(x: X87, function: Callable[[X87, Real, Real], int | None]) -> None:
    """ST(1) = function(ST(0), ST(1)), then pop: FYL2X, FYL2XP1, FPATAN."""
    result = function(x, x.st(0), x.st(1))
    if result is not None:
        x.set_st(1, result)
        x.pop()


def partial_remainder(x: X87, ieee: bool) -> None:
    result = fprem(x, x.st(0), x.st(1), ieee)
    if result is not None:
        x.set_st(0, result)


def scale(x: X87) -> None:
    result = fscale(x, x.st(0), x.st(1))
    if result is not None:
        x.set_st(0, result)


def extract(x: X87) -> None:
    """FXTRACT: ST(0) becomes its exponent, then its significand is pushed."""
    a = x.st(0)
    special = x.check_operands(a)
    if special is not None:
        result = x.nan_result(special)
        if result is not None:
            x.set_st(0, result)
            x.push(result)
        return
    if a.is_zero:
        x.signal(ZE)
        if x.masked(ZE):
            x.set_st(0, EXTENDED.infinity(1))
            x.push(x.encode(a))
        return
    if a.is_inf:
        x.set_st(0, EXTENDED.infinity(0))
        x.push(x.encode(a))
        return
    e = xf.exponent_of(abs(exact(a)))
    x.set_st(0, from_integer(e))
    x.push(xf.round_to(exact(a) / Fraction(2) ** e, EXTENDED, Rounding.NEAREST).raw)


def tangent(x: X87) -> None:
    """FPTAN: ST(0) = tan(ST(0)), then push 1.0."""
    if trig_in_range(x, x.st(0)):
        result = trig(x, x.st(0), "tan")
        if result is not None:
            x.set_st(0, result)
            x.push(from_integer(1))


def sine_cosine(x: X87) -> None:
    """FSINCOS: ST(0) = sin, then push cos."""
    a = x.st(0)
    if trig_in_range(x, a):
        sine, cosine = trig(x, a, "sin"), trig(x, a, "cos")
        if sine is not None and cosine is not None:
            x.set_st(0, sine)
            x.push(cosine)


def sine_or_cosine(function: str) -> Callable[[X87], None]:
    def run(x: X87) -> None:
        if trig_in_range(x, x.st(0)):
            unary(x, lambda x, a: trig(x, a, function))

    return run


def rotate(x: X87, by: int) -> None:
    """FINCSTP, FDECSTP: move TOP, nothing else."""
    x.s.top += by
    x.set_c1(False)


def change_sign(x: X87, absolute: bool) -> None:
    raw = x.raw(0)
    x.set_st(0, raw & ~(1 << 79) if absolute else raw ^ (1 << 79))
    x.set_c1(False)


def load_constant(x: X87, opcode: int) -> None:
    x.push(constant(x, opcode))
    x.set_c1(False)


D9_REGISTER: dict[int, Callable[[X87], None]] = {
    0xE0: lambda x: change_sign(x, absolute=False),  # FCHS
    0xE1: lambda x: change_sign(x, absolute=True),  # FABS
    0xE4: lambda x: set_compare_codes(x, compare(x, x.st(0), xf.zero(0), quiet=False)),  # FTST
    0xE5: fxam,
    0xF0: lambda x: unary(x, f2xm1),
    0xF1: lambda x: binary_pop(x, lambda x, a, y: fyl2x(x, a, y)),
    0xF2: tangent,
    0xF3: lambda x: binary_pop(x, lambda x, a, y: fpatan(x, a, y)),
    0xF4: extract,
    0xF5: lambda x: partial_remainder(x, ieee=True),  # FPREM1
    0xF6: lambda x: rotate(x, -1),  # FDECSTP
    0xF7: lambda x: rotate(x, +1),  # FINCSTP
    0xF8: lambda x: partial_remainder(x, ieee=False),  # FPREM
    0xF9: lambda x: binary_pop(x, lambda x, a, y: fyl2xp1(x, a, y)),
    0xFA: lambda x: unary(x, fsqrt),
    0xFB: sine_cosine,
    0xFC: lambda x: unary(x, frndint),
    0xFD: scale,
    0xFE: sine_or_cosine("sin"),
    0xFF: sine_or_cosine("cos"),
}


def exchange(x: X87, i: int) -> None:
    """FXCH: swap ST(0) and ST(i); an empty one reads as the indefinite."""
    a, b = x.phys(0), x.phys(i)
    if x.s.empty[a] or x.s.empty[b]:
        x.signal(IE | SF)
        x.set_c1(False)
        if not x.masked(IE):
            return
        for p in (a, b):
            if x.s.empty[p]:
                x.s.regs[p], x.s.empty[p] = xf.INDEFINITE, False
    x.s.regs[a], x.s.regs[b] = x.s.regs[b], x.s.regs[a]
    x.set_c1(False)


# EFLAGS conditions of FCMOVcc: DA C0 B, C8 E, D0 BE, D8 U; DB the negations.
FCMOV_CONDITIONS: dict[int, Callable[[int], bool]] = {
    0: lambda f: bool(f & CF),
    1: lambda f: bool(f & ZF),
    2: lambda f: bool(f & (CF | ZF)),
    3: lambda f: bool(f & PF),
}


def fcmov(x: X87, insn: Instruction) -> None:
    value = x.raw(insn.rm)
    x.raw(0)
    taken = FCMOV_CONDITIONS[insn.reg](x.eflags)
    if taken != (insn.opcode == 0xDB):
        x.set_st(0, value)


def compare_registers(x: X87, i: int, quiet: bool, eflags: bool, pops: int) -> None:
    result = compare(x, x.st(0), x.st(i), quiet)
    if eflags:
        set_compare_eflags(x, result)
    else:
        set_compare_codes(x, result)
    for _ in range(pops):
        x.pop()


def register_form(x: X87, insn: Instruction) -> None:  # noqa: C901 (the opcode map, one row a line)
    op, reg, i = insn.opcode, insn.reg, insn.rm
    if op in (0xD8, 0xDC, 0xDE) and not (op == 0xDE and reg == 3):
        register_arith(x, insn)
    elif op == 0xDE and insn.modrm == 0xD9:  # FCOMPP
        compare_registers(x, 1, quiet=False, eflags=False, pops=2)
    elif op == 0xDA and insn.modrm == 0xE9:  # FUCOMPP
        compare_registers(x, 1, quiet=True, eflags=False, pops=2)
    elif op in (0xDA, 0xDB) and reg < 4:
        fcmov(x, insn)
    elif op == 0xD9 and reg == 0:  # FLD ST(i)
        x.push(x.raw(i))
    elif op in (0xD9, 0xDD) and reg == 1:  # FXCH
        exchange(x, i)
    elif op == 0xD9 and insn.modrm == 0xD0:  # FNOP
        pass
    elif (op == 0xDD and reg in (2, 3)) or (op == 0xD9 and reg == 3):  # FST/FSTP ST(i)
        x.set_st(i, x.raw(0))
        if reg == 3:
            x.pop()
    elif op == 0xD9 and insn.modrm in D9_REGISTER:
        D9_REGISTER[insn.modrm](x)
    elif op == 0xD9 and 0xE8 <= insn.modrm <= 0xEE:
        load_constant(x, insn.modrm)
    elif op == 0xDB and insn.modrm == 0xE2:  # FNCLEX
        x.s.sw &= ~(EXCEPTIONS | SF | ES | BUSY)
    elif op == 0xDB and insn.modrm == 0xE3:
        fninit(x.s)
    elif op == 0xDB and insn.modrm in (0xE0, 0xE1, 0xE4):  # FENI, FDISI, FSETPM: no-ops
        pass
    elif op in (0xDB, 0xDF) and reg in (5, 6):  # F(U)COMI, F(U)COMIP
        compare_registers(x, i, quiet=reg == 5, eflags=True, pops=int(op == 0xDF))
    elif op in (0xDD, 0xDF) and reg == 0:  # FFREE, FFREEP
        x.s.empty[x.phys(i)] = True
        if op == 0xDF:
            x.s.top += 1
    elif op == 0xDD and reg in (4, 5):  # FUCOM, FUCOMP
        compare_registers(x, i, quiet=True, eflags=False, pops=reg - 4)
    elif op == 0xDF and insn.modrm == 0xE0:  # FNSTSW AX
        x.outcome.ax = x.s.sw
    else:
        raise InvalidOpcode


def is_control(insn: Instruction) -> bool:
    """The non-waiting control instructions: they do not report a pending
    exception and leave the last-instruction pointers alone."""
    if insn.address is not None:
        return (insn.opcode, insn.reg) in CONTROL
    return (insn.opcode, insn.modrm) in ((0xDB, 0xE2), (0xDB, 0xE3), (0xDF, 0xE0))


def execute(state: FpuState, insn: Instruction, bus: Bus, eflags: int = 0, pc: int = 0) -> Outcome:
    """Carry out one x87 instruction on `state`. Raises FloatingPointError
    (#MF) if an unmasked exception is pending, InvalidOpcode (#UD) for an
    encoding that is not an instruction."""
    control = is_control(insn)
    if not control and state.sw & ES:
        raise FloatingPointError
    x = X87(state, bus, eflags)
    try:
        if insn.address is None:
            register_form(x, insn)
        else:
            memory_form(x, insn)
    except StackFault as fault:
        stack_fault_response(x, insn, fault)
    x.finish()
    if not control:
        state.fip, state.fop = pc, ((insn.opcode & 7) << 8) | insn.modrm
        state.fdp = insn.address or 0
    return x.outcome


def stack_fault_response(x: X87, insn: Instruction, fault: StackFault) -> None:
    """Masked stack fault: the destination gets the indefinite (a push onto
    a full stack still pushes it; an empty source yields it)."""
    x.raised &= ~(PE | UE | OE | DE | ZE)
    x.stack_fault(fault)
    if not x.masked(IE):
        return
    if fault.overflow:
        x.s.top -= 1
        x.set_st(0, xf.INDEFINITE)
    elif insn.address is None or (insn.opcode, insn.reg) not in STORES:
        x.set_st(0, xf.INDEFINITE)


# -- fast paths, for fixups ----------------------------------------------------------------
# The fixups (arch/i386_x87.py) run in the middle of ordinary compute: FSQRT and
# FPREM, the common ones, get integer-only versions for normal operands here.
# Anything unusual (zeros, infinities, NaNs, denormal results) returns None
# and takes the general path above.

BIAS, MANTISSA_BITS = 16383, 63


def unpack(raw: int) -> tuple[int, int, int] | None:
    """A finite nonzero extended number as (sign, exponent, significand)
    with value = significand * 2^exponent; None for anything else."""
    sign, field_, significand = raw >> 79 & 1, raw >> 64 & 0x7FFF, raw & ((1 << 64) - 1)
    if field_ == 0x7FFF or significand == 0 or (field_ and not significand >> 63):
        return None
    return sign, max(field_, 1) - BIAS - MANTISSA_BITS, significand


def pack_normal(sign: int, significand: int, exponent: int) -> int | None:
    """An exact nonzero `significand * 2^exponent` as an extended number, or
    None if it would be denormal or too large."""
    shift = 64 - significand.bit_length()
    significand, exponent = significand << shift, exponent - shift
    field_ = exponent + BIAS + MANTISSA_BITS
    if not 0 < field_ < 0x7FFF:
        return None
    return sign << 79 | field_ << 64 | significand


def fast_fprem(a_raw: int, b_raw: int, ieee: bool) -> tuple[int, int] | None:
    """FPREM/FPREM1 of ST(0) = a by ST(1) = b in integers: (result,
    condition bits), or None for the general path."""
    a, b = unpack(a_raw), unpack(b_raw)
    if a is None or b is None:
        return None
    (sa, ea, ma), (_, eb, mb) = a, b
    d = (ea + ma.bit_length()) - (eb + mb.bit_length())  # the difference of exponents
    if d < -1:
        return a_raw, 0  # |a| < |b| / 2: nothing to take away
    partial = d >= 64
    k = d - 32 - d % 32 if partial else 0  # a partial step takes b * 2^k away
    base = min(ea, eb + k)
    dividend, divisor = ma << (ea - base), mb << (eb + k - base)
    q, r = divmod(dividend, divisor)
    sign = sa
    if ieee and not partial and (2 * r > divisor or (2 * r == divisor and q & 1)):
        q, r, sign = q + 1, divisor - r, sa ^ 1
    if r == 0:
        return sa << 79, (C2 if partial else quotient_bits(q))
    result = pack_normal(sign, r, base)
    if result is None:
        return None
    return result, (C2 if partial else quotient_bits(q))


def quotient_bits(q: int) -> int:
    """The quotient's three low bits as FPREM reports them: C0 C3 C1."""
    return (C0 if q & 4 else 0) | (C3 if q & 2 else 0) | (C1 if q & 1 else 0)


def sqrt_rounding(x_raw: int, root_raw: int) -> tuple[bool, bool] | None:
    """Given FSQRT's operand and its correctly rounded result, whether the
    result was rounded up (C1) and whether it is inexact (PE)."""
    x, r = unpack(x_raw), unpack(root_raw)
    if x is None or r is None or x[0] or r[0]:
        return None
    (_, ex, mx), (_, er, mr) = x, r
    square, shift = mr * mr, 2 * er - ex  # root^2 = square * 2^(2er), x = mx * 2^ex
    left, right = (square << shift, mx) if shift >= 0 else (square, mx << -shift)
    return left > right, left != right
