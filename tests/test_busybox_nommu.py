"""BusyBox built for no-MMU (issue 16): its daemons run on the machine's sockets and ptys.

scripts/busybox-nommu builds Debian's BusyBox 1.35 with CONFIG_NOMMU=y as a
static-PIE i386 program (nommu cc); scripts/setup runs it when the binary is
missing. Such a BusyBox never forks: hush, httpd, telnetd and syslogd vfork
and exec (or re-exec /proc/self/exe) where an MMU build would fork. Each
daemon runs without an MMU (the point) and with --mmu (same binary, same
result):

* httpd serves a page to the host through --publish (urllib on the host);
* nc as server and client talk over the loopback inside the machine;
* syslogd and logger talk over /dev/log (an AF_UNIX datagram socket) and the
  line lands in a file the test reads from the host;
* telnetd gives telnet (on the loopback) a shell on a pty; the shell's
  output comes back through telnet.

The tests are skipped, saying so, only when the build is impossible here
(no network for apt-get source, no root): scripts/busybox-nommu then did
not produce the binary.
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


def built_busybox() -> Path | None:
    """The binary scripts/busybox-nommu builds (it says where), if it is there."""
    path = subprocess.run(
        ["bash", str(BUILD), "--path"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return Path(path) if path and Path(path).is_file() else None


BUSYBOX = built_busybox()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BUSYBOX is None,
        reason="no no-MMU BusyBox: scripts/busybox-nommu could not build it here "
        "(it needs apt-get source busybox; scripts/setup runs it)",
    ),
]
MODELS = pytest.mark.parametrize("mmu", [False, True], ids=["nommu", "mmu"])
APPLETS = ("sh", "hush", "ls", "cat", "echo", "sleep", "nc", "httpd", "telnet", "telnetd")


@pytest.fixture
def bb_root(tmp_path: Path) -> Path:
    """A board's root: /bin/busybox with its applets linked, /www, /etc/hosts."""
    assert BUSYBOX is not None
    root = tmp_path / "root"
    for d in ("bin", "tmp", "www", "etc", "dev"):
        (root / d).mkdir(parents=True)
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    (root / "www" / "index.html").write_text("hello from no-MMU busybox httpd\n")
    (root / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n")
    return root


def run_script(root: Path, script: str, mmu: bool) -> str:
    """Run `script` with BusyBox's shell (hush) in the machine; its stdout."""
    (root / "script.sh").write_text(script.lstrip())
    machine = Machine(root=root, mmu=mmu, hints=False)
    result = guarded_run(machine, ["/bin/sh", "/script.sh"], timeout=120)
    assert result.exit_code == 0, result.stderr
    return result.stdout.decode(errors="replace")


def test_the_build_is_a_no_mmu_static_pie_busybox() -> None:
    assert BUSYBOX is not None
    head = BUSYBOX.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[16] == 3  # ET_DYN: static-PIE, loadable without an MMU
    config = (BUSYBOX.parent / "config").read_text()
    assert "CONFIG_NOMMU=y" in config and "CONFIG_STATIC=y" in config


@MODELS
def test_shell_pipelines_without_fork(bb_root: Path, mmu: bool) -> None:
    """hush on no-MMU runs pipelines and subshells with vfork + re-exec."""
    out = run_script(bb_root, "echo one two | cat; (echo sub; ls /www) | cat; echo $((6*7))\n", mmu)
    assert out == "one two\nsub\nindex.html\n42\n"


@MODELS
def test_httpd_serves_the_host_through_publish(bb_root: Path, mmu: bool) -> None:
    port = free_host_port()
    machine = Machine(root=bb_root, mmu=mmu, hints=False, publish=[(port, 80)], timeout=120)
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


@MODELS
def test_nc_server_and_client_talk_on_the_loopback(bb_root: Path, mmu: bool) -> None:
    out = run_script(bb_root, NC, mmu)
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


@MODELS
def test_syslogd_and_logger_over_dev_log(bb_root: Path, mmu: bool) -> None:
    out = run_script(bb_root, SYSLOG, mmu)
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


@MODELS
def test_telnetd_gives_telnet_a_shell_on_a_pty(bb_root: Path, mmu: bool) -> None:
    out = run_script(bb_root, TELNET, mmu)
    assert out == "42\n"
    session = (bb_root / "tmp" / "session").read_bytes()
    assert b"hi from telnet\r\n" in session  # the shell's output, through the pty's ONLCR
