"""`make conformance`: run every scenario on real libvirt and on minivirt, write the report.

Owns the run's life: installing libvirt when missing, starting both daemons
in a scratch directory, running the scenarios, writing ``docs/conformance.md``
and ``docs/conformance.json``, and stopping both daemons and every QEMU
(also on failure and Ctrl-C).  Exit status 1 when a row differs and is not
listed as intended.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tools.conformance.report import write_reports
from tools.conformance.run import TRANSPORTS, Result, run_scenario
from tools.conformance.scenario import load_all
from tools.conformance.sides import libvirt_side, minivirt_side
from tools.libvirtd import ensure_installed, ensure_qemu_user

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.conformance")
    parser.add_argument("--only", default=None, help="run only scenarios whose name contains this")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    ensure_installed()
    ensure_qemu_user()
    scenarios = [s for s in load_all() if args.only is None or args.only in s.name]
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="minivirt-conformance-"))
    sides = (libvirt_side(), minivirt_side())
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C stops the run even when started with SIGINT ignored (a background job)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    results: list[Result] = []
    try:
        for side in sides:
            side.start(root / (side.tag + "-daemon"))
        for scenario in scenarios:
            print(f"conformance: {scenario.name}", file=sys.stderr, flush=True)
            results += run_scenario(scenario, sides, root)
    except KeyboardInterrupt:
        print("conformance: interrupted; daemons and QEMUs stopped", file=sys.stderr)
        return 130
    finally:
        for side in sides:
            side.stop()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.monotonic() - started
    counts = {v: sum(1 for r in results if r.verdict == v) for v in ("match", "intended")}
    failed = [r for r in results if r.verdict == "DIFFERS"]
    summary = {
        "rows": len(results),
        "scenario_rows": len(results) // len(TRANSPORTS),
        "transports": list(TRANSPORTS),
        "match": counts["match"],
        "intended": counts["intended"],
        "differs": len(failed),
        "seconds": round(elapsed),
    }
    if not args.no_report and args.only is None:
        write_reports(results, summary)
    for r in failed:
        print(f"DIFFERS {r.key}: {r.what}", file=sys.stderr)
        for name, (ref, got) in r.differences.items():
            print(f"    {name}:\n      libvirt:  {ref!r}\n      minivirt: {got!r}", file=sys.stderr)
    print(
        f"conformance: {summary['rows']} rows, {summary['match']} match, "
        f"{summary['intended']} intended, {summary['differs']} differ, {elapsed:.0f} s",
        file=sys.stderr,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
