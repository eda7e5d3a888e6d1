"""`nommu demo web`: a web server inside the machine, reached from the host.

The guest program /bin/webserver (guest/src/webserver.c) listens on TCP
port 80 of the machine's own loopback network. `--publish HOST_PORT:80`
makes nommu listen on the host's 127.0.0.1:HOST_PORT and hand each
connection to that guest listener. While the machine runs in a thread, the
host side (this module) fetches a page with urllib, as a browser or curl
would, and prints both sides; then it says how to do the same by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request

from nommu.kernel.errors import NommuError
from nommu.rootfs import bundled_root

GUEST_PORT = 80
DEFAULT_HOST_PORT = 8080
SERVER_WAIT = 30.0  # seconds the host waits for the guest server to answer


def port_is_free(port: int) -> bool:
    """True when the host's 127.0.0.1:`port` can be listened on now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_host_port(words: list[str]) -> int:
    """The host port: the one the user named (it must be free), else 8080 if
    free, else one the host picks. NommuError for a bad or busy port."""
    if words:
        if len(words) > 1 or not words[0].isdigit() or not 0 < int(words[0]) < 65536:
            raise NommuError("usage: nommu demo web [HOST_PORT]")
        if not port_is_free(int(words[0])):
            raise NommuError(f"port {words[0]} is in use on the host; name another")
        return int(words[0])
    if port_is_free(DEFAULT_HOST_PORT):
        return DEFAULT_HOST_PORT
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str, deadline: float) -> tuple[str, bytes]:
    """GET `url`, retrying while the guest server is not yet listening;
    (status line, body). NommuError when nothing answers by `deadline`."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                return f"{reply.status} {reply.reason}", reply.read()
        except urllib.error.HTTPError as err:
            return f"{err.code} {err.reason}", err.read()
        except OSError as err:
            if time.monotonic() > deadline:
                raise NommuError(f"the guest web server did not answer {url}: {err}") from None
            time.sleep(0.05)


def machine_options(args: argparse.Namespace) -> list[str]:
    """Take the machine options (--mmu, --strace...) out of the words after
    `nommu demo web` into `args`, as the demo's own options are; the rest."""
    from nommu.cli import _machine_options

    parser = argparse.ArgumentParser(prog="nommu demo web", add_help=False)
    _machine_options(parser, root=False)
    _, rest = parser.parse_known_args(list(args.args), namespace=args)
    return rest


def wake(port: int) -> None:
    """Connect to the published port once: a machine idle in select() on its
    host sockets wakes and sees a pending host signal."""
    with contextlib.suppress(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def web_demo(args: argparse.Namespace) -> int:
    """Run the demo with the machine options in `args`; the guest's status."""
    from nommu.cli import _env, make_machine, report

    port = choose_host_port(machine_options(args))
    args.publish = [*args.publish, (port, GUEST_PORT)]
    argv = ["/bin/webserver", str(GUEST_PORT), "1"]  # (serves one request, then exits)
    url = f"http://127.0.0.1:{port}/"
    print(f"$ nommu run --publish {port}:{GUEST_PORT} {' '.join(argv)}    (in a thread)")
    with bundled_root() as root:
        machine = make_machine(root, args)
        outcome: list[object] = []

        def guest() -> None:
            try:
                outcome.append(machine.run(argv, _env(args)))
            except NommuError as err:
                outcome.append(err)

        runner = threading.Thread(target=guest, daemon=True)
        runner.start()
        try:
            status, body = fetch(url, time.monotonic() + SERVER_WAIT)
        finally:
            if not outcome and runner.is_alive() and machine.kernel is not None:
                machine.kernel.host_signals.append(15)  # (SIGTERM: give up, end the run)
                wake(port)
        runner.join()
    print(f"host: GET {url} -> {status}")
    print("\n".join(f"host: | {line}" for line in body.decode(errors="replace").splitlines()))
    result = outcome[0] if outcome else None
    if isinstance(result, NommuError):
        raise result
    if result is not None:
        report(result, argv[0])  # type: ignore[arg-type]
    print(EXPLANATION.format(port=port, guest=GUEST_PORT))
    return result.returncode if result is not None else 1  # type: ignore[attr-defined]


EXPLANATION = """
What happened:
  /bin/webserver ran inside the machine (no MMU, no fork) and listened on the
  machine's port {guest}, on its own loopback network, which the host cannot
  see. --publish {port}:{guest} made nommu listen on the host's 127.0.0.1:{port}
  and forward the connection to the guest's listener: the guest saw an
  ordinary TCP client (from the machine's loopback), the host an ordinary web
  server. Without --publish nothing inside the machine is reachable.

By hand (keep the server running, ask it from another terminal):
  nommu mkroot /tmp/board
  nommu run --root /tmp/board --publish {port}:{guest} /bin/webserver
  curl http://127.0.0.1:{port}/

Real software: BusyBox built for no-MMU (scripts/busybox-nommu in nommu's
source tree) serves the same way:
  cp "$(scripts/busybox-nommu --path)" /tmp/board/bin/busybox
  mkdir -p /tmp/board/www && echo hello > /tmp/board/www/index.html
  nommu run --root /tmp/board --publish {port}:{guest} /bin/busybox httpd -f -p {guest} -h /www"""
