"""`make bench`: run every benchmark side by side with its baseline, write docs/benchmarks.md.

Each module in ``BENCHES`` offers ``run() -> list[dict]`` whose rows have
``name``, ``value``, ``unit``, ``baseline`` (a text naming what the ratio is
against, or None), ``ratio`` (value / baseline value, or None), and optionally
``spread`` and ``goal``.  Every ratio is measured within one run, on this
machine, alternately: ``tools.bench_side`` starts a private libvirtd (the
shared ``tools.libvirtd`` helper, which installs Debian's libvirt when missing)
beside minivirtd; ``tools.bench_floors`` gives the floors it measures beside
them (bare QMP loop, bare msgpack RPC).
"""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

__all__ = ["BENCHES", "main"]

BENCHES = (
    ("minivirtd and libvirtd 9.0 side by side, alternately, on real QEMU (issue 14)",
     "tools.bench_side"),
    ("Block pull of 1 GiB through minivirt (issue 3, issue 14)", "tools.bench_pull"),
    ("Another client under a flood of slow calls, on real QEMU (issue 13)", "tools.bench_flood"),
)  # fmt: skip

ROOT = Path(__file__).resolve().parent.parent


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    selected = set(argv if argv is not None else sys.argv[1:])
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (tools/bench.py). Each figure sits beside its baseline,",
        "measured in the same run on the same machine; ratios are value / baseline.",
        "libvirtd is Debian's 9.0, started privately by tools/libvirtd.py and measured",
        "alternately with minivirtd (rounds interleave the two); medians are reported with",
        "their spread (min-max over rounds, or p10-p90 over samples). The machine is",
        "shared: compare ratios of one run, not figures across runs.",
        "",
        f"- machine: {_machine()}",
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- commit: {_commit()}",
        "",
    ]
    failed = 0
    for title, module_name in BENCHES:
        if selected and module_name.rsplit(".", 1)[1] not in selected:
            continue
        print(f"== {title}", flush=True)
        lines += [f"## {title}", ""]
        try:
            rows = importlib.import_module(module_name).run()
        except Exception:
            failed += 1
            traceback.print_exc()
            lines += ["benchmark failed: see the output of `make bench`.", ""]
            continue
        lines += [
            "| measure | median | unit | spread | baseline (same run) | ratio | goal |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            cells = [row["name"], _fmt(row["value"]), row["unit"], row.get("spread") or "-"]
            cells += [row.get("baseline") or "-", _fmt(row.get("ratio")), row.get("goal") or "-"]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
            print("  " + " | ".join(str(c) for c in cells), flush=True)
        notes = [row["note"] for row in rows if row.get("note")]
        lines += ["", *notes, ""] if notes else [""]
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
