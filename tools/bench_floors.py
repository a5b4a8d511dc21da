"""Floors for `make bench`: what the machine does with minimal programs, in the same run.

Owns: a bare msgpack request/response server and client over loopback TCP (the
RPC floor), and a bare ``qemu.qmp`` client polling ``query-block-jobs`` on its
own QEMU while a throttled pull runs (the QMP floor).  Nothing of minivirt runs
here.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["FLOOR_SERVER", "bare_qmp_rate", "floor_rate_1", "floor_rate_n", "images"]

FLOOR_SERVER = r"""
import socket, struct, sys, threading, time, msgpack
L = struct.Struct(">I")
def serve(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        buf += data
        while len(buf) >= 4:
            (n,) = L.unpack_from(buf)
            if len(buf) < n:
                break
            req = msgpack.unpackb(buf[4:n])
            buf = buf[n:]
            if req[0] == "event":
                body = msgpack.packb(["event", time.monotonic_ns()])
            else:
                body = msgpack.packb([req[1], [0, 0, 0, 0, 0]])
            conn.sendall(L.pack(len(body) + 4) + body)
s = socket.create_server(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


class _FloorClient:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, body: list[Any]) -> Any:
        import msgpack

        data = msgpack.packb(body)
        self.sock.sendall(struct.pack(">I", len(data) + 4) + data)
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack_from(">I", self.buf)
                if len(self.buf) >= n:
                    reply = msgpack.unpackb(self.buf[4:n])
                    self.buf = self.buf[n:]
                    return reply
            self.buf += self.sock.recv(65536)


def _floor_calls(port: int, n: int) -> list[float]:
    client = _FloorClient(port)
    args = ["get_block_job_info", 1, [["test", bytes(16), 1], "vda", 0]]
    for _ in range(200):
        client.request(args)
    lat = []
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        client.request(args)
        lat.append(clock() - t0)
    return lat


def floor_rate_1(port: int, n: int = 2000) -> float:
    """Calls/s of one client doing ``n`` bare msgpack round trips."""
    client = _FloorClient(port)
    args = ["get_block_job_info", 1, [["test", bytes(16), 1], "vda", 0]]
    for _ in range(200):
        client.request(args)
    t0 = time.perf_counter()
    for _ in range(n):
        client.request(args)
    return n / (time.perf_counter() - t0)


def _worker(port: int, seconds: float, start: Any, out: Any) -> None:
    client = _FloorClient(port)
    args = ["get_block_job_info", 1, [["test", bytes(16), 1], "vda", 0]]
    client.request(args)
    start.wait()
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        client.request(args)
        count += 1
    out.put(count)


def floor_rate_n(port: int, clients: int = 4, seconds: float = 2.0) -> float:
    """Calls/s of ``clients`` processes doing bare msgpack round trips at once."""
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(port, seconds, start, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    total = sum(int(out.get(timeout=60)) for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def images(tmp: Path, name: str) -> Path:
    base, top = tmp / f"{name}-base.qcow2", tmp / f"{name}-top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -q -P 7 0 32M", str(base)], check=True)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top)],
        check=True,
    )
    return top


async def _bare_qmp(tmp: Path, top: Path, seconds: float) -> float:
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
        count, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            await qmp.execute("query-block-jobs")
            count += 1
        await qmp.disconnect()  # then killed below: a "quit" first races the disconnect (EOF)
        return count / seconds
    finally:
        qemu.kill()
        qemu.wait()


def bare_qmp_rate(tmp: Path, seconds: float = 2.0) -> float:
    """query-block-jobs calls/s of a bare qemu.qmp client, pull running (``tmp`` fresh)."""
    return asyncio.run(_bare_qmp(tmp, images(tmp, "bare"), seconds))
