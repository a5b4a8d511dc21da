"""Nothing blocks minivirtd's loop, on real QEMU (issue #13, item 1).

One read-only client pipelines thousands of the slowest read-only calls —
the XML of a shut-off domain (a ``qemu-img info`` each), block-job info on a
running pull (a QMP round trip each), listing — while another client keeps
being answered, each call within a generous liveness bound.
"""

from __future__ import annotations

import struct
import threading
import uuid

import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from tests.daemon.daemon_process import DaemonProcess
from tools.bench_flood import flood, frame

pytestmark = pytest.mark.timeout(180)

LIVENESS_S = 20.0
PROGRAM = 0x20008086


def test_a_flood_of_slow_calls_does_not_stall_another_client(
    tmp_path, qemu_root, images, domain_yaml, event_loop
):
    d = DaemonProcess(tmp_path, uri=f"qemu:///embed?root={qemu_root}")
    conn = core.open(d.url("qemu", "/system"))
    stop = threading.Event()
    replies = [0]
    head = bytearray()  # the first replies, to check they are answers, not errors
    try:
        off = conn.define_xml(domain_yaml("idle", [("vda", images.chain(16, "idle").top)]))
        busy = conn.define_xml(domain_yaml("busy", [("vda", images.chain(64, "busy").top)]))
        busy.create()
        busy.block_pull("vda", 1)  # runs for a minute: every info call asks QEMU
        wire_off = ["idle", uuid.UUID(off.uuid_string()).bytes, -1]
        wire_busy = ["busy", uuid.UUID(busy.uuid_string()).bytes, busy.id]
        burst = (
            frame(14, [wire_off, 0])  # DOMAIN_GET_XML_DESC of a shut-off domain
            + frame(238, [wire_busy, "vda", 0])  # DOMAIN_GET_BLOCK_JOB_INFO, running pull
            + frame(273, [1, 0])  # CONNECT_LIST_ALL_DOMAINS
        ) * 1000

        flooder = threading.Thread(
            target=flood, args=(d.port, burst, stop, replies, head), daemon=True
        )
        flooder.start()
        other = core.open(d.url("qemu", "/system"))
        try:
            answered = 0
            while replies[0] < 600 or answered < 100:
                done = threading.Event()
                threading.Thread(
                    target=lambda done=done: (other.lookup_by_name("busy").get_state(), done.set()),
                    daemon=True,
                ).start()
                assert done.wait(LIVENESS_S), "the other client was not answered"
                answered += 1
        finally:
            stop.set()
            flooder.join(timeout=30)
            other.close()
        assert replies[0] >= 600
        statuses = {}
        data = bytes(head)
        while len(data) >= 28 and len(data) >= struct.unpack(">I", data[:4])[0]:
            n, _, _, proc, _, _, status = struct.unpack(">IIIiIII", data[:28])
            statuses.setdefault(proc, set()).add(status)
            data = data[n:]
        assert statuses[14] == statuses[238] == statuses[273] == {0}  # all answered, no error
        busy.block_job_abort("vda")
        busy.destroy()
    finally:
        stop.set()
        conn.close()
        assert d.stop() == 0
