"""Benchmark for issue 3: block pull of a 1 GiB backing image through minivirt.

In one run, on the same images and the same kind of QEMU (same command line):

- minivirt: ``core.open("qemu:///embed?root=…")`` (or the driver directly
  when core is absent), ``block_pull`` until the BLOCK_JOB_2 COMPLETED event
  reaches the application's callback through minivirt's event loop;
- bare: a ``qemu.qmp`` script issuing ``block-stream`` and waiting for
  BLOCK_JOB_COMPLETED;
- ``qemu-img convert`` of the same chain to a new image (plus sync), the
  copy limit of this machine.

Also: ``get_block_job_info`` calls/s on a running (throttled) pull from one
and from four threads of one process (concurrent calls share one
``query-block-jobs`` in flight; libvirtd serialises them).

Rounds alternate the order of the three and sync before each; the median of
each over the rounds is reported with its min-max spread (every round goes in
the note).  Target: median minivirt / median bare ≤ 1.05.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

__all__ = ["main", "run"]

SIZE_MIB = 1024
ROUNDS = 7


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _make_base(directory: str) -> str:
    base = os.path.join(directory, "base.qcow2")
    _sh("qemu-img", "create", "-q", "-f", "qcow2", base, f"{SIZE_MIB}M")
    _sh("qemu-io", "-f", "qcow2", "-c", f"write -q -P 0x5a 0 {SIZE_MIB}M", base)
    return base


def _overlay(directory: str, base: str, name: str) -> str:
    top = os.path.join(directory, name)
    _sh("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    return top


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _minivirt_pull(root: str, top: str, index: int, cpu: list[float]) -> float:
    from minivirt.events import EventLoopThread
    from minivirt.public import DomainBlockJobStatus, DomainEventID

    done = threading.Event()
    doc = f"name: bench{index}\nmemory: 64\ndisks:\n  - {{target: vda, source: {top}}}\n"
    with EventLoopThread():
        try:
            import minivirt.wiring  # noqa: F401  (registers the drivers with core)
            from minivirt import core

            conn = core.open(f"qemu:///embed?root={root}")

            def on_event(_c: Any, _d: Any, disk: str, _t: int, status: int, _o: Any) -> None:
                if status == DomainBlockJobStatus.COMPLETED:
                    done.set()

            dom = conn.define_xml(doc)
            conn.domain_event_register_any(dom, DomainEventID.BLOCK_JOB_2, on_event)
            dom.create()
            try:
                start, cpu0 = time.perf_counter(), _cpu()
                dom.block_pull("vda", 0)
                if not done.wait(120):
                    raise RuntimeError("minivirt pull did not complete")
                elapsed = time.perf_counter() - start
                cpu.append(_cpu() - cpu0)
            finally:
                dom.destroy()
                dom.undefine()
                conn.close()
            return elapsed
        except ImportError:
            pass
        from minivirt.qemu import open_driver

        class _URI:
            scheme, transport, host, path = "qemu", None, "", "/embed"
            query = {"root": root}

        drv = open_driver(_URI())
        assert drv is not None
        ref = drv.domain_define_xml(doc, 0)
        drv.connect_domain_event_register_any(
            ref,
            DomainEventID.BLOCK_JOB_2,
            lambda ev: done.set() if ev.status == DomainBlockJobStatus.COMPLETED else None,  # type: ignore[attr-defined]
        )
        ref = drv.domain_create(ref, 0)
        try:
            start = time.perf_counter()
            drv.domain_block_pull(ref, "vda", 0, 0)
            if not done.wait(120):
                raise RuntimeError("minivirt pull did not complete")
            return time.perf_counter() - start
        finally:
            drv.domain_destroy(ref, 0)
            drv.domain_undefine(ref, 0)
            drv.close()


def _info_rates(root: str, top: str, seconds: float = 2.0) -> tuple[float, float]:
    """get_block_job_info calls/s on a running (throttled) pull, from 1 and from 4 threads."""
    import minivirt.wiring  # noqa: F401  (registers the drivers with core)
    from minivirt import core
    from minivirt.events import EventLoopThread

    doc = f"name: infobench\nmemory: 64\ndisks:\n  - {{target: vda, source: {top}}}\n"
    rates: list[float] = []
    with EventLoopThread():
        conn = core.open(f"qemu:///embed?root={root}")
        dom = conn.define_xml(doc)
        dom.create()
        try:
            dom.block_pull("vda", 1)
            for nthreads in (1, 4):
                counts: list[int] = []
                stop = time.perf_counter() + seconds

                def work(stop: float = stop, counts: list[int] = counts) -> None:
                    n = 0
                    while time.perf_counter() < stop:
                        if dom.get_block_job_info("vda") is None:
                            raise RuntimeError("the job ended during the measurement")
                        n += 1
                    counts.append(n)

                threads = [threading.Thread(target=work) for _ in range(nthreads)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                rates.append(sum(counts) / seconds)
        finally:
            dom.destroy()
            dom.undefine()
            conn.close()
    return rates[0], rates[1]


def _bare_pull(directory: str, top: str) -> float:
    """The same QEMU command line, driven by a bare qemu.qmp script."""
    from qemu.qmp import EventListener, QMPClient

    from minivirt.conf import DiskDef, DomainDef, new_uuid
    from minivirt.qemu import process

    defn = DomainDef("bare", new_uuid(), disks=(DiskDef("vda", top),))
    sock_path = os.path.join(directory, "bare.sock")
    listener = process.listen_unix(sock_path)
    cmd = process.build_command(
        defn, process.emulator_path(defn), listener.fileno(), process.kvm_usable()
    )
    proc, _ = process.spawn(cmd, os.path.join(directory, "bare.log"), listener.fileno())
    listener.close()

    async def drive() -> float:
        qmp = QMPClient("bare")
        await qmp.connect(sock_path)
        await qmp.execute("cont")
        try:
            listener = EventListener(("BLOCK_JOB_COMPLETED",))
            with qmp.listen(listener):
                start = time.perf_counter()
                await qmp.execute("block-stream", {"device": "drive-virtio-disk0"})
                async for event in listener:
                    if event["event"] == "BLOCK_JOB_COMPLETED":
                        return time.perf_counter() - start
        finally:
            await qmp.disconnect()
        raise RuntimeError("unreachable")

    try:
        return asyncio.run(asyncio.wait_for(drive(), 120))
    finally:
        process.kill_process(proc, proc.pid)


def _convert(directory: str, top: str) -> float:
    out = os.path.join(directory, "converted.qcow2")
    start = time.perf_counter()
    _sh("qemu-img", "convert", "-O", "qcow2", top, out)
    os.sync()
    elapsed = time.perf_counter() - start
    os.unlink(out)
    return elapsed


def run() -> list[dict[str, Any]]:
    """Pull 1 GiB through minivirt and through bare qemu.qmp; rows for tools/bench.py."""
    directory = tempfile.mkdtemp(prefix="mvbench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    try:
        base = _make_base(directory)
        root = os.path.join(directory, "root")
        minivirt: list[float] = []
        bare: list[float] = []
        convert: list[float] = []
        cpu: list[float] = []
        for i in range(ROUNDS):
            tops = {k: _overlay(directory, base, f"{k}{i}.qcow2") for k in "cmb"}
            order = ["m", "b", "c"] if i % 2 == 0 else ["c", "b", "m"]
            for step in order:
                os.sync()  # the previous step's dirty pages must not slow this one
                if step == "m":
                    minivirt.append(_minivirt_pull(root, tops["m"], i, cpu))
                elif step == "b":
                    bare.append(_bare_pull(directory, tops["b"]))
                else:
                    convert.append(_convert(directory, tops["c"]))
                os.unlink(tops[step])
        one, four = _info_rates(root, _overlay(directory, base, "info.qcow2"))
        m, b, c = (statistics.median(x) for x in (minivirt, bare, convert))
        paired = statistics.median(x / y for x, y in zip(minivirt, bare, strict=True))

        def spread(values: list[float]) -> str:
            return f"min-max {min(values):.3f}-{max(values):.3f} (n={len(values)})"

        return [
            {
                "name": "pull 1 GiB, minivirt (call to COMPLETED callback)",
                "value": m,
                "unit": "s",
                "spread": spread(minivirt),
                "baseline": f"bare qemu.qmp block-stream {b:.3f} s",
                "ratio": m / b,
                "goal": "<= 1.05",
            },
            {
                "name": "minivirt process CPU during the pull (median)",
                "value": statistics.median(cpu) if cpu else 0.0,
                "unit": "s",
                "baseline": None,
                "ratio": None,
            },
            {
                "name": "pull 1 GiB, bare qemu.qmp (block-stream to event)",
                "value": b,
                "unit": "s",
                "spread": spread(bare),
                "baseline": None,
                "ratio": None,
            },
            {
                "name": "get_block_job_info during a pull, in-process, 1 thread",
                "value": one,
                "unit": "calls/s",
                "baseline": None,
                "ratio": None,
            },
            {
                "name": "get_block_job_info during a pull, in-process, 4 threads",
                "value": four,
                "unit": "calls/s",
                "baseline": "1 thread (single-flight query-block-jobs)",
                "ratio": four / one,
            },
            {
                "name": "pull throughput, minivirt",
                "value": SIZE_MIB / m,
                "unit": "MiB/s",
                "baseline": "qemu-img convert + sync",
                "ratio": c / m,
            },
            {
                "name": "qemu-img convert 1 GiB chain + sync (copy limit)",
                "value": c,
                "unit": "s",
                "spread": spread(convert),
                "baseline": None,
                "ratio": None,
                "note": f"Medians of {ROUNDS} alternating rounds reported (the machine is shared"
                f" and noisy). All rounds: minivirt {[round(x, 3) for x in minivirt]} s, bare "
                f"{[round(x, 3) for x in bare]} s, convert {[round(x, 3) for x in convert]}"
                f" s; median of the per-round ratios minivirt/bare {paired:.3f}.",
            },
        ]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    for row in run():
        line = f"{row['name']}: {row['value']:.3f} {row['unit']}"
        if row["ratio"] is not None:
            line += f"  (vs {row['baseline']}: ratio {row['ratio']:.3f})"
        print(line)
        if row.get("note"):
            print(row["note"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
