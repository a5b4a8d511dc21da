"""Both drivers side by side, on the same domain: the test driver and the qemu driver.

The test driver runs on a frozen clock.  The qemu driver takes back a domain
whose "QEMU" is a sleeping process and a scripted QMP peer (a small fake of
QEMU's block-job commands, :class:`FakeQemu`), as after a daemon restart.
Both hold domain 'test' (same uuid) with disk vda on /guest/diskimage1 backed
by /guest/template.qcow2, and an inactive domain 'idle'.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from minivirt.events import EventLoopThread
from minivirt.public import DomainEventID, DomainRef, ErrorDomain
from minivirt.qemu import open_driver
from minivirt.testdrv import (
    DEFAULT_DISK_SIZE,
    TEST_DOMAIN_UUID,
    open_test_driver,
    set_clock,
    shared_hypervisor,
)
from tests.qemu.helpers import URI, Recorder, query_block
from tests.qemu.qmppeer import Event, Reply, ScriptedPeer

TOP = "/guest/diskimage1"
BASE = "/guest/template.qcow2"
DEV = "drive-virtio-disk0"
IDLE_YAML = "name: idle\nmemory: 64\ndisks: [{target: vda, source: /img/off.qcow2}]\n"
GUEST_YAML = (
    f"name: test\nuuid: {TEST_DOMAIN_UUID}\nmemory: 64\ndisks: [{{target: vda, source: {TOP}}}]\n"
)
GONE = DomainRef("gone", "11111111-2222-3333-4444-555555555555", -1)


@dataclasses.dataclass(frozen=True)
class TestURI:
    scheme: str = "test"
    host: str = ""
    path: str = "/default"


class FakeQemu:
    """QEMU's block-job commands as a scripted peer answers them: jobs kept by device.

    ``hold_cancel``: answer block-job-cancel without the BLOCK_JOB_CANCELLED
    event (the job stays "being ended").
    """

    CHAIN = query_block(DEV, TOP, BASE, "template.qcow2")

    def __init__(self) -> None:
        self.jobs: dict[str, int] = {}
        self.hold_cancel = False

    def _job(self, device: str, speed: int) -> dict[str, Any]:
        length = DEFAULT_DISK_SIZE
        return {
            "device": device,
            "type": "stream",
            "offset": 0,
            "len": length,
            "speed": speed,
            "ready": False,
        }

    def stream(self, args: dict[str, Any]) -> list[Any]:
        self.jobs[args["device"]] = args.get("speed", 0)
        return [Reply({})]

    def set_speed(self, args: dict[str, Any]) -> list[Any]:
        self.jobs[args["device"]] = args["speed"]
        return [Reply({})]

    def cancel(self, args: dict[str, Any]) -> list[Any]:
        if self.hold_cancel:
            return [Reply({})]
        speed = self.jobs.pop(args["device"], 0)
        return [Reply({}), Event("BLOCK_JOB_CANCELLED", self._job(args["device"], speed))]

    def query(self, args: dict[str, Any]) -> list[Any]:
        return [Reply([self._job(device, speed) for device, speed in self.jobs.items()])]

    def script(self) -> dict[str, Any]:
        return {
            "query-block": [Reply(self.CHAIN)],
            "query-block-jobs": self.query,
            "block-stream": self.stream,
            "block-job-set-speed": self.set_speed,
            "block-job-cancel": self.cancel,
        }


class Side:
    """One driver with domain 'test' running and 'idle' defined; its own error domain."""

    def __init__(self, name: str, driver_domain: ErrorDomain, conn: Any) -> None:
        self.name = name
        self.driver_domain = driver_domain
        self.conn = conn
        self.ref = conn.lookup_by_name("test")
        self.off = conn.domain_define_xml(IDLE_YAML, 0)
        self.gone = GONE
        self.fake: FakeQemu | None = None
        self.peer: ScriptedPeer | None = None
        self.recorder = Recorder()

    def watch(self) -> None:
        for event_id in (DomainEventID.BLOCK_JOB, DomainEventID.BLOCK_JOB_2):
            self.conn.connect_domain_event_register_any(None, event_id, self.recorder)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def test_side() -> Iterator[Side]:
    set_clock(Clock())
    assert shared_hypervisor() is None, "a previous test leaked a connection"
    conn = open_test_driver(TestURI(), False)
    try:
        yield Side("test", ErrorDomain.TEST, conn)
    finally:
        conn.close()
        set_clock(None)


@pytest.fixture
def qemu_side() -> Iterator[Side]:
    root = tempfile.mkdtemp(prefix="mvh-", dir="/tmp")
    sleeper = subprocess.Popen(["sleep", "300"])
    conn = peer = None
    try:
        first = open_driver(URI(root))
        ref = first.domain_define_xml(GUEST_YAML, 0)
        first.close()
        run = os.path.join(root, "run", "qemu")
        fake = FakeQemu()
        peer = ScriptedPeer(os.path.join(run, "test.monitor"), None, fake.script())
        status = {
            "name": "test",
            "uuid": ref.uuid,
            "id": 1,
            "pid": sleeper.pid,
            "monitor": os.path.join(run, "test.monitor"),
            "jobs": {},
        }
        with open(os.path.join(run, "test.json"), "w") as out:
            json.dump(status, out)
        conn = open_driver(URI(root))
        side = Side("qemu", ErrorDomain.QEMU, conn)
        side.fake, side.peer = fake, peer
        yield side
    finally:
        if conn is not None:
            for dom in conn.list_all_domains(1):
                try:
                    conn.domain_destroy(dom, 0)
                except Exception:
                    pass
            conn.close()
        if peer is not None:
            peer.close()
        sleeper.kill()
        sleeper.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def loop() -> Iterator[None]:
    with EventLoopThread():
        yield


@pytest.fixture
def sides(loop, test_side: Side, qemu_side: Side) -> tuple[Side, Side]:
    """(test driver, qemu driver), each with 'test' running."""
    return test_side, qemu_side
