"""test:///default: open, shared state, lookups, define/undefine, lifecycle, XML, events."""

from __future__ import annotations

import pytest
from conftest import DEFAULT, URI

from minivirt.public import (
    DomainEventID,
    DomainEventType,
    DomainInfo,
    DomainRef,
    DomainState,
    ErrorDomain,
    ErrorNumber,
    LifecycleEvent,
    VirError,
)
from minivirt.testdrv import TEST_DOMAIN_UUID, open_test_driver, shared_hypervisor

TEST = DomainRef("test", TEST_DOMAIN_UUID, 1)
NEW_UUID = "11111111-2222-3333-4444-555555555555"
NEW_XML = f"""<domain type='qemu'><name>new</name><uuid>{NEW_UUID}</uuid>
<memory unit='MiB'>64</memory><devices>
<disk type='file' device='disk'><source file='/img/new.qcow2'/><target dev='vda'/></disk>
</devices></domain>"""
NEW_YAML = f"name: new\nuuid: {NEW_UUID}\nmemory: 64\n"


def raises(fn, code, domain, message):
    with pytest.raises(VirError) as info:
        fn()
    assert (info.value.code, info.value.domain, info.value.message) == (
        int(code),
        int(domain),
        message,
    )
    return info.value


@pytest.mark.parametrize(
    "uri",
    [URI("qemu"), URI("test", host="h"), URI("test", path="/system"), URI("test", path="/")],
)
def test_declines_other_uris(clock, uri):
    assert open_test_driver(uri, False) is None
    assert shared_hypervisor() is None


def test_connection_basics(drv):
    assert drv.get_type() == "Test"
    assert drv.get_version() == 2
    assert drv.get_hostname()
    assert drv.is_alive()


def test_closed_connection_refuses(clock):
    d = open_test_driver(DEFAULT, True)
    assert d.read_only
    d.close()
    d.close()  # idempotent
    assert not d.is_alive()
    raises(
        lambda: d.lookup_by_name("test"),
        ErrorNumber.INVALID_CONN,
        ErrorDomain.TEST,
        "invalid connection pointer in connection is closed",
    )


def test_state_shared_while_open_and_reset_after_last_close(clock):
    a = open_test_driver(DEFAULT, False)
    b = open_test_driver(DEFAULT, True)
    a.domain_define_xml(NEW_XML, 0)
    assert b.lookup_by_name("new").uuid == NEW_UUID
    a.close()
    assert b.lookup_by_name("new").uuid == NEW_UUID
    b.close()
    assert shared_hypervisor() is None
    c = open_test_driver(DEFAULT, False)
    try:
        raises(
            lambda: c.lookup_by_name("new"),
            ErrorNumber.NO_DOMAIN,
            ErrorDomain.TEST,
            "Domain not found: no domain with matching name 'new'",
        )
    finally:
        c.close()


def test_predefined_domain(drv):
    assert drv.lookup_by_name("test") == TEST
    assert drv.lookup_by_id(1) == TEST
    assert drv.lookup_by_uuid(TEST_DOMAIN_UUID.upper()) == TEST
    info = drv.domain_get_info(TEST)
    assert (info.state, info.max_mem, info.memory, info.nr_virt_cpu) == (1, 8388608, 2097152, 2)
    assert info.cpu_time > 0
    assert drv.domain_get_state(TEST, 0) == (DomainState.RUNNING, 1)
    assert drv.list_all_domains(0) == [TEST]
    xml = drv.domain_get_xml_desc(TEST, 0)
    assert "<domain type='qemu' id='1'>" in xml
    assert "<source file='/guest/diskimage1'/>" in xml
    assert "<source file='/guest/template.qcow2'/>" in xml
    assert "<alias name='virtio-disk0'/>" in xml
    inactive = drv.domain_get_xml_desc(TEST, 2)
    assert "id=" not in inactive and "backingStore" not in inactive


LOOKUP_MISSES = [
    ("name", lambda d: d.lookup_by_name("x"), "no domain with matching name 'x'"),
    ("id", lambda d: d.lookup_by_id(5), "no domain with matching id 5"),
    (
        "uuid",
        lambda d: d.lookup_by_uuid(NEW_UUID),
        f"no domain with matching uuid '{NEW_UUID}'",
    ),
    (
        "ref",
        lambda d: d.domain_get_info(DomainRef("gone", NEW_UUID)),
        f"no domain with matching uuid '{NEW_UUID}' (gone)",
    ),
    (
        "ref-xml",
        lambda d: d.domain_get_xml_desc(DomainRef("gone", NEW_UUID), 0),
        f"no domain with matching uuid '{NEW_UUID}' (gone)",
    ),
]


@pytest.mark.parametrize(
    ("fn", "detail"), [r[1:] for r in LOOKUP_MISSES], ids=[r[0] for r in LOOKUP_MISSES]
)
def test_lookup_misses(drv, fn, detail):
    raises(lambda: fn(drv), ErrorNumber.NO_DOMAIN, ErrorDomain.TEST, f"Domain not found: {detail}")


def test_inactive_domain_has_no_id(drv):
    drv.domain_define_xml(NEW_XML, 0)
    raises(
        lambda: drv.lookup_by_id(-1),
        ErrorNumber.NO_DOMAIN,
        ErrorDomain.TEST,
        "Domain not found: no domain with matching id -1",
    )


@pytest.mark.parametrize("doc", [NEW_XML, NEW_YAML])
def test_define_start_destroy_undefine(drv, doc):
    ref = drv.domain_define_xml(doc, 0)
    assert ref == DomainRef("new", NEW_UUID, -1)
    assert drv.domain_get_state(ref, 0) == (DomainState.SHUTOFF, 0)
    assert drv.domain_get_info(ref) == DomainInfo(5, 65536, 65536, 1, 0)
    assert [r.name for r in drv.list_all_domains(0)] == ["new", "test"]
    live = drv.domain_create(ref, 0)
    assert live.id == 2
    assert drv.lookup_by_id(2) == live
    assert drv.domain_get_state(ref, 0) == (DomainState.RUNNING, 1)
    raises(
        lambda: drv.domain_create(ref, 0),
        ErrorNumber.OPERATION_INVALID,
        ErrorDomain.TEST,
        "Requested operation is not valid: domain is already running",
    )
    drv.domain_destroy(live, 0)
    assert drv.domain_get_state(ref, 0) == (DomainState.SHUTOFF, 2)
    raises(
        lambda: drv.domain_destroy(ref, 0),
        ErrorNumber.OPERATION_INVALID,
        ErrorDomain.DOMAIN,
        "Requested operation is not valid: domain is not running",
    )
    assert drv.domain_create(ref, 0).id == 3  # ids are never reused
    drv.domain_destroy(ref, 0)
    drv.domain_undefine(ref, 0)
    raises(
        lambda: drv.lookup_by_name("new"),
        ErrorNumber.NO_DOMAIN,
        ErrorDomain.TEST,
        "Domain not found: no domain with matching name 'new'",
    )


def test_list_filters(drv):
    drv.domain_define_xml(NEW_XML, 0)
    names = lambda flags: [r.name for r in drv.list_all_domains(flags)]  # noqa: E731
    assert names(1) == ["test"]
    assert names(2) == ["new"]
    assert names(3) == ["new", "test"]
    assert names(4) == ["new", "test"]
    assert names(8) == []
    drv.domain_undefine(TEST, 0)  # running: becomes transient
    assert names(8) == ["test"]
    assert names(1 | 4) == []


def test_undefine_running_makes_transient_then_destroy_removes(drv):
    drv.domain_undefine(TEST, 0)
    assert drv.lookup_by_name("test") == TEST
    raises(
        lambda: drv.domain_undefine(TEST, 0),
        ErrorNumber.OPERATION_INVALID,
        ErrorDomain.TEST,
        "Requested operation is not valid: cannot undefine transient domain",
    )
    drv.domain_destroy(TEST, 0)
    raises(
        lambda: drv.lookup_by_name("test"),
        ErrorNumber.NO_DOMAIN,
        ErrorDomain.TEST,
        "Domain not found: no domain with matching name 'test'",
    )


def test_redefine_updates_config(drv):
    ref = drv.domain_define_xml(NEW_XML, 0)
    drv.domain_define_xml(NEW_YAML.replace("memory: 64", "memory: 128"), 0)
    assert drv.domain_get_info(ref).max_mem == 131072
    # a running domain keeps its live definition until it stops
    drv.domain_create(ref, 0)
    drv.domain_define_xml(NEW_YAML.replace("memory: 64", "memory: 32"), 0)
    assert drv.domain_get_info(ref).max_mem == 131072
    assert "<memory unit='KiB'>32768</memory>" in drv.domain_get_xml_desc(ref, 2)
    drv.domain_destroy(ref, 0)
    assert drv.domain_get_info(ref).max_mem == 32768


def test_define_conflicts(drv):
    raises(
        lambda: drv.domain_define_xml(NEW_YAML.replace("name: new", "name: test"), 0),
        ErrorNumber.OPERATION_FAILED,
        ErrorDomain.DOMAIN,
        f"operation failed: domain 'test' already exists with uuid {TEST_DOMAIN_UUID}",
    )
    raises(
        lambda: drv.domain_define_xml(f"name: other\nuuid: {TEST_DOMAIN_UUID}\nmemory: 1\n", 0),
        ErrorNumber.OPERATION_FAILED,
        ErrorDomain.DOMAIN,
        f"operation failed: domain 'test' is already defined with uuid {TEST_DOMAIN_UUID}",
    )
    raises(
        lambda: drv.domain_define_xml("name: bad/name\nmemory: 1\n", 0),
        ErrorNumber.XML_ERROR,
        ErrorDomain.DOMAIN,
        "XML error: domain name 'bad/name' must not contain '/'",
    )
    assert [r.name for r in drv.list_all_domains(0)] == ["test"]  # nothing changed


FLAG_ROWS = [
    ("define", lambda d: d.domain_define_xml(NEW_XML, 2), 2, "testDomainDefineXMLFlags"),
    ("undefine", lambda d: d.domain_undefine(TEST, 0x80), 0x80, "testDomainUndefineFlags"),
    ("create", lambda d: d.domain_create(TEST, 1), 1, "testDomainCreateWithFlags"),
    ("destroy", lambda d: d.domain_destroy(TEST, 2), 2, "testDomainDestroyFlags"),
    ("state", lambda d: d.domain_get_state(TEST, 1), 1, "testDomainGetState"),
    ("xml", lambda d: d.domain_get_xml_desc(TEST, 0x10), 0x10, "testDomainGetXMLDesc"),
    ("list", lambda d: d.list_all_domains(0x30), 0x30, "testConnectListAllDomains"),
]


@pytest.mark.parametrize(
    ("fn", "bits", "function"), [r[1:] for r in FLAG_ROWS], ids=[r[0] for r in FLAG_ROWS]
)
def test_unsupported_flags(drv, fn, bits, function):
    raises(
        lambda: fn(drv),
        ErrorNumber.INVALID_ARG,
        ErrorDomain.TEST,
        f"unsupported flags (0x{bits:x}) in function {function}",
    )
    assert drv.domain_get_state(TEST, 0) == (DomainState.RUNNING, 1)


def test_register_without_event_loop_fails(drv, monkeypatch):
    from minivirt.events import loop as loop_module

    monkeypatch.setattr(loop_module, "event_add_timeout", lambda *a: -1)
    raises(
        lambda: drv.connect_domain_event_register_any(None, DomainEventID.LIFECYCLE, print),
        ErrorNumber.INTERNAL_ERROR,
        ErrorDomain.NONE,
        "internal error: could not initialize domain event timer",
    )


def test_lifecycle_events(drv, loop, collector):
    cid = drv.connect_domain_event_register_any(None, DomainEventID.LIFECYCLE, collector)
    ref = drv.domain_define_xml(NEW_XML, 0)
    drv.domain_define_xml(NEW_XML, 0)
    live = drv.domain_create(ref, 0)
    drv.domain_destroy(ref, 0)
    drv.domain_undefine(ref, 0)
    events = collector.wait(5)
    assert events == [
        LifecycleEvent(ref, DomainEventType.DEFINED, 0),
        LifecycleEvent(ref, DomainEventType.DEFINED, 1),
        LifecycleEvent(live, DomainEventType.STARTED, 0),
        LifecycleEvent(live, DomainEventType.STOPPED, 1),
        LifecycleEvent(ref, DomainEventType.UNDEFINED, 0),
    ]
    drv.connect_domain_event_deregister_any(cid)
    raises(
        lambda: drv.connect_domain_event_deregister_any(cid),
        ErrorNumber.INVALID_ARG,
        ErrorDomain.NONE,
        f"invalid argument: could not find event callback {cid} for deletion",
    )


def test_events_reach_every_connection_and_respect_domain_filter(drv, loop, collector, clock):
    from conftest import Collector

    other = open_test_driver(DEFAULT, False)
    try:
        second = Collector()
        other.connect_domain_event_register_any(TEST, DomainEventID.LIFECYCLE, second)
        drv.connect_domain_event_register_any(None, DomainEventID.LIFECYCLE, collector)
        drv.domain_define_xml(NEW_XML, 0)
        drv.domain_destroy(TEST, 0)
        assert len(collector.wait(2)) == 2
        assert [e.event for e in second.wait(1)] == [DomainEventType.STOPPED]
    finally:
        other.close()
