"""virDomainQemuMonitorCommand's checks, in libvirt-qemu.c's order, with its error domains."""

from __future__ import annotations

import pytest

from minivirt import core
from minivirt.public import DomainQemuMonitorCommandFlags, ErrorDomain, ErrorNumber, VirError
from tests.core.conftest import RecordingDriver

FN = "virDomainQemuMonitorCommand"


class QemuDriver(RecordingDriver):
    unsupported_slots = RecordingDriver.unsupported_slots - {"domain_qemu_monitor_command"}

    def domain_qemu_monitor_command(self, dom, cmd, flags):  # type: ignore[no-untyped-def]
        self.calls.append(("domain_qemu_monitor_command", dom, cmd, flags))
        return '{"return":{},"id":"libvirt-1"}'


def _factory(uri, read_only):  # type: ignore[no-untyped-def]
    return QemuDriver() if uri.scheme == "fakeqemu" else None


core.register_driver("fakeqemu", _factory)


def _err(exc: pytest.ExceptionInfo[VirError]) -> tuple[int, int, str]:
    return exc.value.code, exc.value.domain, exc.value.message


def test_dispatches_with_flags():
    conn = core.open("fakeqemu:///x")
    dom = conn.lookup_by_name("fakedom")
    hmp = DomainQemuMonitorCommandFlags.HMP
    assert dom.qemu_monitor_command("info status", hmp) == '{"return":{},"id":"libvirt-1"}'
    assert conn.driver.calls[-1] == ("domain_qemu_monitor_command", dom.ref, "info status", 1)
    core.domain_qemu_monitor_command(dom, '{"execute":"stop"}')
    assert conn.driver.calls[-1][2:] == ('{"execute":"stop"}', 0)
    conn.close()


def test_read_only_is_refused_from_error_domain_none():
    conn = core.open_read_only("fakeqemu:///x")
    dom = conn.lookup_by_name("fakedom")
    with pytest.raises(VirError) as exc:
        dom.qemu_monitor_command("info status", 1)
    assert _err(exc) == (
        ErrorNumber.OPERATION_DENIED,
        ErrorDomain.NONE,
        f"operation forbidden: read only access prevents {FN}",
    )
    assert not [c for c in conn.driver.calls if c[0] == "domain_qemu_monitor_command"]
    conn.close()


def test_driver_without_the_slot(conn):
    dom = conn.lookup_by_name("fakedom")
    with pytest.raises(VirError) as exc:
        dom.qemu_monitor_command("info status", 1)
    assert _err(exc) == (
        ErrorNumber.NO_SUPPORT,
        ErrorDomain.NONE,
        f"this function is not supported by the connection driver: {FN}",
    )


def test_bad_handle_and_arguments(conn):
    with pytest.raises(VirError) as exc:
        core.domain_qemu_monitor_command("fakedom", "x")  # type: ignore[arg-type]
    assert _err(exc)[:2] == (ErrorNumber.INVALID_DOMAIN, ErrorDomain.DOM)
    dom = conn.lookup_by_name("fakedom")
    conn.close()
    with pytest.raises(VirError) as exc:
        dom.qemu_monitor_command("x")
    assert _err(exc)[:2] == (ErrorNumber.INVALID_DOMAIN, ErrorDomain.DOM)
    qconn = core.open("fakeqemu:///x")
    qdom = qconn.lookup_by_name("fakedom")
    with pytest.raises(VirError) as exc:
        qdom.qemu_monitor_command(None)  # type: ignore[arg-type]
    assert _err(exc) == (
        ErrorNumber.INVALID_ARG,
        ErrorDomain.NONE,
        f"cmd in {FN} must not be NULL",
    )
    with pytest.raises(VirError) as exc:
        qdom.qemu_monitor_command("x", "1")  # type: ignore[arg-type]
    assert exc.value.code == ErrorNumber.INVALID_ARG
    assert not [c for c in qconn.driver.calls if c[0] == "domain_qemu_monitor_command"]
    qconn.close()
