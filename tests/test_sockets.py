"""Sockets (issue 16): AF_UNIX and the loopback network, the same as Linux.

The differential programs print nothing that differs between machines
(no pids, inode or port numbers), so they compare with a native run."""

from __future__ import annotations

from collections.abc import Callable

from helpers import Outcome, RunNommu, outcome_of

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
