"""The series' test script (patch 8) on test:///default."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import minivirt.bindings as libvirt

from .blockjob_script import (
    DOMAIN_XML,
    make_images,
    pull_and_wait,
    run_loop_until,
    set_speed_then_abort,
)

# set_speed_then_abort on a defined domain needs a hypervisor that reads the
# images' backing chains: see tests/integration/test_bindings_*.py.


def _backing_in_xml(dom: libvirt.virDomain) -> bool:
    return "<backingStore type=" in dom.XMLDesc(0)


def test_pull_completes_and_drops_the_backing_file(conn, dom) -> None:
    assert _backing_in_xml(dom)
    events, infos = pull_and_wait(conn, dom, "vda")
    assert events.received == [
        (
            conn,
            "test",
            "/guest/diskimage1",
            libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL,
            libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED,
            "pull",
        )
    ]
    assert infos, "blockJobInfo never showed the running job"
    assert all(type(v) is int for info in infos for v in info.values())
    assert sorted(infos[0]) == ["bandwidth", "cur", "end", "type"]
    assert dom.blockJobInfo("vda") == {}
    assert not _backing_in_xml(dom)


def test_set_speed_then_abort_is_canceled_and_keeps_the_backing_file(conn, dom) -> None:
    events, info = set_speed_then_abort(conn, dom, "vda")
    assert info["bandwidth"] == 2
    assert info["type"] == libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL
    assert events.statuses() == [libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED]
    assert events.received[0][2] == "/guest/diskimage1"
    assert _backing_in_xml(dom)


def test_defined_domain_from_xml_with_qemu_img_images(conn, tmp_path: Path) -> None:
    _, overlay = make_images(tmp_path)
    xml = DOMAIN_XML.format(name="pull8", uuid=uuid.uuid4(), overlay=overlay)
    dom = conn.defineXML(xml)
    try:
        assert dom.isActive() == 0
        assert dom.create() == 0
        assert dom.isActive() == 1
        assert dom.ID() > 0
        # The disk may be named by its source path.  The test driver does not
        # open image files: it knows no backing chain for them, so (as QEMU
        # with nothing to stream) the job completes at once.
        events, _ = pull_and_wait(conn, dom, str(overlay))
        assert events.statuses() == [libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED]
        assert events.received[0][2] == str(overlay)
        assert dom.destroy() == 0
        assert dom.isActive() == 0
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()


def test_block_job_2_reports_the_target_name(conn, dom) -> None:
    seen: list[tuple[object, ...]] = []

    def cb(c, d, disk, type, status, opaque):
        seen.append((c, d.UUIDString(), disk, type, status, opaque))

    cid = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, cb, [1])
    try:
        pull_and_wait(conn, dom, "vda")
    finally:
        conn.domainEventDeregisterAny(cid)
    assert seen == [
        (
            conn,
            dom.UUIDString(),
            "vda",
            libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL,
            libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED,
            [1],
        )
    ]


def test_bandwidth_flags_and_rebase(conn, dom) -> None:
    done: list[int] = []
    cid = conn.domainEventRegisterAny(
        dom, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, lambda *a: done.append(a[4]), None
    )
    try:
        assert dom.blockRebase("vda", None, 1, 0) == 0
        assert dom.blockJobInfo("vda")["bandwidth"] == 1
        info = dom.blockJobInfo("vda", libvirt.VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES)
        assert info["bandwidth"] == 1 << 20
        assert (
            dom.blockJobSetSpeed("vda", 3 << 20, libvirt.VIR_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES)
            == 0
        )
        assert dom.blockJobInfo("vda")["bandwidth"] == 3
        with pytest.raises(libvirt.libvirtError) as exc:
            dom.blockPull("vda")
        assert exc.value.get_error_code() == libvirt.VIR_ERR_OPERATION_UNSUPPORTED
        assert str(exc.value) == "Operation not supported: disk 'vda' already in active block job"
        assert dom.blockJobAbort("vda") == 0
        run_loop_until(lambda: bool(done))
    finally:
        conn.domainEventDeregisterAny(cid)
    assert done == [libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED]
