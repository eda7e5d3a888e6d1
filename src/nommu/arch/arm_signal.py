"""ARM signal frames: what delivering a signal writes on the user stack.

Layouts from arch/arm/include/asm/ucontext.h, uapi/asm/sigcontext.h and
arch/arm/kernel/signal.c (setup_frame, setup_rt_frame, setup_return):

    struct sigcontext   21 words: trap_no, error_code, oldmask, r0-r10, fp,
                        ip, sp, lr, pc, cpsr, fault_address            (84)
    struct ucontext     uc_flags, uc_link, uc_stack (3 words), uc_mcontext,
                        uc_sigmask (128 bytes), then uc_regspace (512 bytes,
                        8-aligned) holding the VFP block and a 0 end marker
    struct sigframe     ucontext, retcode[2]                          (752)
    struct rt_sigframe  siginfo (128), then a sigframe                (880)

The frame sits 8-aligned below the interrupted stack pointer. The handler
starts with r0 = the signal (an rt frame adds r1 = &info, r2 = &uc), sp =
the frame, lr = the return path, pc = the handler (its low bit says Thumb).
The return path is sa_restorer when the program gave one (musl always
does); otherwise the kernel writes two Thumb instructions into retcode,
`movs r7, #nr; svc #0` (sigreturn or rt_sigreturn), and lr points at them
with the Thumb bit set: on a no-MMU kernel there is no vector page to
return through.

The VFP block (struct vfp_sigframe: magic, size, d0-d31, fpscr, then
fpexc, fpinst, fpinst2) is saved where the CPU has an FPU. Linux itself
has no VFP support for Cortex-M (CONFIG_VFP needs an A/R-profile CPU); a
hard-float program on an M7 needs its registers saved all the same, and
this is the layout the ARM kernel uses where it has one.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

SIGINFO_SIZE = 128
NR_SIGRETURN = 119
NR_RT_SIGRETURN = 173

SIGCONTEXT = struct.Struct("<21I")
SC_OLDMASK, SC_R0, SC_SP, SC_LR, SC_PC, SC_CPSR = 2, 3, 16, 17, 18, 19

UC_FLAGS, UC_LINK, UC_STACK, UC_MCONTEXT, UC_SIGMASK, UC_REGSPACE = 0, 4, 8, 20, 104, 232
UCONTEXT_SIZE = UC_REGSPACE + 512
SIGFRAME_SIZE = UCONTEXT_SIZE + 8  # + retcode[2]
RETCODE = UCONTEXT_SIZE
RT_SIG = SIGINFO_SIZE  # the sigframe inside an rt_sigframe
RT_SIGFRAME_SIZE = SIGINFO_SIZE + SIGFRAME_SIZE
OLD_FRAME_MAGIC = 0x5AC3C35A  # setup_frame's uc_flags: a value trap_no never has

VFP_MAGIC = 0x56465001
VFP_STORAGE_SIZE = 288  # sizeof(struct vfp_sigframe): 8 + 264 (user_vfp) + 12, 8-aligned
_VFP_HEAD = struct.Struct("<II")
_VFP_REGS = struct.Struct("<32QI4x")  # d0-d31, fpscr (user_vfp)
_VFP_EXC = struct.Struct("<III")  # fpexc, fpinst, fpinst2

# The registers a sigcontext holds, in its order (r0-r12, sp, lr, pc);
# Unicorn's ids, filled in by arm.py, which knows the CPU.
CONTEXT_REGS = 16


def retcode(rt: bool) -> bytes:
    """The two words Linux writes for a handler without SA_RESTORER, in
    Thumb: `movs r7, #nr; svc #0` (sigreturn_codes in arch/arm/kernel)."""
    nr = NR_RT_SIGRETURN if rt else NR_SIGRETURN
    return struct.pack("<HHI", 0x2700 | nr, 0xDF00, 0)


def sigcontext(regs: list[int], psr: int, mask: int) -> bytes:
    """struct sigcontext for r0-r15 `regs` (pc the resume address) and `psr`."""
    return SIGCONTEXT.pack(0, 0, mask & 0xFFFFFFFF, *regs, psr, 0)


def vfp_block(dregs: list[int], fpscr: int, fpexc: int) -> bytes:
    """The VFP record of uc_regspace and the end marker after it."""
    head = _VFP_HEAD.pack(VFP_MAGIC, VFP_STORAGE_SIZE)
    body = _VFP_REGS.pack(*dregs, fpscr) + _VFP_EXC.pack(fpexc, 0, 0)
    return (head + body).ljust(VFP_STORAGE_SIZE, b"\0") + bytes(4)


def ucontext(
    flags: int, altstack: tuple[int, int, int], context: bytes, mask: int, regspace: bytes
) -> bytes:
    """struct ucontext: flags, no link, the alternate stack, the registers,
    the blocked mask (a 128-byte sigset_t) and the coprocessor space."""
    head = struct.pack("<II3I", flags, 0, *altstack)
    sigmask = struct.pack("<Q", mask).ljust(128, b"\0")
    return head + context + sigmask + regspace.ljust(512, b"\0")


def frame_addr(sp: int, size: int) -> int:
    """get_sigframe: the frame ends below sp, 8-aligned."""
    return (sp - size) & ~7


def read_frame(
    read: Callable[[int, int], bytes], sp: int, rt: bool
) -> tuple[list[int], int, int, bytes | None]:
    """sigreturn's view of the frame at `sp`: registers r0-r15, psr, the
    saved mask and the VFP block (None when there is none or it is bad)."""
    uc = sp + (RT_SIG if rt else 0)
    data = read(uc, UCONTEXT_SIZE)
    words = SIGCONTEXT.unpack_from(data, UC_MCONTEXT)
    regs = list(words[SC_R0 : SC_PC + 1])
    mask = struct.unpack_from("<Q", data, UC_SIGMASK)[0]
    magic, size = _VFP_HEAD.unpack_from(data, UC_REGSPACE)
    vfp = data[UC_REGSPACE : UC_REGSPACE + VFP_STORAGE_SIZE]
    return (
        regs,
        words[SC_CPSR],
        mask,
        vfp if (magic, size) == (VFP_MAGIC, VFP_STORAGE_SIZE) else None,
    )


def unpack_vfp(block: bytes) -> tuple[list[int], int]:
    """d0-d31 and fpscr from a VFP record."""
    *dregs, fpscr = _VFP_REGS.unpack_from(block, _VFP_HEAD.size)
    return list(dregs), fpscr
