"""Benchmark: another client's latency while one client floods minivirtd (issue 13, item 1).

One read-only client pipelines the slowest read-only calls without pause —
the XML of a shut-off domain (a ``qemu-img info`` each), block-job info on a
running pull (a QMP round trip each) and listing — over raw frames, while a
second client (``minivirt.core`` over qemu+tcp) calls ``domainGetState``
again and again.  Reported: that client's p50 and p99 latency under the
flood, beside the same client's figures with no flood, measured in the same
run on the same daemon (real QEMU, ``qemu:///embed``).  The goal is a p99
under 50 ms.  Nothing here asserts: it only measures.
"""

from __future__ import annotations

import socket
import statistics
import struct
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import msgpack

from tools.bench_side import _domain_xml, _minivirtd, _overlay, _pct, _spread, _template

__all__ = ["flood", "frame", "run"]

PROGRAM = 0x20008086
#: Seconds of measuring, idle and under the flood.
SECONDS = 4.0


def frame(proc: int, body: object) -> bytes:
    """One CALL frame of the remote program (serial 7), built by hand as a hostile client would."""
    payload: bytes = msgpack.packb(body)
    return struct.pack(">IIIiIII", 28 + len(payload), PROGRAM, 1, proc, 0, 7, 0) + payload


def _latencies(dom: Any, seconds: float) -> list[float]:
    """``domainGetState`` round trips (ms) for ``seconds``."""
    out: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        dom.get_state()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def flood(
    port: int,
    burst: bytes,
    stop: threading.Event,
    replies: list[int],
    head: bytearray | None = None,
) -> None:
    """Open read-only, then send ``burst`` again and again until ``stop``, never waiting for
    a reply; a reader thread counts the replies in ``replies[0]`` and keeps the first
    64 KiB of them in ``head`` (when given)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(frame(1, [None, 1]))  # CONNECT_OPEN, read-only
        sock.settimeout(0.5)

        def drain() -> None:
            while not stop.is_set():
                try:
                    data = sock.recv(1 << 20)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                replies[0] += data.count(struct.pack(">I", PROGRAM))
                if head is not None and len(head) < 1 << 16:
                    head.extend(data)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        while not stop.is_set():
            try:
                sock.sendall(burst)
            except (TimeoutError, OSError):
                continue
        reader.join(5)


def _row(name: str, under: list[float], idle: list[float], q: float) -> dict[str, Any]:
    value, base = _pct(under, q), _pct(idle, q)
    return {
        "name": name,
        "value": round(value, 2),
        "unit": "ms",
        "spread": _spread(under, 2),
        "baseline": f"same client, no flood {base:,.2f} ms ({_spread(idle, 2)})",
        "ratio": round(value / base, 1) if base else None,
        "goal": "< 50 ms" if q > 0.9 else "",
    }


def run() -> list[dict[str, Any]]:
    """The rows for tools/bench.py."""
    import minivirt.wiring  # noqa: F401  (registers the drivers with core)
    from minivirt import core

    with tempfile.TemporaryDirectory(prefix="mvflood-", dir="/var/tmp") as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        base = _template(tmp / "base.qcow2", 64)
        with _minivirtd(tmp / "root") as (_, port):
            conn = core.open(f"qemu+tcp://127.0.0.1:{port}/system")
            try:
                idle_dom = conn.define_xml(_domain_xml("idle", [_overlay(base, tmp / "i.qcow2")]))
                busy = conn.define_xml(_domain_xml("busy", [_overlay(base, tmp / "b.qcow2")]))
                busy.create()
                busy.block_pull("vda", 1)  # 1 MiB/s: every info call asks QEMU
                wire_off = ["idle", uuid.UUID(idle_dom.uuid_string()).bytes, -1]
                wire_busy = ["busy", uuid.UUID(busy.uuid_string()).bytes, busy.id]
                burst = (
                    frame(14, [wire_off, 0])  # DOMAIN_GET_XML_DESC, shut-off domain
                    + frame(238, [wire_busy, "vda", 0])  # DOMAIN_GET_BLOCK_JOB_INFO
                    + frame(273, [1, 0])  # CONNECT_LIST_ALL_DOMAINS
                ) * 200
                idle = _latencies(busy, SECONDS)
                stop, replies = threading.Event(), [0]
                flooder = threading.Thread(
                    target=flood, args=(port, burst, stop, replies), daemon=True
                )
                flooder.start()
                time.sleep(0.5)  # the flood under way
                try:
                    under = _latencies(busy, SECONDS)
                finally:
                    stop.set()
                    flooder.join(10)
                busy.block_job_abort("vda")
                busy.destroy()
            finally:
                conn.close()
    rate = replies[0] / (SECONDS + 0.5)
    return [
        _row("another client's domainGetState under a flood of slow read-only calls, p99",
             under, idle, 0.99),
        _row("same, p50", under, idle, 0.5),
        {
            "name": "the flooding client's answered calls (XML of a shut-off domain, "
            "block-job info on a running pull, listing)",
            "value": round(rate),
            "unit": "calls/s",
            "spread": f"{replies[0]:,} replies in {SECONDS + 0.5:.1f} s; other client "
            f"{len(under):,} calls, median {statistics.median(under):.2f} ms",
            "baseline": None,
            "ratio": None,
            "goal": "",
        },
    ]  # fmt: skip
