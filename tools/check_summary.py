"""``make check``'s last line: one sentence saying what ran and that it passed.

Reads the stamps the Makefile's check steps leave in the venv (``.check-*``),
the figures ``tests/conftest.py`` writes after pytest
(``MINIVIRT_CHECK_SUMMARY``) and the conformance stamp (``--conformance
REPORT`` turns ``make conformance``'s JSON report into that stamp).  Exits
1, naming what is missing, when a step left no stamp, a test failed or no
test started real QEMU, so the line can never claim more than ran.
Must not run any check itself.
"""

from __future__ import annotations

import json
import pathlib
import sys

__all__ = ["main", "summary"]

STEPS = {
    "lint": "ruff format + lint",
    "typecheck": "mypy --strict",
    "imports": "import contracts",
}


def summary(venv: pathlib.Path) -> tuple[bool, str]:
    """(all passed, the one-line summary) from the stamps under ``venv``."""
    missing = [
        step
        for step in (*STEPS, "protocol", "pytest", "conformance")
        if not (venv / f".check-{step}").exists()
    ]
    if missing:
        return False, "make check: INCOMPLETE, no result from: " + ", ".join(missing)
    protocol = (venv / ".check-protocol").read_text().strip()
    figures = json.loads((venv / ".check-pytest").read_text())
    bad = figures["failed"] + figures["error"]
    qemu, passed = figures["qemu_tests"], figures["passed"]
    unit = passed - qemu
    # the end-to-end tests run always (STYLE.md): none on real QEMU means they were bypassed
    ok = bad == 0 and qemu > 0
    line = (
        f"make check: {'passed' if ok else 'FAILED'}: "
        f"{', '.join(STEPS.values())} clean; protocol drift check {protocol}; "
        f"{unit} unit tests and {qemu} tests on real QEMU ({figures['qemu_starts']} QEMU "
        f"processes) passed, {figures['skipped']} skipped"
    )
    line += f", {bad} FAILED" if bad else ""
    line += "; " + (venv / ".check-conformance").read_text().strip()
    line += "" if qemu else "; no test started real QEMU"
    return ok, line


def conformance(report: pathlib.Path) -> str:
    """The conformance stamp: rows run against real libvirt, and how they came out."""
    s = json.loads(report.read_text())["summary"]
    return (
        f"conformance with real libvirt: {s['rows']} rows over {'+'.join(s['transports'])}, "
        f"{s['match']} match, {s['intended']} intended differences, {s['differs']} differ"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--conformance"]:
        print(conformance(pathlib.Path(args[1])))
        return 0
    ok, line = summary(pathlib.Path(args[0] if args else ".venv"))
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
