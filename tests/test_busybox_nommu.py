"""BusyBox built for no-MMU (issue 16): its daemons run on the machine's sockets and ptys.

scripts/busybox-nommu builds Debian's BusyBox 1.35 with CONFIG_NOMMU=y as a
static-PIE i386 program (nommu cc), and with --arch arm as a Thumb-2 one for
the Cortex-M machine (what a board runs); scripts/setup runs it for both
when a binary is missing. Such a BusyBox never forks: hush, httpd, telnetd
and syslogd vfork and exec (or re-exec /proc/self/exe) where an MMU build
would fork. Each daemon runs without an MMU (the point), with --mmu (same
i386 binary, same result) and as the ARM build on the ARM machine:

* httpd serves a page to the host through --publish (urllib on the host);
* nc as server and client talk over the loopback inside the machine;
* syslogd and logger talk over /dev/log (an AF_UNIX datagram socket) and the
  line lands in a file the test reads from the host;
* telnetd gives telnet (on the loopback) a shell on a pty; the shell's
  output comes back through telnet.

A case is skipped, saying so, only when the build is impossible here (no
network for apt-get source, no root): scripts/busybox-nommu then did not
produce that binary.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import fetch_from_published_server, free_host_port, guarded_run

from nommu import Machine

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "scripts" / "busybox-nommu"


def built_busybox(arch: str) -> Path | None:
    """The binary scripts/busybox-nommu builds for `arch` (it says where), if
    it is there."""
    path = subprocess.run(
        ["bash", str(BUILD), "--arch", arch, "--path"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return Path(path) if path and Path(path).is_file() else None


BUSYBOX = {arch: built_busybox(arch) for arch in ("i386", "arm")}
pytestmark = pytest.mark.slow


@pytest.fixture(
    params=[("i386", False), ("i386", True), ("arm", False)], ids=["nommu", "mmu", "arm"]
)
def board(request: pytest.FixtureRequest) -> tuple[str, bool]:
    """Which BusyBox build and which machine: (arch, mmu)."""
    arch, mmu = request.param
    if BUSYBOX[arch] is None:
        pytest.skip(
            f"no no-MMU BusyBox for {arch}: scripts/busybox-nommu --arch {arch} could not "
            "build it here (it needs apt-get source busybox; scripts/setup runs it)"
        )
    return arch, mmu


APPLETS = ("sh", "hush", "ls", "cat", "echo", "sleep", "nc", "httpd", "telnet", "telnetd")


@pytest.fixture
def bb_root(tmp_path: Path, board: tuple[str, bool]) -> Path:
    """A board's root: /bin/busybox with its applets linked, /www, /etc/hosts."""
    busybox = BUSYBOX[board[0]]
    assert busybox is not None
    root = tmp_path / "root"
    for d in ("bin", "tmp", "www", "etc", "dev"):
        (root / d).mkdir(parents=True)
    shutil.copy(busybox, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    (root / "www" / "index.html").write_text("hello from no-MMU busybox httpd\n")
    (root / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n")
    return root


def run_script(root: Path, script: str, board: tuple[str, bool]) -> str:
    """Run `script` with BusyBox's shell (hush) in the machine; its stdout."""
    (root / "script.sh").write_text(script.lstrip())
    machine = Machine(root=root, mmu=board[1], hints=False)
    result = guarded_run(machine, ["/bin/sh", "/script.sh"], timeout=120)
    assert result.exit_code == 0, result.stderr
    return result.stdout.decode(errors="replace")


def test_the_build_is_a_no_mmu_static_pie_busybox(board: tuple[str, bool]) -> None:
    busybox = BUSYBOX[board[0]]
    assert busybox is not None
    head = busybox.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[16] == 3  # ET_DYN: static-PIE, loadable without an MMU
    assert head[18] == {"i386": 3, "arm": 40}[board[0]]  # e_machine
    config = (busybox.parent / "config").read_text()
    assert "CONFIG_NOMMU=y" in config and "CONFIG_STATIC=y" in config


def test_shell_pipelines_without_fork(bb_root: Path, board: tuple[str, bool]) -> None:
    """hush on no-MMU runs pipelines and subshells with vfork + re-exec."""
    script = "echo one two | cat; (echo sub; ls /www) | cat; echo $((6*7))\n"
    out = run_script(bb_root, script, board)
    assert out == "one two\nsub\nindex.html\n42\n"


def test_httpd_serves_the_host_through_publish(bb_root: Path, board: tuple[str, bool]) -> None:
    port = free_host_port()
    machine = Machine(root=bb_root, mmu=board[1], hints=False, publish=[(port, 80)], timeout=120)
    argv = ["/bin/httpd", "-f", "-p", "80", "-h", "/www"]
    page = fetch_from_published_server(machine, argv, port, "/index.html")
    assert page == b"hello from no-MMU busybox httpd\n"


NC = r"""
(echo "from the server" | nc -l -p 9000 > /tmp/server.got) &
server=$!
until echo "from the client" | nc 127.0.0.1 9000; do sleep 0.2; done
wait $server
cat /tmp/server.got
"""


def test_nc_server_and_client_talk_on_the_loopback(bb_root: Path, board: tuple[str, bool]) -> None:
    out = run_script(bb_root, NC, board)
    assert out == "from the server\nfrom the client\n"


SYSLOG = r"""
syslogd -n -O /tmp/messages &
syslogd=$!
i=0; while [ ! -S /dev/log ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
logger -t board "hello from logger"
i=0; while ! grep -q "hello from logger" /tmp/messages 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1; i=$((i+1))
done
kill $syslogd
ls -l /dev/log | cut -c1
"""


def test_syslogd_and_logger_over_dev_log(bb_root: Path, board: tuple[str, bool]) -> None:
    out = run_script(bb_root, SYSLOG, board)
    assert out == "s\n"  # /dev/log is a socket file
    lines = (bb_root / "tmp" / "messages").read_text().splitlines()
    assert [line for line in lines if line.endswith("board: hello from logger")], lines


TELNET = r"""
telnetd -F -p 2323 -l /bin/sh &
telnetd=$!
talk() {
    echo 'echo "hi from $(echo telnet)"; echo $((6*7)) > /tmp/done'
    i=0; while [ ! -e /tmp/done ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
    sleep 1
}
until talk | telnet 127.0.0.1 2323 > /tmp/session; do sleep 0.2; done
kill $telnetd
cat /tmp/done
"""


def test_telnetd_gives_telnet_a_shell_on_a_pty(bb_root: Path, board: tuple[str, bool]) -> None:
    out = run_script(bb_root, TELNET, board)
    assert out == "42\n"
    session = (bb_root / "tmp" / "session").read_bytes()
    assert b"hi from telnet\r\n" in session  # the shell's output, through the pty's ONLCR
