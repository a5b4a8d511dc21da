"""The series' test script (patch 8) through minivirt.bindings on a real QEMU (qemu:///embed).

A libvirt-python user's steps: qemu-img images, defineXML, create, a
BLOCK_JOB callback, blockPull with blockJobInfo polled until cur == end, the
COMPLETED event, and ``qemu-img info`` after QEMU exits showing the overlay
stands alone with the same data; then set-speed and abort (CANCELED) leaving
the backing file in place.  Every QEMU is destroyed in ``finally`` and
``qemu_root`` kills leftovers even if that fails.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import minivirt.bindings as libvirt
from tests.bindings.blockjob_script import (
    DOMAIN_XML,
    backing_file_of,
    make_images,
    pull_and_wait,
    set_speed_then_abort,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def conn(qemu_uri: str) -> Iterator[libvirt.virConnect]:
    libvirt.virEventRegisterDefaultImpl()
    c = libvirt.open(qemu_uri)
    yield c
    for dom in c.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        dom.destroy()
    c.close()


def same_data(a: Path, b: Path) -> bool:
    return subprocess.run(["qemu-img", "compare", "-U", str(a), str(b)]).returncode == 0


def flat_copy(image: Path, copy: Path) -> Path:
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(image), str(copy)], check=True)
    return copy


def run_script(conn: libvirt.virConnect, tmp_path: Path) -> None:
    """The scenario itself, shared with the qemu+tcp test."""
    _, overlay = make_images(tmp_path, size_mib=32, data_mib=16)
    original = flat_copy(overlay, tmp_path / "original.raw")
    dom = conn.defineXML(DOMAIN_XML.format(name="pull8", uuid=uuid.uuid4(), overlay=overlay))
    try:
        assert dom.create() == 0
        assert dom.isActive() == 1
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        assert dom.blockJobInfo("vda") == {}

        # set-speed and abort first: the chain is still there afterwards
        events, info = set_speed_then_abort(conn, dom, "vda")
        assert info["type"] == libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL
        assert info["bandwidth"] == 2
        assert 0 <= info["cur"] <= info["end"]
        assert events.statuses() == [libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED]
        assert events.received[0][2] == str(overlay)
        assert backing_file_of(overlay) is not None

        # the full pull
        events, infos = pull_and_wait(conn, dom, "vda")
        assert [e[1:] for e in events.received] == [
            (
                "pull8",
                str(overlay),
                libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL,
                libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED,
                "pull",
            )
        ]
        assert all(i["end"] == infos[0]["end"] for i in infos)
        assert "<backingStore type=" not in dom.XMLDesc()
        assert dom.destroy() == 0
        assert dom.isActive() == 0
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    # QEMU has exited: the overlay stands alone and reads as before
    assert backing_file_of(overlay) is None
    assert same_data(overlay, original)


def test_patch8_script_on_real_qemu(conn, tmp_path: Path) -> None:
    assert conn.getType() == "QEMU"
    run_script(conn, tmp_path)


def test_errors_from_the_qemu_driver(conn, tmp_path: Path) -> None:
    _, overlay = make_images(tmp_path)
    dom = conn.defineXML(DOMAIN_XML.format(name="errs", uuid=uuid.uuid4(), overlay=overlay))
    try:
        with pytest.raises(libvirt.libvirtError) as exc:
            dom.blockPull("vda")
        assert exc.value.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID
        assert str(exc.value) == "Requested operation is not valid: domain is not running"
        dom.create()
        with pytest.raises(libvirt.libvirtError) as exc:
            dom.blockPull("vdz")
        assert exc.value.get_error_code() == libvirt.VIR_ERR_INVALID_ARG
        assert exc.value.get_error_domain() == libvirt.VIR_FROM_QEMU
        assert str(exc.value) == "invalid argument: disk 'vdz' not found in domain"
        with pytest.raises(libvirt.libvirtError) as exc:
            dom.blockJobAbort("vda")
        assert exc.value.get_error_code() == libvirt.VIR_ERR_INVALID_ARG
        assert str(exc.value) == "invalid argument: disk vda does not have an active block job"
        assert dom.blockJobInfo("vda") == {}
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
