"""minivirtd's faults on real QEMU: the daemon killed or stopped mid-pull, QEMU killed.

A daemon SIGKILLed in the middle of a pull and started again finds the
domain, its job and its progress; the job completes and a client that
reconnected gets COMPLETED; the data are those of the original chain.
SIGTERM leaves QEMU running for the next daemon.  QEMU SIGKILLed under a
remote client: the domain is shut off (crashed), the lifecycle event crosses
the wire, calls say "domain is not running", nothing hangs.
"""

from __future__ import annotations

import json
import os
import queue
import signal

import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.public import (
    DomainBlockJobStatus,
    DomainBlockJobType,
    DomainEventID,
    DomainEventStoppedDetailType,
    DomainEventType,
    DomainShutoffReason,
    DomainState,
    ErrorNumber,
    VirError,
)
from tests.daemon.daemon_process import DaemonProcess

pytestmark = pytest.mark.timeout(180)


class Daemons:
    """Starts minivirtd on one qemu root, again and again; stops them all at the end."""

    def __init__(self, tmp_path, root):
        self.tmp_path, self.root, self.started, self.conns = tmp_path, root, [], []

    def start(self):
        run = self.tmp_path / f"d{len(self.started)}"
        run.mkdir()
        d = DaemonProcess(run, uri=f"qemu:///embed?root={self.root}")
        self.started.append(d)
        return d

    def open(self, d):
        conn = core.open(d.url("qemu", "/system"))
        self.conns.append(conn)
        return conn

    def close(self):
        for conn in self.conns:
            try:
                conn.close()
            except VirError:
                pass
        for d in self.started:
            d.stop()


@pytest.fixture
def daemons(tmp_path, qemu_root, event_loop):
    ds = Daemons(tmp_path, qemu_root)
    yield ds
    ds.close()


def _status(root, name="guest"):
    with open(os.path.join(root, "run", "qemu", f"{name}.json")) as src:
        return json.load(src)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_daemon_killed_mid_pull_and_restarted(daemons, qemu_root, images, domain_yaml):
    chain = images.chain(32)
    original = images.snapshot_of(chain.top, "original.raw")
    d1 = daemons.start()
    conn = daemons.open(d1)
    dom = conn.define_xml(domain_yaml("guest", [("vda", chain.top)]))
    dom.create()
    dom.block_pull("vda", 1)  # 1 MiB/s: still running when the daemon dies
    started = dom.get_block_job_info("vda")
    assert started is not None and started.type == DomainBlockJobType.PULL
    qemu_pid = _status(qemu_root)["pid"]

    d1.proc.send_signal(signal.SIGKILL)
    d1.proc.wait()
    with pytest.raises(VirError):
        conn.get_type()  # the old connection is dead, not hanging
    assert _alive(qemu_pid)  # QEMU outlives its daemon

    d2 = daemons.start()
    conn2 = daemons.open(d2)
    got: queue.Queue = queue.Queue()
    conn2.domain_event_register_any(
        None, DomainEventID.BLOCK_JOB, lambda c, d, disk, t, s, o: got.put((d.name, t, s))
    )
    dom2 = conn2.lookup_by_name("guest")
    assert dom2.is_active()
    info = dom2.get_block_job_info("vda")
    assert info is not None and info.type == DomainBlockJobType.PULL  # the job is visible
    assert info.end == chain.size and 0 < info.cur <= info.end  # with its progress
    dom2.block_job_set_speed("vda", 0)  # let it finish
    assert got.get(timeout=120) == (
        "guest",
        DomainBlockJobType.PULL,
        DomainBlockJobStatus.COMPLETED,
    )
    assert dom2.get_block_job_info("vda") is None
    dom2.destroy()
    assert images.backing_file(chain.top) is None
    assert images.same_data(chain.top, original)


def test_sigterm_leaves_qemu_to_the_next_daemon(daemons, qemu_root, images, domain_yaml):
    chain = images.chain(16)
    d1 = daemons.start()
    conn = daemons.open(d1)
    conn.define_xml(domain_yaml("guest", [("vda", chain.top)])).create()
    qemu_pid = _status(qemu_root)["pid"]
    conn.close()
    daemons.conns.remove(conn)
    assert d1.stop() == 0
    assert _alive(qemu_pid)
    d2 = daemons.start()
    dom = daemons.open(d2).lookup_by_name("guest")
    assert dom.get_state()[0] == DomainState.RUNNING
    assert _status(qemu_root)["pid"] == qemu_pid
    dom.destroy()
    assert not _alive(qemu_pid) or _status_gone(qemu_root)


def _status_gone(root):
    return not os.path.exists(os.path.join(root, "run", "qemu", "guest.json"))


def test_qemu_killed_mid_pull_under_a_remote_client(daemons, qemu_root, images, domain_yaml):
    chain = images.chain(32)
    d = daemons.start()
    conn = daemons.open(d)
    events: queue.Queue = queue.Queue()
    conn.domain_event_register_any(
        None, DomainEventID.LIFECYCLE, lambda c, dom, ev, detail, o: events.put((ev, detail))
    )
    dom = conn.define_xml(domain_yaml("guest", [("vda", chain.top)]))
    dom.create()
    dom.block_pull("vda", 1)
    os.kill(_status(qemu_root)["pid"], signal.SIGKILL)
    while (event := events.get(timeout=60))[0] != DomainEventType.STOPPED:
        pass
    assert event == (DomainEventType.STOPPED, DomainEventStoppedDetailType.FAILED)
    assert dom.get_state() == (DomainState.SHUTOFF, DomainShutoffReason.CRASHED)
    with pytest.raises(VirError) as info:
        dom.get_block_job_info("vda")
    assert (info.value.code, info.value.message) == (
        ErrorNumber.OPERATION_INVALID,
        "Requested operation is not valid: domain is not running",
    )
    assert images.backing_file(chain.top) == chain.base  # chain intact
    assert conn.get_type() == "QEMU"  # the daemon goes on
