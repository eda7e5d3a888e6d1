"""execve: replace a process's program, the no-MMU way.

The steps, in the order the kernel takes them (fs/exec.c, binfmt_elf_fdpic):

1. Find and check the file inside the guest root (ENOENT, EACCES, ENOEXEC).
2. Copy argv and envp out of the caller's memory *before anything is
   released*: on no-MMU a vfork child's strings live in its parent's memory.
3. Allocate the new program's memory (the memory model's `load_program`;
   without an MMU, kernel/nommu_model.py): one contiguous block for the whole
   image (a static-PIE keeps its segments' relative offsets: "constant
   displacement"; an FDPIC program gets a block per segment and a load map
   saying where each went) and a separate stack block. If memory runs out, the caller
   gets ENOMEM and keeps running its old program.
4. Point of no return: switch the task to a new MemoryMap and drop its
   reference to the old one. The old blocks are freed only when no one uses
   them: a vfork parent still stands on them. Dropping the reference is also
   what releases the vfork parent (mm_release -> complete_vfork_done).
5. Copy the segments in (and forget stale translated code there), build the
   stack (argv, envp, auxv; an FDPIC program's load map), close close-on-exec
   descriptors, reset caught signals, and start at the entry point with fresh registers.
"""

from __future__ import annotations

import dataclasses
import os
import stat as st
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nommu.abi import flags as F
from nommu.abi.errno import Errno, from_host
from nommu.kernel.errors import SyscallError
from nommu.kernel.fork import mm_release
from nommu.kernel.posix_timers import delete_all
from nommu.kernel.task import DEFAULT_ACTION
from nommu.loaders import bflt, stack
from nommu.loaders.elf import PF_X, ElfImage, LoadError, parse

if TYPE_CHECKING:
    from collections.abc import Callable

    from nommu.kernel.kernel import Kernel
    from nommu.kernel.mm import MemoryMap
    from nommu.kernel.task import Task
    from nommu.kernel.vfs import Resolved

ARG_MAX = 32 * 4096  # MAX_ARG_PAGES pages of strings: the no-MMU exec limit
MAX_INTERP_DEPTH = 4  # BINPRM_MAX_RECURSION


@dataclass(frozen=True, slots=True)
class Program:
    """A program found and checked, ready to load."""

    guest_path: str
    image: ElfImage  # or a bflt.FlatImage
    argv: list[bytes]
    args_bytes: int = 0  # bFLT: stack room exec adds for argv, envp and their strings


class ImageCache:
    """Parsed executables by (host path, inode, size, mtime): parse each ELF once.

    The cache holds at most `limit` bytes of files (the oldest go first), so a
    guest that execs many different files cannot grow nommu without bound."""

    def __init__(self, limit: int = 64 << 20) -> None:
        self._cache: dict[tuple[str, int, int, int], ElfImage] = {}
        self.limit = limit

    def load(self, host: str, info: os.stat_result, allow_exec: bool, fd: int) -> ElfImage:
        """The image of the file open at `fd` (`host` and `info` identify it)."""
        key = (host, info.st_ino, info.st_size, info.st_mtime_ns)
        image = self._cache.get(key)
        if image is None:
            data = read_file(fd, info.st_size)
            image = bflt.parse(data) if bflt.is_flat(data) else parse(data, allow_exec=allow_exec)
            self._cache[key] = image
            self._trim()
        elif image.etype == 2 and not allow_exec:
            parse(image.data)  # raises the ET_EXEC refusal
        return image

    def _trim(self) -> None:
        while len(self._cache) > 1 and sum(len(i.data) for i in self._cache.values()) > self.limit:
            del self._cache[next(iter(self._cache))]


def read_file(fd: int, size: int) -> bytes:
    """Up to `size` bytes from the start of the file open at `fd`."""
    chunks, offset = [], 0
    try:
        while offset < size:
            chunk = os.pread(fd, min(size - offset, 1 << 20), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
    except OSError as err:
        raise SyscallError(from_host(err)) from None
    return b"".join(chunks)


def find_program(k: Kernel, t: Task, path: str, argv: list[bytes], depth: int = 0) -> Program:
    """Resolve `path`, check it may be executed, and follow `#!` interpreters."""
    if depth > MAX_INTERP_DEPTH:
        raise SyscallError(Errno.ELOOP)
    resolved = k.vfs.resolve_existing(t.fs.cwd, path)
    if resolved.proc is not None or resolved.device is not None or resolved.shm is not None:
        raise SyscallError(Errno.EACCES)  # kernel files are not programs
    fd = k.hostfs.open(resolved, os.O_RDONLY, 0)
    try:
        return _load_program(k, t, resolved, fd, path, argv, depth)
    finally:
        os.close(fd)


def _load_program(
    k: Kernel, t: Task, resolved: Resolved, fd: int, path: str, argv: list[bytes], depth: int
) -> Program:
    """find_program's checks on the open file: permission, size, `#!`, ELF."""
    info = os.fstat(fd)
    if not st.S_ISREG(info.st_mode) or not info.st_mode & 0o111:
        raise SyscallError(Errno.EACCES)
    if info.st_size > max(4 * k.ram.size, 64 << 20):
        raise SyscallError(Errno.ENOMEM, "the program file is larger than the machine")
    head = read_file(fd, 256)
    if head.startswith(b"#!"):
        return _script(k, t, path, head, argv, depth)
    try:
        image = k.images.load(resolved.host, info, allow_exec=k.memory.loads_fixed_address, fd=fd)
    except LoadError as err:
        raise SyscallError(err.errno, err.message) from None
    if image.machine != k.arch.ELF_MACHINE:  # (a machine has one CPU)
        raise SyscallError(Errno.ENOEXEC, f"not a program for this {k.arch.NAME} machine's CPU")
    return Program(resolved.guest, image, argv)


def _script(k: Kernel, t: Task, path: str, head: bytes, argv: list[bytes], depth: int) -> Program:
    """binfmt_script: `#!interp [arg]` runs interp [arg] script args..."""
    line = head[2:].split(b"\n", 1)[0].strip()
    if not line:
        raise SyscallError(Errno.ENOEXEC)
    interp, _, arg = line.partition(b" ")
    # the script is named as execve was given it (binfmt_script uses bprm->filename)
    new_argv = [interp, *([arg.strip()] if arg.strip() else []), path.encode(), *argv[1:]]
    name = interp.decode(errors="surrogateescape")
    try:
        return find_program(k, t, name, new_argv, depth + 1)
    except SyscallError as err:
        if err.errno != Errno.ENOENT or err.why:
            raise
        # Linux says only ENOENT, which reads as "no such script"; the reason says more
        why = f"its interpreter {name} (named by #!) does not exist in the guest root"
        raise SyscallError(Errno.ENOENT, why) from None


def explain_failure(k: Kernel, path: str, err: SyscallError) -> None:
    """Tell the user (once per file, as a hint) why a guest's execve of `path`
    failed where the errno alone says little: ENOENT for a script whose
    interpreter is missing, ENOEXEC for an ELF file nommu cannot load. (A
    text file's ENOEXEC is normal: shells then run it as a script.)"""
    elf = err.errno == Errno.ENOEXEC and not err.why.startswith("not an ELF executable")
    if err.why and (err.errno == Errno.ENOENT or elf):
        k.hint(f"execve:{path}", f"execve {path}: {err.why}; the program got {err.errno.name}")


def check_args(argv: list[bytes], envp: list[bytes]) -> None:
    if sum(len(s) + 1 for s in (*argv, *envp)) > ARG_MAX:
        raise SyscallError(Errno.E2BIG)


def exec_program(k: Kernel, t: Task, prog: Program, envp: list[bytes]) -> None:
    """Steps 3-5 above: load `prog` into `t`, which returns to user mode at its entry."""
    check_args(prog.argv, envp)
    flat = isinstance(prog.image, bflt.FlatImage)
    if flat:
        prog = dataclasses.replace(prog, args_bytes=stack.flat_args_bytes(prog.argv, envp))
    mm, load_base = k.memory.load_program(t, prog)
    # --- point of no return ---
    mm.image, mm.load_base, mm.exe = prog.image, load_base, prog.guest_path
    mm.cmdline = b"".join(a + b"\0" for a in prog.argv)
    kill_other_threads(k, t)
    mm_release(k, t, mm)
    where = mm.loadmap.address if mm.loadmap else lambda vaddr: vaddr + load_base
    fdpic_regs = None
    if flat:
        sp = _build_flat_stack(k, mm.start_stack, prog, envp)
    else:
        sp, fdpic_regs = _build_stack(k, t, prog.image, where, mm, prog, envp)
    k.unshare_files(t)
    t.files.close_on_exec()
    delete_all(t.group)  # POSIX timers do not survive exec
    t.sighand = t.sighand.copy()
    t.sighand.actions = [a if a.handler == F.SIG_IGN else DEFAULT_ACTION for a in t.sighand.actions]
    t.comm = os.path.basename(prog.guest_path)[:15]
    t.group.vfork_child = False
    t.tls = k.arch.initial_tls()
    data = prog.image.start_data
    start_data = 0 if data is None else where(data)
    k.start_task(t, where(prog.image.entry), sp, start_data, fdpic_regs)


def load_fixups(k: Kernel, image: ElfImage, load_base: int) -> None:
    """Let the math emulation see the program's code (kernel/mathemu.py)."""
    for seg in image.segments:
        if seg.flags & PF_X:
            code = image.data[seg.offset : seg.offset + seg.filesz]
            k.mathemu.code_loaded(seg.vaddr + load_base, code)


def kill_other_threads(k: Kernel, t: Task) -> None:
    """de_thread: a process that execs keeps only the thread that called execve."""
    from nommu.kernel.exit import do_exit

    for other in list(t.group.tasks):
        if other is not t and other.alive:
            do_exit(k, other, 0)


def _build_stack(
    k: Kernel,
    t: Task,
    image: ElfImage,
    where: Callable[[int], int],
    mm: MemoryMap,
    prog: Program,
    envp: list[bytes],
) -> tuple[int, tuple[int, int, int] | None]:
    """An ELF program's stack (loaders/stack.py): sp, and for an FDPIC
    program what ARM's ELF_FDPIC_PLAT_INIT puts in r7-r9: its load map on
    the stack, no interpreter's, its dynamic section (0 if none). `where`
    translates link-time addresses."""
    phdr = image.phdr_vaddr()
    auxv = [
        (F.AT_HWCAP, k.arch.HWCAP),
        (F.AT_PAGESZ, F.PAGE_SIZE),
        (F.AT_CLKTCK, 100),
        (F.AT_PHDR, 0 if phdr is None and mm.loadmap else where(phdr or 0)),
        (F.AT_PHENT, image.phentsize),
        (F.AT_PHNUM, image.phnum),
        (F.AT_BASE, 0),
        (F.AT_FLAGS, 0),
        (F.AT_ENTRY, where(image.entry)),
        (F.AT_UID, 0),
        (F.AT_EUID, 0),
        (F.AT_GID, 0),
        (F.AT_EGID, 0),
        (F.AT_SECURE, 0),
    ]
    # binfmt_elf (MMU) gives AT_RANDOM; binfmt_elf_fdpic (no-MMU) does not
    random = k.config.random(16) if k.memory.gives_at_random else b""
    layout = stack.build(
        mm.start_stack,
        prog.argv,
        envp,
        prog.guest_path.encode(),
        k.arch.PLATFORM.encode(),
        auxv,
        random=random,
        loadmap=mm.loadmap.pack() if mm.loadmap else b"",
    )
    k.uspace.write(layout.sp, layout.data)
    if mm.loadmap is None:
        return layout.sp, None
    dynamic = mm.loadmap.find(image.dynamic) if image.dynamic is not None else None
    return layout.sp, (layout.loadmap, 0, dynamic or 0)


def _build_flat_stack(k: Kernel, top: int, prog: Program, envp: list[bytes]) -> int:
    """A bFLT program's stack: no auxiliary vector (loaders/stack.py)."""
    layout = stack.build_flat(top, prog.argv, envp, prog.guest_path.encode())
    k.uspace.write(layout.sp, layout.data)
    return layout.sp
