"""The initial process stack: what a new program finds at its stack pointer.

From the top of the stack block down (the layout create_elf_fdpic_tables()
builds; with an MMU, binfmt_elf's, which adds 16 random bytes for AT_RANDOM):

    [ execfn string | argv strings | envp strings | platform string | random ]
    [ an FDPIC program's load map, 8-byte aligned (loaders/fdpic.py) ]
    [ padding to 16 bytes ]
    [ auxv pairs ... AT_NULL ] [ envp ... NULL ] [ argv ... NULL ] [ argc ]  <- sp

`sp` is 16-byte aligned. musl's _start reads argc at sp, argv after it, and
finds the auxiliary vector after envp's NULL.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from nommu.abi.flags import AT_EXECFN, AT_NULL, AT_PLATFORM, AT_RANDOM


@dataclass(frozen=True, slots=True)
class InitialStack:
    sp: int
    data: bytes  # to be written at `sp`
    loadmap: int = 0  # where the load map is (FDPIC), else 0


def build(
    top: int,
    argv: Sequence[bytes],
    envp: Sequence[bytes],
    execfn: bytes,
    platform: bytes,
    auxv: Sequence[tuple[int, int]],
    word: int = 4,
    random: bytes = b"",
    loadmap: bytes = b"",
) -> InitialStack:
    """Lay out argv, envp and auxv below `top`; return the new sp and the bytes.
    Non-empty `random` is copied too and named by AT_RANDOM (glibc needs it);
    a non-empty `loadmap` goes below the strings (create_elf_fdpic_tables)."""
    strings = bytearray()
    addresses: list[int] = []

    def push(s: bytes) -> int:
        strings[0:0] = s + b"\0"
        addresses.append(len(strings))
        return len(addresses) - 1

    # Push in reverse so that, read upwards, the order is execfn, argv, envp, platform.
    i_random = push(random) if random else -1
    i_platform = push(platform)
    i_env = [push(s) for s in reversed(envp)][::-1]
    i_arg = [push(s) for s in reversed(argv)][::-1]
    i_execfn = push(execfn)
    strings_start = top - len(strings)

    def at(index: int) -> int:
        return top - addresses[index]

    full_auxv = [*auxv, (AT_EXECFN, at(i_execfn)), (AT_PLATFORM, at(i_platform))]
    if random:
        full_auxv.append((AT_RANDOM, at(i_random)))
    full_auxv.append((AT_NULL, 0))
    words = [len(argv), *(at(i) for i in i_arg), 0, *(at(i) for i in i_env), 0]
    for key, value in full_auxv:
        words += [key, value]
    fmt = "<" + ("I" if word == 4 else "Q") * len(words)
    table = struct.pack(fmt, *words)
    below = map_at = (strings_start - len(loadmap)) & ~7 if loadmap else strings_start
    sp = (below - len(table)) & ~15
    middle = bytes(below - sp - len(table)) + loadmap + bytes(strings_start - below - len(loadmap))
    return InitialStack(sp, table + middle + bytes(strings), map_at if loadmap else 0)


def flat_args_bytes(argv: Sequence[bytes], envp: Sequence[bytes]) -> int:
    """Stack room binfmt_flat adds to the header's stack size for the
    arguments: their strings and the argv and envp arrays."""
    strings = sum(len(s) + 1 for s in (*argv, *envp))
    return (strings + 4 * (len(argv) + len(envp) + 2) + 7) & ~7


def build_flat(
    top: int, argv: Sequence[bytes], envp: Sequence[bytes], execfn: bytes
) -> InitialStack:
    """The stack binfmt_flat builds on ARM (create_flat_tables with the argv
    and envp pointers on the stack, no auxv). `top` is one word below the
    block's end; from there down:

        [ argv strings | envp strings | execfn string | 4 spare bytes ]  <- top
        [ argc | &argv[0] | &envp[0] | argv ... NULL | envp ... NULL ]   <- sp

    `sp` is 8-byte aligned (FLAT_STACK_ALIGN on ARM)."""
    strings = b"".join(s + b"\0" for s in (*argv, *envp, execfn)) + bytes(4)
    start = top - len(strings)
    pointers, at = [], start
    for s in (*argv, *envp):
        pointers.append(at)
        at += len(s) + 1
    words = 3 + len(argv) + 1 + len(envp) + 1
    sp = (start - 4 * words) & ~7
    argv_at, envp_at = sp + 12, sp + 12 + 4 * (len(argv) + 1)
    table = [len(argv), argv_at, envp_at, *pointers[: len(argv)], 0, *pointers[len(argv) :], 0]
    data = struct.pack(f"<{len(table)}I", *table)
    return InitialStack(sp, data + bytes(start - sp - len(data)) + strings)
