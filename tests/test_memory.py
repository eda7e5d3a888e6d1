"""The memory model: mmap, munmap, mremap, brk, shared memory, fragmentation.

Without an MMU the answers are checked against mm/nommu.c (the reference,
section 2, corrected where upstream says otherwise: see NOMMU_RULES), not
against a native run, since the host kernel has an MMU. With `--mmu` the
same programs must answer as the host does, except where the host's 64-bit
kernel or a documented limit of nommu's MMU mode differs (HOST_DIFFERS).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import RunNative, RunNommu

from nommu import Machine
from nommu.abi.errno import Errno
from nommu.api import RunResult
from nommu.kernel.alloc import AllocFailure
from nommu.kernel.errors import SyscallError
from nommu.kernel.kernel import Kernel, KernelConfig

# mmap_rules without an MMU: rule -> answer (mm/nommu.c).
NOMMU_RULES: dict[str, str] = {
    "anonymous MAP_PRIVATE": "ok",
    "anonymous memory is zeroed": "yes",
    "MAP_FIXED over a mapping": "EINVAL (Invalid argument)",
    # not MAP_FIXED, so nommu's validate_mmap_request lets it through: a hint, ignored
    "MAP_FIXED_NOREPLACE over a mapping": "ok",
    "memory given back and taken again is zeroed": "yes",
    "a free address hint is honoured": "no",
    "anonymous MAP_SHARED": "ok",
    "anonymous shared memory is zeroed": "yes",
    "anonymous MAP_SHARED_VALIDATE": "EINVAL (Invalid argument)",
    "flags neither MAP_PRIVATE nor MAP_SHARED": "EINVAL (Invalid argument)",
    "length 0": "EINVAL (Invalid argument)",
    "length that rounds up to 0": "ENOMEM (Out of memory)",
    "length above TASK_SIZE": "ENOMEM (Out of memory)",
    "page offset that overflows": "EOVERFLOW (Value too large for data type)",
    "old mmap with an unaligned offset": "EINVAL (Invalid argument)",
    "file MAP_PRIVATE": "ok",
    "the mapping has the file's bytes": "yes",
    "past the end of the file it is zero": "yes",
    "a later write to the file shows in the mapping": "no",  # a copy
    "a write to a MAP_PRIVATE mapping reaches the file": "no",
    "two read-only MAP_PRIVATE mappings of a range share memory": "yes",  # VM_MAYSHARE
    "read-only MAP_PRIVATE overlapping another, not inside it": "EINVAL (Invalid argument)",
    "munmap of part of a file mapping": "EINVAL (Invalid argument)",
    "mremap of a read-only file mapping": "EPERM (Operation not permitted)",
    "munmap of a whole file mapping": "ok",
    "MAP_SHARED read-only of a disk file": "ENODEV (No such device)",
    "MAP_SHARED read-write of a disk file": "ENODEV (No such device)",
    "MAP_SHARED PROT_WRITE of a read-only descriptor": "EACCES (Permission denied)",
    "MAP_PRIVATE of a write-only descriptor": "EACCES (Permission denied)",
    "/dev/zero MAP_PRIVATE": "ok",
    "/dev/zero mapping is zeroed": "yes",
    "/dev/zero MAP_SHARED": "ENODEV (No such device)",  # zero_mmap_capabilities: copy only
    "/dev/null MAP_PRIVATE": "ENODEV (No such device)",
    "pipe MAP_PRIVATE": "ENODEV (No such device)",
    "directory MAP_PRIVATE": "ENODEV (No such device)",
    "/dev/shm MAP_SHARED": "ok",
    "two MAP_SHARED mappings see each other's writes": "yes",
    "two MAP_SHARED mappings are at one address": "yes",  # the file's own pages
    "the file has the mapping's writes": "yes",
    "a read-only MAP_PRIVATE mapping of it sees later writes": "yes",  # direct too
    "ftruncate smaller under a MAP_SHARED mapping": "ETXTBSY (Text file busy)",
    "mremap of a MAP_SHARED /dev/shm mapping": "EPERM (Operation not permitted)",
    "/dev/shm MAP_SHARED past the end of the file": "ENODEV (No such device)",
    "/dev/shm MAP_SHARED of a file grown with holes": "ENODEV (No such device)",
    "/dev/shm MAP_SHARED of a write-only descriptor": "EACCES (Permission denied)",
    "munmap length 0": "EINVAL (Invalid argument)",
    "munmap of an unaligned address": "EINVAL (Invalid argument)",
    "munmap of the middle of a mapping": "ok",
    "both ends still usable": "yes",
    "munmap of the hole again (unmapped memory)": "EINVAL (Invalid argument)",
    "munmap of the head": "ok",
    "munmap of the tail end": "ok",
    "munmap across two adjacent mappings": "EINVAL (Invalid argument)",
    "mremap shrinks in place": "yes",
    "mremap grows back in place": "yes",
    "mremap growing past its block (MREMAP_MAYMOVE)": "ENOMEM (Out of memory)",
    "mremap to length 0": "EINVAL (Invalid argument)",
    "mremap of an unaligned address": "EINVAL (Invalid argument)",
    "mremap with old length 0": "EINVAL (Invalid argument)",
    "mremap of part of a mapping": "EINVAL (Invalid argument)",
    "mremap MREMAP_FIXED to another address": "EINVAL (Invalid argument)",
    # upstream: anonymous MAP_SHARED is not VM_MAYSHARE on nommu, so no EPERM
    "mremap of an anonymous MAP_SHARED mapping": "ok",
    "brk grows by a page": "no",
    "brk below its start keeps the break": "yes",
    "brk back to its start": "yes",
    **dict.fromkeys(
        (
            "mprotect",
            "madvise",
            "msync",
            "mlock",
            "munlock",
            "mlock2",
            "munlock again",
            "mlockall",
            "munlockall",
            "mincore",
            "pkey_mprotect",
            "remap_file_pages",
            "mseal",
        ),
        "ENOSYS (Function not implemented)",
    ),
}

# Lines where `--mmu` (an i386 kernel with an MMU) and a native run on the host
# (a 64-bit kernel running an i386 process) rightly or knowingly differ.
HOST_DIFFERS = {
    "page offset that overflows": "a 64-bit kernel's page offset does not overflow",
    "mseal": "mseal exists only in 64-bit kernels, which serve i386 processes too",
    "remap_file_pages": "not implemented with an MMU either (ENOSYS, not EINVAL)",
    "a later write to the file shows in the mapping": "--mmu copies a file at mmap time",
    "a read-only MAP_PRIVATE mapping of it sees later writes": "the same copy",
}


def lines(out: bytes) -> dict[str, str]:
    rules: dict[str, str] = {}
    for line in out.decode().splitlines():
        rule, _, answer = line.rpartition(": ")
        rules[rule] = answer
    return rules


def test_mmap_rules_without_an_mmu(run_nommu: RunNommu) -> None:
    result = run_nommu(["/mmap_rules", "tmp"])
    assert result.exit_code == 0, result.stderr
    got = lines(result.stdout)
    assert list(got) == list(NOMMU_RULES), "the program and the table list different rules"
    wrong = {rule: (got[rule], want) for rule, want in NOMMU_RULES.items() if got[rule] != want}
    assert not wrong, f"(got, expected): {wrong}"


def test_mmap_rules_with_an_mmu_match_the_host(run_nommu: RunNommu, run_native: RunNative) -> None:
    native = lines(run_native(["./mmap_rules", "tmp"]).stdout)
    emulated = run_nommu(["./mmap_rules", "tmp"], mmu=True)
    assert emulated.exit_code == 0, emulated.stderr
    mmu = lines(emulated.stdout)
    assert list(mmu) == list(native)
    wrong = {
        r: (mmu[r], native[r]) for r in native if mmu[r] != native[r] and r not in HOST_DIFFERS
    }
    assert not wrong, f"(--mmu, native): {wrong}"
    assert mmu["MAP_FIXED over a mapping"] == "ok"  # MMU rules, not the no-MMU ones
    assert mmu["brk grows by a page"] == "yes"


def test_proc_views_of_mappings(run_nommu: RunNommu) -> None:
    """/proc/self/maps marks shared (S) and shareable (s) mappings; status has
    nommu's Mem/Slack/Shared; meminfo counts /dev/shm pages as Shmem."""
    out = run_nommu(["/mmap_rules", "--proc", "tmp"]).stdout.decode()
    maps, status, meminfo = (part for part in re.split(r"^== .*\n", out, flags=re.M) if part)
    assert re.search(r"^\w{8}-\w{8} rw-S 00000000 00:00 0 +/dev/shm/mmap_rules\.\d+$", maps, re.M)
    assert re.search(r"^\w{8}-\w{8} r--s .* /tmp/mmap_rules\.\d+$", maps, re.M)
    assert re.search(r" \[stack\]$", maps, re.M)
    fields = dict(re.findall(r"^(\w+):\s+(\d+)", status, re.M))
    assert int(fields["Slack"]) == 3 * 4096  # mremap shrank 4 pages to 1, freeing nothing
    assert int(fields["Shared"]) == 4 * 4096  # the /dev/shm mapping and the read-only copy
    assert int(fields["VmStk"]) == 128 and int(fields["VmSize"]) >= 128 + int(fields["VmExe"])
    assert int(fields["Mem"]) >= int(fields["VmStk"]) * 1024 + int(fields["VmExe"]) * 1024
    info = dict(re.findall(r"^(\w+):\s+(\d+)", meminfo, re.M))
    assert int(info["Shmem"]) == 8
    assert int(info["LargestFreeBlock"]) <= int(info["MemFree"]) <= int(info["MemTotal"])


# -- shared memory ---------------------------------------------------------------------------

SHM_NOMMU_ONLY = {
    "both attachments are at one address": "yes",
    "shmat at a chosen address": "EINVAL (Invalid argument)",
}


def test_shm_without_an_mmu(run_nommu: RunNommu, run_native: RunNative) -> None:
    """SysV and POSIX shared memory with a posix_spawn and a vfork child: as on
    the host, except shmat at an address and where attachments land."""
    result = run_nommu(["./shm"])
    assert result.exit_code == 0, result.stdout.decode() + result.stderr.decode()
    got = lines(result.stdout)
    for rule, answer in SHM_NOMMU_ONLY.items():
        assert got[rule] == answer
    native = lines(run_native(["./shm"]).stdout)
    assert {r: a for r, a in got.items() if r not in SHM_NOMMU_ONLY} == {
        r: a for r, a in native.items() if r not in SHM_NOMMU_ONLY
    }


def test_shm_with_an_mmu_matches_the_host(run_nommu: RunNommu, run_native: RunNative) -> None:
    native = run_native(["./shm"])
    emulated = run_nommu(["./shm"], mmu=True)
    assert emulated.stdout.decode() == native.stdout.decode()
    assert emulated.exit_code == native.exit_code == 0


def test_shmget_is_where_memory_is_allocated(guest_root: Path) -> None:
    """A segment's pages are one contiguous block taken at shmget time."""
    m = Machine(root=guest_root, mem="4M", hints=False)
    m.run(["/fragment"], capture=True, stdin=b"")
    assert m.kernel is not None
    shm_failures = [f for f in m.kernel.alloc.failures if f.kind == "shm"]
    assert len(shm_failures) == 1 and shm_failures[0].size == 128 * 1024


# -- fragmentation ---------------------------------------------------------------------------


def fragment_facts(out: str) -> dict[str, str]:
    return {k: v for k, _, v in (line.partition(": ") for line in out.splitlines()) if v}


def test_fragmentation_enomem_exactly_when_no_block_fits(guest_root: Path) -> None:
    m = Machine(root=guest_root, mem="4M", hints=False)
    result = m.run(["/fragment"], capture=True, stdin=b"")
    out = result.stdout.decode()
    assert result.exit_code == 0, out
    facts = fragment_facts(out)
    free, largest = map(int, re.findall(r"\d+", facts["free memory"]))
    assert largest == 64 and free > 4 * largest, "every other 64 KiB block was given back"
    assert facts["mmap of 128 KiB (two blocks)"].startswith("ENOMEM")
    assert facts["mmap of 64 KiB (the largest free block)"] == "ok"
    assert facts["mmap of 68 KiB (one page more)"].startswith("ENOMEM")
    assert facts["blocks mapped"].endswith("ENOMEM")
    assert m.kernel is not None
    failures: list[AllocFailure] = m.kernel.alloc.failures
    assert len(failures) == 4  # filling up, then 128 KiB, 68 KiB and the shmget
    for f in failures:  # refused only when no free run was long enough
        assert f.size > f.largest_free
    fragmented = [f for f in failures if f.size <= f.free_total]
    assert len(fragmented) == 3  # all but the one that found memory full
    kept = int(facts["unmapped every other block"])
    assert int(facts["/proc/self/status VmData"].split()[0]) >= kept * 64
    assert int(facts["/proc/self/maps lines"]) >= kept


def test_fragmentation_with_an_mmu_is_no_problem(run_nommu: RunNommu) -> None:
    out = run_nommu(["/fragment"], mmu=True, mem="4M").stdout.decode()
    facts = fragment_facts(out)
    tries = [v for k, v in facts.items() if k.startswith(("mmap of", "shmget of"))]
    assert tries == ["ok"] * 4, out  # no contiguity needed: any free pages will do


def test_free_shows_fragmentation(run_nommu: RunNommu) -> None:
    out = run_nommu(["./fragment", "-f"], mem="4M").stdout.decode()
    assert "largest contiguous free block:" in out
    largest = int(re.search(r"largest contiguous free block: (\d+) KiB", out)[1])  # type: ignore[index]
    free = int(re.search(r"^Mem:\s+\d+\s+\d+\s+(\d+)", out, re.M)[1])  # type: ignore[index]
    assert largest < free
    assert "(fragmentation)" in out


# -- the kernel objects behind it ------------------------------------------------------------


def kernel(tmp_path: Path) -> Kernel:
    return Kernel(KernelConfig(mem=4 << 20, root=str(tmp_path), hints=False))


def test_shm_ids_follow_linux(tmp_path: Path) -> None:
    """ipc/util.c: index + sequence << 15, indexes handed out cyclically; the
    sequence moves on when the index wraps around."""
    shm = kernel(tmp_path).sysv_shm
    ids = [shm.newseg(0, 4096, 0o600) for _ in range(3)]
    assert ids == [0, 1, 2]
    shm.rmid(shm.lookup(1))
    assert shm.newseg(0, 4096, 0o600) == 3  # the cursor goes on, 1 stays free
    for _ in range(4, 64):  # while few are in use, indexes cycle below 64
        shm.rmid(shm.lookup(shm.newseg(0, 4096, 0o600)))
    assert shm.newseg(0, 4096, 0o600) == (1 << 15) + 1  # wrapped: a new sequence number
    with pytest.raises(SyscallError) as err:
        shm.lookup(1)  # the old id of that index is gone
    assert err.value.errno == Errno.EINVAL


def test_ramfs_expands_contiguously_only_from_empty(tmp_path: Path) -> None:
    """ftruncate from 0 allocates every page at once, as one run; growing a
    non-empty file leaves holes, which a direct mapping cannot use."""
    k = kernel(tmp_path)
    assert k.vfs.shmfs is not None
    inode = k.vfs.shmfs.new_inode(0o600)
    inode.resize(3 * 4096 + 10)
    start = inode.direct_address(0, 4)
    assert start is not None and k.alloc.block_at(start).kind == "shm"  # type: ignore[union-attr]
    assert inode.direct_address(0, 5) is None  # past the end of the file
    inode.resize(4096)
    inode.resize(3 * 4096)
    assert sorted(inode.pages) == [0] and inode.direct_address(0, 3) is None
    assert inode.pread(10, 4096) == bytes(10)  # a hole reads as zeroes
    inode.pwrite(b"abc", 2 * 4096)
    assert inode.pread(3, 2 * 4096) == b"abc" and sorted(inode.pages) == [0, 2]


def test_sysv_semaphores(differential: Callable[..., RunResult]) -> None:
    """semget/semop/semtimedop/semctl through the ipc multiplexer musl uses:
    values and limits, all-or-nothing semop, IPC_NOWAIT and timeouts, a vfork
    child taking a semaphore, SEM_UNDO undone at exit, keys, IPC_STAT, and
    IPC_RMID waking a sleeping thread with EIDRM, as natively."""
    out = differential(["/sem"]).stdout.decode()
    assert "SEM_UNDO child added 3 to #1 and exited: #1 is 2\n" in out
    assert out.endswith("GETNCNT #2 with a thread waiting: 1\nthe waiting thread got: E43\n")


def test_sysv_message_queues(differential: Callable[..., RunResult]) -> None:
    """msgget/msgsnd/msgrcv/msgctl through the ipc multiplexer (msgrcv's
    ipc_kludge): receiving by type, E2BIG and MSG_NOERROR, IPC_NOWAIT, a
    queue shrunk by IPC_SET, a vfork child sending, IPC_RMID waking a thread
    with EIDRM, as natively."""
    out = differential(["/msg"]).stdout.decode()
    assert 'receive lowest type up to 3: type 1, 10 bytes "one again"\n' in out
    assert out.endswith("the waiting thread got: E43\nafter IPC_RMID: EINVAL\n")


def test_strace_names_ipc_calls(guest_root: Path) -> None:
    """--strace shows which SysV call each ipc(2) multiplexer call is."""
    trace = io.StringIO()
    Machine(root=guest_root, hints=False, strace=trace).run(["/sem"], capture=True)
    lines = trace.getvalue().splitlines()
    assert any(line.startswith("[pid 1] ipc(SEMGET, 0, 0x3, ") for line in lines)
    assert any("ipc(SEMCTL, " in line and "ERANGE" in line for line in lines)
