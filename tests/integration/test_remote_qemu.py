"""End to end over TCP: minivirtd serving a real QEMU (qemu:///embed) to a qemu+tcp client.

Block pull on a real qcow2 chain, driven and observed remotely: the call goes
through the client driver, the wire, the daemon, core and the qemu driver;
the BLOCK_JOB event comes back over the wire.  The daemon is terminated and
every QEMU killed at teardown (the root's status files, see conftest).
"""

from __future__ import annotations

import queue

import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.public import (
    DomainBlockJobStatus,
    DomainBlockJobType,
    DomainEventID,
    ErrorDomain,
    ErrorNumber,
    VirError,
)
from tests.daemon.daemon_process import DaemonProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def remote(tmp_path, qemu_root, event_loop):
    daemon = DaemonProcess(tmp_path, uri=f"qemu:///embed?root={qemu_root}")
    conn = core.open(daemon.url("qemu", "/system"))
    try:
        yield conn
    finally:
        for dom in conn.list_all_domains(1):
            try:
                dom.destroy()
            except VirError:
                pass
        conn.close()
        assert daemon.stop() == 0  # clean exit on SIGTERM


def test_block_pull_over_tcp(remote, images, domain_yaml):
    chain = images.chain(32)
    original = images.snapshot_of(chain.top, "original.raw")
    got: queue.Queue = queue.Queue()
    remote.domain_event_register_any(
        None, DomainEventID.BLOCK_JOB, lambda c, d, disk, t, s, o: got.put((d.name, disk, t, s))
    )
    dom = remote.define_xml(domain_yaml("guest", [("vda", chain.top)]))
    dom.create()
    assert remote.get_type() == "QEMU"
    assert dom.is_active() and chain.base in dom.get_xml_desc()
    assert dom.get_block_job_info("vda") is None

    with pytest.raises(VirError) as info:
        dom.block_job_abort("vda")
    # the qemu driver's own error crosses the wire intact
    assert (info.value.code, info.value.domain, info.value.message) == (
        ErrorNumber.INVALID_ARG,
        ErrorDomain.QEMU,
        "invalid argument: disk vda does not have an active block job",
    )

    dom.block_pull("vda", 0)
    name, disk, jtype, status = got.get(timeout=60)
    assert (name, disk, jtype, status) == (
        "guest",
        chain.top,
        DomainBlockJobType.PULL,
        DomainBlockJobStatus.COMPLETED,
    )
    assert dom.get_block_job_info("vda") is None
    assert chain.base not in dom.get_xml_desc()
    dom.destroy()
    assert images.backing_file(chain.top) is None
    assert images.same_data(chain.top, original)
