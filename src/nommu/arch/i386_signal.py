"""i386 signal frames (arch/x86/kernel/signal_32.c), built and read back.

To run a handler the kernel pushes a frame on the user stack holding the
interrupted registers, points EIP at the handler and ESP at the frame, and
makes the handler "return" into a restorer that calls sigreturn. Two kinds:

rt frame (SA_SIGINFO; musl's __restore_rt calls rt_sigreturn)::

    +0   pretcode   return address: sa_restorer (or the retcode below)
    +4   sig        }
    +8   pinfo      } the handler's three arguments
    +12  puc        }
    +16  siginfo    128 bytes
    +144 ucontext   uc_flags, uc_link, uc_stack(12), uc_mcontext(88), uc_sigmask(8)
    +260 retcode    popl %eax / movl $NR, %eax / int $0x80 (used without SA_RESTORER)

old frame (musl's __restore does `popl %eax` then sigreturn)::

    +0 pretcode, +4 sig, +8 sigcontext (88 bytes), +96 the blocked mask, +100 retcode

Above either frame (at higher addresses, 64-byte aligned) lies the
interrupted FPU and SSE state, a `struct _fpstate_32` that sigcontext.fpstate
points to: the i387 view (fsave layout) and the fxsave image after it. The
handler starts with a clean FPU; sigreturn loads the saved state back, so a
handler that computes with floating point leaves the interrupted code's
registers, control word and MXCSR as they were.

At the handler's first instruction (ESP+4) is 16-byte aligned, as the ABI
wants after a call. EAX, EDX and ECX also carry sig, &info and &uc, for
handlers compiled with regparm(3).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from unicorn.x86_const import (
    UC_X86_REG_CS,
    UC_X86_REG_DS,
    UC_X86_REG_EAX,
    UC_X86_REG_EBP,
    UC_X86_REG_EBX,
    UC_X86_REG_ECX,
    UC_X86_REG_EDI,
    UC_X86_REG_EDX,
    UC_X86_REG_EFLAGS,
    UC_X86_REG_EIP,
    UC_X86_REG_ES,
    UC_X86_REG_ESI,
    UC_X86_REG_ESP,
    UC_X86_REG_FP0,
    UC_X86_REG_FPCW,
    UC_X86_REG_FPSW,
    UC_X86_REG_FPTAG,
    UC_X86_REG_FS,
    UC_X86_REG_GS,
    UC_X86_REG_MXCSR,
    UC_X86_REG_SS,
    UC_X86_REG_XMM0,
)

from nommu.machine.regbatch import SLOT, RegisterBatch

NR_SIGRETURN = 119
NR_RT_SIGRETURN = 173
SIGINFO_SIZE = 128

# struct sigcontext_32, in order; None = a field nommu does not track (0)
SIGCONTEXT_REGS = (
    UC_X86_REG_GS, UC_X86_REG_FS, UC_X86_REG_ES, UC_X86_REG_DS,
    UC_X86_REG_EDI, UC_X86_REG_ESI, UC_X86_REG_EBP, UC_X86_REG_ESP,
    UC_X86_REG_EBX, UC_X86_REG_EDX, UC_X86_REG_ECX, UC_X86_REG_EAX,
    None, None,  # trapno, err
    UC_X86_REG_EIP, UC_X86_REG_CS, UC_X86_REG_EFLAGS,
    None,  # sp_at_signal
    UC_X86_REG_SS,
    None, None, None,  # fpstate, oldmask, cr2
)  # fmt: skip
SIGCONTEXT = struct.Struct("<22I")
_ESP, _EIP, _EFLAGS, _FPSTATE = 7, 14, 16, 19
# Registers sigreturn may restore: not the segment registers (the kernel
# keeps CS/SS its own; GS/FS are TLS selectors the guest set itself).
RESTORED = {4, 5, 6, 7, 8, 9, 10, 11, 14, 16}
FLAGS_RESTORED = 0x40DD5  # FIX_EFLAGS: CF PF AF ZF SF TF DF OF RF AC


def _retcode(nr: int, pop: bool) -> bytes:
    """The 8-byte retcode slot: [popl %eax;] movl $nr, %eax; int $0x80, NUL-padded."""
    code = (b"\x58" if pop else b"") + b"\xb8" + nr.to_bytes(4, "little") + b"\xcd\x80"
    return code.ljust(8, b"\0")


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame to write at `addr`, and the registers that enter the handler."""

    addr: int
    data: bytes
    regs: list[tuple[int, int]]


# -- the FPU and SSE state (struct _fpstate_32) ------------------------------------

FPSTATE_SIZE = 624  # sizeof(struct _fpstate_32), without extended (xsave) state
FXSAVE_AT = 112  # the fxsave image follows the 112-byte i387 (fsave) view
_I387_ENV = struct.Struct("<7I")  # cw, sw, tag, ipoff, cssel, dataoff, datasel
_FX_ENV = struct.Struct("<HHBBHIHHIHHII")  # fcw fsw ftw - fop fip fcs - fdp fds - mxcsr mask
MXCSR_MASK = 0xFFFF  # the MXCSR bits the CPU implements (fxsave's mxcsr_mask)
XMM_REGS = [UC_X86_REG_XMM0 + i for i in range(8)]  # (consecutive in unicorn's numbering)
FP_REGS = [UC_X86_REG_FP0 + i for i in range(8)]  # physical x87 registers R0..R7
# The whole FPU/SSE state as one register batch: control, status and tag
# word, MXCSR, then R0..R7 and XMM0..XMM7, one SLOT each.
FPU_BANK = RegisterBatch(
    [UC_X86_REG_FPCW, UC_X86_REG_FPSW, UC_X86_REG_FPTAG, UC_X86_REG_MXCSR, *FP_REGS, *XMM_REGS]
)
_FP_AT, _XMM_AT = 4 * SLOT, 12 * SLOT
_CONTROL = struct.Struct(f"<H{SLOT - 2}xH{SLOT - 2}xH{SLOT - 2}xI{SLOT - 4}x")  # cw, sw, tag, mxcsr
# As after fninit (all exceptions masked, 64-bit precision, round to nearest,
# every register empty) with the kernel's MXCSR default (all SSE exceptions
# masked, round to nearest), and every data register zero.
FPU_INIT = _CONTROL.pack(0x037F, 0, 0xFFFF, 0x1F80).ljust(FPU_BANK.size, b"\0")


def fpstate_addr(sp: int) -> int:
    """Where the FPU state goes below `sp` (its fxsave image 64-byte aligned)."""
    return ((sp - 512) & ~63) - FXSAVE_AT


def save_fpu(uc: Any) -> bytes:
    """The x87/SSE registers as a `struct _fpstate_32` (what fxsave stores,
    with the i387 view in front, as Linux's signal frames hold them)."""
    bank = FPU_BANK.read(uc)
    cw, sw, tag, mxcsr = _CONTROL.unpack_from(bank)
    top = (sw >> 11) & 7
    # ST(0)..ST(7): the physical registers from the top of the stack, 10 bytes each
    st = [bank[_FP_AT + SLOT * ((top + i) & 7) :][:10] for i in range(8)]
    abridged = sum(1 << j for j in range(8) if (tag >> 2 * j) & 3 != 3)  # fxsave's tag byte
    i387 = _I387_ENV.pack(cw | 0xFFFF0000, sw | 0xFFFF0000, tag | 0xFFFF0000, 0, 0, 0, 0)
    fx_env = _FX_ENV.pack(cw, sw, abridged, 0, 0, 0, 0, 0, 0, 0, 0, mxcsr, MXCSR_MASK)
    data = (
        i387 + b"".join(st) + struct.pack("<HH", sw, 0)  # status; magic 0: fxsave data follows
        + fx_env + b"".join(r.ljust(16, b"\0") for r in st)
        + bank[_XMM_AT:]
    )  # fmt: skip
    return data.ljust(FPSTATE_SIZE, b"\0")


def restore_fpu(uc: Any, data: bytes) -> None:
    """Load the x87/SSE registers from a `struct _fpstate_32` (its fxsave image)."""
    cw, sw, abridged, _, _, _, _, _, _, _, _, mxcsr, _ = _FX_ENV.unpack_from(data, FXSAVE_AT)
    top = (sw >> 11) & 7
    tag = sum(0 if abridged >> j & 1 else 3 << 2 * j for j in range(8))
    st = FXSAVE_AT + _FX_ENV.size  # ST(i) in 16-byte slots, then the XMM registers
    physical = [b""] * 8
    for i in range(8):
        physical[(top + i) & 7] = data[st + 16 * i : st + 16 * i + 10].ljust(SLOT, b"\0")
    bank = _CONTROL.pack(cw, sw, tag, mxcsr & MXCSR_MASK) + b"".join(physical)
    FPU_BANK.write(uc, bank + data[st + 128 : st + 256])


def clear_fpu(uc: Any) -> None:
    """The FPU as after fninit and SSE registers zeroed: how a new program and
    a signal handler start (Linux's fpstate_init, fpu__clear_user_states)."""
    FPU_BANK.write(uc, FPU_INIT)


def read_context(read_reg: object, pc: int) -> list[int]:
    """The interrupted registers, in sigcontext order (EIP taken from `pc`)."""
    values = [read_reg(r) if r is not None else 0 for r in SIGCONTEXT_REGS]  # type: ignore[operator]
    values[_EIP] = pc
    return [v & 0xFFFFFFFF for v in values]


def _place(sp: int, size: int) -> int:
    """Frame address below `sp` such that (frame + 4) is 16-byte aligned."""
    return ((sp - size + 4) & ~15) - 4


def rt_frame(
    sp: int,
    sig: int,
    handler: int,
    restorer: int,
    info: bytes,
    context: list[int],
    mask: int,
    altstack: tuple[int, int, int],
) -> Frame:
    size = 16 + SIGINFO_SIZE + 116 + 8
    addr = _place(sp, size)
    info_addr, uc_addr = addr + 16, addr + 144
    retcode_addr = addr + 260
    pretcode = restorer or retcode_addr
    ucontext = (
        struct.pack("<II", 0, 0)
        + struct.pack("<IiI", *altstack)
        + SIGCONTEXT.pack(*context)
        + mask.to_bytes(8, "little")
    )
    data = (
        struct.pack("<IiII", pretcode, sig, info_addr, uc_addr)
        + info.ljust(SIGINFO_SIZE, b"\0")
        + ucontext
        + _retcode(NR_RT_SIGRETURN, False)
    )
    assert len(data) == size  # a byte more would overwrite the interrupted stack
    return Frame(addr, data, _entry(addr, handler, sig, info_addr, uc_addr))


def old_frame(
    sp: int, sig: int, handler: int, restorer: int, context: list[int], mask: int
) -> Frame:
    size = 8 + SIGCONTEXT.size + 4 + 8
    addr = _place(sp, size)
    pretcode = restorer or addr + 100
    data = (
        struct.pack("<Ii", pretcode, sig)
        + SIGCONTEXT.pack(*context)
        + (mask & 0xFFFFFFFF).to_bytes(4, "little")
        + _retcode(NR_SIGRETURN, True)  # 8 bytes: the frame ends exactly at `size`
    )
    assert len(data) == size
    return Frame(addr, data, _entry(addr, handler, sig, 0, 0))


def _entry(addr: int, handler: int, sig: int, info: int, uc: int) -> list[tuple[int, int]]:
    return [
        (UC_X86_REG_ESP, addr),
        (UC_X86_REG_EIP, handler),
        (UC_X86_REG_EAX, sig),
        (UC_X86_REG_EDX, info),
        (UC_X86_REG_ECX, uc),
    ]


def rt_frame_addr(esp: int) -> int:
    """Where the rt frame starts, given ESP at the rt_sigreturn syscall."""
    return esp - 4


def old_frame_addr(esp: int) -> int:
    """Where the old frame starts, given ESP at sigreturn (after `popl %eax`)."""
    return esp - 8


def restore(context_bytes: bytes, current_flags: int) -> list[tuple[int, int]]:
    """The registers sigreturn puts back, from a saved sigcontext."""
    values = SIGCONTEXT.unpack(context_bytes)
    regs = [
        (int(SIGCONTEXT_REGS[i] or 0), int(values[i])) for i in sorted(RESTORED) if i != _EFLAGS
    ]
    flags = (current_flags & ~FLAGS_RESTORED) | (values[_EFLAGS] & FLAGS_RESTORED)
    return [*regs, (UC_X86_REG_EFLAGS, flags)]


RT_UC_MCONTEXT = 144 + 20  # offset of uc_mcontext in the rt frame
RT_UC_SIGMASK = 144 + 20 + 88
OLD_SC = 8
OLD_MASK = 96
