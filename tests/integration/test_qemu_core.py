"""The qemu driver reached through minivirt.core, as applications do."""

from __future__ import annotations

import threading

import pytest

import minivirt.wiring  # noqa: F401  (registers the drivers with core)
from minivirt import core
from minivirt.public import (
    DomainBlockJobStatus,
    DomainBlockJobType,
    DomainEventID,
    ErrorNumber,
    VirError,
)


def test_pull_through_core(qemu_uri, images, domain_yaml, event_loop):
    chain = images.chain(32)
    original = images.snapshot_of(chain.top, "original.raw")
    conn = core.open(qemu_uri)
    got: list[tuple[str, int, int]] = []
    done = threading.Event()

    def on_block_job(conn_, dom, disk, type_, status, opaque):
        got.append((disk, type_, status))
        if status == DomainBlockJobStatus.COMPLETED:
            done.set()

    try:
        dom = conn.define_xml(domain_yaml("viacore", [("vda", chain.top)]))
        conn.domain_event_register_any(None, DomainEventID.BLOCK_JOB_2, on_block_job)
        dom.create()
        assert dom.is_active()
        with pytest.raises(VirError) as exc:
            dom.block_pull("vdz")
        assert exc.value.message == "invalid argument: disk 'vdz' not found in domain"
        dom.block_pull("vda", 0)
        assert done.wait(60)
        assert got == [("vda", DomainBlockJobType.PULL, DomainBlockJobStatus.COMPLETED)]
        assert dom.get_block_job_info("vda") is None
        dom.destroy()
        assert images.backing_file(chain.top) is None
        assert images.same_data(chain.top, original)
        with pytest.raises(VirError) as exc:
            dom.block_pull("vda")
        assert exc.value.code == ErrorNumber.OPERATION_INVALID
    finally:
        for d in conn.list_all_domains(1):
            d.destroy()
        conn.close()
