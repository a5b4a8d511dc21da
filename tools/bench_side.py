"""Benchmark: minivirtd and a private libvirtd 9.0 side by side, alternately, in one run (issue 14).

Both daemons serve the same kind of domain on real QEMU (a qcow2 overlay on a
template image, TCG, 64 MiB), each reached over qemu+tcp on loopback by client
processes of its own kind: libvirtd by ``/usr/bin/python3`` with python3-libvirt,
minivirtd by this venv's python with ``minivirt.bindings`` (libvirt-python's
surface, so one client script serves both).  Every figure is measured in rounds
that alternate the two daemons, and reported as the median over rounds (or
samples) with its spread, beside libvirtd's figure of the same run.

Figures: blockJobInfo with no job (1 and 4 client processes); blockJobInfo
while a throttled pull runs (1 and 4); the BLOCK_JOB event latency from QEMU's
own event timestamp to the remote python callback (libvirtd: the timestamp
comes from ``libvirt_qemu.qemuMonitorEventRegister`` on the same connection;
minivirtd: from the QMP event its monitor logs, the ``minivirt.qemu.monitor``
debug logger of a second daemon instance kept for this figure); one-shot
``list --all`` of minivirsh and virsh; daemon RSS with 100 idle clients.
Floors of this run: a bare qemu.qmp ``query-block-jobs`` loop, a bare msgpack
RPC server, ``python -c pass``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tools import bench_floors
from tools.libvirtd import PrivateLibvirtd, system_python

__all__ = ["run"]

ROUNDS = 5
SECONDS = 2.0
EVENT_DISKS = 6
EVENT_ROUNDS = 4
SHELL_ROUNDS = 15
IDLE_CLIENTS = 100
VENV_BIN = Path(sys.executable).parent

CLIENT = str(Path(__file__).with_name("bench_client.py"))

DAEMON_BOOT = r"""
import logging, sys
from importlib.metadata import entry_points
handler = logging.FileHandler(sys.argv.pop(1))
handler.setFormatter(logging.Formatter("%(message)s"))
monitor_log = logging.getLogger("minivirt.qemu.monitor")
monitor_log.addHandler(handler)
monitor_log.setLevel(logging.DEBUG)
monitor_log.propagate = False
main = entry_points(group="console_scripts")["minivirtd"].load()
sys.exit(main(sys.argv[1:]))
"""


class Side:
    """One daemon and the way its clients run."""

    def __init__(self, name: str, python: str, kind: str, uri: str, pid: int) -> None:
        self.name, self.python, self.kind, self.uri, self.pid = name, python, kind, uri, pid

    def client(self, mode: str, *args: str, **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.python, CLIENT, self.kind, mode, self.uri, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            **kw,
        )

    def admin(self, *args: str) -> None:
        proc = subprocess.run(
            [self.python, CLIENT, self.kind, "admin", self.uri, *args],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise RuntimeError(f"{self.name} {args}: {proc.stderr.strip()[-500:]}")


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _domain_xml(name: str, disks: Sequence[str]) -> str:
    devices = "".join(
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{path}'/><target dev='vd{chr(97 + i)}' bus='virtio'/></disk>"
        for i, path in enumerate(disks)
    )
    return (
        f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>"
        "<os><type arch='x86_64'>hvm</type></os>"
        f"<devices>{devices}</devices></domain>"
    )


def _overlay(base: Path, top: Path) -> str:
    top.unlink(missing_ok=True)
    _sh("qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top))
    return str(top)


def _template(path: Path, mib: int) -> Path:
    _sh("qemu-img", "create", "-q", "-f", "qcow2", str(path), f"{mib}M")
    _sh("qemu-io", "-f", "qcow2", "-c", f"write -q -P 7 0 {mib}M", str(path))
    return path


def _daemon_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rate(side: Side, clients: int, cpu: list[tuple[float, float]] | None = None) -> float:
    """Calls/s of ``clients`` client processes; with one client, its CPU per call and the
    daemon's over the same loop (microseconds) are appended to ``cpu``."""
    procs = [side.client("calls", "bench", str(SECONDS)) for _ in range(clients)]
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{side.name} client failed to start")
        daemon0 = _daemon_cpu(side.pid)
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        answers = [p.communicate(timeout=60)[0].split() for p in procs]
        daemon_cpu = _daemon_cpu(side.pid) - daemon0
        total = sum(int(a[0]) for a in answers)
        if cpu is not None and clients == 1 and total:
            cpu.append((float(answers[0][1]) / total * 1e6, daemon_cpu / total * 1e6))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return total / SECONDS


def _alternate(
    sides: Sequence[Side], fn: Callable[[Side], float], rounds: int
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {s.name: [] for s in sides}
    for r in range(rounds):
        order = sides if r % 2 == 0 else list(reversed(sides))
        for side in order:
            out[side.name].append(fn(side))
    return out


_STAMP_RE = re.compile(r'"timestamp":\{"seconds":(\d+),"microseconds":(\d+)\}')


def _qemu_stamps(log: Path) -> list[float]:
    stamps = []
    for line in log.read_text(errors="replace").splitlines():
        if "QEMU_MONITOR_RECV_EVENT" not in line or '"BLOCK_JOB_COMPLETED"' not in line:
            continue
        if m := _STAMP_RE.search(line):
            stamps.append(int(m.group(1)) + int(m.group(2)) / 1e6)
    return stamps


def _events(side: Side, disks: list[str], base: Path, log: Path | None) -> list[float]:
    """One round: fresh overlays, start, pull each disk, latencies in ms."""
    with contextlib.suppress(RuntimeError):
        side.admin("destroy", "ev")
    for path in disks:
        _overlay(base, Path(path))
    side.admin("start", "ev")
    seen = len(_qemu_stamps(log)) if log else 0
    targets = [f"vd{chr(97 + i)}" for i in range(len(disks))]
    proc = side.client("events", "ev", *targets)
    out, _ = proc.communicate(timeout=120)
    result = json.loads(out)
    stamps = result["qemu"] if log is None else _qemu_stamps(log)[seen:]
    side.admin("destroy", "ev")
    return [(cb - st) * 1000 for cb, st in zip(result["callbacks"], stamps, strict=False)]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _idle_rss(side: Side) -> tuple[float, float]:
    before = _rss_mib(side.pid)
    proc = side.client("idle", str(IDLE_CLIENTS))
    try:
        assert proc.stdout is not None and proc.stdin is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{side.name}: idle clients failed")
        time.sleep(0.5)
        with_clients = _rss_mib(side.pid)
        proc.stdin.write("bye\n")
        proc.stdin.flush()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return before, with_clients


def _wall_ms(argv: list[str], cpu: list[float] | None = None) -> float:
    """Wall time of one run in ms; its CPU time (user + sys, ms) goes to ``cpu``."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = (time.perf_counter() - t0) * 1000
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
    return wall


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _spread(values: Sequence[float], digits: int = 0) -> str:
    if len(values) == 1:
        return "one reading"
    if len(values) >= 10:
        lo, hi, what = _pct(values, 0.1), _pct(values, 0.9), "p10-p90"
    else:
        lo, hi, what = min(values), max(values), "min-max"
    return f"{what} {lo:,.{digits}f}-{hi:,.{digits}f} (n={len(values)})"


def _row(name: str, mini: Sequence[float], lv: Sequence[float] | None, unit: str, goal: str,
         digits: int = 0, who: str = "libvirtd") -> dict[str, Any]:  # fmt: skip
    m = statistics.median(mini)
    row: dict[str, Any] = {
        "name": name,
        "value": round(m, digits) if digits else round(m),
        "unit": unit,
        "spread": _spread(mini, digits),
        "baseline": None,
        "ratio": None,
        "goal": goal,
    }
    if lv:
        b = statistics.median(lv)
        row["baseline"] = f"{who} {b:,.{digits}f} ({_spread(lv, digits)})"
        row["ratio"] = round(m / b, 3) if b else None
    return row


def _floor(name: str, values: Sequence[float], unit: str, digits: int = 0) -> dict[str, Any]:
    m = statistics.median(values)
    return {
        "name": f"floor: {name}",
        "value": round(m, digits) if digits else round(m),
        "unit": unit,
        "spread": _spread(values, digits),
        "baseline": None,
        "ratio": None,
        "goal": "",
    }


@contextlib.contextmanager
def _minivirtd(root: Path, log: Path | None = None) -> Iterator[tuple[subprocess.Popen[str], int]]:
    uri = f"qemu:///embed?root={root}"
    root.mkdir(parents=True, exist_ok=True)
    if log is None:
        cmd = [str(VENV_BIN / "minivirtd"), "--listen", "127.0.0.1:0", "--uri", uri]
    else:
        cmd = [sys.executable, "-c", DAEMON_BOOT, str(log), "--listen", "127.0.0.1:0", "--uri", uri]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"minivirtd did not start: {line!r}")
        yield proc, int(line.rsplit(":", 1)[1])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for status in (root / "run" / "qemu").glob("*.json"):
            with contextlib.suppress(OSError, ValueError, ProcessLookupError):
                os.kill(int(json.loads(status.read_text()).get("pid", 0)) or -1, signal.SIGKILL)


def _measure(
    tmp: Path, lv: PrivateLibvirtd, mini: Side, mini_ev: Side, ev_log: Path, parts: set[str]
) -> list[dict[str, Any]]:
    libvirt = Side("libvirtd", system_python(), "libvirt", lv.tcp_uri, lv.pid)
    sides = [libvirt, mini]
    template = _template(tmp / "template.qcow2", 128)
    small = _template(tmp / "small.qcow2", 16)
    for side in (libvirt, mini):
        xml = tmp / f"{side.name}-bench.xml"
        xml.write_text(_domain_xml("bench", [_overlay(template, tmp / f"{side.name}-top.qcow2")]))
        side.admin("define", str(xml))
        side.admin("start", "bench")
    ev_disks: dict[str, list[str]] = {}
    for side in (libvirt, mini_ev):
        disks = [str(tmp / f"{side.name}-ev{i}.qcow2") for i in range(EVENT_DISKS)]
        for path in disks:
            _overlay(small, Path(path))
        xml = tmp / f"{side.name}-ev.xml"
        xml.write_text(_domain_xml("ev", disks))
        side.admin("define", str(xml))
        ev_disks[side.name] = disks

    print("  blockJobInfo, no job", flush=True)
    rounds = ROUNDS if "rates" in parts else 0
    cpu1: dict[str, list[tuple[float, float]]] = {s.name: [] for s in sides}
    idle1 = _alternate(sides, lambda s: _rate(s, 1, cpu1[s.name]), rounds)
    idle4 = _alternate(sides, lambda s: _rate(s, 4), rounds)
    print("  blockJobInfo, running pull", flush=True)
    for side in sides:
        side.admin("pull", "bench", "vda", "1")  # 1 MiB/s: outlasts the measurement
    busy1 = _alternate(sides, lambda s: _rate(s, 1), rounds)
    busy4 = _alternate(sides, lambda s: _rate(s, 4), rounds)
    for side in sides:
        side.admin("abort", "bench", "vda")
    print("  BLOCK_JOB event latency", flush=True)
    ev: dict[str, list[float]] = {"libvirtd": [], "minivirtd": []}
    for r in range(EVENT_ROUNDS if "events" in parts else 0):
        for side in (libvirt, mini_ev) if r % 2 == 0 else (mini_ev, libvirt):
            log = ev_log if side is mini_ev else None
            ev["minivirtd" if side is mini_ev else "libvirtd"] += _events(
                side, ev_disks[side.name], small, log
            )
    if parts != PARTS:  # a partial run (``--parts``): only the daemon figures asked for
        return _daemon_rows(idle1, idle4, busy1, busy4, ev)
    print("  one-shot list --all", flush=True)
    shell: dict[str, list[float]] = {
        k: [] for k in ("minivirsh", "virsh", "pass", "imports", "minivirsh-cpu", "virsh-cpu")
    }
    imports = "import minivirt.shell.main, minivirt.shell.commands, minivirt.core, minivirt.wiring"
    imports += ", minivirt.remote.client"
    minivirsh = [str(VENV_BIN / "minivirsh"), "-c", mini.uri, "list", "--all"]
    virsh = ["virsh", "-c", lv.tcp_uri, "list", "--all"]
    for _ in range(SHELL_ROUNDS):
        shell["minivirsh"].append(_wall_ms(minivirsh, shell["minivirsh-cpu"]))
        shell["virsh"].append(_wall_ms(virsh, shell["virsh-cpu"]))
        shell["pass"].append(_wall_ms([sys.executable, "-c", "pass"]))
        shell["imports"].append(_wall_ms([sys.executable, "-c", imports]))
    print("  RSS with idle clients", flush=True)
    rss = {side.name: _idle_rss(side) for side in sides}
    for side in sides:
        side.admin("destroy", "bench")

    print("  floors", flush=True)
    bare_qmp = []
    for i in range(ROUNDS):
        where = tmp / f"bare{i}"  # a fresh QMP socket path per round
        where.mkdir()
        bare_qmp.append(bench_floors.bare_qmp_rate(where, SECONDS))
    floor = subprocess.Popen(
        [sys.executable, "-c", bench_floors.FLOOR_SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert floor.stdout is not None
        fport = int(floor.stdout.readline())
        rpc1 = [bench_floors.floor_rate_1(fport) for _ in range(ROUNDS)]
        rpc4 = [bench_floors.floor_rate_n(fport, 4, SECONDS) for _ in range(ROUNDS)]
    finally:
        floor.kill()
        floor.wait()

    rows = [
        _row("blockJobInfo over qemu+tcp, no job, 1 client", idle1["minivirtd"],
             idle1["libvirtd"], "calls/s", ">= 2.0"),
        _row("blockJobInfo over qemu+tcp, no job, 4 client processes", idle4["minivirtd"],
             idle4["libvirtd"], "calls/s", ">= 1.5"),
        _row("  same, CPU per call of the client process (python3-libvirt for libvirtd)",
             [c for c, _ in cpu1["minivirtd"]], [c for c, _ in cpu1["libvirtd"]],
             "us", "", 1),
        _row("  same, CPU per call of the daemon", [d for _, d in cpu1["minivirtd"]],
             [d for _, d in cpu1["libvirtd"]], "us", "", 1),
        _floor("bare msgpack RPC over loopback, 1 client", rpc1, "calls/s"),
        _floor("bare msgpack RPC over loopback, 4 client processes", rpc4, "calls/s"),
        _row("blockJobInfo over qemu+tcp, running pull, 1 client", busy1["minivirtd"],
             busy1["libvirtd"], "calls/s", ">= 1.0"),
        _row("blockJobInfo over qemu+tcp, running pull, 4 client processes",
             busy4["minivirtd"], busy4["libvirtd"], "calls/s", ">= 2.0"),
        _floor("bare qemu.qmp query-block-jobs loop, running pull", bare_qmp, "calls/s"),
        _row("BLOCK_JOB event: QEMU's event timestamp -> remote python callback",
             ev["minivirtd"], ev["libvirtd"], "ms", "<= 1 ms", 3),
        _row("one-shot `list --all` over qemu+tcp: minivirsh (baseline: virsh)",
             shell["minivirsh"], shell["virsh"], "ms", "<= 2.0", 1, "virsh"),
        _row("  same, CPU time (user + sys) of the process", shell["minivirsh-cpu"],
             shell["virsh-cpu"], "ms", "", 1, "virsh"),
        _floor("python -c pass", shell["pass"], "ms", 1),
        _floor("python importing the one-shot client path, no connection", shell["imports"],
               "ms", 1),
        _row(f"daemon RSS with {IDLE_CLIENTS} idle connected clients",
             [rss["minivirtd"][1]], [rss["libvirtd"][1]], "MiB", "<= 40 MiB", 1),
        _row("daemon RSS before them (2 domains running)", [rss["minivirtd"][0]],
             [rss["libvirtd"][0]], "MiB", "", 1),
    ]  # fmt: skip
    rows[-1]["note"] = (
        f"Rates: {ROUNDS} alternating rounds of {SECONDS:g} s each (median, min-max); "
        f"the running pull is throttled to 1 MiB/s on a 128 MiB template so it outlasts them. "
        f"Events: {EVENT_ROUNDS} alternating rounds of {EVENT_DISKS} pulls of a 16 MiB overlay; "
        "libvirtd's QEMU timestamp comes from qemuMonitorEventRegister on the same connection, "
        "minivirtd's from its monitor's debug log (a second minivirtd instance; writing "
        "that log costs it CPU while the event travels, so the figure is on the safe side). "
        f"One-shot: {SHELL_ROUNDS} alternating rounds. Ratios are minivirt / libvirtd, "
        "except the event latency and RSS, where lower is better."
    )
    return rows


def _daemon_rows(
    idle1: dict[str, list[float]],
    idle4: dict[str, list[float]],
    busy1: dict[str, list[float]],
    busy4: dict[str, list[float]],
    ev: dict[str, list[float]],
) -> list[dict[str, Any]]:
    rows = []
    for name, got, goal in (
        ("blockJobInfo over qemu+tcp, no job, 1 client", idle1, ">= 2.0"),
        ("blockJobInfo over qemu+tcp, no job, 4 client processes", idle4, ">= 1.5"),
        ("blockJobInfo over qemu+tcp, running pull, 1 client", busy1, ">= 1.0"),
        ("blockJobInfo over qemu+tcp, running pull, 4 client processes", busy4, ">= 2.0"),
    ):
        if got["minivirtd"]:
            rows.append(_row(name, got["minivirtd"], got["libvirtd"], "calls/s", goal))
    if ev["minivirtd"]:
        rows.append(
            _row(
                "BLOCK_JOB event: QEMU's event timestamp -> remote python callback",
                ev["minivirtd"],
                ev["libvirtd"],
                "ms",
                "<= 1 ms",
                3,
            )
        )
    return rows


#: What a full run measures; ``--parts`` picks some (the daemon figures only).
PARTS = frozenset({"rates", "events", "rest"})


def run(parts: frozenset[str] = PARTS) -> list[dict[str, Any]]:
    """Rows: name, value, unit, spread, baseline, ratio, goal (and a note)."""
    tmp = Path(tempfile.mkdtemp(prefix="minivirt-bench-side-", dir="/tmp"))
    try:
        with PrivateLibvirtd(tmp / "libvirtd") as lv:
            ev_log = tmp / "monitor.log"
            with (
                _minivirtd(tmp / "root") as (proc, port),
                _minivirtd(tmp / "root-ev", ev_log) as (ev_proc, ev_port),
            ):
                mini = Side("minivirtd", sys.executable, "minivirt",
                            f"qemu+tcp://127.0.0.1:{port}/system", proc.pid)  # fmt: skip
                mini_ev = Side("minivirtd-ev", sys.executable, "minivirt",
                               f"qemu+tcp://127.0.0.1:{ev_port}/system", ev_proc.pid)  # fmt: skip
                return _measure(tmp, lv, mini, mini_ev, ev_log, set(parts))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.bench_side [--parts rates,events]``: print the rows."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default=",".join(sorted(PARTS)), help="rates, events, rest")
    opts = ap.parse_args(argv)
    parts = frozenset(p for p in opts.parts.split(",") if p)
    if not parts <= PARTS:
        ap.error(f"unknown part(s): {', '.join(sorted(parts - PARTS))}")
    for row in run(parts):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
