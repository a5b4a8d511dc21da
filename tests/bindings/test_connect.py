"""virConnect / virDomain on test:///default: lookups, listings, definitions, lifecycle, events."""

from __future__ import annotations

import os
import uuid

import pytest

import minivirt.bindings as libvirt
from tests.reallibvirt import real

from .blockjob_script import run_loop_until
from .conftest import TEST_DOMAIN, TEST_URI, TEST_UUID

XML = """<domain type='kvm'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu>2</vcpu>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/images/{name}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<domain type='kvm'><name>laughs</name><memory>65536</memory><description>&lol4;</description></domain>
"""


def _raises(call) -> libvirt.libvirtError:
    with pytest.raises(libvirt.libvirtError) as info:
        call()
    return info.value


REAL_TEST_DRIVER = """
c = libvirt.open("test:///default")
d = c.lookupByName("test")
result = {
    "type": c.getType(), "version": c.getVersion(), "lib": c.getLibVersion(),
    "hostname": c.getHostname(), "id": d.ID(), "uuid": d.UUIDString(),
    "info": d.info()[:4], "state": d.state(), "ids": c.listDomainsID(),
}
c.close()
"""


@pytest.fixture(scope="module")
def real_test_driver() -> dict:
    """What the real libvirt-python says of its test:///default (the expected values)."""
    return real(REAL_TEST_DRIVER)


def test_connection_queries(conn, real_test_driver) -> None:
    assert conn.getURI() == TEST_URI
    assert conn.getType() == real_test_driver["type"] == "TEST"
    assert conn.getVersion() == real_test_driver["version"]
    assert conn.getLibVersion() == real_test_driver["lib"]
    assert conn.getHostname() == real_test_driver["hostname"]
    assert conn.listDomainsID() == real_test_driver["ids"]
    assert conn.isAlive() == 1


def test_context_manager_closes() -> None:
    with libvirt.open(TEST_URI) as c:
        assert c.isAlive() == 1
    assert c.isAlive() == 0


def test_lookups_agree(conn, dom) -> None:
    assert dom.name() == TEST_DOMAIN
    assert dom.UUIDString() == TEST_UUID
    assert dom.UUID() == uuid.UUID(TEST_UUID).bytes
    assert dom.ID() == 1
    assert dom.connect() is conn
    for other in (
        conn.lookupByID(1),
        conn.lookupByUUIDString(TEST_UUID),
        conn.lookupByUUIDString(TEST_UUID.upper()),
        conn.lookupByUUID(uuid.UUID(TEST_UUID).bytes),
    ):
        assert isinstance(other, libvirt.virDomain)
        assert (other.name(), other.UUIDString(), other.ID()) == ("test", TEST_UUID, 1)


def test_listings(conn) -> None:
    assert [d.name() for d in conn.listAllDomains()] == [TEST_DOMAIN]
    assert [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)] == [
        TEST_DOMAIN
    ]
    assert conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE) == []
    assert conn.listDomainsID() == [1]
    assert conn.listDefinedDomains() == []
    assert conn.numOfDomains() == 1
    assert conn.numOfDefinedDomains() == 0


def test_domain_state_and_info(dom, real_test_driver) -> None:
    assert dom.isActive() == 1
    assert dom.isPersistent() == 1
    assert dom.state() == [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_UNKNOWN]
    state, max_mem, memory, vcpus, cpu_time = dom.info()
    assert state == libvirt.VIR_DOMAIN_RUNNING
    assert [state, max_mem, memory, vcpus] == real_test_driver["info"]
    assert dom.state() == real_test_driver["state"]
    assert (dom.ID(), dom.UUIDString()) == (real_test_driver["id"], real_test_driver["uuid"])
    assert cpu_time > 0
    assert all(type(v) is int for v in dom.info() + dom.state())
    assert f"<name>{TEST_DOMAIN}</name>" in dom.XMLDesc()
    assert dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).startswith("<domain")


def test_define_start_destroy_undefine(conn) -> None:
    u = str(uuid.uuid4())
    dom = conn.defineXML(XML.format(name="d1", uuid=u))
    assert (dom.name(), dom.UUIDString(), dom.ID()) == ("d1", u, -1)
    assert dom.isActive() == 0
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert conn.listDefinedDomains() == ["d1"]
    assert "<source file='/images/d1.qcow2'/>" in dom.XMLDesc()
    assert "<vcpu" in dom.XMLDesc() and ">2</vcpu>" in dom.XMLDesc()
    assert dom.createWithFlags(0) == 0
    assert dom.isActive() == 1 and dom.ID() > 1
    assert sorted(conn.listDomainsID()) == sorted([1, dom.ID()])
    assert dom.destroy() == 0
    assert dom.ID() == -1
    assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED]
    assert dom.undefine() == 0
    assert conn.listDefinedDomains() == []
    exc = _raises(lambda: conn.lookupByName("d1"))
    assert exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN


def test_define_yaml(conn) -> None:
    dom = conn.defineYAML(
        "name: y1\nmemory: 64\nvcpus: 1\n"
        "disks:\n  - {target: vda, source: /images/y1.qcow2, format: qcow2}\n"
    )
    try:
        assert dom.name() == "y1"
        assert conn.lookupByName("y1").UUIDString() == dom.UUIDString()
        assert "<target dev='vda'" in dom.XMLDesc()
    finally:
        dom.undefine()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (BILLION_LAUGHS, "XML error: DOCTYPE declarations are not allowed"),
        (
            "<domain type='kvm'><name>big</name><memory>65536</memory><description>"
            + "x" * (1 << 20)
            + "</description></domain>",
            "XML error: document is larger than 1048576 bytes",
        ),
        ("<domain type='kvm'><name>x", "XML error: (domain_definition):1: no element found"),
    ],
    ids=["billion-laughs", "over-1MiB", "malformed"],
)
def test_hostile_xml_is_refused_and_defines_nothing(conn, document: str, message: str) -> None:
    before = [d.UUIDString() for d in conn.listAllDomains()]
    exc = _raises(lambda: conn.defineXML(document))
    assert exc.get_error_code() == libvirt.VIR_ERR_XML_ERROR
    assert exc.get_error_domain() == libvirt.VIR_FROM_DOMAIN
    assert str(exc) == message
    assert [d.UUIDString() for d in conn.listAllDomains()] == before
    for name in ("laughs", "big", "x"):
        assert _raises(lambda n=name: conn.lookupByName(n)).get_error_code() == (
            libvirt.VIR_ERR_NO_DOMAIN
        )


def test_lifecycle_events(conn) -> None:
    seen: list[tuple[object, ...]] = []

    def cb(c, d, event, detail, opaque):
        seen.append((c, d.name(), event, detail, opaque))

    cid = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, "o")
    assert cid in conn.domainEventCallbackID
    try:
        dom = conn.defineXML(XML.format(name="life", uuid=uuid.uuid4()))
        dom.create()
        dom.destroy()
        dom.undefine()
        run_loop_until(lambda: len(seen) >= 4)
    finally:
        conn.domainEventDeregisterAny(cid)
    assert cid not in conn.domainEventCallbackID
    assert seen == [
        (
            conn,
            "life",
            libvirt.VIR_DOMAIN_EVENT_DEFINED,
            libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED,
            "o",
        ),
        (
            conn,
            "life",
            libvirt.VIR_DOMAIN_EVENT_STARTED,
            libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED,
            "o",
        ),
        (
            conn,
            "life",
            libvirt.VIR_DOMAIN_EVENT_STOPPED,
            libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
            "o",
        ),
        (
            conn,
            "life",
            libvirt.VIR_DOMAIN_EVENT_UNDEFINED,
            libvirt.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED,
            "o",
        ),
    ]
    assert all(type(x) is int for e in seen for x in e[2:4])


def test_domain_filter_and_deregistration(conn, dom) -> None:
    other = conn.defineXML(XML.format(name="other", uuid=uuid.uuid4()))
    try:
        seen: list[str] = []
        cid = conn.domainEventRegisterAny(
            other, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, lambda *a: seen.append(a[1].name()), None
        )
        conn.domainEventDeregisterAny(cid)
        exc = _raises(lambda: conn.domainEventDeregisterAny(cid))
        assert exc.get_error_code() == libvirt.VIR_ERR_INVALID_ARG
        cid = conn.domainEventRegisterAny(
            other, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, lambda *a: seen.append(a[1].name()), None
        )
        probe: list[int] = []
        cid2 = conn.domainEventRegisterAny(
            dom, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, lambda *a: probe.append(a[4]), None
        )
        dom.blockPull("vda")
        run_loop_until(lambda: bool(probe))
        conn.domainEventDeregisterAny(cid)
        conn.domainEventDeregisterAny(cid2)
        assert seen == []
    finally:
        other.undefine()


def test_dispatcher_is_looked_up_on_the_connection(conn, dom) -> None:
    class Tracing(libvirt.virConnect):
        calls: list[tuple[object, ...]] = []

        def _dispatchDomainEventBlockJobCallback(self, dom, disk, type, status, cbData):
            Tracing.calls.append((disk, type, status, sorted(cbData)))
            return super()._dispatchDomainEventBlockJobCallback(dom, disk, type, status, cbData)

    traced = Tracing(_obj=conn._o)
    got: list[object] = []
    cid = traced.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, lambda *a: got.append(a[0]), None
    )
    try:
        traced.lookupByName("test").blockPull("vda")
        run_loop_until(lambda: bool(got))
    finally:
        traced.domainEventDeregisterAny(cid)
    assert got == [traced]
    assert Tracing.calls == [
        (
            "/guest/diskimage1",
            libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL,
            libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED,
            ["cb", "conn", "opaque"],
        )
    ]


def test_attribute_error_in_a_block_job_callback_is_swallowed(conn, dom) -> None:
    hits: list[int] = []

    def broken(c, d, disk, type, status, opaque):
        hits.append(status)
        raise AttributeError("as libvirt-python, swallowed")

    cid = conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, broken, None)
    try:
        dom.blockPull("vda")
        run_loop_until(lambda: bool(hits))
    finally:
        conn.domainEventDeregisterAny(cid)
    assert hits == [libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED]


def test_register_rejects_bad_event_ids(conn) -> None:
    exc = _raises(lambda: conn.domainEventRegisterAny(None, 99, lambda *a: None, None))
    assert exc.get_error_code() == libvirt.VIR_ERR_INVALID_ARG
    assert str(exc) == ("eventID in virConnectDomainEventRegisterAny must be less than 27")
    assert conn.domainEventCallbackID == {}


def test_read_only_connection_may_register_and_query(ro_conn) -> None:
    dom = ro_conn.lookupByName("test")
    assert dom.blockJobInfo("vda") == {}
    cid = ro_conn.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, lambda *a: None, None
    )
    ro_conn.domainEventDeregisterAny(cid)


def test_timers_and_handles() -> None:
    fired: list[tuple[int, object]] = []
    timer = libvirt.virEventAddTimeout(0, lambda t, o: fired.append((t, o)), "t")
    try:
        run_loop_until(lambda: bool(fired))
        libvirt.virEventUpdateTimeout(timer, -1)
    finally:
        assert libvirt.virEventRemoveTimeout(timer) == 0
    assert fired[0] == (timer, "t")

    r, w = os.pipe()
    got: list[tuple[int, int, int, object]] = []
    watch = libvirt.virEventAddHandle(
        r, libvirt.VIR_EVENT_HANDLE_READABLE, lambda *a: got.append(a), "h"
    )
    try:
        libvirt.virEventUpdateHandle(watch, libvirt.VIR_EVENT_HANDLE_READABLE)
        os.write(w, b"x")
        run_loop_until(lambda: bool(got))
    finally:
        assert libvirt.virEventRemoveHandle(watch) == 0
        os.close(r)
        os.close(w)
    assert got[0] == (watch, r, libvirt.VIR_EVENT_HANDLE_READABLE, "h")
    exc = _raises(lambda: libvirt.virEventRemoveHandle(watch))
    assert str(exc) == "virEventRemoveHandle() failed"
