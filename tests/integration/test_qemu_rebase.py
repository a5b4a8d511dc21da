"""Partial pull (BlockRebase with a base) on a three-image chain in a real QEMU."""

from __future__ import annotations

import pytest

from minivirt.public import (
    DomainBlockJobStatus,
    DomainBlockRebaseFlags,
    DomainEventID,
    ErrorDomain,
    ErrorNumber,
    VirError,
)

from .test_qemu_blockpull import block_events, wait_status


@pytest.fixture
def three(images):
    """base (0xab everywhere) <- mid (0x22 at 8 MiB) <- top (0x33 at 16 MiB)."""

    def make(relative: bool):
        base = images.base("base.qcow2", 32)
        mid = images.overlay(base, "mid.qcow2", relative=relative, writes=[(0x22, 8, 2)])
        top = images.overlay(mid, "top.qcow2", relative=relative, writes=[(0x33, 16, 1)])
        return base, mid, top

    return make


def start(conn, domain_yaml, recorder, top):
    conn.connect_domain_event_register_any(None, DomainEventID.BLOCK_JOB_2, recorder)
    ref = conn.domain_define_xml(domain_yaml("chain", [("vda", top)]), 0)
    return conn.domain_create(ref, 0)


@pytest.mark.parametrize("by_index", [False, True])
def test_partial_pull_keeps_the_base(qemu_driver, images, domain_yaml, recorder, three, by_index):
    base, mid, top = three(relative=False)
    original = images.snapshot_of(top, "original.raw")
    ref = start(qemu_driver, domain_yaml, recorder, top)
    xml = qemu_driver.domain_get_xml_desc(ref, 0)
    assert xml.index(mid) < xml.index(base)
    qemu_driver.domain_block_rebase(ref, "vda", "vda[3]" if by_index else base, 0, 0)
    wait_status(recorder, DomainBlockJobStatus.COMPLETED, 1)
    xml = qemu_driver.domain_get_xml_desc(ref, 0)
    assert mid not in xml and base in xml
    qemu_driver.domain_destroy(ref, 0)
    chain = images.info(top)
    assert [c["filename"] for c in chain] == [top, base]
    assert chain[0]["backing-filename"] == base
    assert images.same_data(top, original)


def test_partial_pull_relative(qemu_driver, images, domain_yaml, recorder, three):
    base, _mid, top = three(relative=True)
    original = images.snapshot_of(top, "original.raw")
    ref = start(qemu_driver, domain_yaml, recorder, top)
    qemu_driver.domain_block_rebase(ref, "vda", base, 0, DomainBlockRebaseFlags.RELATIVE)
    wait_status(recorder, DomainBlockJobStatus.COMPLETED, 1)
    qemu_driver.domain_destroy(ref, 0)
    assert images.backing_file(top) == "base.qcow2"
    assert images.same_data(top, original)


def test_relative_needs_relative_links(qemu_driver, images, domain_yaml, recorder, three):
    base, _, top = three(relative=False)
    ref = start(qemu_driver, domain_yaml, recorder, top)
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_block_rebase(ref, "vda", base, 0, DomainBlockRebaseFlags.RELATIVE)
    assert (exc.value.code, exc.value.domain, exc.value.message) == (
        ErrorNumber.OPERATION_INVALID,
        ErrorDomain.QEMU,
        "Requested operation is not valid: can't keep relative backing relationship",
    )
    assert qemu_driver.domain_get_block_job_info(ref, "vda", 0) is None
    assert block_events(recorder) == []


def test_rebase_without_base_is_a_full_pull(qemu_driver, images, domain_yaml, recorder, three):
    _, _, top = three(relative=False)
    original = images.snapshot_of(top, "original.raw")
    ref = start(qemu_driver, domain_yaml, recorder, top)
    qemu_driver.domain_block_rebase(ref, "vda", None, 0, 0)
    wait_status(recorder, DomainBlockJobStatus.COMPLETED, 1)
    qemu_driver.domain_destroy(ref, 0)
    assert images.backing_file(top) is None
    assert images.same_data(top, original)
