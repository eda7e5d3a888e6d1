"""A real third-party program (issue 5): Debian's busybox-static for i386.

Under --mmu its shell runs scripts with pipelines, subshells, command
substitution and loops, and its applets work: each script's output and exit
status must equal those of the same busybox run natively (cwd = the guest
root, where the scripts use relative paths only). Without an MMU busybox
cannot run, and nommu must say why.

busybox comes from scripts/setup (install_busybox): /usr/bin/busybox, or
unpacked into /opt/busybox-i386; NOMMU_BUSYBOX names another. Without it
these tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
from helpers import guarded_run, native_run, outcome_of

from nommu import Machine
from nommu.kernel.errors import NommuError
from nommu.kernel.mmu_model import MmuModel

CANDIDATES = ("/usr/bin/busybox", "/bin/busybox", "/opt/busybox-i386/bin/busybox")
PT_INTERP = 3


def elf_kind(path: Path) -> str | None:
    """'exec' or 'dyn' for a static i386 ELF program, else None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data[:6] != b"\x7fELF\x01\x01":
        return None
    etype, machine = struct.unpack_from("<HH", data, 16)
    (phoff,) = struct.unpack_from("<I", data, 28)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    if machine != 3 or etype not in (2, 3) or PT_INTERP in types:
        return None
    return "exec" if etype == 2 else "dyn"


def find_busybox() -> Path | None:
    for name in (os.environ.get("NOMMU_BUSYBOX", ""), *CANDIDATES):
        if name and elf_kind(Path(name)):
            return Path(name)
    return None


BUSYBOX = find_busybox()
pytestmark = pytest.mark.skipif(
    BUSYBOX is None, reason="no static i386 busybox (scripts/setup installs busybox-static:i386)"
)

SCRIPTS = {
    "pipelines": r"""
seq 1 30 | grep 1 | sort -rn | head -4
echo "one two three" | tr ' ' '\n' | sort | tr '\n' ','; echo
seq 1000 | wc -l
printf 'b 2\na 1\nc 3\nb 2\n' | sort | uniq -c
seq 5 | tee tmp/tee.out | tail -2
cat tmp/tee.out | wc -l
yes x | head -3
seq 10 | awk '{ s += $1 } END { print "sum", s }'
echo a:b:c | cut -d: -f2
seq 3 | xargs echo args:
seq 20000 | cat | cat | tail -1
true | false; echo "status of true|false: $?"
""",
    "subshells": r"""
x=outer
( x=inner; echo "in the subshell: $x" )
echo "after the subshell: $x"
( echo leaving with 4; exit 4 ); echo "subshell status: $?"
( ( echo nested ) | tr a-z A-Z )
(cd tmp && echo made > in-tmp && ls)
{ echo grouped; echo lines; } | wc -l
sh -c 'echo child shell $0 $1' zero one
v=$( (echo a; echo b) | wc -l ); echo "lines: $v"
""",
    "substitution": r"""
n=$(seq 5 | wc -l); echo "n=$n"
echo "nested: $(echo $(echo deep) inside)"
echo "backticks: `echo old style`"
echo "arith: $(( (3 + 4) * 5 ))"
upper=$(echo hello | sed 's/h/H/'); echo "$upper world"
echo "bytes in seq 100: $(seq 100 | wc -c)"
for f in $(seq 3); do echo "item $f"; done
""",
    "control": r"""
for i in 1 2 3; do printf '%s;' "$i"; done; echo
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "while: $i"
j=3; until [ $j -eq 0 ]; do j=$((j - 1)); done; echo "until: $j"
for w in apple banana cherry; do
	case $w in
	a*) echo "$w starts with a" ;;
	*an*) echo "$w has an" ;;
	*) echo "$w: other" ;;
	esac
done
f() { local v="$1"; echo "f got $v"; return 7; }
f arg; echo "f returned $?"
false || echo "or-list ran"
true && echo "and-list ran"
while read a b; do echo "read: $b $a"; done <<END
1 one
2 two
END
set -- x y z; echo "args: $# $2"
trap 'echo trapped USR1' USR1; kill -USR1 $$; echo "after the trap"
sleep 0.1 & wait $!; echo "background job status: $?"
exit 3
""",
    "applets": r"""
mkdir -p tmp/d/sub
echo hello > tmp/d/a.txt
printf 'line1\nline2\nline3\n' > tmp/d/b.txt
cp tmp/d/a.txt tmp/d/c.txt
mv tmp/d/c.txt tmp/d/sub/moved.txt
ls tmp/d; ls -1 tmp/d/sub
cat tmp/d/a.txt tmp/d/b.txt
wc -l tmp/d/b.txt
wc -c < tmp/d/a.txt
grep -n line2 tmp/d/b.txt
sed -n '2,3p' tmp/d/b.txt
sed 's/line/LINE/g' tmp/d/b.txt | head -1
sort -r tmp/d/b.txt | head -1
head -c 3 tmp/d/a.txt; echo
tail -n 1 tmp/d/b.txt
md5sum tmp/d/a.txt
find tmp/d -name '*.txt' | sort
basename tmp/d/a.txt .txt; dirname tmp/d/a.txt
expr 6 \* 7
test -f tmp/d/a.txt && echo "test -f: yes"
[ -d tmp/d/sub ] && echo "test -d: yes"
seq -s, 1 5
od -An -c tmp/d/a.txt
echo "rev" | rev
printf '%05d|%-4s|%x\n' 42 ab 255
stat -c '%s %n' tmp/d/b.txt
rm -r tmp/d; ls tmp
""",
}


@pytest.fixture
def bb_root(tmp_path: Path) -> Path:
    """A guest root: /bin/busybox, the scripts in /s, an empty /tmp."""
    assert BUSYBOX is not None
    root = tmp_path / "root"
    for d in ("bin", "s", "tmp"):
        (root / d).mkdir(parents=True)
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    for name, body in SCRIPTS.items():
        (root / "s" / f"{name}.sh").write_text(body.lstrip())
    return root


def fresh_tmp(root: Path) -> None:
    shutil.rmtree(root / "tmp")
    (root / "tmp").mkdir()


def run_both(root: Path, argv: list[str], stdin: bytes = b"") -> tuple[object, object]:
    """(native, nommu --mmu) results of argv, each with an empty /tmp."""
    fresh_tmp(root)
    native = native_run(root, argv, stdin=stdin)
    fresh_tmp(root)
    emulated = guarded_run(Machine(root=root, mmu=True, hints=False), argv, stdin=stdin)
    return native, emulated


def assert_same(native: object, emulated: object) -> None:
    n_out = native.stdout.decode(errors="replace")  # type: ignore[attr-defined]
    e_out = emulated.stdout.decode(errors="replace")  # type: ignore[attr-defined]
    assert e_out == n_out
    assert outcome_of(emulated) == outcome_of(native), emulated.stderr  # type: ignore[arg-type, attr-defined]


def test_busybox_is_a_static_i386_program() -> None:
    assert BUSYBOX is not None
    assert elf_kind(BUSYBOX) in ("exec", "dyn")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_busybox_sh_script_under_mmu_matches_native(
    bb_root: Path, native_ok: None, script: str
) -> None:
    native, emulated = run_both(bb_root, ["/bin/busybox", "sh", f"s/{script}.sh"])
    assert_same(native, emulated)
    assert emulated.stdout  # type: ignore[attr-defined]


def test_busybox_sh_control_script_details(bb_root: Path) -> None:
    result = guarded_run(
        Machine(root=bb_root, mmu=True, hints=False), ["/bin/busybox", "sh", "s/control.sh"]
    )
    out = result.stdout.decode()  # type: ignore[union-attr]
    assert "trapped USR1\nafter the trap\n" in out
    assert "background job status: 0\n" in out
    assert result.exit_code == 3


def test_busybox_sh_reads_commands_from_stdin(bb_root: Path, native_ok: None) -> None:
    script = b"echo from stdin | tr a-z A-Z\nx=$(seq 4 | tail -1); echo $x\nexit 5\n"
    native, emulated = run_both(bb_root, ["/bin/busybox", "sh"], stdin=script)
    assert_same(native, emulated)
    assert emulated.stdout == b"FROM STDIN\n4\n"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("argv", "stdin"),
    [
        (["echo", "hello", "world"], b""),
        (["seq", "2", "2", "9"], b""),
        (["sort", "-r"], b"b\nc\na\n"),
        (["wc"], b"one two\nthree\n"),
        (["grep", "-c", "x"], b"x\ny\nxx\n"),
        (["sed", "s/a/b/g"], b"banana\n"),
        (["ls", "-1", "s"], b""),
        (["cat", "s/control.sh"], b""),
        (["sh", "-c", "echo $((6 * 7)) | cat"], b""),
        (["false"], b""),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else None,
)
def test_busybox_applet_under_mmu_matches_native(
    bb_root: Path, native_ok: None, argv: list[str], stdin: bytes
) -> None:
    native, emulated = run_both(bb_root, ["/bin/busybox", *argv], stdin=stdin)
    assert_same(native, emulated)


def test_busybox_applet_via_argv0(bb_root: Path) -> None:
    """A multi-call binary picks the applet from argv[0] (a link named after it)."""
    os.link(bb_root / "bin" / "busybox", bb_root / "bin" / "seq")
    result = guarded_run(Machine(root=bb_root, mmu=True, hints=False), ["/bin/seq", "3"])
    assert result.stdout == b"1\n2\n3\n"


def test_busybox_run_returns_every_frame(bb_root: Path) -> None:
    machine = Machine(root=bb_root, mmu=True, hints=False)
    guarded_run(machine, ["/bin/busybox", "sh", "s/pipelines.sh"])
    k = machine.kernel
    assert k is not None and isinstance(k.memory, MmuModel)
    assert k.memory.frames.refs == {}
    assert [b.kind for b in k.alloc.used_blocks()] == ["kernel"]


def test_busybox_without_mmu_says_why(bb_root: Path) -> None:
    """Debian's busybox-static is a fixed-address (ET_EXEC) program: a no-MMU
    machine cannot place it at all, and says to relink or use --mmu. (A
    static-PIE busybox would start, and fail at its first fork() with EINVAL.)"""
    assert BUSYBOX is not None
    machine = Machine(root=bb_root, hints=True)
    if elf_kind(BUSYBOX) == "exec":
        with pytest.raises(NommuError) as exc:
            guarded_run(machine, ["/bin/busybox", "sh", "s/pipelines.sh"])
        msg = str(exc.value)
        assert len(msg.splitlines()) == 1
        assert "ET_EXEC" in msg and "-static-pie" in msg and "--mmu" in msg
        return
    result = guarded_run(machine, ["/bin/busybox", "sh", "-c", "echo one | cat"])
    hint = result.stderr.decode()  # type: ignore[union-attr]
    assert "fork()" in hint and "EINVAL" in hint and "--mmu" in hint


def test_busybox_without_mmu_cli_message(bb_root: Path) -> None:
    from helpers import nommu_cli

    assert BUSYBOX is not None
    if elf_kind(BUSYBOX) != "exec":
        pytest.skip("this busybox is position-independent")
    proc = nommu_cli("run", "--root", str(bb_root), "/bin/busybox", "sh", "-c", "true")
    assert proc.returncode == 126
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nommu: /bin/busybox:")
    assert "-static-pie" in lines[0] and "--mmu" in lines[0]
    proc = nommu_cli("run", "--mmu", "--root", str(bb_root), "/bin/busybox", "sh", "-c", "true")
    assert proc.returncode == 0, proc.stderr
