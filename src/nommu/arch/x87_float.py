"""The x87's numbers: binary floating-point formats, exact values, rounding.

The x87 keeps every register in the 80-bit *double extended* format: a sign,
a 15-bit biased exponent and a 64-bit significand whose integer bit is
explicit. Memory holds single (32-bit) and double (64-bit) reals too, whose
integer bit is implicit. A finite number is `(-1)^sign * significand *
2^(exponent - bias - (precision - 1))`; exponent 0 holds zeros and denormals
(no integer bit, minimum exponent), the all-ones exponent infinities and NaNs.

Arithmetic here is exact: a finite operand becomes a `Fraction`, the exact
result of an operation is computed, and `round_to` rounds it once, as IEEE
754 requires, to a format's precision and exponent range under a rounding
mode, reporting what the rounding did (inexact, rounded up, overflow, tiny).
The x87 rounds register results to the precision the control word's PC field
selects (24, 53 or 64 bits) but always with the extended exponent range.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction


class Kind(Enum):
    ZERO = "zero"
    FINITE = "finite"  # normal or denormal
    INF = "infinity"
    NAN = "nan"
    UNSUPPORTED = "unsupported"  # unnormals, pseudo-NaNs, pseudo-infinities


class Rounding(Enum):
    """The control word's RC field (bits 10-11)."""

    NEAREST = 0  # to nearest, ties to even
    DOWN = 1  # toward -infinity
    UP = 2  # toward +infinity
    ZERO = 3  # toward zero (truncate)


@dataclass(frozen=True, slots=True)
class Real:
    """A decoded operand. `value` is exact for FINITE (signed) and ZERO
    (0); `payload` is the 64-bit extended significand of a NaN (integer bit
    set, bit 62 set for a quiet NaN); `denormal` marks a denormal source."""

    kind: Kind
    sign: int
    value: Fraction = Fraction(0)
    payload: int = 0
    denormal: bool = False

    @property
    def is_nan(self) -> bool:
        return self.kind is Kind.NAN

    @property
    def is_snan(self) -> bool:
        return self.kind is Kind.NAN and not self.payload & QUIET_BIT

    @property
    def is_inf(self) -> bool:
        return self.kind is Kind.INF

    @property
    def is_zero(self) -> bool:
        return self.kind is Kind.ZERO


QUIET_BIT = 1 << 62  # in the 64-bit significand of an extended NaN
INTEGER_BIT = 1 << 63
INDEFINITE = 0xFFFF_C000_0000_0000_0000  # the default NaN: -, all-ones exponent, 1.1000...


def zero(sign: int) -> Real:
    return Real(Kind.ZERO, sign)


def infinity(sign: int) -> Real:
    return Real(Kind.INF, sign)


def finite(value: Fraction) -> Real:
    """An exact real number (zero becomes +0)."""
    if value == 0:
        return zero(0)
    return Real(Kind.FINITE, int(value < 0), value)


def quiet(r: Real) -> Real:
    """A NaN with its quiet bit set (how an SNaN propagates)."""
    return Real(Kind.NAN, r.sign, payload=r.payload | QUIET_BIT)


@dataclass(frozen=True, slots=True)
class Rounded:
    """The outcome of rounding one exact value into a format."""

    raw: int  # the encoding
    inexact: bool  # the result differs from the exact value (PE)
    up: bool  # its magnitude was rounded up (the x87 reports this in C1)
    overflow: bool  # too large for the format (OE)
    tiny: bool  # nonzero and below the smallest normal after rounding (UE if inexact)


class Format:
    """A binary interchange format: `precision` significand bits (counting
    the integer bit), `exponent_bits`, whether the integer bit is stored."""

    def __init__(self, name: str, precision: int, exponent_bits: int, explicit: bool) -> None:
        self.name = name
        self.precision = precision
        self.exponent_bits = exponent_bits
        self.explicit_integer = explicit
        self.bias = (1 << (exponent_bits - 1)) - 1
        self.emin = 1 - self.bias  # the exponent of the smallest normal number, 1.0 * 2^emin
        self.emax = self.bias
        self.fraction_bits = precision - 1
        self.width = 1 + exponent_bits + self.fraction_bits + int(explicit)

    def __repr__(self) -> str:
        return f"Format({self.name})"

    # -- decoding ---------------------------------------------------------------

    def decode(self, raw: int) -> Real:
        """The value an encoding holds."""
        sign = raw >> (self.width - 1) & 1
        exp = raw >> (self.width - 1 - self.exponent_bits) & ((1 << self.exponent_bits) - 1)
        stored = raw & ((1 << (self.width - 1 - self.exponent_bits)) - 1)
        fraction = stored & ((1 << self.fraction_bits) - 1)
        integer = stored >> self.fraction_bits if self.explicit_integer else int(exp != 0)
        if exp == (1 << self.exponent_bits) - 1:
            if self.explicit_integer and not integer:
                return Real(Kind.UNSUPPORTED, sign)  # pseudo-infinity, pseudo-NaN
            if fraction == 0:
                return infinity(sign)
            payload = INTEGER_BIT | fraction << (63 - self.fraction_bits)
            return Real(Kind.NAN, sign, payload=payload)
        if exp != 0 and not integer:
            return Real(Kind.UNSUPPORTED, sign)  # an unnormal
        significand = integer << self.fraction_bits | fraction
        if significand == 0:
            return zero(sign)
        value = scaled(significand, max(exp, 1) - self.bias - self.fraction_bits)
        return Real(Kind.FINITE, sign, -value if sign else value, denormal=exp == 0)

    # -- encoding ---------------------------------------------------------------

    def pack(self, sign: int, exp: int, significand: int) -> int:
        """Assemble an encoding from a biased exponent and the significand
        (`precision` bits with the integer bit, which is dropped if implicit)."""
        if not self.explicit_integer:
            significand &= (1 << self.fraction_bits) - 1
        stored_bits = self.width - 1 - self.exponent_bits
        return (sign << (self.width - 1)) | (exp << stored_bits) | significand

    def infinity(self, sign: int) -> int:
        return self.pack(sign, (1 << self.exponent_bits) - 1, int(self.explicit_integer) << 63)

    def largest(self, sign: int) -> int:
        return self.pack(sign, (1 << self.exponent_bits) - 2, (1 << self.precision) - 1)

    def encode_zero(self, sign: int) -> int:
        return self.pack(sign, 0, 0)

    def encode_nan(self, sign: int, payload: int) -> int:
        """A NaN's payload (an extended significand) narrowed to this format."""
        fraction = (payload >> (63 - self.fraction_bits)) & ((1 << self.fraction_bits) - 1)
        integer = int(self.explicit_integer) << self.fraction_bits
        return self.pack(sign, (1 << self.exponent_bits) - 1, integer | fraction)

    def encode(self, r: Real) -> int:
        """A zero, infinity or NaN (finite values go through `round_to`)."""
        if r.kind is Kind.ZERO:
            return self.encode_zero(r.sign)
        if r.kind is Kind.INF:
            return self.infinity(r.sign)
        if r.kind is Kind.NAN:
            return self.encode_nan(r.sign, r.payload)
        return INDEFINITE >> (80 - self.width) if self.width < 80 else INDEFINITE


SINGLE = Format("single", 24, 8, False)
DOUBLE = Format("double", 53, 11, False)
EXTENDED = Format("extended", 64, 15, True)


def exponent_of(a: Fraction) -> int:
    """floor(log2(a)) for a > 0."""
    n, d = a.numerator, a.denominator
    e = n.bit_length() - d.bit_length()
    if (n << -e if e < 0 else n) < (d << e if e > 0 else d):  # a < 2^e
        e -= 1
    return e


def scaled(significand: int, exponent: int) -> Fraction:
    """significand * 2^exponent, exactly."""
    if exponent >= 0:
        return Fraction(significand << exponent)
    return Fraction(significand, 1 << -exponent)


def _round_integer(a: Fraction, quantum: int, sign: int, mode: Rounding) -> tuple[int, bool, bool]:
    """a / 2^quantum rounded to an integer under `mode` -> (n, inexact, up)."""
    num, den = a.numerator, a.denominator
    if quantum >= 0:
        den <<= quantum
    else:
        num <<= -quantum
    n, rest = divmod(num, den)
    if rest == 0:
        return n, False, False
    if mode is Rounding.NEAREST:
        up = 2 * rest > den or (2 * rest == den and n & 1 == 1)
    elif mode is Rounding.ZERO:
        up = False
    else:
        up = (mode is Rounding.UP) != bool(sign)
    return n + int(up), True, up


def round_to(value: Fraction, fmt: Format, mode: Rounding, precision: int | None = None) -> Rounded:
    """Round an exact nonzero `value` into `fmt` (at `precision` bits if
    given: the x87's precision control), the masked-exception way: an
    overflow gives infinity or the largest finite number as the mode says.
    Tininess is judged after rounding, as on x86."""
    p = precision or fmt.precision
    sign = int(value < 0)
    a = abs(value)
    e = exponent_of(a)
    quantum = max(e, fmt.emin) - (p - 1)  # the weight of the last significand bit kept
    n, inexact, up = _round_integer(a, quantum, sign, mode)
    tiny = e < fmt.emin
    if e == fmt.emin - 1:  # tiny unless rounding with no exponent limit carries to 2^emin
        unbounded, _, _ = _round_integer(a, e - (p - 1), sign, mode)
        tiny = unbounded < 1 << p
    if n == 0:
        return Rounded(fmt.encode_zero(sign), inexact, up, False, True)
    # n * 2^quantum, as the format's significand and exponent
    shift = fmt.precision - n.bit_length()
    significand = n << shift if shift >= 0 else n >> -shift  # (n = 2^p after a carry: exact)
    exp2 = quantum - shift + fmt.fraction_bits  # value = significand * 2^(exp2 - fraction_bits)
    if exp2 > fmt.emax:
        overflow_to_inf = mode is Rounding.NEAREST or (mode is Rounding.UP) != bool(sign)
        if mode is Rounding.ZERO:
            overflow_to_inf = False
        raw = fmt.infinity(sign) if overflow_to_inf else fmt.largest(sign)
        return Rounded(raw, True, overflow_to_inf, True, False)
    if exp2 < fmt.emin:  # a denormal: the minimum exponent, no integer bit
        significand >>= fmt.emin - exp2
        return Rounded(fmt.pack(sign, 0, significand), inexact, up, False, tiny)
    return Rounded(fmt.pack(sign, exp2 + fmt.bias, significand), inexact, up, False, tiny)


def to_fraction(r: Real) -> Fraction:
    """The exact value of a zero or finite operand."""
    return r.value
