"""Third-party network programs (issue 16): Debian's static i386 busybox
under --mmu (it is not a no-MMU build) runs its httpd, wget, nc, syslogd
and logger on the machine's own loopback and AF_UNIX sockets, and its
httpd answers the host through --publish."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import fetch_from_published_server, free_host_port, guarded_run
from test_busybox import find_busybox

from nommu import Machine

BUSYBOX = find_busybox()
pytestmark = pytest.mark.skipif(BUSYBOX is None, reason="no static i386 busybox")

SCRIPT = r"""
bb=/bin/busybox
$bb httpd -p 8080 -h /www -f &
httpd=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
    $bb wget -q -O - http://localhost:8080/index.html && break
    $bb sleep 1
done
(echo "from the server" | $bb nc -l -p 9000 > /tmp/got) &
$bb sleep 1
echo "from the client" | $bb nc 127.0.0.1 9000
wait $!
$bb cat /tmp/got
$bb syslogd -n -O /tmp/messages &
syslogd=$!
$bb sleep 1
$bb logger -t test "hello syslog"
$bb sleep 1
kill $httpd $syslogd
$bb grep -c "test: hello syslog" /tmp/messages
$bb ls -l /dev/log | $bb cut -c1
"""


@pytest.fixture
def net_root(tmp_path: Path) -> Path:
    assert BUSYBOX is not None
    root = tmp_path / "root"
    for d in ("bin", "tmp", "www", "etc", "dev"):
        (root / d).mkdir(parents=True)
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    (root / "www" / "index.html").write_text("hello from busybox httpd\n")
    (root / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n")
    (root / "net.sh").write_text(SCRIPT.lstrip())
    return root


def test_busybox_daemons_on_the_loopback(net_root: Path) -> None:
    machine = Machine(root=net_root, mmu=True, hints=False)
    result = guarded_run(machine, ["/bin/busybox", "sh", "/net.sh"], None, timeout=120)
    assert result.stdout.decode() == (
        "hello from busybox httpd\nfrom the server\nfrom the client\n1\ns\n"
    )


def test_busybox_httpd_published_to_the_host(net_root: Path) -> None:
    port = free_host_port()
    machine = Machine(root=net_root, mmu=True, hints=False, publish=[(port, 80)], timeout=60)
    argv = ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
    page = fetch_from_published_server(machine, argv, port, "/index.html")
    assert page == b"hello from busybox httpd\n"
