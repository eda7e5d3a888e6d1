"""Sockets (issue 16): AF_UNIX and the loopback network, the same as Linux.

The differential programs print nothing that differs between machines
(no pids, inode or port numbers), so they compare with a native run."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Outcome, RunNommu, outcome_of

from nommu import Machine
from nommu.rootfs import ETC

Differential = Callable[..., object]


def test_unix_sockets(differential: Differential) -> None:
    result = differential(["/sock_unix"])
    assert outcome_of(result) == Outcome("exit", 0)
    out = result.stdout.decode()  # type: ignore[attr-defined]
    assert "read passed fd: 16" in out
    assert "cmsg type 2 pid ok 1 uid ok 1 gid ok 1" in out
    assert "read after peer closed with unread data: -1 Connection reset by peer" in out


def test_socketcall_dup_and_vfork_exec(differential: Differential) -> None:
    result = differential(["/sock_misc"])
    assert "got 'via socketcall'" in result.stdout.decode()  # type: ignore[attr-defined]
    assert "got 'from the child'" in result.stdout.decode()  # type: ignore[attr-defined]


def test_families_nommu_lacks(run_nommu: RunNommu) -> None:
    """AF_NETLINK and AF_PACKET: EAFNOSUPPORT, as a Linux built without them."""
    out = run_nommu(["/sock_misc", "families"]).stdout.decode()
    assert "family 1: ok\nfamily 2: ok\nfamily 10: ok\n" in out
    assert "family 16: Address family not supported by protocol" in out
    assert "family 17: Address family not supported by protocol" in out


def test_tcp_udp_loopback(differential: Differential) -> None:
    """An echo server with thread and vfork+exec'd clients; half-close,
    reset, EPIPE/SIGPIPE, non-blocking connect, ECONNREFUSED, EADDRINUSE,
    UDP, IPv6 and v4-mapped addresses."""
    result = differential(["/sock_inet"])
    out = result.stdout.decode()  # type: ignore[attr-defined]
    assert "server: 4 connections, 192 bytes echoed" in out
    assert "process client 3: 0" in out
    assert "nonblocking connect refused: -1 Operation in progress" in out


def test_loopback_deterministic(run_nommu: RunNommu, run_native: Callable[..., object]) -> None:
    """--deterministic: the same answers (ports are handed out in order)."""
    native = run_native(["/sock_inet"])
    first = run_nommu(["/sock_inet"], deterministic=True)
    assert first.stdout == native.stdout  # type: ignore[attr-defined]


def test_getaddrinfo_localhost(run_nommu: RunNommu, guest_root: Path) -> None:
    """musl resolves "localhost" from the root's /etc/hosts (which `nommu
    mkroot` writes) and sorts ::1 first, connecting UDP sockets to find out."""
    (guest_root / "etc").mkdir(exist_ok=True)
    (guest_root / "etc" / "hosts").write_text(ETC["hosts"])
    out = run_nommu(["/sock_misc", "resolve"]).stdout.decode()
    assert out.startswith("getaddrinfo localhost: ok\n  ::1\n  127.0.0.1\n")
    assert "hostname 'nommu'" in out


def test_strace_decodes_socket_calls(run_nommu: RunNommu) -> None:
    trace = io.StringIO()
    run_nommu(["/sock_unix"], strace=trace)
    text = trace.getvalue()
    assert 'bind(3, {sa_family=AF_UNIX, sun_path="tmp/sock_unix.sock"}, 21) = 0' in text
    assert "msg_control=[{SOL_SOCKET, SCM_RIGHTS, [" in text
    assert 'recvfrom(4, "hel", 3, MSG_PEEK, NULL, NULL) = 3' in text
    assert "getsockopt(3, SOL_SOCKET, SO_PEERCRED, " in text
    assert 'sun_path=@"nommu-abstract-' in text
    trace = io.StringIO()
    run_nommu(["/sock_misc"], strace=trace)
    assert "socketcall(SYS_SOCKETPAIR, [AF_UNIX, SOCK_STREAM, 0, 0x" in trace.getvalue()
    trace = io.StringIO()
    run_nommu(["/sock_inet"], strace=trace)
    assert 'sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 0' in trace.getvalue()


def _free_host_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ask(port: int, line: bytes, tries: int = 200) -> bytes:
    """Connect to the host's 127.0.0.1:port until the guest answers."""
    for _ in range(tries):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(line)
                answer = b"".join(iter(lambda: s.recv(4096), b""))
            if answer:
                return answer
        except OSError:
            pass
        time.sleep(0.05)  # (the guest is not listening yet: its connection was closed)
    raise AssertionError("the guest never answered")


def test_publish_reaches_a_guest_server(guest_root: Path) -> None:
    """--publish HOST:GUEST: Python on the host talks to a guest TCP server."""
    port = _free_host_port()
    machine = Machine(root=guest_root, hints=False, publish=[(port, 80)])
    result: list[object] = []
    runner = threading.Thread(
        target=lambda: result.append(machine.run(["/sock_serve", "serve", "80", "2"], capture=True))
    )
    runner.start()
    try:
        first = _ask(port, b"first\n")
        second = _ask(port, b"second\n")
    finally:
        runner.join(60)
    assert first == b"hello from the guest, you said: first\n"
    assert second == b"hello from the guest, you said: second\n"
    assert result and result[0].status == 0  # type: ignore[attr-defined]
    with pytest.raises(OSError):  # the run is over: the host port is closed again
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def _outside_address() -> str | None:
    """A host address outside the loopback, if the host has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        try:
            u.connect(("192.0.2.1", 9))
        except OSError:
            return None
        ip = str(u.getsockname()[0])
    return None if ip.startswith("127.") else ip


def test_net_host_lets_guest_connect_out(run_nommu: RunNommu) -> None:
    """Without --net host a non-loopback address is unreachable; with it, a
    guest client reaches a host server."""
    ip = _outside_address()
    if ip is None:
        pytest.skip("the host has no address outside the loopback")
    with socket.socket() as srv:
        srv.bind(("0.0.0.0", 0))
        srv.listen(1)
        port = srv.getsockname()[1]

        def answer() -> None:
            conn, _ = srv.accept()
            with conn:
                conn.sendall(b"host got: " + conn.recv(100))

        closed = run_nommu(["/sock_serve", "get", ip, str(port)])
        assert closed.stdout == b"connect: Network unreachable\n"
        server = threading.Thread(target=answer)
        server.start()
        opened = run_nommu(["/sock_serve", "get", ip, str(port)], net="host")
        server.join(30)
    assert opened.stdout == b"answer: host got: ping from the guest\n"


def test_publish_option_is_checked(tmp_path: Path) -> None:
    from nommu.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", "--publish", "80", "/hello"])
    assert exit_.value.code == 2


def test_socket_buffers_are_kernel_memory(run_nommu: RunNommu, mmu: bool) -> None:
    """Queued socket data takes the machine's RAM (MemFree drops by as much)
    until there is none left (ENOBUFS), and closing gives it back."""
    out = run_nommu(["/sock_misc", "fill"], mem="4M", mmu=mmu).stdout.decode()
    assert out == (
        "ENOBUFS 1, queued more than 1 MiB 1, RAM went down by about that 1\ngiven back 1\n"
    )


def test_socket_file_in_the_root(run_nommu: RunNommu, guest_root: Path) -> None:
    """bind() leaves a socket file: ls shows it as `s`, rm removes it."""
    assert run_nommu(["/sock_misc", "bind", "/tmp/s.sock"]).stdout == b"bind: 0\n"
    assert (guest_root / "tmp" / "s.sock").is_socket()
    listing = run_nommu(["/bin/ls", "-l", "/tmp"]).stdout.decode()
    assert any(line.startswith("s") and line.endswith("s.sock") for line in listing.splitlines())
    assert run_nommu(["/sock_misc", "bind", "/tmp/s.sock"]).stdout == b"bind: -1 Address in use\n"
    run_nommu(["/bin/rm", "/tmp/s.sock"])
    assert not (guest_root / "tmp" / "s.sock").exists()
