"""Benchmark for issue 5: wall time of a one-shot minivirsh command over qemu+tcp.

Measures, in one run: ``minivirsh -c qemu+tcp://127.0.0.1:PORT/system
blockjob test vda --info`` against a minivirtd started here on a free port
(serving test:///default, so the figure is the shell's and the RPC path's,
not QEMU's), beside the import-only floor ``python -c 'import
minivirt.shell'`` and the bare interpreter ``python -c pass``.  Each figure
is the median of REPEAT runs of a fresh process.  virsh 9.0 takes about
25 ms for the same command on this kind of machine (performance.md).  If the
daemon cannot be started, the command is measured on test:///default and the
row says so.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Any

__all__ = ["main", "run"]

REPEAT = 15
VIRSH_MS = 25.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _row(
    name: str, value: float, unit: str, baseline: str | None, base: float | None
) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": baseline,
        "ratio": round(value / base, 3) if base else None,
    }


def _wall_ms(argv: list[str], env: dict[str, str]) -> float:
    """Median wall time of ``argv`` over REPEAT fresh processes (one warm-up run first)."""
    times = []
    for i in range(REPEAT + 1):
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, check=False)
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            raise RuntimeError(f"{argv} failed: {proc.stderr.decode(errors='replace')}")
        if i:
            times.append(elapsed)
    return statistics.median(times)


def _start_daemon() -> tuple[subprocess.Popen[str], int] | None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minivirt.daemon",
            "--listen",
            "127.0.0.1:0",
            "--uri",
            "test:///default",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.terminate()
        proc.wait()
        return None
    return proc, int(line.rsplit(":", 1)[1])


def run() -> list[dict[str, Any]]:
    """Measure everything in one run; rows: name, value, unit, baseline, ratio."""
    env = dict(os.environ)
    env.pop("MINIVIRT_DEFAULT_URI", None)
    py = sys.executable
    started = _start_daemon()
    daemon = None
    try:
        if started is not None:
            daemon, port = started
            uri = f"qemu+tcp://127.0.0.1:{port}/system"
            where = "qemu+tcp to a minivirtd serving test:///default"
        else:
            uri = "test:///default"
            where = "test:///default in-process (minivirtd could not be started)"
        command = [py, "-m", "minivirt.shell", "-c", uri, "blockjob", "test", "vda", "--info"]
        one_shot = _wall_ms(command, env)
        floor = _wall_ms([py, "-c", "import minivirt.shell"], env)
        bare = _wall_ms([py, "-c", "pass"], env)
        help_ms = _wall_ms([py, "-m", "minivirt.shell", "help", "blockjob"], env)
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait()
    return [
        _row(
            f"minivirsh blockjob --info, one-shot ({where})",
            one_shot,
            "ms",
            "import-only floor: python -c 'import minivirt.shell'",
            floor,
        ),
        _row(
            "  same, against virsh 9.0",
            one_shot,
            "ms",
            f"virsh one-shot (performance.md): {VIRSH_MS:.0f} ms",
            VIRSH_MS,
        ),
        _row("  floor: python -c 'import minivirt.shell'", floor, "ms", "python -c pass", bare),
        _row("  floor: python -c pass", bare, "ms", None, None),
        _row("minivirsh help blockjob (no connection)", help_ms, "ms", "import-only floor", floor),
    ]


def main() -> int:
    for row in run():
        ratio = "" if row["ratio"] is None else f"  (x{row['ratio']} {row['baseline']})"
        print(f"{row['name']}: {row['value']} {row['unit']}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
