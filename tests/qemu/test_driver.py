"""The driver's block-job logic against a scripted QMP peer (no QEMU).

A domain whose "QEMU" is a sleeping process and a scripted peer is taken
back from its status file, as after a daemon restart; the driver then talks
to the peer.  This exercises both command generations through the driver,
event translation, info normalisation and the QEMU-vanishes paths.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from minivirt.public import (
    BlockJobInfo,
    DomainBlockJobAbortFlags,
    DomainBlockJobInfoFlags,
    DomainBlockJobStatus,
    DomainBlockRebaseFlags,
    DomainEventID,
    DomainShutoffReason,
    DomainState,
    ErrorDomain,
    ErrorNumber,
    LifecycleEvent,
    VirError,
)
from minivirt.qemu import open_driver
from tests.qemu.helpers import URI, Recorder, query_block
from tests.qemu.qmppeer import LEGACY_COMMANDS, Close, Error, Event, Reply, ScriptedPeer

TOP = "/images/top.qcow2"
DEV = "drive-virtio-disk0"
CHAIN = query_block(DEV, TOP, "/images/base.qcow2", "/images/base.qcow2")


@pytest.fixture
def event_loop():
    from minivirt.events import EventLoopThread

    with EventLoopThread():
        yield


class Setup:
    def __init__(self, root: str) -> None:
        self.root = root
        self.sleeper = subprocess.Popen(["sleep", "300"])
        self.peer: ScriptedPeer | None = None
        self.conn = None
        self.rec = Recorder()

    def start(self, commands=None, script=None, jobs=None):
        conn = open_driver(URI(self.root))
        ref = conn.domain_define_xml(
            f"name: guest\nmemory: 64\ndisks:\n  - {{target: vda, source: {TOP}}}\n", 0
        )
        conn.close()
        run = os.path.join(self.root, "run", "qemu")
        script = {"query-block": [Reply(CHAIN)], **(script or {})}
        self.peer = ScriptedPeer(os.path.join(run, "guest.monitor"), commands, script)
        status = {
            "name": "guest",
            "uuid": ref.uuid,
            "id": 7,
            "pid": self.sleeper.pid,
            "monitor": os.path.join(run, "guest.monitor"),
            "jobs": jobs or {},
        }
        with open(os.path.join(run, "guest.json"), "w") as out:
            json.dump(status, out)
        self.conn = open_driver(URI(self.root))
        for event_id in (
            DomainEventID.BLOCK_JOB,
            DomainEventID.BLOCK_JOB_2,
            DomainEventID.LIFECYCLE,
        ):
            self.conn.connect_domain_event_register_any(None, event_id, self.rec)
        return self.conn, self.conn.lookup_by_name("guest")

    def close(self):
        if self.conn is not None:
            for ref in self.conn.list_all_domains(1):
                try:
                    self.conn.domain_destroy(ref, 0)
                except VirError:
                    pass
            self.conn.close()
        if self.peer is not None:
            self.peer.close()
        self.sleeper.kill()
        self.sleeper.wait()


@pytest.fixture
def setup(sockdir, event_loop):
    s = Setup(sockdir)
    yield s
    s.close()


def job(offset=0, length=100, speed=0, ready=False):
    return {
        "device": DEV,
        "type": "stream",
        "offset": offset,
        "len": length,
        "speed": speed,
        "ready": ready,
    }


def expect(exc, code, message, domain=ErrorDomain.QEMU):
    assert (exc.value.code, exc.value.domain, exc.value.message) == (code, domain, message)


def test_reconnect_takes_the_domain_back(setup):
    conn, ref = setup.start()
    assert ref.id == 7
    assert conn.lookup_by_id(7) == ref
    assert conn.domain_get_state(ref, 0)[0] == DomainState.RUNNING
    assert "/images/base.qcow2" in conn.domain_get_xml_desc(ref, 0)
    conn.domain_destroy(ref, 0)
    assert setup.sleeper.wait(10) is not None


def test_reconnect_restores_running_jobs(setup):
    conn, ref = setup.start(
        script={"query-block-jobs": [Reply([job(10)])] * 3},
        jobs={"vda": {"device": DEV, "type": 1, "base_index": None}},
    )
    assert conn.domain_get_block_job_info(ref, "vda", 0) == BlockJobInfo(1, 0, 10, 100)


def test_legacy_abort_synthesises_canceled(setup):
    conn, ref = setup.start(LEGACY_COMMANDS)
    with pytest.raises(VirError) as exc:
        conn.domain_block_pull(ref, "vda", 5, 0)
    expect(
        exc,
        ErrorNumber.CONFIG_UNSUPPORTED,
        "unsupported configuration: setting bandwidth "
        "at start of block pull not supported with this QEMU binary",
    )
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None
    conn.domain_block_pull(ref, "vda", 0, 0)
    conn.domain_block_job_set_speed(ref, "vda", 3, 0)
    conn.domain_block_job_abort(ref, "vda", 0)
    assert setup.rec.wait(2) == [
        (TOP, 1, DomainBlockJobStatus.CANCELED, DomainEventID.BLOCK_JOB),
        ("vda", 1, DomainBlockJobStatus.CANCELED, DomainEventID.BLOCK_JOB_2),
    ]
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None
    assert [c for c in setup.peer.received if c[0].startswith("block")] == [
        ("block_stream", {"device": DEV}),
        ("block_job_set_speed", {"device": DEV, "value": 3 << 20}),
        ("block_job_cancel", {"device": DEV}),
    ]


def test_legacy_partial_pull_refused(setup):
    conn, ref = setup.start(LEGACY_COMMANDS)
    with pytest.raises(VirError) as exc:
        conn.domain_block_rebase(ref, "vda", "/images/base.qcow2", 0, 0)
    expect(
        exc,
        ErrorNumber.CONFIG_UNSUPPORTED,
        "unsupported configuration: partial block pull not supported with this QEMU binary",
    )


def test_modern_sync_abort_waits_for_the_event(setup):
    cancelled = Event(
        "BLOCK_JOB_CANCELLED",
        {"device": DEV, "type": "stream", "len": 100, "offset": 40, "speed": 0},
    )
    conn, ref = setup.start(script={"block-job-cancel": [Reply({}), cancelled]})
    conn.domain_block_pull(ref, "vda", 2, 0)
    conn.domain_block_job_abort(ref, "vda", 0)
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None
    assert setup.rec.wait(2)[1] == ("vda", 1, DomainBlockJobStatus.CANCELED, 16)
    assert ("block-stream", {"device": DEV, "speed": 2 << 20}) in setup.peer.received


def test_async_abort_returns_before_the_event(setup):
    conn, ref = setup.start()
    conn.domain_block_pull(ref, "vda", 0, 0)
    conn.domain_block_job_abort(ref, "vda", DomainBlockJobAbortFlags.ASYNC)
    with pytest.raises(VirError) as exc:
        conn.domain_block_job_abort(ref, "vda", 0)
    expect(
        exc,
        ErrorNumber.OPERATION_INVALID,
        "Requested operation is not valid: block job on disk 'vda' is still being ended",
    )
    with pytest.raises(VirError) as exc:
        conn.domain_block_job_abort(ref, "vda", DomainBlockJobAbortFlags.PIVOT)
    assert exc.value.code == ErrorNumber.OPERATION_INVALID


def test_pivot_is_refused_for_a_pull(setup):
    conn, ref = setup.start()
    conn.domain_block_pull(ref, "vda", 0, 0)
    with pytest.raises(VirError) as exc:
        conn.domain_block_job_abort(ref, "vda", DomainBlockJobAbortFlags.PIVOT)
    expect(
        exc,
        ErrorNumber.BLOCK_COPY_ACTIVE,
        "block copy still active: block job 'pull-vda-libvirt-1-format' not ready for pivot yet",
    )


def _ev(name, **data):
    base = {"device": DEV, "type": "stream", "len": 100, "offset": 100, "speed": 0}
    return Event(name, {**base, **data})


@pytest.mark.parametrize(
    ("events", "statuses", "job_remains"),
    [
        ([_ev("BLOCK_JOB_COMPLETED")], [DomainBlockJobStatus.COMPLETED], False),
        (
            [_ev("BLOCK_JOB_COMPLETED", error="Input/output error")],
            [DomainBlockJobStatus.FAILED],
            False,
        ),
        ([_ev("BLOCK_JOB_COMPLETED", offset=50)], [DomainBlockJobStatus.FAILED], False),
        (
            [
                _ev("BLOCK_JOB_ERROR", operation="read", action="report"),
                _ev("BLOCK_JOB_COMPLETED", error="Input/output error"),
            ],
            [DomainBlockJobStatus.FAILED],
            False,
        ),
        # READY announces the job, it does not end it: the job is still there afterwards
        ([_ev("BLOCK_JOB_READY")], [DomainBlockJobStatus.READY], True),
        (
            [_ev("BLOCK_JOB_READY"), _ev("BLOCK_JOB_CANCELLED")],
            [DomainBlockJobStatus.READY, DomainBlockJobStatus.CANCELED],
            False,
        ),
        (
            [_ev("BLOCK_JOB_COMPLETED", device="drive-unknown"), _ev("BLOCK_JOB_CANCELLED")],
            [DomainBlockJobStatus.CANCELED],
            False,
        ),
    ],
)
def test_qemu_events_become_domain_events(setup, events, statuses, job_remains):
    conn, ref = setup.start(script={"query-block-jobs": [Reply([job(30)])]})
    conn.domain_block_pull(ref, "vda", 0, 0)
    for event in events:
        setup.peer.send_event(event.name, event.data)
    got = setup.rec.wait(2 * len(statuses))
    assert [s for _, _, s, _ in got] == [s for s in statuses for _ in (0, 1)]
    assert [(d, i) for d, _, _, i in got[:2]] == [(TOP, 8), ("vda", 16)]
    info = conn.domain_get_block_job_info(ref, "vda", 0)
    assert info == (BlockJobInfo(1, 0, 30, 100) if job_remains else None)


def _status_jobs(setup):
    with open(os.path.join(setup.root, "run", "qemu", "guest.json")) as src:
        return json.load(src)["jobs"]


def test_records_are_written_after_the_event_and_at_close(setup, monkeypatch):
    # The status file changes RECORDS_DELAY after the event (off the event's way to
    # the clients), or at once when a connection closes.
    monkeypatch.setattr("minivirt.qemu.records.RECORDS_DELAY", 3600.0)
    conn, ref = setup.start(script={"query-block-jobs": [Reply([job(30)])]})
    conn.domain_block_pull(ref, "vda", 0, 0)
    assert list(_status_jobs(setup)) == ["vda"]
    setup.peer.send_event("BLOCK_JOB_COMPLETED", _ev("BLOCK_JOB_COMPLETED").data)
    setup.rec.wait(2)
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None  # memory: at once
    assert list(_status_jobs(setup)) == ["vda"]  # the disk: later
    open_driver(URI(setup.root)).close()  # any connection closing writes what is due
    assert _status_jobs(setup) == {}


def test_records_follow_the_event_without_a_close(setup, monkeypatch):
    monkeypatch.setattr("minivirt.qemu.records.RECORDS_DELAY", 0.01)
    conn, ref = setup.start(script={"query-block-jobs": [Reply([job(30)])]})
    conn.domain_block_pull(ref, "vda", 0, 0)
    setup.peer.send_event("BLOCK_JOB_COMPLETED", _ev("BLOCK_JOB_COMPLETED").data)
    setup.rec.wait(2)
    deadline = time.monotonic() + 10
    while _status_jobs(setup) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _status_jobs(setup) == {}


@pytest.mark.parametrize(
    ("raw", "flags", "info"),
    [
        (job(0, 0), 0, BlockJobInfo(1, 0, 0, 1)),
        (job(0, 0, ready=True), 0, BlockJobInfo(1, 0, 1, 1)),
        (job(100, 100, ready=False), 0, BlockJobInfo(1, 0, 99, 100)),
        (job(100, 100, ready=True), 0, BlockJobInfo(1, 0, 100, 100)),
        (job(5, 100, speed=1), 0, BlockJobInfo(1, 1, 5, 100)),
        (job(5, 100, speed=(3 << 20) + 1), 0, BlockJobInfo(1, 4, 5, 100)),
        (
            job(5, 100, speed=(3 << 20) + 1),
            DomainBlockJobInfoFlags.BANDWIDTH_BYTES,
            BlockJobInfo(1, (3 << 20) + 1, 5, 100),
        ),
    ],
)
def test_info_is_normalised(setup, raw, flags, info):
    other = dict(raw, device="drive-virtio-disk1", offset=1)
    conn, ref = setup.start(script={"query-block-jobs": [Reply([other, raw])]})
    conn.domain_block_pull(ref, "vda", 0, 0)
    assert conn.domain_get_block_job_info(ref, "vda", flags) == info


def test_info_when_qemu_no_longer_has_the_job(setup):
    conn, ref = setup.start(script={"query-block-jobs": [Reply([])]})
    conn.domain_block_pull(ref, "vda", 0, 0)
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None


def test_malformed_reply_through_the_driver(setup):
    conn, ref = setup.start()
    setup.peer.script["query-block-jobs"] = [Reply([{"device": DEV}])]
    conn.domain_block_pull(ref, "vda", 0, 0)
    with pytest.raises(VirError) as exc:
        conn.domain_get_block_job_info(ref, "vda", 0)
    expect(exc, ErrorNumber.INTERNAL_ERROR, "internal error: entry was missing 'type'")


def test_qemu_error_leaves_no_job(setup):
    conn, ref = setup.start(script={"block-stream": [Error("GenericError", "no way")]})
    with pytest.raises(VirError) as exc:
        conn.domain_block_pull(ref, "vda", 0, 0)
    expect(
        exc,
        ErrorNumber.INTERNAL_ERROR,
        "internal error: unable to execute QEMU command 'block-stream': no way",
    )
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None
    with open(os.path.join(setup.root, "run", "qemu", "guest.json")) as src:
        assert json.load(src)["jobs"] == {}


def test_qemu_vanishing_during_sync_abort(setup):
    conn, ref = setup.start(script={"block-job-cancel": [Reply({}), Close()]})
    conn.domain_block_pull(ref, "vda", 0, 0)
    with pytest.raises(VirError) as exc:
        conn.domain_block_job_abort(ref, "vda", 0)
    expect(exc, ErrorNumber.OPERATION_FAILED, "operation failed: domain is not running")
    assert conn.domain_get_state(ref, 0) == (DomainState.SHUTOFF, DomainShutoffReason.CRASHED)
    with setup.rec.cond:
        assert setup.rec.cond.wait_for(
            lambda: any(isinstance(e, LifecycleEvent) for e in setup.rec.events), 10
        )
    assert not os.path.exists(os.path.join(setup.root, "run", "qemu", "guest.json"))


def test_qemu_vanishing_mid_command(setup):
    conn, ref = setup.start(script={"block-stream": [Close()]})
    with pytest.raises(VirError) as exc:
        conn.domain_block_pull(ref, "vda", 0, 0)
    expect(exc, ErrorNumber.OPERATION_FAILED, "operation failed: End of file from qemu monitor")
    with setup.rec.cond:
        assert setup.rec.cond.wait_for(
            lambda: any(isinstance(e, LifecycleEvent) for e in setup.rec.events), 10
        )
    with pytest.raises(VirError) as exc:
        conn.domain_block_pull(ref, "vda", 0, 0)
    expect(
        exc,
        ErrorNumber.OPERATION_INVALID,
        "Requested operation is not valid: domain is not running",
        ErrorDomain.DOMAIN,  # virDomainObjCheckActive is conf code (VIR_FROM_DOMAIN)
    )


def test_stale_status_file_is_dropped(sockdir, event_loop):
    conn = open_driver(URI(sockdir))
    conn.domain_define_xml("name: guest\nmemory: 64\n", 0)
    conn.close()
    dead = subprocess.Popen(["true"])
    dead.wait()
    status = os.path.join(sockdir, "run", "qemu", "guest.json")
    with open(status, "w") as out:
        json.dump({"pid": dead.pid, "id": 3, "monitor": "/nonexistent"}, out)
    conn = open_driver(URI(sockdir))
    try:
        ref = conn.lookup_by_name("guest")
        assert ref.id == -1
        assert not os.path.exists(status)
    finally:
        conn.close()


def test_copy_of_a_persistent_domain_is_refused_as_libvirt(setup):
    # libvirt 9.0 copies only transient domains: "domain is not transient"
    conn, ref = setup.start()
    with pytest.raises(VirError) as exc:
        conn.domain_block_rebase(ref, "vda", "/tmp/copy.qcow2", 0, DomainBlockRebaseFlags.COPY)
    expect(
        exc,
        ErrorNumber.OPERATION_INVALID,
        "Requested operation is not valid: domain is not transient",
    )
    with pytest.raises(VirError) as exc:
        conn.domain_block_rebase(ref, "vdz", "/tmp/copy.qcow2", 0, DomainBlockRebaseFlags.COPY)
    assert exc.value.code == ErrorNumber.INVALID_ARG
