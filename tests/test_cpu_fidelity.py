"""The CPU as programs see it: coherent self-modifying code, futex keys
across fork, the FPU state (all differential, native vs nommu).

Self-modifying code and the fast store path (machine/tlb.py): data pages get
TLB entries without execute permission, so that Unicorn lets their stores go
the fast way; pages code was fetched from keep execute, so every store to
them is checked against translated code. `smc` rewrites code the CPU has
already translated, in the ways that could slip past that check, and must
see the new code every time, as natively.
"""

from __future__ import annotations

from collections.abc import Callable

from nommu.api import RunResult

Differential = Callable[..., RunResult]


def test_rewritten_code_always_runs_new(differential: Differential) -> None:
    result = differential(["/smc", "300"])
    out = result.stdout.decode()
    assert out.count(": 0 stale") == 5, out
    assert "fresh code: 7 then 8" in out


def test_futex_keys_across_fork(
    differential: Differential, mmu: bool, run_nommu: Callable[..., RunResult]
) -> None:
    """With an MMU a private futex word is per process (a wake in the parent
    does not reach the child's copy) and a MAP_SHARED word is one word in
    both, also when its page is first touched after fork."""
    if not mmu:
        result = run_nommu(["/futex_fork"])
        assert result.stdout.startswith(b"fork: EINVAL"), result
        return
    result = differential(["/futex_fork"])
    assert result.stdout.decode().splitlines() == [
        "private word: the parent's wake woke 0; the child's wait timed out",
        "private word, non-private op: the parent's wake woke 0; the child's wait timed out",
        "MAP_SHARED word: the parent's wake woke 1; the child's wait was woken",
    ]


def test_fpu_state_at_start_and_across_signal_handlers(differential: Differential) -> None:
    """A program starts with Linux's FPU defaults (control word 0x37f, MXCSR
    0x1f80: double precision prints as natively), and a SIGALRM handler that
    wrecks the x87 and SSE state does not disturb the loop it interrupted:
    the signal frame saves that state and sigreturn restores it."""
    result = differential(["/fpsig", "20000000"])
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("at start: control word 0x37f, mxcsr 0x1f80, 1/3 = 0.3333")
    assert lines[1] == (
        "x87 count right, sse count right, control word kept, mxcsr kept, interrupted: yes"
    )


def test_signal_handler_starts_with_a_clean_fpu(differential: Differential) -> None:
    """Linux starts a handler as after fninit: status word 0 (no exception
    flags, TOP 0), every register empty, MXCSR 0x1f80, even when the
    interrupted code left a value on the x87 stack and the zero-divide flag
    set; sigreturn gives that code its status word back."""
    result = differential(["/sigfpu", "2"])
    lines = result.stdout.decode().splitlines()
    assert lines[0] == (
        "handler starts with: control word 0x37f, status word 0, tag word 0xffff, mxcsr 0x1f80"
    )
    assert lines[1] == "interrupted status word: zero-divide set, top 7, the same after the handler"
    assert result.exit_code == 0, lines


def test_floating_point_environment(
    run_nommu: Callable[..., RunResult], run_native: Callable[..., object]
) -> None:
    """AT_HWCAP tells the truth about the emulated CPU (musl drives the SSE
    unit's rounding and flags only if it says SSE), so fesetround rounds SSE
    arithmetic as natively. One documented difference remains (README): the
    emulated SSE unit does not raise FE_DIVBYZERO."""
    native = run_native(["/fenv"]).stdout.decode().splitlines()  # type: ignore[attr-defined]
    emulated = run_nommu(["/fenv"]).stdout.decode().splitlines()
    assert emulated[0] == "AT_HWCAP is CPUID.1:EDX: yes"
    known = "sse 1/0 = inf, FE_DIVBYZERO"
    assert [ln for ln in emulated if not ln.startswith(known)] == [
        ln for ln in native if not ln.startswith(known)
    ]
    assert f"{known} not raised" in emulated  # (Unicorn's SSE helpers set no MXCSR flags)


def test_signal_trampolines_on_the_stack(differential: Differential) -> None:
    """Handlers installed without SA_RESTORER return through code the kernel
    writes into the frame; frames of both kinds land over each other's code at
    varying depths, so each write must drop what was translated there."""
    result = differential(["/trampoline"])
    assert result.stdout == (
        b"SIGUSR1 handled 60 times (rt frames), SIGUSR2 120 (old frames, 2 each)\n"
    )


def test_shared_file_mappings_are_coherent_across_processes(
    differential: Differential, mmu: bool, run_nommu: Callable[..., RunResult]
) -> None:
    """With an MMU, MAP_SHARED mappings of one disk file in two processes show
    the same pages: each sees the other's stores at once (the page cache), and
    the file has them after munmap, without growing past its size. Without an
    MMU fork is refused."""
    if not mmu:
        assert run_nommu(["/mmap_file_shared"]).stdout.startswith(b"fork: EINVAL")
        return
    result = differential(["/mmap_file_shared"])
    assert result.stdout.decode().splitlines() == [
        'parent sees: "written by the child"',
        'child sees: "written by the parent"',
        'read() after munmap: "written by the parent"',
        'a 10-byte file after stores at 0 and 100: "X123456789", 10 bytes',
    ]
