"""minivirt.bindings over the remote driver: a real minivirtd on a free loopback port.

The same libvirt-python script as on local URIs, unchanged, against
``qemu+tcp://127.0.0.1:PORT/system`` (the daemon serving a real QEMU through
``qemu:///embed``) and ``test+tcp://…/default`` (the daemon serving the test
driver).  The daemon is terminated and every QEMU destroyed in teardown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import minivirt.bindings as libvirt
from tests.bindings.blockjob_script import pull_and_wait, set_speed_then_abort
from tests.daemon.daemon_process import DaemonProcess as Daemon

from .test_bindings_qemu import run_script

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def qemu_daemon(tmp_path: Path, qemu_uri: str) -> Iterator[Daemon]:
    d = Daemon(tmp_path, uri=qemu_uri)
    yield d
    d.stop()


@pytest.fixture
def test_daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path, uri="test:///default")
    yield d
    d.stop()


def _open(uri: str) -> libvirt.virConnect:
    libvirt.virEventRegisterDefaultImpl()
    return libvirt.open(uri)


def test_patch8_script_over_qemu_tcp(qemu_daemon: Daemon, tmp_path: Path) -> None:
    uri = f"qemu+tcp://127.0.0.1:{qemu_daemon.port}/system"
    conn = _open(uri)
    try:
        assert conn.getURI() == uri
        assert conn.getType() == "QEMU"
        assert conn.isAlive() == 1
        run_script(conn, tmp_path)
    finally:
        for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            dom.destroy()
        conn.close()


def test_remote_errors_keep_code_domain_and_message(qemu_daemon: Daemon) -> None:
    conn = _open(f"qemu+tcp://127.0.0.1:{qemu_daemon.port}/system")
    try:
        with pytest.raises(libvirt.libvirtError) as exc:
            conn.lookupByName("nope")
        assert exc.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
        assert exc.value.get_error_domain() == libvirt.VIR_FROM_QEMU
        assert str(exc.value) == "Domain not found: no domain with matching name 'nope'"
    finally:
        conn.close()


def test_test_driver_over_tcp(test_daemon: Daemon) -> None:
    conn = _open(f"test+tcp://127.0.0.1:{test_daemon.port}/default")
    try:
        dom = conn.lookupByName("test")
        events, info = set_speed_then_abort(conn, dom, "vda")
        assert info["bandwidth"] == 2
        assert events.statuses() == [libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED]
        events, _ = pull_and_wait(conn, dom, "vda")
        assert [e[2:5] for e in events.received] == [
            (
                "/guest/diskimage1",
                libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL,
                libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED,
            )
        ]
        assert "<backingStore type=" not in dom.XMLDesc()
    finally:
        conn.close()
    assert conn.isAlive() == 0
