"""`nommu demo web` (issue 16): a guest web server (guest/src/webserver.c)
reached from the host through --publish, without BusyBox."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import nommu_cli

from nommu import Machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_web_fetches_a_page_from_the_guest() -> None:
    port = free_port()
    proc = nommu_cli("demo", "web", "--no-hints", str(port))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"host: GET http://127.0.0.1:{port}/ -> 200 OK\n" in out
    assert "host: | <html><body><h1>Hello from a no-MMU machine</h1>\n" in out
    assert "webserver: GET / from 127.0.0.1:" in out  # the guest's side of the same request
    assert f"curl http://127.0.0.1:{port}/\n" in out  # how to do it by hand
    assert f"--publish {port}:80 /bin/webserver\n" in out
    assert proc.stderr == ""


@pytest.mark.parametrize("words", [["nope"], ["0"], ["70000"], ["1", "2"]])
def test_demo_web_bad_port(words: list[str]) -> None:
    proc = nommu_cli("demo", "web", *words)
    assert proc.returncode == 1
    assert proc.stderr == "nommu: usage: nommu demo web [HOST_PORT]\n"


def test_demo_web_busy_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = nommu_cli("demo", "web", str(port))
    assert proc.returncode == 1
    assert proc.stderr == f"nommu: port {port} is in use on the host; name another\n"


@pytest.mark.parametrize("mmu", [False, True], ids=["nommu", "mmu"])
def test_webserver_answers_404_and_bad_requests(guest_root: Path, mmu: bool) -> None:
    port = free_port()
    machine = Machine(root=guest_root, mmu=mmu, hints=False, publish=[(port, 80)], timeout=60)
    outcome = []
    runner = threading.Thread(
        target=lambda: outcome.append(machine.run(["/bin/webserver", "80", "3"], capture=True))
    )
    runner.start()
    codes = []
    for path in ("/", "/missing"):
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                    codes.append(r.status)
                break
            except urllib.error.HTTPError as err:
                codes.append(err.code)
                break
            except OSError:
                threading.Event().wait(0.05)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"POST / HTTP/1.0\r\n\r\n")
        reply = c.makefile("rb").read()
    runner.join(60)
    assert codes == [200, 404]
    assert reply.startswith(b"HTTP/1.0 400 Bad Request\r\n")
    assert outcome and outcome[0].exit_code == 0
    log = outcome[0].stdout.decode().splitlines()
    assert log[0] == "webserver: listening on port 80"
    assert [line.rsplit(" ", 1)[1] for line in log[1:]] == ["200", "404", "400"]
