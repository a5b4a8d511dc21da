"""The qemu driver refuses copy-on-read on a read-only disk, at define and at start."""

from __future__ import annotations

import os

import pytest

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.qemu import open_driver
from tests.qemu.test_driver import URI

UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
MESSAGE = "unsupported configuration: copy_on_read is not compatible with read-only disk 'vdb'"


def _xml(cor: str, readonly: bool) -> str:
    ro = "<readonly/>" if readonly else ""
    return (
        f"<domain type='qemu'><name>ro</name><uuid>{UUID}</uuid><memory>65536</memory><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='/images/a.qcow2'/><target dev='vda'/></disk>"
        f"<disk type='file' device='disk'><driver name='qemu' type='raw' copy_on_read='{cor}'/>"
        f"<source file='/images/b.img'/><target dev='vdb'/>{ro}</disk>"
        "</devices></domain>"
    )


def _check(err: VirError) -> None:
    assert (err.code, err.domain) == (ErrorNumber.CONFIG_UNSUPPORTED, ErrorDomain.QEMU)
    assert err.message == MESSAGE


def test_define_refuses_and_writes_nothing(tmp_path):
    conn = open_driver(URI(str(tmp_path)))
    try:
        with pytest.raises(VirError) as exc:
            conn.domain_define_xml(_xml("on", readonly=True), 0)
        _check(exc.value)
        assert conn.list_all_domains(0) == []
        assert not [n for n in os.listdir(tmp_path / "etc" / "qemu") if n.endswith(".xml")]
        # off on a read-only disk, and on on a writable one, are fine
        conn.domain_define_xml(_xml("off", readonly=True), 0)
        conn.domain_define_xml(_xml("on", readonly=False), 0)
    finally:
        conn.close()


def test_start_refuses_a_stored_definition(tmp_path):
    config = tmp_path / "etc" / "qemu"
    config.mkdir(parents=True)
    (config / "ro.xml").write_text(_xml("on", readonly=True))  # e.g. written by an older version
    conn = open_driver(URI(str(tmp_path)))
    try:
        dom = conn.lookup_by_name("ro")
        with pytest.raises(VirError) as exc:
            conn.domain_create(dom, 0)
        _check(exc.value)
        assert conn.domain_get_state(dom, 0)[0] == 5  # still shut off
        assert not (tmp_path / "log" / "qemu" / "ro.log").exists()  # QEMU never ran
    finally:
        conn.close()
