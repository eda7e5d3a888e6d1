"""The bundled userland: the shell (posix_spawn for every command) and utilities.

Each script runs under nommu in a copy of the bundled root, and where it makes
sense natively too (the same static binaries run on this host), so the shell's
behaviour is checked against itself on a real kernel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from nommu import Machine
from nommu.cli import guestbin
from nommu.rootfs import mkroot

ENV = {"PATH": "/bin", "HOME": "/"}

# (script, expected stdout, expected exit status)
SCRIPTS = [
    ("echo hi | cat | cat > /tmp/x; cat /tmp/x; false || echo ok", "hi\nok\n", 0),
    ("true && echo yes; false && echo no; echo $?", "yes\n1\n", 0),
    ("nosuchcmd; echo $?", "127\n", 0),
    ("x=world; echo hello $x ${x}s \"$x\" '$x'", "hello world worlds world $x\n", 0),
    ('set -- a "b c" d; echo $#; for i in "$@"; do echo "[$i]"; done', "3\n[a]\n[b c]\n[d]\n", 0),
    ("echo $((1+2*3)) $((10/3)) $((7%3)) $((1<<4))", "7 3 1 16\n", 0),
    ("echo $(echo a b) `echo c`", "a b c\n", 0),
    ("if false; then echo a; elif true; then echo b; else echo c; fi", "b\n", 0),
    ("i=0; while [ $i -lt 5 ]; do i=$((i+1)); done; echo $i", "5\n", 0),
    ("case hello in h*o) echo match;; *) echo no;; esac", "match\n", 0),
    ('f() { echo "f $1 $#"; return 3; }; f a b; echo $?', "f a 2\n3\n", 0),
    ("f() { echo fn-$1; }; f x | cat; echo $(f y)", "fn-x\nfn-y\n", 0),
    ('printf "1\\n2\\n" | while read n; do echo "n=$n"; done | cat', "n=1\nn=2\n", 0),
    ('sh -c "echo to-err >&2" 2>&1 | cat', "to-err\n", 0),
    ("echo a > /tmp/y; echo b >> /tmp/y; cat < /tmp/y; wc -l < /tmp/y", "a\nb\n2\n", 0),
    ("echo one; exec echo two; echo three", "one\ntwo\n", 0),
    ("sleep 0.1 & wait; echo done", "done\n", 0),
    ('sh -c "exit 5" & wait $!; echo $?', "5\n", 0),
    ("sleep 5 & kill -9 $!; wait $!; echo $?", "137\n", 0),
    ("sleep 5 & kill -TERM $!; wait $!; echo $?", "143\n", 0),
    ("true | false; echo $?; false | true; echo $?; ! true; echo $?", "1\n0\n1\n", 0),
    ('x=$(echo inner; exit 3); echo "$x $?"', "inner 3\n", 0),
    ("set -e; true; false; echo not-reached", "", 1),
    ("exit 7", "", 7),
    ('printf "%s-%d-%x-%c-%%\\n" str 42 255 xyz', "str-42-ff-x-%\n", 0),
    ('test -d / && test ! -f / && [ abc = abc ] && [ -z "" ] && echo ok', "ok\n", 0),
    (
        "mkdir -p /tmp/d/a/b && echo x > /tmp/d/a/b/f && ls /tmp/d/a/b && rm -r /tmp/d "
        "&& ls /tmp/d 2>/dev/null || echo gone",
        "f\ngone\n",
        0,
    ),
    ("env -i A=1 B=2 env", "A=1\nB=2\n", 0),
    ("p=/a/b/c.txt; echo ${p##*/} ${p%.*} ${U:-dflt}", "c.txt /a/b/c dflt\n", 0),
    ("kill -l 9; kill -l 137", "KILL\nKILL\n", 0),
    ("cd /tmp && pwd; cd / && pwd", "/tmp\n/\n", 0),
    ("echo a b c | wc -w", "3\n", 0),
    # Starting a program (posix_spawn): errors go to its redirected stderr.
    ("nosuch 2>/dev/null; echo $?", "127\n", 0),
    ("echo x 2>/dev/null >/nonexistent/f; echo $?", "1\n", 0),
    ("echo a 2>/dev/null >&7; echo $?; echo b 7>&-", "1\nb\n", 0),
    ("echo hi 3>/tmp/f 1>&3; cat /tmp/f", "hi\n", 0),
    ("echo y > /tmp/g; exec 4</tmp/g; cat <&4; cat 5</tmp/g 0<&5", "y\ny\n", 0),
    ("nosuch > /tmp/made 2>/dev/null; test -f /tmp/made && echo made", "made\n", 0),
    ("echo x > /tmp/n; /tmp/n 2>/dev/null; echo $?", "126\n", 0),
    ("cat <<E | cat\nhere $HOME\nE", "here /\n", 0),
    # A background job ignores SIGINT (posix_spawn cannot ask for that: see exec.c).
    ("sleep 5 & sleep 0.2; kill -INT $!; kill -TERM $!; wait $!; echo $?", "143\n", 0),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A writable copy of the bundled root: /bin with every program, /tmp."""
    shutil.copytree(guestbin(), tmp_path / "bin")
    (tmp_path / "tmp").mkdir()
    return tmp_path


def shell(root: Path, script: str, deterministic: bool = False) -> tuple[str, int]:
    machine = Machine(root=root, hints=False, deterministic=deterministic)
    result = machine.run(["/bin/sh", "-c", script], ENV, capture=True)
    assert result.stdout is not None
    return result.stdout.decode(), result.returncode


@pytest.mark.parametrize(("script", "out", "status"), SCRIPTS, ids=[s[0][:40] for s in SCRIPTS])
def test_shell_script(root: Path, script: str, out: str, status: int) -> None:
    assert shell(root, script) == (out, status)


@pytest.fixture
def arm_root(tmp_path: Path) -> Path:
    """The bundled root with the ARM builds of the programs (mkroot --arch arm)."""
    return mkroot(tmp_path / "root", arch="arm")


@pytest.mark.parametrize(("script", "out", "status"), SCRIPTS, ids=[s[0][:40] for s in SCRIPTS])
def test_shell_script_on_arm(arm_root: Path, script: str, out: str, status: int) -> None:
    """The same scripts with the ARM builds on the Cortex-M7 machine."""
    assert shell(arm_root, script) == (out, status)


@pytest.mark.parametrize(
    ("script", "out", "status"), SCRIPTS[:12], ids=[s[0][:40] for s in SCRIPTS[:12]]
)
def test_shell_script_natively_agrees(root: Path, script: str, out: str, status: int) -> None:
    """The same static shell on the host kernel (chroot-free: /bin and /tmp are
    rewritten to the copy's paths) prints the same thing."""
    native_script = script.replace("/tmp", str(root / "tmp"))
    env = {"PATH": str(root / "bin"), "HOME": "/"}
    proc = subprocess.run(
        [str(root / "bin" / "sh"), "-c", native_script],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (proc.stdout, proc.returncode) == (out, status)


def test_script_without_shebang_runs_with_the_shell(root: Path) -> None:
    """execve says ENOEXEC: the shell runs the file itself, as POSIX asks."""
    script = root / "tmp" / "s"
    script.write_text('echo "script $1 $#"\n')
    script.chmod(0o755)
    assert shell(root, "/tmp/s a b; echo $?; /tmp/s c | cat") == ("script a 2\n0\nscript c 1\n", 0)


def test_echo_is_built_in_with_the_options_of_bin_echo(root: Path) -> None:
    """echo runs in the shell itself, natively and under nommu alike."""
    script = "type echo; echo -n a; echo -e 'b\\tc\\0101\\cd'; echo -- -n -e; echo; echo -nx"
    out = "echo is a shell builtin\nab\tcA-- -n -e\n\n-nx\n"
    assert shell(root, script) == (out, 0)
    proc = subprocess.run(
        [str(root / "bin" / "sh"), "-c", script],
        env={"PATH": str(root / "bin")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (proc.stdout, proc.returncode) == (out, 0)


def test_echo_of_a_background_pid_comes_before_the_job_output(root: Path) -> None:
    """`prog & echo $!` prints the pid first, as scripts expect (Lua's test
    suite reads it to kill the job): echo takes no process, while prog has an
    execve and a start-up ahead of it (in a pipeline echo is /bin/echo).
    Deterministic slices: with wall-clock slices a loaded host can end the
    shell's slice before its echo, as a loaded Linux box can."""
    script = "/bin/echo job & echo $! >/dev/null; echo pid; wait"
    assert shell(root, script, deterministic=True) == ("pid\njob\n", 0)
    assert shell(root, "echo x y | wc -w & wait") == ("2\n", 0)


def test_subshell_explains_missing_fork(root: Path) -> None:
    result = Machine(root=root, hints=False).run(
        ["/bin/sh", "-c", "(echo sub); echo $?"], ENV, capture=True
    )
    assert result.stdout == b"2\n"
    assert result.stderr is not None and b"fork" in result.stderr


def test_script_from_stdin(root: Path) -> None:
    result = Machine(root=root, hints=False).run(
        ["/bin/sh"], ENV, stdin=b"echo one\nx=2\necho $x\n", capture=True
    )
    assert (result.stdout, result.returncode) == (b"one\n2\n", 0)


def test_ps_shows_vfork_borrowing(root: Path) -> None:
    """A vfork child still running in its parent's memory is marked by ps."""
    result = Machine(root=root, hints=False).run(["/bin/vfork_shared"], ENV, capture=True)
    assert result.returncode == 0
    ps = Machine(root=root, hints=False).run(["/bin/sh", "-c", "ps"], ENV, capture=True)
    assert ps.stdout is not None and b"PID" in ps.stdout and b"ps" in ps.stdout


def test_system_and_popen_work_through_the_shell(root: Path) -> None:
    result = Machine(root=root, hints=False).run(
        ["/bin/sh", "-c", "printf 'x\\n' | cat | wc -l"], ENV, capture=True
    )
    assert result.stdout == b"1\n"


def test_free_reports_the_largest_contiguous_block(root: Path) -> None:
    out, status = shell(root, "free")
    assert status == 0 and "largest contiguous free block" in out


def test_nommu_shell_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["nommu", "shell", "-c", "echo hi | cat | cat > /tmp/x; cat /tmp/x; false || echo ok"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.stdout, proc.returncode) == ("hi\nok\n", 0)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_interactive_session_in_a_terminal(tmp_path: Path) -> None:
    """`nommu` on a real terminal: boots the shell, runs a pipeline, Ctrl-C
    interrupts a command without killing the shell, `exit` leaves cleanly."""
    session = f"nommu-test-{os.getpid()}"
    done = tmp_path / "status"
    cmd = f"nommu; echo EXIT=$? > {done}"

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", *args], capture_output=True, text=True, check=False, timeout=10
        ).stdout

    def screen_shows(text: str, timeout: float = 20) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in tmux("capture-pane", "-t", session, "-p"):
                return True
            time.sleep(0.2)
        return False

    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd)
    try:
        assert screen_shows("nommu#"), tmux("capture-pane", "-t", session, "-p")
        tmux("send-keys", "-t", session, "echo piped | cat | cat", "Enter")
        assert screen_shows("piped\n"), tmux("capture-pane", "-t", session, "-p")
        tmux("send-keys", "-t", session, "sleep 30", "Enter")
        time.sleep(1.0)
        tmux("send-keys", "-t", session, "C-c")
        tmux("send-keys", "-t", session, "echo status=$?", "Enter")
        assert screen_shows("status=130"), tmux("capture-pane", "-t", session, "-p")
        tmux("send-keys", "-t", session, "exit 3", "Enter")
        end = time.monotonic() + 20
        while not done.exists() and time.monotonic() < end:
            time.sleep(0.2)
        assert done.read_text().strip() == "EXIT=3"
    finally:
        tmux("kill-session", "-t", session)


# -- why a file cannot run -----------------------------------------------------------------

# (file name, contents, mode, the shell's message, exit status). dash says
# "not found" and "Permission denied" the same way; for the rest the
# wording is bash's, which says more.
CANNOT_RUN = [
    ("nosuch", None, 0, "sh: ./nosuch: not found", 127),
    ("script", b"#!/bin/nosuch\necho hi\n", 0o755,
     "sh: ./script: /bin/nosuch: bad interpreter: No such file or directory", 127),
    ("data", b"echo hi\n", 0o644, "sh: ./data: Permission denied", 126),
    ("dir", None, 0o755, "sh: ./dir: Permission denied", 126),
    ("elf64", b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + bytes(44), 0o755,
     "sh: ./elf64: cannot execute binary file: not an i386 program", 126),
    ("blob", b"\x00\x01\x02binary data\n", 0o755,
     "sh: ./blob: cannot execute binary file: Exec format error", 126),
]  # fmt: skip


def make_cannot_run(where: Path, name: str, contents: bytes | None, mode: int) -> None:
    if name == "dir":
        (where / name).mkdir()
    elif contents is not None:
        (where / name).write_bytes(contents)
        (where / name).chmod(mode)


@pytest.mark.parametrize(
    ("name", "contents", "mode", "message", "status"), CANNOT_RUN, ids=[c[0] for c in CANNOT_RUN]
)
def test_shell_says_why_a_file_cannot_run(
    root: Path, name: str, contents: bytes | None, mode: int, message: str, status: int
) -> None:
    make_cannot_run(root / "tmp", name, contents, mode)
    script = f"./{name}; echo $?; exec ./{name}"
    result = Machine(root=root, hints=False).run(
        ["/bin/sh", "-c", script], ENV, cwd="/tmp", capture=True
    )
    assert result.stdout == f"{status}\n".encode()
    assert result.stderr == f"{message}\n{message}\n".encode()  # a command, then `exec`
    assert result.returncode == status
    native = subprocess.run(
        [str(root / "bin" / "sh"), "-c", f"./{name}; echo $?"],
        cwd=root / "tmp", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert (native.stdout, native.stderr) == (f"{status}\n", f"{message}\n")
