"""Copy-on-read seen working on real QEMU, through the monitor passthrough.

A read inside QEMU (HMP ``qemu-io``) on a copy-on-read overlay copies the
blocks it read from the template into the overlay, before any pull:
``qemu-img map`` shows them at depth 0.  Without copy-on-read they stay in
the template.  The same through ``qemu:///embed`` (core), libvirt-python's
``libvirt_qemu`` surface, and minivirtd over TCP (with minivirsh).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import minivirt.bindings as libvirt
import minivirt.bindings.qemu as libvirt_qemu
import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.public import ErrorDomain, ErrorNumber, VirError
from tests.daemon.daemon_process import DaemonProcess

MIB = 1 << 20
READ = 'qemu-io drive-virtio-disk0 "read 4M 2M"'


def depth_of(image: str, offset: int, length: int) -> set[int]:
    """The chain depths ``qemu-img map`` reports for [offset, offset+length) of ``image``."""
    out = subprocess.run(
        ["qemu-img", "map", "-U", "--output=json", image], check=True, capture_output=True
    ).stdout
    depths = set()
    for ext in json.loads(out):
        if ext["start"] < offset + length and ext["start"] + ext["length"] > offset:
            depths.add(ext["depth"])
    return depths


def _yaml(top: str, cor: str, fmt: str = "qed") -> str:
    return (
        "name: cor\nmemory: 64\n"
        f"disks:\n  - {{target: vda, source: '{top}', format: {fmt}, copy_on_read: '{cor}'}}\n"
    )


@pytest.fixture
def template(images):
    base = images.base("template.raw", 16, fmt="raw")
    return base, images.overlay(base, "disk.qed", backing_fmt="raw", fmt="qed")


@pytest.mark.parametrize("fmt", ["qed", "qcow2"])
@pytest.mark.parametrize(("cor", "depth"), [("on", 0), ("off", 1)])
def test_a_read_copies_into_the_overlay(qemu_uri, images, event_loop, fmt, cor, depth):
    base = images.base("template.raw", 16, fmt="raw")
    top = images.overlay(base, f"disk.{fmt}", backing_fmt="raw", fmt=fmt)
    conn = core.open(qemu_uri)
    dom = conn.define_xml(_yaml(top, cor, fmt))
    dom.create()
    try:
        assert f"copy_on_read='{cor}'" in dom.get_xml_desc()
        assert depth_of(top, 4 * MIB, 2 * MIB) == {1}
        assert "Error" not in dom.qemu_monitor_command(READ, 1)  # qemu-io reports on QEMU's stdout
        # qcow2 keeps its tables cached: flush so that qemu-img sees them in the file
        assert "Error" not in dom.qemu_monitor_command("qemu-io drive-virtio-disk0 flush", 1)
        assert depth_of(top, 4 * MIB, 2 * MIB) == {depth}
        assert depth_of(top, 8 * MIB, 2 * MIB) == {1}  # what was not read stays below
    finally:
        dom.destroy()
        conn.close()


def test_qmp_replies_and_errors(qemu_uri, template, event_loop):
    _, top = template
    conn = core.open(qemu_uri)
    dom = conn.define_xml(_yaml(top, "on"))
    with pytest.raises(VirError) as exc:
        dom.qemu_monitor_command('{"execute":"query-status"}')
    assert (exc.value.code, exc.value.domain, exc.value.message) == (
        ErrorNumber.OPERATION_INVALID,
        ErrorDomain.DOMAIN,
        "Requested operation is not valid: domain is not running",
    )
    dom.create()
    try:
        status = json.loads(dom.qemu_monitor_command('{"execute":"query-status"}'))
        assert status["return"]["running"] is True and status["id"].startswith("libvirt-")
        text = dom.qemu_monitor_command('{"execute":"nope"}')
        assert text.startswith('{"id":"libvirt-')
        assert text.endswith(
            '"error":{"class":"CommandNotFound","desc":"The command nope has not been found"}}'
        )
        assert dom.qemu_monitor_command('{"foo":1}') == (
            '{"error":{"class":"GenericError","desc":"QMP input member \'foo\' is unexpected"}}'
        )
        assert dom.qemu_monitor_command("info status", 1) == "VM status: running\r\n"
        for bad, code, domain, message in [
            ("[1]", 1, ErrorDomain.QEMU, "internal error: Unable to append command 'id' string"),
            (
                '{"execute":"query-status","id":"mine"}',
                1,
                ErrorDomain.QEMU,
                "internal error: Unable to append command 'id' string",
            ),
        ]:
            with pytest.raises(VirError) as exc:
                dom.qemu_monitor_command(bad)
            assert (exc.value.code, exc.value.domain, exc.value.message) == (code, domain, message)
        with pytest.raises(VirError) as exc:
            dom.qemu_monitor_command("foo")
        assert (exc.value.code, exc.value.domain) == (ErrorNumber.INTERNAL_ERROR, ErrorDomain.NONE)
        assert exc.value.message.startswith("internal error: cannot parse json foo: ")
        with pytest.raises(VirError) as exc:
            dom.qemu_monitor_command("info status", 2)
        assert exc.value.message == (
            "unsupported flags (0x2) in function qemuDomainQemuMonitorCommandWithFiles"
        )
        # the domain is still fine after every refusal
        assert dom.qemu_monitor_command("info status", 1) == "VM status: running\r\n"
    finally:
        dom.destroy()
        conn.close()


def test_bindings(qemu_uri, template, event_loop):
    _, top = template
    conn = libvirt.open(qemu_uri)
    dom = conn.defineXML(_yaml(top, "on"))
    dom.create()
    try:
        hmp = libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
        assert "Error" not in libvirt_qemu.qemuMonitorCommand(dom, READ, hmp)
        assert depth_of(top, 4 * MIB, 2 * MIB) == {0}
        ro = libvirt.openReadOnly(qemu_uri)
        with pytest.raises(libvirt.libvirtError) as exc:
            libvirt_qemu.qemuMonitorCommand(ro.lookupByName("cor"), "info status", 1)
        assert exc.value.get_error_code() == libvirt.VIR_ERR_OPERATION_DENIED
        assert exc.value.get_error_domain() == libvirt.VIR_FROM_NONE
        ro.close()
    finally:
        dom.destroy()
        conn.close()


@pytest.mark.timeout(120)
def test_over_tcp(tmp_path, qemu_root, template, event_loop):
    _, top = template
    daemon = DaemonProcess(tmp_path, uri=f"qemu:///embed?root={qemu_root}")
    try:
        conn = core.open(daemon.url("qemu", "/system"))
        for bad, code, domain, text in [
            (
                _yaml(top, "on").replace("copy_on_read", "readonly: true, copy_on_read"),
                ErrorNumber.CONFIG_UNSUPPORTED,
                ErrorDomain.QEMU,
                "unsupported configuration: copy_on_read is not compatible with read-only disk 'vda'",
            ),
            (
                _yaml(top, "maybe"),
                ErrorNumber.XML_ERROR,
                ErrorDomain.DOMAIN,
                "XML error: Invalid value for attribute 'copy_on_read' in element 'driver': "
                "'maybe'.",
            ),
        ]:
            with pytest.raises(VirError) as exc:
                conn.define_xml(bad)
            assert (exc.value.code, exc.value.domain, exc.value.message) == (code, domain, text)
        assert conn.list_all_domains() == []  # nothing was written
        dom = conn.define_xml(_yaml(top, "on"))
        dom.create()
        try:
            assert "Error" not in dom.qemu_monitor_command(READ, 1)
            assert depth_of(top, 4 * MIB, 2 * MIB) == {0}
            reply = json.loads(dom.qemu_monitor_command('{"execute":"query-name"}'))
            assert reply["return"] == {"name": "cor"}
            shell = subprocess.run(
                [
                    *(sys.executable, "-m", "minivirt.shell", "-c", daemon.url("qemu", "/system")),
                    *("qemu-monitor-command", "cor", "--pretty", "query-name"),
                ],
                capture_output=True,
                text=True,
            )
            assert (shell.returncode, shell.stdout) == (
                0,
                '{\n  "return": {\n    "name": "cor"\n  },\n  "id": "libvirt-2"\n}\n',
            ), shell.stderr
            with pytest.raises(VirError) as exc:
                dom.qemu_monitor_command("info status", 4)
            assert (exc.value.code, exc.value.domain) == (ErrorNumber.INVALID_ARG, ErrorDomain.QEMU)
        finally:
            dom.destroy()
        ro = core.open_read_only(daemon.url("qemu", "/system"))
        with pytest.raises(VirError) as exc:
            ro.lookup_by_name("cor").qemu_monitor_command("info status", 1)
        assert (exc.value.code, exc.value.domain) == (
            ErrorNumber.OPERATION_DENIED,
            ErrorDomain.NONE,
        )
        ro.close()
        conn.close()
    finally:
        assert daemon.stop() == 0
