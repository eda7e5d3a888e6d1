"""`nommu cc` (and `nommu-cc`): a compiler driver for programs nommu runs.

nommu runs i386 static-PIE programs linked against musl. This driver wraps
the host's gcc so that an ordinary build (`make CC="nommu cc"`,
`./configure CC=nommu-cc`) produces exactly that, with no flags to learn:

* every compile gets `-m32 -fPIE` and musl's headers instead of the host's
  (`-nostdinc -isystem <musl> -isystem <uapi> -isystem <gcc>`), where
  <uapi> holds the Linux UAPI headers (linux/, asm/, asm-generic/, mtd/)
  that musl leaves to the kernel, as Alpine's toolchain provides them;
* every link is `-static-pie -nostdlib` with musl's start files and
  `--start-group libc.a libgcc.a --end-group`, whatever the build asked for:
  `-static`, `-pie`, `-no-pie` and `-fno-pie` are absorbed (a no-MMU
  machine can only place position-independent code), as is `-march=native`
  (the host's CPU is not the machine's), and musl's empty
  stubs satisfy `-lm -lpthread -lrt -ldl -lutil -lresolv -lxnet`;
* `-c`, `-S`, `-E`, `-M`/`-MM`, `-fsyntax-only` and `-r` only compile (no
  start files, no libraries);
* `-shared` and `-m64` are refused with one line: nommu loads neither shared
  libraries nor 64-bit code;
* `--arch arm` (or NOMMU_CC_ARCH=arm) builds for nommu's ARM machine
  instead: Thumb-2 for a Cortex-M7, with Debian's arm-linux-gnueabihf-gcc
  and musl for armhf (`Target` says how);
* `--arch arm --bflt` builds a bFLT program, as no-MMU ARM boards run them:
  uClibc-ng (built by scripts/uclibc-bflt into ~/.cache/nommu) instead of
  musl, `-fno-pic -mword-relocations` code, a static link with `-Wl,-q`
  into OUT.gdb (the ELF, for a debugger, as uClinux's ld-elf2flt leaves
  it), then `nommu elf2flt` into OUT. `--bflt=gzip` compresses it, and
  `--bflt-stack=N` sets the stack size in its header (default 32 KiB);
* `-dumpmachine` says i386-linux-musl (configure scripts ask); `--version`,
  `-v` and `-dumpversion` are gcc's own, so build systems recognize GCC.

Everything else, `-Wl,-z,stack-size=N` included, passes through unchanged.
The driver is deliberately small: it only decides which flags to add, and
gcc does the work. NOMMU_CC_GCC, NOMMU_MUSL_LIB and NOMMU_MUSL_INC override
the gcc to run and where musl lives.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

MACHINE = "i386-linux-musl"  # what -dumpmachine reports
MUSL_LIB = "/usr/lib/i386-linux-musl"
MUSL_INC = "/usr/include/i386-linux-musl"
SETUP_HINT = (
    "run scripts/setup from nommu's source tree (it installs gcc's 32-bit support "
    "and musl-dev:i386, and the ARM cross compiler with musl-dev:armhf)"
)


@dataclass(frozen=True)
class Target:
    """What one architecture's builds need: the compiler and musl to use and
    the flags that make a static-PIE program for nommu's CPU."""

    name: str
    machine: str  # what -dumpmachine reports
    gcc: str
    musl_lib: str
    musl_inc: str
    cflags: tuple[str, ...]  # every compile (and gcc's -print questions)
    link: tuple[str, ...]  # how the link is made static-PIE
    asm_uapi: str  # the kernel's asm/ headers for it
    pic: tuple[str, ...] = ("-fPIE",)  # how code is made position independent
    start: tuple[str, ...] = ("rcrt1.o", "crti.o")  # the C library's start files
    gcc_crt: bool = True  # gcc's crtbeginS.o/crtendS.o around the objects
    flat: bool = False  # the link makes an ELF for elf2flt (--bflt)
    missing_hint: str = ""  # what to do when the C library is missing


TARGETS = {
    "i386": Target(
        "i386", MACHINE, "gcc", MUSL_LIB, MUSL_INC, ("-m32",), ("-static-pie",),
        "/usr/include/x86_64-linux-gnu/asm",
    ),
    # Thumb-2 for a Cortex-M7 with its double-precision FPU, hard-float calls
    # as Debian's musl for armhf expects. `-static-pie` would add an
    # interpreter with this compiler; the pieces are spelled out instead,
    # and the profile mismatch with musl's ARMv7-A objects is waived (their
    # code is the Thumb-2 both profiles run: guest/Makefile).
    "arm": Target(
        "arm", "arm-linux-musleabihf", "arm-linux-gnueabihf-gcc",
        "/usr/lib/arm-linux-musleabihf", "/usr/include/arm-linux-musleabihf",
        ("-mthumb", "-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
        ("-Wl,-pie", "-Wl,--no-dynamic-linker", "-Wl,-z,text", "-Wl,--no-warn-mismatch"),
        "/usr/arm-linux-gnueabihf/include/asm",
    ),
}  # fmt: skip


UCLIBC_VERSION = "1.0.35"  # scripts/uclibc-bflt's
UCLIBC_HINT = "run scripts/uclibc-bflt from nommu's source tree (scripts/setup does)"
BFLT_STACK = 32768  # uClibc's stdio and printf need more than elf2flt's 4 KiB


def uclibc_sysroot() -> Path:
    """Where scripts/uclibc-bflt installs uClibc-ng (NOMMU_CACHE or ~/.cache/nommu)."""
    cache = os.environ.get("NOMMU_CACHE") or str(Path.home() / ".cache" / "nommu")
    return Path(cache) / f"uclibc-bflt-{UCLIBC_VERSION}" / "sysroot"


def bflt_target() -> Target:
    """ARM for bFLT: uClibc-ng's headers, start files and libc.a, code
    without a GOT whose every address is a whole word (what elf2flt
    relocates), a static link whose relocations are kept (-Wl,-q). No gcc
    crtbeginS.o: Debian builds it with movw/movt address pairs."""
    arm, root = TARGETS["arm"], uclibc_sysroot() / "usr"
    return dataclasses.replace(
        arm, name="arm --bflt", machine="arm-linux-uclibceabihf",
        musl_lib=str(root / "lib"), musl_inc=str(root / "include"),
        pic=("-fno-pic", "-mword-relocations"), start=("crt1.o", "crti.o"),
        link=("-static", "-Wl,-q", "-Wl,--no-warn-mismatch"), gcc_crt=False, flat=True,
        missing_hint=UCLIBC_HINT,
    )  # fmt: skip


@dataclass(frozen=True)
class Flat:
    """What --bflt asks of elf2flt."""

    compress: bool = False
    stack: int = BFLT_STACK


def take_arch(args: Sequence[str]) -> tuple[Target, list[str], Flat | None]:
    """The target `--arch NAME` (or `--arch=NAME`, or NOMMU_CC_ARCH) names,
    i386 by default, the arguments without nommu's own options, and what
    `--bflt[=gzip]`/`--bflt-stack=N` ask (None without --bflt)."""
    name, rest, it = os.environ.get("NOMMU_CC_ARCH", "i386"), [], iter(args)
    flat: Flat | None = None
    stack: int | None = None
    for arg in it:
        if arg == "--arch":
            name = next(it, "")
        elif arg.startswith("--arch="):
            name = arg.partition("=")[2]
        elif arg in ("--bflt", "--bflt=gzip"):
            flat = Flat(compress=arg.endswith("gzip"))
        elif arg.startswith("--bflt-stack="):
            stack = _stack_size(arg.partition("=")[2])
        else:
            rest.append(arg)
    if name not in TARGETS:
        raise CcError(f"--arch {name}: nommu cc builds for {' or '.join(TARGETS)}")
    if flat is None:
        if stack is not None:
            raise CcError("--bflt-stack: the stack size of a bFLT program; add --bflt")
        return TARGETS[name], rest, None
    if name != "arm":
        raise CcError("--bflt: bFLT programs are for ARM; add --arch arm")
    return bflt_target(), rest, dataclasses.replace(flat, stack=stack or BFLT_STACK)


def _stack_size(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        value = -1
    if not 0 < value < 1 << 28:
        raise CcError(f"--bflt-stack={text}: want a size in bytes below 256 MiB")
    return value


# Options that nommu cc drops: the link is always static-PIE, and "native"
# names the host's CPU, not the machine's (Unicorn's i386 has no AVX).
ABSORBED = frozenset(
    {"-static", "-static-pie", "-pie", "-no-pie", "-fno-pie", "-fno-PIE", "-m32"}
    | {"-march=native", "-mtune=native", "-mcpu=native"}
)
# Options after which gcc stops before linking.
COMPILE_ONLY = frozenset({"-c", "-S", "-E", "-M", "-MM", "-fsyntax-only", "-r"})
# Libraries musl folds into libc.a for which Debian's musl-dev ships no stub
# archive. (Debian's musl has no crypt() at all, bug #947193: a program that
# calls it fails to link with "undefined reference to crypt"; BusyBox, which
# links -lcrypt but uses its own, links.)
IN_LIBC = frozenset({"crypt"})
# Options that take the next argument as their value (when not joined to it).
TAKES_VALUE = frozenset(
    {
        "-o", "-I", "-L", "-l", "-D", "-U", "-x", "-u", "-T", "-z", "-e", "-B",
        "-include", "-imacros", "-isystem", "-idirafter", "-iprefix", "-iquote",
        "-iwithprefix", "-iwithprefixbefore", "-isysroot", "-imultilib",
        "-MF", "-MT", "-MQ", "-Xlinker", "-Xassembler", "-Xpreprocessor",
        "-aux-info", "-dumpbase", "-dumpdir", "--param", "-wrapper",
    }
)  # fmt: skip
# Options that print something about the compiler and compile nothing.
QUERIES = ("-print-", "--print-", "-dumpversion", "-dumpfullversion", "--version", "--help")


class CcError(Exception):
    """A problem the driver reports in one line (exit status 1)."""


@dataclass(frozen=True)
class Toolchain:
    """The host files a build needs: gcc, musl, gcc's own headers and runtime."""

    gcc: str
    musl_lib: Path
    musl_inc: Path
    gcc_inc: Path
    libgcc: Path  # gcc's 32-bit runtime (libgcc.a); crtbeginS.o/crtendS.o sit beside it
    uapi: Path | None  # the Linux UAPI headers, or None where they are not installed
    target: Target = field(default_factory=lambda: TARGETS["i386"])

    def crt(self, name: str) -> Path:
        """musl's start file `name` (rcrt1.o, crti.o, crtn.o)."""
        return self.musl_lib / name

    def gcc_crt(self, name: str) -> Path:
        """gcc's start file `name` (crtbeginS.o, crtendS.o), next to its libgcc.a."""
        return self.libgcc.parent / name


def find_toolchain(target: Target | None = None) -> Toolchain:
    """Locate gcc, musl and gcc's 32-bit runtime for `target` (i386 unless
    told; CcError naming what is missing)."""
    target = target or TARGETS["i386"]
    gcc = os.environ.get("NOMMU_CC_GCC", target.gcc)
    if shutil.which(gcc) is None:
        raise CcError(f"no C compiler: {gcc} is not installed: {SETUP_HINT}")
    musl_lib, musl_inc = Path(target.musl_lib), Path(target.musl_inc)
    if not target.flat:
        musl_lib = Path(os.environ.get("NOMMU_MUSL_LIB", musl_lib))
        musl_inc = Path(os.environ.get("NOMMU_MUSL_INC", musl_inc))
    for need in (musl_lib / "libc.a", musl_lib / target.start[0], musl_inc / "stdio.h"):
        if not need.is_file():
            if target.flat:
                raise CcError(f"uClibc-ng for bFLT is not built ({need} not found): {UCLIBC_HINT}")
            raise CcError(
                f"the {target.name} musl toolchain is missing ({need} not found): {SETUP_HINT}"
            )
    libgcc = Path(_ask_gcc(gcc, *target.cflags, "-print-libgcc-file-name"))
    if not (libgcc.parent / "crtbeginS.o").is_file() or (
        target.name == "i386" and libgcc == Path(_ask_gcc(gcc, "-print-libgcc-file-name"))
    ):
        raise CcError(f"{gcc} cannot build 32-bit code (no 32-bit libgcc): {SETUP_HINT}")
    gcc_inc = Path(_ask_gcc(gcc, "-print-file-name=include"))
    uapi = uapi_headers(target)
    return Toolchain(gcc, musl_lib, musl_inc, gcc_inc, libgcc, uapi, target)


def _ask_gcc(gcc: str, *args: str) -> str:
    """gcc's one-line answer to a -print-* question."""
    proc = subprocess.run([gcc, *args], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


# The UAPI directories and where Debian keeps them (asm/ is per architecture;
# x86-64's asm headers serve i386 too, switching on __i386__).
UAPI = {
    "linux": "/usr/include/linux",
    "asm-generic": "/usr/include/asm-generic",
    "mtd": "/usr/include/mtd",
    "asm": "/usr/include/x86_64-linux-gnu/asm",
}


def uapi_headers(arch: Target | None = None) -> Path | None:
    """A directory of links to the host's Linux UAPI headers (with `arch`'s
    asm/), made once in the user's cache (or the temporary directory); None
    if the host has none (Debian's linux-libc-dev)."""
    wanted = dict(UAPI, asm=arch.asm_uapi) if arch else UAPI
    present = {name: target for name, target in wanted.items() if os.path.isdir(target)}
    if "linux" not in present:
        return None
    cpu = arch.name.split()[0] if arch else "i386"  # ("arm --bflt" shares ARM's headers)
    suffix = "" if cpu == "i386" else f"-{cpu}"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nommu"
    for where in (
        cache / f"uapi-include{suffix}",
        Path(tempfile.gettempdir()) / f"nommu-uapi{suffix}-{os.getuid()}",
    ):
        if not all((where / name).exists() for name in present):
            _make_links(where, present)
        if (where / "linux").exists():
            return where
    return None


def _make_links(where: Path, targets: dict[str, str]) -> None:
    """Create directory `where` holding one symlink per target, atomically: the
    compilers of a parallel build may race, and each sees a whole directory.
    A directory made before some headers were installed gets the missing
    links added (each symlink appears whole, too)."""
    if where.is_dir():
        for name, target in targets.items():
            with contextlib.suppress(OSError):  # (another build made it, or read-only)
                (where / name).symlink_to(target)
        return
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="uapi-", dir=where.parent))
    except OSError:
        return
    try:
        for name, target in targets.items():
            (staging / name).symlink_to(target)
        os.replace(staging, where)
    except OSError:  # (another build got there first, or the cache is read-only)
        shutil.rmtree(staging, ignore_errors=True)


# -- reading the command line ---------------------------------------------------------


def inputs(args: Sequence[str]) -> list[str]:
    """The input files named in `args` (anything that is not an option or an
    option's value; "-" is standard input)."""
    found, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "-" or not arg.startswith("-"):
            found.append(arg)
        elif arg in TAKES_VALUE:
            skip = True
    return found


def links(args: Sequence[str]) -> bool:
    """Whether gcc would link: files were given and nothing stops it earlier."""
    return bool(inputs(args)) and not any(a in COMPILE_ONLY for a in args)


def is_query(args: Sequence[str]) -> bool:
    """A question about the compiler itself (`--version`, `-print-...`, `-v` alone)."""
    if any(a.startswith(QUERIES) for a in args):
        return True
    return "-v" in args and not inputs(args)


def check_supported(args: Sequence[str]) -> None:
    """Refuse, in one line, what a no-MMU i386 machine cannot run."""
    for arg in args:
        if arg == "-shared":
            raise CcError(
                "-shared: nommu runs static programs only and cannot load shared "
                "libraries; build a static library (ar rcs libx.a ...) instead"
            )
        if arg in ("-m64", "-mx32"):
            raise CcError(f"{arg}: nommu runs i386 (32-bit) programs only")


def user_args(args: Sequence[str]) -> list[str]:
    """The user's arguments without the absorbed ones and libraries musl's libc.a
    already holds (`-lcrypt`, which Debian's musl ships no stub for)."""
    kept: list[str] = []
    it = iter(args)
    for arg in it:
        if arg in ABSORBED or (arg.startswith("-l") and arg[2:] in IN_LIBC):
            continue
        if arg == "-l":
            lib = next(it, "")
            if lib not in IN_LIBC:
                kept += [arg, lib]
            continue
        kept.append(arg)
    return kept


# -- building gcc's command line ---------------------------------------------------------


def compile_flags(tc: Toolchain, args: Sequence[str]) -> list[str]:
    """Flags every compile gets: i386, position independent, musl's headers
    (unless the user asked for -nostdinc)."""
    flags = [*tc.target.cflags, *tc.target.pic]
    if "-nostdinc" not in args:
        flags += ["-nostdinc", "-isystem", str(tc.musl_inc)]
        flags += ["-isystem", str(tc.uapi)] if tc.uapi else []
        flags += ["-isystem", str(tc.gcc_inc)]
    return flags


def link_head(tc: Toolchain, args: Sequence[str]) -> list[str]:
    """What comes before the user's objects: the static-PIE switches, musl's
    library directory and the start files (unless -nostartfiles/-nostdlib)."""
    head = [*tc.target.link, "-nostdlib", f"-L{tc.musl_lib}"]
    if not {"-nostartfiles", "-nostdlib"} & set(args):
        head += [str(tc.crt(name)) for name in tc.target.start]
        head += [str(tc.gcc_crt("crtbeginS.o"))] if tc.target.gcc_crt else []
    return head


def link_tail(tc: Toolchain, args: Sequence[str]) -> list[str]:
    """What comes after them: libc and libgcc (one group, they need each other)
    and the closing start files."""
    tail = ["-x", "none"]  # (a user's `-x c` would otherwise apply to libc.a too)
    if not {"-nodefaultlibs", "-nostdlib"} & set(args):
        tail += ["-Wl,--start-group", str(tc.musl_lib / "libc.a"), str(tc.libgcc)]
        tail += ["-Wl,--end-group"]
    if not {"-nostartfiles", "-nostdlib"} & set(args):
        tail += [str(tc.gcc_crt("crtendS.o"))] if tc.target.gcc_crt else []
        tail += [str(tc.crt("crtn.o"))]
    return tail


def gcc_command(tc: Toolchain, args: Sequence[str]) -> list[str]:
    """The gcc command line for the driver's arguments `args`."""
    kept = user_args(args)
    if is_query(args):
        return [tc.gcc, *tc.target.cflags, *kept]
    command = [tc.gcc, *compile_flags(tc, args)]
    if "-r" in args:
        return [*command, "-nostdlib", *kept]
    if not links(args):
        return [*command, *kept]
    return [*command, *link_head(tc, args), *kept, *link_tail(tc, args)]


def run(args: Sequence[str]) -> int:
    """Compile/link as the arguments say; gcc's exit status (CcError if refused)."""
    target, args, flat = take_arch(args)
    if "-dumpmachine" in args:
        print(target.machine)
        return 0
    check_supported(args)
    tc = find_toolchain(target)
    if flat is not None and links(args) and not is_query(args):
        return link_flat(tc, args, flat)
    return _gcc(gcc_command(tc, args))


def _gcc(command: list[str]) -> int:
    if os.environ.get("NOMMU_CC_VERBOSE"):
        print(" ".join(command), file=sys.stderr)
    return subprocess.run(command, check=False).returncode


def output_name(args: Sequence[str]) -> tuple[str, list[str]]:
    """The -o file of `args` (a.out without one) and `args` without -o."""
    out, rest, it = "a.out", [], iter(args)
    for arg in it:
        if arg == "-o":
            out = next(it, "")
            if not out:
                raise CcError("missing filename after '-o'")
        elif arg.startswith("-o"):
            out = arg[2:]
        else:
            rest.append(arg)
    return out, rest


def link_flat(tc: Toolchain, args: Sequence[str], flat: Flat) -> int:
    """--bflt: link the ELF into OUT.gdb, then convert it into the bFLT OUT."""
    from nommu import elf2flt

    out, rest = output_name(args)
    status = _gcc(gcc_command(tc, [*rest, "-o", out + ".gdb"]))
    if status:
        return status
    try:
        with open(out + ".gdb", "rb") as f:
            program = elf2flt.convert(f.read(), flat.stack, flat.compress)
        elf2flt.write_program(out, program)
    except elf2flt.ConvertError as err:
        raise CcError(f"elf2flt {out}.gdb: {err}") from None
    except OSError as err:
        raise CcError(f"{err.filename}: {err.strerror}") from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The `nommu-cc` command (and `nommu cc`): errors are one line, status 1."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return run(args)
    except CcError as err:
        print(f"nommu cc: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
