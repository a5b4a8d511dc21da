"""The scenario files load, cover what issue #11 asks for, and reject malformed rows."""

from __future__ import annotations

import pytest

from tools.conformance.run import TRANSPORTS
from tools.conformance.scenario import SCENARIO_DIR, load, load_all


def test_every_scenario_loads_with_unique_rows():
    scenarios = load_all()
    assert {s.name for s in scenarios} >= {"domain", "errors", "running", "complete", "failed"}
    rows = sum(len(s.rows) + 1 for s in scenarios)  # + the images row of each
    assert rows * len(TRANSPORTS) >= 120


def test_every_option_of_blockpull_and_blockjob_is_exercised():
    lines = " ".join(r.virsh or "" for s in load_all() for r in s.rows)
    for option in (
        "--wait",
        "--verbose",
        "--timeout",
        "--async",
        "--bytes",
        "--raw",
        "--base",
        "--abort",
        "--pivot",
        "--info",
        "--bandwidth",
        "--domain",
        "--path",
    ):
        assert option in lines, option
    for command in (
        "list",
        "domstate",
        "domblklist",
        "dumpxml",
        "define",
        "start",
        "destroy",
        "undefine",
    ):
        assert f" {command} " in f" {lines} " or lines.startswith(command), command


def test_events_rows_cover_completed_cancelled_failed():
    calls = [c for s in load_all() for r in s.rows if r.python for c in r.python]
    assert any(c[0] == "events" for c in calls)
    assert any(s.broken for s in load_all())


def test_an_intended_difference_for_an_unknown_row_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario: bad\nrows:\n  - {id: a, virsh: list}\nintended: {b: because}\n")
    with pytest.raises(ValueError, match="unknown rows"):
        load(bad)


def test_a_row_with_both_forms_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario: bad\nrows:\n  - {id: a, virsh: list, python: [[conn.getURI]]}\n")
    with pytest.raises(ValueError, match="exactly one"):
        load(bad)
    assert SCENARIO_DIR.is_dir()
