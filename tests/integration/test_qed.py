"""QED overlays on qcow2 and raw templates, end to end on real QEMU, as for qcow2.

The series' own scenario (QED disks on a shared template): start, full pull,
pull down to a base, abort, the BLOCK_JOB events, and the data compared with
``qemu-img compare`` after QEMU is gone.
"""

from __future__ import annotations

import pytest

from minivirt.public import BlockJobEvent, DomainBlockJobStatus, DomainBlockJobType, DomainEventID

PULL = int(DomainBlockJobType.PULL)


def _events(recorder, status):
    return [e for e in recorder.events if isinstance(e, BlockJobEvent) and e.status == status]


def _wait(recorder, status):
    assert recorder.wait_for(lambda _: len(_events(recorder, status)) >= 2), recorder.events


def _yaml(top: str, cor: str | None = None) -> str:
    extra = "" if cor is None else f", copy_on_read: '{cor}'"
    return (
        f"name: qed\nmemory: 64\ndisks:\n  - {{target: vda, source: '{top}', format: qed{extra}}}\n"
    )


@pytest.fixture(params=["qcow2", "raw"])
def template(request, images):
    fmt = request.param
    return images.base(f"template.{fmt}", 32, fmt=fmt), fmt


@pytest.fixture
def watched(qemu_driver, recorder):
    for event_id in (DomainEventID.BLOCK_JOB, DomainEventID.BLOCK_JOB_2):
        qemu_driver.connect_domain_event_register_any(None, event_id, recorder)
    return qemu_driver


@pytest.mark.parametrize("cor", [None, "on"])
def test_full_pull(watched, images, template, recorder, cor):
    conn = watched
    base, fmt = template
    top = images.overlay(base, "disk.qed", backing_fmt=fmt, fmt="qed", writes=[(0x22, 1, 1)])
    original = images.snapshot_of(top, "original.raw")
    ref = conn.domain_create(conn.domain_define_xml(_yaml(top, cor), 0), 0)
    xml = conn.domain_get_xml_desc(ref, 0)
    assert "<driver name='qemu' type='qed'" in xml
    assert f"<format type='{fmt}'/>" in xml and f"<source file='{base}'/>" in xml
    conn.domain_block_pull(ref, "vda", 0, 0)
    _wait(recorder, DomainBlockJobStatus.COMPLETED)
    assert [(e.disk, e.type) for e in _events(recorder, 0)] == [(top, PULL), ("vda", PULL)]
    assert base not in conn.domain_get_xml_desc(ref, 0)
    conn.domain_destroy(ref, 0)
    assert images.backing_file(top) is None
    assert images.info(top)[0]["format"] == "qed"
    assert images.same_data(top, original)


def test_pull_with_a_base(watched, images, template, recorder):
    conn = watched
    base, fmt = template
    mid = images.overlay(base, "mid.qed", backing_fmt=fmt, fmt="qed", writes=[(0x33, 2, 1)])
    top = images.overlay(mid, "top.qed", backing_fmt="qed", fmt="qed", writes=[(0x44, 3, 1)])
    original = images.snapshot_of(top, "original.raw")
    ref = conn.domain_create(conn.domain_define_xml(_yaml(top), 0), 0)
    conn.domain_block_rebase(ref, "vda", base, 0, 0)
    _wait(recorder, DomainBlockJobStatus.COMPLETED)
    xml = conn.domain_get_xml_desc(ref, 0)
    assert mid not in xml and f"<source file='{base}'/>" in xml
    conn.domain_destroy(ref, 0)
    assert images.backing_file(top) == base
    assert images.same_data(top, original)


def test_abort_keeps_the_template(watched, images, template, recorder):
    conn = watched
    base, fmt = template
    top = images.overlay(base, "disk.qed", backing_fmt=fmt, fmt="qed")
    original = images.snapshot_of(top, "original.raw")
    ref = conn.domain_create(conn.domain_define_xml(_yaml(top), 0), 0)
    conn.domain_block_pull(ref, "vda", 1, 0)
    conn.domain_block_job_abort(ref, "vda", 0)
    assert conn.domain_get_block_job_info(ref, "vda", 0) is None
    _wait(recorder, DomainBlockJobStatus.CANCELED)
    conn.domain_destroy(ref, 0)
    assert images.backing_file(top) == base
    assert images.same_data(top, original)


@pytest.mark.timeout(120)
def test_qed_pull_over_tcp(tmp_path, qemu_root, images, template, event_loop):
    import queue

    import minivirt.wiring  # noqa: F401
    from minivirt import core
    from tests.daemon.daemon_process import DaemonProcess

    base, fmt = template
    top = images.overlay(base, "disk.qed", backing_fmt=fmt, fmt="qed", writes=[(0x22, 1, 1)])
    original = images.snapshot_of(top, "original.raw")
    daemon = DaemonProcess(tmp_path, uri=f"qemu:///embed?root={qemu_root}")
    try:
        conn = core.open(daemon.url("qemu", "/system"))
        got: queue.Queue = queue.Queue()
        conn.domain_event_register_any(
            None, DomainEventID.BLOCK_JOB, lambda c, d, disk, t, s, o: got.put((disk, t, s))
        )
        dom = conn.define_xml(_yaml(top, "on"))
        dom.create()
        assert "copy_on_read='on'" in dom.get_xml_desc()
        dom.block_pull("vda", 0)
        assert got.get(timeout=60) == (top, PULL, DomainBlockJobStatus.COMPLETED)
        dom.destroy()
        conn.close()
    finally:
        assert daemon.stop() == 0
    assert images.backing_file(top) is None
    assert images.same_data(top, original)
