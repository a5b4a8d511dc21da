"""Block pull end to end: the qemu driver, a real QEMU, real qcow2 chains."""

from __future__ import annotations

import os
import signal
import time

import pytest

from minivirt.public import (
    BlockJobEvent,
    DomainBlockJobAbortFlags,
    DomainBlockJobInfoFlags,
    DomainBlockJobStatus,
    DomainBlockJobType,
    DomainBlockRebaseFlags,
    DomainEventID,
    DomainEventStoppedDetailType,
    DomainEventType,
    DomainShutoffReason,
    DomainState,
    ErrorDomain,
    ErrorNumber,
    LifecycleEvent,
    VirError,
)

from .conftest import MIB

PULL = int(DomainBlockJobType.PULL)


def block_events(recorder, status=None):
    return [
        e
        for e in recorder.events
        if isinstance(e, BlockJobEvent) and (status is None or e.status == status)
    ]


def wait_status(recorder, status, count=2):
    assert recorder.wait_for(lambda evs: len(block_events(recorder, status)) >= count), (
        f"no {DomainBlockJobStatus(status).name} event; got {recorder.events}"
    )


@pytest.fixture
def running(qemu_driver, images, domain_yaml, recorder):
    """A running domain on a 64 MiB chain, events of both block-job ids recorded."""
    chain = images.chain(64)
    original = images.snapshot_of(chain.top, "original.raw")
    for event_id in (DomainEventID.BLOCK_JOB, DomainEventID.BLOCK_JOB_2, DomainEventID.LIFECYCLE):
        qemu_driver.connect_domain_event_register_any(None, event_id, recorder)
    ref = qemu_driver.domain_define_xml(domain_yaml("guest", [("vda", chain.top)]), 0)
    ref = qemu_driver.domain_create(ref, 0)
    return qemu_driver, ref, chain, original


def expect(exc, code, message, domain=ErrorDomain.QEMU):
    assert (exc.value.code, exc.value.domain, exc.value.message) == (code, domain, message)


def test_pull_completes_and_drops_the_backing_file(running, images, recorder):
    conn, ref, chain, original = running
    assert f"<source file='{chain.base}'/>" in conn.domain_get_xml_desc(ref, 0)
    conn.domain_block_pull(ref, "vda", 0, 0)
    wait_status(recorder, DomainBlockJobStatus.COMPLETED)
    done = block_events(recorder)
    assert [(e.disk, e.type, e.status, e.id) for e in done] == [
        (chain.top, PULL, 0, DomainEventID.BLOCK_JOB),
        ("vda", PULL, 0, DomainEventID.BLOCK_JOB_2),
    ]
    assert all(e.dom.uuid == ref.uuid for e in done)
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None
    xml = conn.domain_get_xml_desc(ref, 0)
    assert chain.base not in xml and "<backingStore/>" in xml
    conn.domain_destroy(ref, 0)
    assert images.backing_file(chain.top) is None
    assert images.same_data(chain.top, original)


def test_info_while_pulling(running):
    conn, ref, chain, _ = running
    conn.domain_block_pull(ref, "vda", 1, 0)
    info = conn.domain_get_block_job_info(ref, "vda", 0)
    assert info.type == PULL and info.bandwidth == 1
    assert 0 <= info.cur < info.end == chain.size
    raw = conn.domain_get_block_job_info(ref, "vda", DomainBlockJobInfoFlags.BANDWIDTH_BYTES)
    assert raw.bandwidth == MIB
    # by source path too
    assert conn.domain_get_block_job_info(ref, chain.top, 0).type == PULL


def test_abort_mid_pull_cancels_and_keeps_the_chain(running, images, recorder):
    conn, ref, chain, original = running
    conn.domain_block_pull(ref, "vda", 1, 0)
    conn.domain_block_job_abort(ref, "vda", 0)
    # a synchronous abort returns once the job is gone
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None
    wait_status(recorder, DomainBlockJobStatus.CANCELED)
    assert {(e.disk, e.type) for e in block_events(recorder)} == {(chain.top, PULL), ("vda", PULL)}
    conn.domain_destroy(ref, 0)
    assert images.backing_file(chain.top) == chain.base
    assert images.same_data(chain.top, original)


def test_abort_async(running, recorder):
    conn, ref, _, _ = running
    conn.domain_block_pull(ref, "vda", 1, 0)
    conn.domain_block_job_abort(ref, "vda", DomainBlockJobAbortFlags.ASYNC)
    wait_status(recorder, DomainBlockJobStatus.CANCELED)
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None


def test_set_speed_is_visible_and_limits(running):
    conn, ref, chain, _ = running
    conn.domain_block_pull(ref, "vda", 1, 0)
    conn.domain_block_job_set_speed(ref, "vda", 2, 0)
    assert conn.domain_get_block_job_info(ref, "vda", 0).bandwidth == 2
    conn.domain_block_job_set_speed(
        ref, "vda", 3 * MIB // 2, DomainBlockJobInfoFlags.BANDWIDTH_BYTES
    )
    assert conn.domain_get_block_job_info(ref, "vda", 0).bandwidth == 2  # rounded up
    raw = conn.domain_get_block_job_info(ref, "vda", DomainBlockJobInfoFlags.BANDWIDTH_BYTES)
    assert raw.bandwidth == 3 * MIB // 2
    first, t0 = conn.domain_get_block_job_info(ref, "vda", 0), time.monotonic()
    time.sleep(1.5)
    second, t1 = conn.domain_get_block_job_info(ref, "vda", 0), time.monotonic()
    copied = second.cur - first.cur
    # 1.5 MiB/s: generous bounds (QEMU copies in 512 KiB chunks and may burst one slice)
    assert 0 < copied <= 1.5 * MIB * (t1 - t0) * 2 + 4 * MIB
    assert second.cur < chain.size


def test_pull_without_backing_file(qemu_driver, images, domain_yaml, recorder):
    flat = images.base("flat.qcow2", 16)
    qemu_driver.connect_domain_event_register_any(None, DomainEventID.BLOCK_JOB_2, recorder)
    ref = qemu_driver.domain_create(
        qemu_driver.domain_define_xml(domain_yaml("flat", [("vda", flat)]), 0), 0
    )
    qemu_driver.domain_block_pull(ref, "vda", 0, 0)
    wait_status(recorder, DomainBlockJobStatus.COMPLETED, 1)
    assert qemu_driver.domain_get_block_job_info(ref, "vda", 0) is None


def test_second_pull_while_one_runs(running):
    conn, ref, _, _ = running
    conn.domain_block_pull(ref, "vda", 1, 0)
    with pytest.raises(VirError) as exc:
        conn.domain_block_pull(ref, "vda", 0, 0)
    expect(
        exc,
        ErrorNumber.OPERATION_UNSUPPORTED,
        "Operation not supported: disk 'vda' already in active block job",
    )
    # nothing changed: the first job still runs with its speed
    assert conn.domain_get_block_job_info(ref, "vda", 0).bandwidth == 1


def test_errors_change_nothing(running, images):
    conn, ref, chain, _ = running
    cases = [
        (
            lambda: conn.domain_block_pull(ref, "vdz", 0, 0),
            ErrorNumber.INVALID_ARG,
            "invalid argument: disk 'vdz' not found in domain",
        ),
        (
            lambda: conn.domain_block_pull(ref, "/no/such.qcow2", 0, 0),
            ErrorNumber.INVALID_ARG,
            "invalid argument: disk '/no/such.qcow2' not found in domain",
        ),
        (
            lambda: conn.domain_block_pull(ref, "vda", 0, 1),
            ErrorNumber.INVALID_ARG,
            "unsupported flags (0x1) in function qemuDomainBlockPull",
        ),
        (
            lambda: conn.domain_block_pull(ref, "vda", 1 << 43, 0),
            ErrorNumber.OVERFLOW,
            "numerical overflow: bandwidth must be less than 8796093022207",
        ),
        (
            lambda: conn.domain_block_job_abort(ref, "vda", 0),
            ErrorNumber.INVALID_ARG,
            "invalid argument: disk vda does not have an active block job",
        ),
        (
            lambda: conn.domain_block_job_set_speed(ref, "vda", 1, 0),
            ErrorNumber.INVALID_ARG,
            "invalid argument: disk vda does not have an active block job",
        ),
        (
            lambda: conn.domain_get_block_job_info(ref, "vda", 2),
            ErrorNumber.INVALID_ARG,
            "unsupported flags (0x2) in function qemuDomainGetBlockJobInfo",
        ),
        (
            lambda: conn.domain_block_rebase(ref, "vda", "/x/other.qcow2", 0, 0),
            ErrorNumber.INVALID_ARG,
            f"invalid argument: could not find image '/x/other.qcow2' beneath '{chain.top}' "
            "in chain for 'vda'",
            ErrorDomain.STORAGE,
        ),
        (
            lambda: conn.domain_block_rebase(ref, "vda", chain.top, 0, 0),
            ErrorNumber.INVALID_ARG,
            f"invalid argument: could not find image '{chain.top}' beneath '{chain.top}' "
            "in chain for 'vda'",
            ErrorDomain.STORAGE,
        ),
        (
            lambda: conn.domain_block_rebase(ref, "vda", None, 0, DomainBlockRebaseFlags.RELATIVE),
            ErrorNumber.INVALID_ARG,
            "invalid argument: flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with "
            "non-null base",
        ),
    ]
    for call, code, message, *domain in cases:
        with pytest.raises(VirError) as exc:
            call()
            pytest.fail(f"no error for: {message}")
        expect(exc, code, message, *domain)
        assert conn.domain_get_block_job_info(ref, "vda", 0) is None
    assert images.backing_file(chain.top) == chain.base


def test_stopped_domain(qemu_driver, images, domain_yaml):
    chain = images.chain(16)
    ref = qemu_driver.domain_define_xml(domain_yaml("stopped", [("vda", chain.top)]), 0)
    for call in (
        lambda: qemu_driver.domain_block_pull(ref, "vda", 0, 0),
        lambda: qemu_driver.domain_get_block_job_info(ref, "vda", 0),
        lambda: qemu_driver.domain_block_job_abort(ref, "vda", 0),
        lambda: qemu_driver.domain_block_job_set_speed(ref, "vda", 1, 0),
    ):
        with pytest.raises(VirError) as exc:
            call()
        expect(
            exc,
            ErrorNumber.OPERATION_INVALID,
            "Requested operation is not valid: domain is not running",
            ErrorDomain.DOMAIN,
        )
    # as libvirt, an inactive domain's XML names the disk's source, no backing chain
    inactive = qemu_driver.domain_get_xml_desc(ref, 0)
    assert f"<source file='{chain.top}'/>" in inactive
    assert "backingStore" not in inactive


def test_qemu_killed_mid_pull(running, qemu_root, recorder):
    conn, ref, _, _ = running
    conn.domain_block_pull(ref, "vda", 1, 0)
    import json

    with open(os.path.join(qemu_root, "run", "qemu", "guest.json")) as src:
        status = json.load(src)
    assert status["jobs"]["vda"]["device"] == "drive-virtio-disk0"
    os.kill(status["pid"], signal.SIGKILL)
    assert recorder.wait_for(
        lambda evs: any(
            isinstance(e, LifecycleEvent) and e.event == DomainEventType.STOPPED for e in evs
        )
    )
    stopped = [e for e in recorder.events if isinstance(e, LifecycleEvent)][-1]
    assert stopped.detail == DomainEventStoppedDetailType.FAILED
    assert conn.domain_get_state(ref, 0) == (DomainState.SHUTOFF, DomainShutoffReason.CRASHED)
    with pytest.raises(VirError) as exc:
        conn.domain_get_block_job_info(ref, "vda", 0)
    expect(
        exc,
        ErrorNumber.OPERATION_INVALID,
        "Requested operation is not valid: domain is not running",
        ErrorDomain.DOMAIN,
    )
    assert not os.path.exists(os.path.join(qemu_root, "run", "qemu", "guest.json"))
    # the domain can run again
    conn.domain_create(ref, 0)
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None


def test_qemu_terminated_reports_shutdown(running, qemu_root, recorder):
    conn, ref, _, _ = running
    import json

    with open(os.path.join(qemu_root, "run", "qemu", "guest.json")) as src:
        pid = json.load(src)["pid"]
    os.kill(pid, signal.SIGTERM)
    assert recorder.wait_for(
        lambda evs: any(
            isinstance(e, LifecycleEvent) and e.event == DomainEventType.STOPPED for e in evs
        )
    )
    assert conn.domain_get_state(ref, 0) == (DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN)


def test_concurrent_info_calls_share_queries(running):
    import threading

    conn, ref, chain, _ = running
    conn.domain_block_pull(ref, "vda", 1, 0)
    results, errors = [], []

    def poll():
        try:
            for _ in range(50):
                results.append(conn.domain_get_block_job_info(ref, "vda", 0))
        except VirError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == 200
    assert all(r.type == PULL and r.bandwidth == 1 and r.end == chain.size for r in results)
