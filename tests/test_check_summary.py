"""``make check``'s summary line never claims more than the stamps show."""

from __future__ import annotations

import json

from tools import check_summary


def stamps(tmp_path, figures, protocol="passed", skip=()):
    for step in ("lint", "typecheck", "imports"):
        if step not in skip:
            (tmp_path / f".check-{step}").write_text("passed\n")
    if "protocol" not in skip:
        (tmp_path / ".check-protocol").write_text(protocol + "\n")
    if "pytest" not in skip:
        (tmp_path / ".check-pytest").write_text(json.dumps(figures))
    if "conformance" not in skip:
        (tmp_path / ".check-conformance").write_text(CONFORMANCE + "\n")


CONFORMANCE = (
    "conformance with real libvirt: 8 rows over tcp+unix, 6 match, 2 intended differences, 0 differ"
)


FIGURES = {"passed": 12, "failed": 0, "skipped": 1, "error": 0, "qemu_tests": 2, "qemu_starts": 3}


def test_all_passed(tmp_path, capsys):
    stamps(tmp_path, FIGURES)
    assert check_summary.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        "make check: passed: ruff format + lint, mypy --strict, import contracts clean; "
        "protocol drift check passed; 10 unit tests and 2 tests on real QEMU "
        "(3 QEMU processes) passed, 1 skipped; " + CONFORMANCE + "\n"
    )


def test_a_missing_step_is_incomplete(tmp_path, capsys):
    stamps(tmp_path, FIGURES, skip=("typecheck", "pytest", "conformance"))
    assert check_summary.main([str(tmp_path)]) == 1
    assert capsys.readouterr().out == (
        "make check: INCOMPLETE, no result from: typecheck, pytest, conformance\n"
    )


def test_failures_are_counted(tmp_path, capsys):
    stamps(tmp_path, dict(FIGURES, failed=2, error=1))
    assert check_summary.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("make check: FAILED: ")
    assert out.endswith(", 3 FAILED; " + CONFORMANCE + "\n")


def test_no_real_qemu_is_a_failure(tmp_path, capsys):
    stamps(tmp_path, dict(FIGURES, qemu_tests=0, qemu_starts=0))
    assert check_summary.main([str(tmp_path)]) == 1
    assert capsys.readouterr().out.endswith("; no test started real QEMU\n")


def test_conformance_stamp_from_the_report(tmp_path, capsys):
    report = tmp_path / "conformance.json"
    summary = {"rows": 8, "match": 6, "intended": 2, "differs": 0, "transports": ["tcp", "unix"]}
    report.write_text(json.dumps({"rows": [], "summary": summary}))
    assert check_summary.main(["--conformance", str(report)]) == 0
    assert capsys.readouterr().out == CONFORMANCE + "\n"
