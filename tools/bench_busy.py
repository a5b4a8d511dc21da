"""Benchmark: blockJobInfo over qemu+tcp while a real QEMU runs a pull (issue 3, item 8).

Each call needs QEMU's progress (a ``query-block-jobs`` round trip); calls for
one domain that arrive while a query is in flight share its answer.  The
baseline measured in the same run is a bare ``qemu.qmp`` client polling
``query-block-jobs`` on its own QEMU with a pull running; libvirtd's figures
(1,904 / 2,205 calls/s with 1 / 4 clients) come from performance.md.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["run"]

SECONDS = 2.0


def _images(tmp: Path, name: str) -> Path:
    base, top = tmp / f"{name}-base.qcow2", tmp / f"{name}-top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -q -P 7 0 32M", str(base)], check=True)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top)],
        check=True,
    )
    return top


def _client(port: int, seconds: float, start: Any, out: Any) -> None:
    import minivirt.wiring  # noqa: F401  (registers the drivers with core)
    from minivirt import core

    dom = core.open(f"qemu+tcp://127.0.0.1:{port}/system").lookup_by_name("busy")
    assert dom.get_block_job_info("vda") is not None
    start.wait()
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        dom.get_block_job_info("vda")
        count += 1
    out.put(count)


def _clients(port: int, n: int) -> float:
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_client, args=(port, SECONDS, start, out)) for _ in range(n)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    total = sum(int(out.get(timeout=60)) for _ in procs)
    for p in procs:
        p.join()
    return total / SECONDS


async def _bare_qmp(tmp: Path, top: Path) -> float:
    from qemu.qmp import QMPClient

    sock = tmp / "bare.qmp"
    qemu = subprocess.Popen(
        ["qemu-system-x86_64", "-machine", "q35,accel=tcg", "-m", "64", "-nodefaults",
         "-display", "none", "-qmp", f"unix:{sock},server=on,wait=off",
         "-drive", f"if=none,id=d0,file={top},format=qcow2",
         "-device", "virtio-blk-pci,drive=d0"],
    )  # fmt: skip
    try:
        for _ in range(200):
            if sock.exists():
                break
            await asyncio.sleep(0.025)
        qmp = QMPClient("bare")
        await qmp.connect(str(sock))
        await qmp.execute("block-stream", {"device": "d0", "speed": 1 << 20})
        count, end = 0, time.perf_counter() + SECONDS
        while time.perf_counter() < end:
            await qmp.execute("query-block-jobs")
            count += 1
        await qmp.execute("quit")
        await qmp.disconnect()
        return count / SECONDS
    finally:
        qemu.kill()
        qemu.wait()


def run() -> list[dict[str, Any]]:
    """Rows: name, value, unit, baseline, ratio."""
    tmp = Path(tempfile.mkdtemp(prefix="minivirt-bench-busy-"))
    daemon = None
    try:
        bare = asyncio.run(_bare_qmp(tmp, _images(tmp, "bare")))
        top = _images(tmp, "busy")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "minivirt.daemon", "--listen", "127.0.0.1:0",
             "--uri", f"qemu:///embed?root={tmp / 'state'}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert daemon.stdout is not None
        port = int(daemon.stdout.readline().rsplit(":", 1)[1])
        import minivirt.wiring  # noqa: F401  (registers the drivers with core)
        from minivirt import core

        conn = core.open(f"qemu+tcp://127.0.0.1:{port}/system")
        dom = conn.define_xml(
            f"name: busy\nmemory: 64\ndisks:\n  - target: vda\n    source: {top}\n"
        )
        dom.create()
        dom.block_pull("vda", 1)
        one = _clients(port, 1)
        four = _clients(port, 4)
        dom.block_job_abort("vda")
        dom.destroy()
        conn.close()
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=10)
        for status in (tmp / "state" / "run" / "qemu").glob("*.json"):
            import json

            pid = int(json.loads(status.read_text()).get("pid", 0))
            if pid > 0:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)
    return [
        {"name": "bare qemu.qmp query-block-jobs loop, running pull (floor)",
         "value": round(bare), "unit": "calls/s", "baseline": None, "ratio": None},
        {"name": "get_block_job_info over qemu+tcp, running pull, 1 client",
         "value": round(one), "unit": "calls/s", "baseline": "libvirtd 9.0 (performance.md): 1,904",
         "ratio": round(one / 1904, 3)},
        {"name": "  same, vs the bare QMP loop of this run",
         "value": round(one), "unit": "calls/s", "baseline": "bare qemu.qmp loop, this run",
         "ratio": round(one / bare, 3)},
        {"name": "get_block_job_info over qemu+tcp, running pull, 4 client processes",
         "value": round(four), "unit": "calls/s",
         "baseline": "libvirtd 9.0 (performance.md): 2,205",
         "ratio": round(four / 2205, 3),
         "note": "With 4 clients the calls share in-flight query-block-jobs (single flight), "
         "so they can exceed one QEMU's QMP round-trip rate."},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
