"""`nommu cc`: ordinary builds produce i386 static-PIE musl programs that nommu runs."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import nommu_cli

from nommu import cc

CC = f"{shlex.quote(sys.executable)} -m nommu cc"  # `nommu cc`, two words as make gets it

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def toolchain_or_skip() -> None:
    try:
        cc.find_toolchain()
    except cc.CcError as err:
        pytest.skip(str(err))


def sh(
    command: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, shell=True, cwd=cwd, capture_output=True, text=True, check=False, env=env
    )


def nommu_run(
    root: Path, *argv: str, opts: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return nommu_cli("run", "--no-hints", *opts, "--root", str(root), *argv)


def is_static_pie_i386(path: Path) -> bool:
    """ELF class 32, machine 386, type ET_DYN, and no PT_INTERP."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[18] != 3 or data[16] != 3:
        return False
    return b"ld-linux" not in data and b"ld-musl" not in data


# -- a make project -----------------------------------------------------------------------

MAIN_C = """\
#include <stdio.h>
#include <math.h>
#include <pthread.h>
#include "util.h"
static void *worker(void *arg) { return (void *)(long)(twice((int)(long)arg)); }
int main(int argc, char **argv)
{
    pthread_t t; void *r;
    pthread_create(&t, NULL, worker, (void *)21L);
    pthread_join(t, &r);
    printf("%s: twice(21)=%ld sqrt(%d)=%.3f\\n", greeting(), (long)r, argc, sqrt(argc));
    return 7;
}
"""
UTIL_C = """\
#include "util.h"
int twice(int x) { return 2 * x; }
const char *greeting(void) { return "hello from util.c"; }
"""
UTIL_H = "int twice(int x);\nconst char *greeting(void);\n"
MAKEFILE = """\
CFLAGS = -O2 -Wall -Werror -fno-pie
LDFLAGS = -no-pie
LDLIBS = -lm -lpthread
prog: main.o util.o
\t$(CC) $(LDFLAGS) -o $@ main.o util.o $(LDLIBS)
main.o: main.c util.h
util.o: util.c util.h
"""


def make_project(where: Path) -> Path:
    where.mkdir()
    for name, text in (
        ("main.c", MAIN_C),
        ("util.c", UTIL_C),
        ("util.h", UTIL_H),
        ("Makefile", MAKEFILE),
    ):
        (where / name).write_text(text)
    return where


def test_make_builds_a_two_file_project_that_runs_under_nommu(tmp_path: Path) -> None:
    toolchain_or_skip()
    project = make_project(tmp_path / "proj")
    built = sh(f"make CC='{CC}'", project)
    assert built.returncode == 0, built.stderr
    assert is_static_pie_i386(project / "prog")  # despite -fno-pie and -no-pie in the Makefile
    for mmu in ((), ("--mmu",)):
        ran = nommu_run(project, "/prog", "a", "b", "c", opts=mmu)
        assert ran.stdout == "hello from util.c: twice(21)=42 sqrt(4)=2.000\n", ran.stderr
        assert ran.returncode == 7


def test_a_configure_style_probe(tmp_path: Path) -> None:
    """What autoconf asks a compiler: preprocess, compile, link, run the result
    (here natively: the host runs i386 static-PIE programs) and the target."""
    toolchain_or_skip()
    (tmp_path / "conftest.c").write_text(
        "#include <stdlib.h>\n#include <sys/types.h>\n#include <linux/version.h>\n"
        'int main(void) { return getenv("NOMMU_PROBE") ? 0 : 3; }\n'
    )
    assert sh(f"{CC} -dumpmachine", tmp_path).stdout.strip() == "i386-linux-musl"
    assert sh(f"{CC} -dumpversion", tmp_path).stdout.strip()
    cpp = sh(f"{CC} -E conftest.c", tmp_path)
    assert cpp.returncode == 0 and "LINUX_VERSION_CODE" not in cpp.stdout, cpp.stderr
    assert sh(f"{CC} -c -o conftest.o conftest.c", tmp_path).returncode == 0
    linked = sh(f"{CC} -O2 -o conftest conftest.o", tmp_path)
    assert linked.returncode == 0, linked.stderr
    assert sh("./conftest", tmp_path, env={**os.environ, "NOMMU_PROBE": "1"}).returncode == 0
    assert sh(f"{CC} conftest.c && ./a.out", tmp_path).returncode == 3
    assert (
        nommu_cli("run", "--root", str(tmp_path), "-E", "NOMMU_PROBE=1", "/a.out").returncode == 0
    )
    broken = sh(
        f"{CC} -o nope -x c - <<'EOF'\nint main(void) {{ return undefined_fn(); }}\nEOF", tmp_path
    )
    assert broken.returncode != 0 and "undefined_fn" in broken.stderr


STACK_C = """\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* Recurses with 1 KiB frames until `depth` KiB of stack are in use. */
static int down(int depth)
{
    volatile char frame[1024];
    memset((char *)frame, depth, sizeof frame);
    return depth ? down(depth - 1) + frame[7] - frame[8] : 0;
}
int main(int argc, char **argv)
{
    char line[256];
    FILE *maps = fopen("/proc/self/maps", "r");
    unsigned long lo, hi;
    while (fgets(line, sizeof line, maps))
        if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
            printf("stack %lu KiB\\n", (hi - lo) >> 10);
    printf("recursed %d\\n", down(atoi(argv[1])));
    return 0;
}
"""


def test_stack_size_option_sets_the_no_mmu_stack(tmp_path: Path) -> None:
    toolchain_or_skip()
    (tmp_path / "stack.c").write_text(STACK_C)
    assert sh(f"{CC} -O1 -o small stack.c", tmp_path).returncode == 0
    built = sh(f"{CC} -O1 -Wl,-z,stack-size=1048576 -o big stack.c", tmp_path)
    assert built.returncode == 0, built.stderr
    assert nommu_run(tmp_path, "/small", "8").stdout == "stack 128 KiB\nrecursed 0\n"
    deep = nommu_run(tmp_path, "/big", "600")  # 600 KiB: far past the default 128 KiB
    assert deep.returncode == 0, deep.stderr
    assert deep.stdout == "stack 1024 KiB\nrecursed 0\n"


# -- what the driver refuses or absorbs -------------------------------------------------


def test_shared_and_64_bit_are_refused_in_one_line(tmp_path: Path) -> None:
    for option in ("-shared", "-m64"):
        proc = sh(f"{CC} {option} -o x x.c", tmp_path)
        assert proc.returncode == 1
        assert proc.stderr.startswith(f"nommu cc: {option}: ") and proc.stderr.count("\n") == 1


def test_missing_toolchain_says_how_to_install_it(tmp_path: Path) -> None:
    env = {**os.environ, "NOMMU_MUSL_LIB": str(tmp_path / "no-musl")}
    proc = sh(f"{CC} -c x.c", tmp_path, env=env)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "scripts/setup" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_command_lines_the_driver_builds() -> None:
    tc = cc.Toolchain(
        "gcc", Path("/m/lib"), Path("/m/inc"), Path("/g/inc"), Path("/g/32/libgcc.a"), None
    )
    link = cc.gcc_command(tc, ["-static", "-o", "p", "a.o", "-lm", "-lcrypt", "-no-pie"])
    assert "-static" not in link and "-no-pie" not in link and "-lcrypt" not in link
    assert "-march=native" not in cc.gcc_command(tc, ["-march=native", "-c", "a.c"])
    objects = [a for a in link if a.endswith((".o", ".a")) or a.startswith("-Wl,--")]
    assert objects == [
        "/m/lib/rcrt1.o", "/m/lib/crti.o", "/g/32/crtbeginS.o", "a.o",
        "-Wl,--start-group", "/m/lib/libc.a", "/g/32/libgcc.a", "-Wl,--end-group",
        "/g/32/crtendS.o", "/m/lib/crtn.o",
    ]  # fmt: skip
    assert link.index("-static-pie") < link.index("a.o") < link.index("-lm")
    for only in (["-c", "a.c"], ["-E", "a.c"], ["-S", "a.c"], ["-M", "a.c"], ["-r", "a.o"]):
        command = cc.gcc_command(tc, only)
        assert "/m/lib/rcrt1.o" not in command and "-static-pie" not in command
        assert command[:3] == ["gcc", "-m32", "-fPIE"]
    assert cc.inputs(["-o", "out", "-I", "inc", "-x", "c", "-", "-MF", "d", "x.c"]) == ["-", "x.c"]
    assert cc.is_query(["-v"]) and not cc.is_query(["-v", "x.c"])


def test_nommu_cc_console_script_is_declared(tmp_path: Path) -> None:
    """pyproject declares `nommu-cc` (one word, for build systems) as cc.main."""
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["nommu-cc"] == "nommu.cc:main"
    assert cc.main(["-dumpmachine"]) == 0


def test_a_header_directory_made_before_the_headers_gets_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory of UAPI links is made once; one made before ARM's asm/
    headers were installed (linux-libc-dev-armhf-cross) must gain the link,
    or every later build that includes <linux/types.h> fails."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    asm = tmp_path / "asm-headers"
    target = cc.Target(**{**cc.TARGETS["arm"].__dict__, "asm_uapi": str(asm)})
    first = cc.uapi_headers(target)
    assert first is not None and not (first / "asm").exists()
    asm.mkdir()
    (asm / "types.h").write_text("/* arm */\n")
    again = cc.uapi_headers(target)
    assert again == first
    assert (again / "asm" / "types.h").read_text() == "/* arm */\n"
