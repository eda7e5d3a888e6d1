"""i386 signal frames (arch/i386_signal.py): layout invariants.

A frame is written just below the interrupted stack pointer; one byte too
many overwrites the word at ESP (for a signal taken at `int $0x80; ret`, the
return address), which glibc programs such as busybox hit on every signal.
"""

from __future__ import annotations

import pytest

from nommu.arch import i386_signal as frames

CONTEXT = [0] * 22


@pytest.mark.parametrize("sp", [0xBFFFF5B8, 0xBFFFF5B4, 0x40010000, 0x4001FFF3])
@pytest.mark.parametrize("restorer", [0, 0x8051788])
def test_frames_end_below_the_interrupted_stack(sp: int, restorer: int) -> None:
    old = frames.old_frame(sp, 10, 0x816A901, restorer, CONTEXT, 0)
    rt = frames.rt_frame(sp, 10, 0x816A901, restorer, b"", CONTEXT, 0, (0, 2, 0))
    for frame in (old, rt):
        assert frame.addr + len(frame.data) <= sp
        assert (frame.addr + 4) % 16 == 0  # the ABI's alignment at a handler's entry


def test_retcode_is_eight_bytes() -> None:
    old = frames.old_frame(0x40010000, 10, 0x1000, 0, CONTEXT, 0)
    assert old.data[100:108] == b"\x58\xb8\x77\x00\x00\x00\xcd\x80"  # popl; movl $119; int $0x80
    assert len(old.data) == 108
