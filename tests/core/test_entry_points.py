"""Conformance table for the entry points: libvirt's checks, in libvirt's order.

Each row: a call, then the exact (code, domain, message) and whether the
driver may have been reached.
"""

from __future__ import annotations

import pytest

from minivirt import core
from minivirt.public import ErrorDomain, ErrorNumber, VirError

from .conftest import REF

E = ErrorNumber
D = ErrorDomain


def _dom(conn: core.Connection) -> core.Domain:
    return conn.lookup_by_name(REF.name)


def _closed_dom() -> core.Domain:
    c = core.open("fake:///x")
    d = _dom(c)
    c.close()
    return d


ENTRY_ERRORS = [
    # invalid domain handle (None or closed connection): VIR_FROM_DOM
    (
        lambda c: core.domain_block_pull(None, "vda", 0, 0),
        E.INVALID_DOMAIN,
        D.DOM,
        "invalid domain pointer in virDomainBlockPull",
    ),
    (
        lambda c: core.domain_get_block_job_info(None, "vda", 0),
        E.INVALID_DOMAIN,
        D.DOM,
        "invalid domain pointer in virDomainGetBlockJobInfo",
    ),
    (
        lambda c: core.domain_block_job_abort(None, "vda", 0),
        E.INVALID_DOMAIN,
        D.DOM,
        "invalid domain pointer in virDomainBlockJobAbort",
    ),
    (
        lambda c: core.domain_block_job_set_speed(None, "vda", 1, 0),
        E.INVALID_DOMAIN,
        D.DOM,
        "invalid domain pointer in virDomainBlockJobSetSpeed",
    ),
    (
        lambda c: core.domain_block_rebase(None, "vda", None, 0, 0),
        E.INVALID_DOMAIN,
        D.DOM,
        "invalid domain pointer in virDomainBlockRebase",
    ),
    (
        lambda c: _closed_dom().block_pull("vda"),
        E.INVALID_DOMAIN,
        D.DOM,
        "invalid domain pointer in virDomainBlockPull",
    ),
    (
        lambda c: core.domain_block_pull("test", "vda", 0, 0),
        E.INVALID_DOMAIN,
        D.DOM,
        "invalid domain pointer in virDomainBlockPull",
    ),
    # NULL disk
    (
        lambda c: _dom(c).block_pull(None),
        E.INVALID_ARG,
        D.DOMAIN,
        "disk in virDomainBlockPull must not be NULL",
    ),
    (
        lambda c: _dom(c).get_block_job_info(None),
        E.INVALID_ARG,
        D.DOMAIN,
        "disk in virDomainGetBlockJobInfo must not be NULL",
    ),
    (
        lambda c: _dom(c).block_job_abort(None),
        E.INVALID_ARG,
        D.DOMAIN,
        "disk in virDomainBlockJobAbort must not be NULL",
    ),
    (
        lambda c: _dom(c).block_job_set_speed(None, 1),
        E.INVALID_ARG,
        D.DOMAIN,
        "disk in virDomainBlockJobSetSpeed must not be NULL",
    ),
    (
        lambda c: _dom(c).block_rebase(None, None),
        E.INVALID_ARG,
        D.DOMAIN,
        "disk in virDomainBlockRebase must not be NULL",
    ),
    # wrong Python types are refused before the driver
    (
        lambda c: _dom(c).block_pull(3),
        E.INVALID_ARG,
        D.DOMAIN,
        "disk in virDomainBlockPull must be a string",
    ),
    (
        lambda c: _dom(c).block_pull("vda", "10"),
        E.INVALID_ARG,
        D.DOMAIN,
        "bandwidth in virDomainBlockPull must be an integer",
    ),
    (
        lambda c: _dom(c).block_job_abort("vda", 1.5),
        E.INVALID_ARG,
        D.DOMAIN,
        "flags in virDomainBlockJobAbort must be an integer",
    ),
    # rebase flag sanity
    (
        lambda c: _dom(c).block_rebase("vda", None, 0, 8),
        E.INVALID_ARG,
        D.DOMAIN,
        "base in virDomainBlockRebase must not be NULL",
    ),
    (
        lambda c: _dom(c).block_rebase("vda", "/b", 0, 1),
        E.INVALID_ARG,
        D.DOMAIN,
        "use of flags requires a copy job",
    ),
    # lookups
    (
        lambda c: c.lookup_by_name(None),
        E.INVALID_ARG,
        D.DOMAIN,
        "name in virDomainLookupByName must not be NULL",
    ),
    (
        lambda c: c.lookup_by_id(-1),
        E.INVALID_ARG,
        D.DOMAIN,
        "id in virDomainLookupByID must be zero or greater",
    ),
    (
        lambda c: c.lookup_by_uuid_string("nope"),
        E.INVALID_ARG,
        D.DOMAIN,
        "uuidstr in virDomainLookupByUUIDString must be a valid UUID",
    ),
    # events
    (
        lambda c: c.domain_event_register_any(None, 99, print),
        E.INVALID_ARG,
        D.DOMAIN,
        "eventID in virConnectDomainEventRegisterAny must be less than 27",
    ),
    (
        lambda c: c.domain_event_register_any(None, -1, print),
        E.INVALID_ARG,
        D.DOMAIN,
        "eventID in virConnectDomainEventRegisterAny must be zero or greater",
    ),
    (
        lambda c: c.domain_event_register_any(None, 8, None),
        E.INVALID_ARG,
        D.DOMAIN,
        "cb in virConnectDomainEventRegisterAny must not be NULL",
    ),
    (
        lambda c: c.domain_event_register_any(_closed_dom(), 8, print),
        E.INVALID_DOMAIN,
        D.DOM,
        "invalid domain pointer in virConnectDomainEventRegisterAny",
    ),
]


@pytest.mark.parametrize(("call", "code", "domain", "message"), ENTRY_ERRORS)
def test_core_check_fails_before_the_driver(conn, call, code, domain, message) -> None:
    drv = conn.driver
    with pytest.raises(VirError) as info:
        call(conn)
    err = info.value
    assert (err.code, err.domain, err.message) == (code, domain, message)
    block_calls = [c for c in drv.calls if c[0] != "lookup_by_name"]
    assert block_calls == []


READ_ONLY_DENIED = [
    (lambda d: d.block_pull("vda"), "virDomainBlockPull"),
    (lambda d: d.block_rebase("vda", None), "virDomainBlockRebase"),
    (lambda d: d.block_job_abort("vda"), "virDomainBlockJobAbort"),
    (lambda d: d.block_job_set_speed("vda", 1), "virDomainBlockJobSetSpeed"),
    (lambda d: d.create(), "virDomainCreate"),
    (lambda d: d.destroy(), "virDomainDestroy"),
    (lambda d: d.undefine(), "virDomainUndefine"),
    (lambda d: d.conn.define_xml("<domain/>"), "virDomainDefineXML"),
    # read-only comes before the NULL check, as in libvirt
    (lambda d: d.block_pull(None), "virDomainBlockPull"),
]


@pytest.mark.parametrize(("call", "function"), READ_ONLY_DENIED)
def test_read_only_connection_is_refused(ro_conn, call, function) -> None:
    dom = ro_conn.lookup_by_name(REF.name)
    with pytest.raises(VirError) as info:
        call(dom)
    err = info.value
    assert (err.code, err.domain) == (E.OPERATION_DENIED, D.DOMAIN)
    assert err.message == f"operation forbidden: read only access prevents {function}"
    assert [c for c in ro_conn.driver.calls if c[0] != "lookup_by_name"] == []


def test_read_only_may_query_job_info(ro_conn) -> None:
    dom = ro_conn.lookup_by_name(REF.name)
    info = dom.get_block_job_info("vda")
    assert info is not None and (info.type, info.bandwidth, info.cur, info.end) == (1, 10, 5, 100)
    assert ro_conn.driver.calls[-1] == ("domain_get_block_job_info", REF, "vda", 0)


def test_dispatch_passes_arguments_unchanged(conn) -> None:
    dom = _dom(conn)
    dom.block_pull("vda", 10, 0)
    dom.block_rebase("/img/top.qcow2", "/img/base.qcow2", 5, 16)
    dom.block_job_set_speed("vda", 20, 1)
    dom.block_job_abort("vda", 1)
    assert conn.driver.calls[1:] == [
        ("domain_block_pull", REF, "vda", 10, 0),
        ("domain_block_rebase", REF, "/img/top.qcow2", "/img/base.qcow2", 5, 16),
        ("domain_block_job_set_speed", REF, "vda", 20, 1),
        ("domain_block_job_abort", REF, "vda", 1),
    ]


def test_no_job_is_none_not_an_error(conn) -> None:
    conn.driver.job = None
    assert _dom(conn).get_block_job_info("vda") is None


def test_negative_integers_wrap_like_c(conn) -> None:
    dom = _dom(conn)
    dom.block_pull("vda", -1, -1)
    assert conn.driver.calls[-1] == ("domain_block_pull", REF, "vda", 2**64 - 1, 2**32 - 1)


def test_empty_disk_reaches_the_driver(conn) -> None:
    # libvirt checks only for NULL; the driver decides what "" means.
    _dom(conn).block_pull("")
    assert conn.driver.calls[-1][2] == ""


#: Every entry point that dispatches to a slot, with libvirt's function name and the
#: error domain of its NO_SUPPORT.
EVERY_SLOT = [
    (lambda d: d.block_pull("vda"), "virDomainBlockPull", D.DOMAIN),
    (lambda d: d.get_block_job_info("vda"), "virDomainGetBlockJobInfo", D.DOMAIN),
    (lambda d: d.block_job_abort("vda"), "virDomainBlockJobAbort", D.DOMAIN),
    (lambda d: d.block_job_set_speed("vda", 1), "virDomainBlockJobSetSpeed", D.DOMAIN),
    (lambda d: d.block_rebase("vda", None), "virDomainBlockRebase", D.DOMAIN),
    (lambda d: d.get_info(), "virDomainGetInfo", D.DOMAIN),
    (lambda d: d.get_state(), "virDomainGetState", D.DOMAIN),
    (lambda d: d.get_xml_desc(), "virDomainGetXMLDesc", D.DOMAIN),
    (lambda d: d.create(), "virDomainCreate", D.DOMAIN),
    (lambda d: d.destroy(), "virDomainDestroy", D.DOMAIN),
    (lambda d: d.undefine(), "virDomainUndefine", D.DOMAIN),
    (lambda d: d.conn.lookup_by_name("x"), "virDomainLookupByName", D.DOMAIN),
    (lambda d: d.conn.lookup_by_id(1), "virDomainLookupByID", D.DOMAIN),
    (lambda d: d.conn.lookup_by_uuid_string(REF.uuid), "virDomainLookupByUUIDString", D.DOMAIN),
    (lambda d: d.conn.list_all_domains(), "virConnectListAllDomains", D.DOMAIN),
    (lambda d: d.conn.define_xml("<domain/>"), "virDomainDefineXML", D.DOMAIN),
    (
        lambda d: d.conn.domain_event_register_any(None, 0, lambda *a: None),
        "virConnectDomainEventRegisterAny",
        D.DOMAIN,
    ),
    (
        lambda d: d.conn.domain_event_deregister_any(0),
        "virConnectDomainEventDeregisterAny",
        D.DOMAIN,
    ),
    (lambda d: d.conn.get_type(), "virConnectGetType", D.NONE),
    (lambda d: d.conn.get_version(), "virConnectGetVersion", D.NONE),
]


@pytest.mark.parametrize(("call", "function", "domain"), EVERY_SLOT)
def test_declared_unsupported_slot_is_no_support(call, function, domain) -> None:
    # The bare driver fills no slot and declares each unsupported: core must report
    # NO_SUPPORT with its own function name, and never reach for the missing method
    # (an AttributeError here would mean core called a slot it did not check).
    conn = core.open("bare:///")
    dom = core.Domain(conn, REF)
    with pytest.raises(VirError) as info:
        call(dom)
    err = info.value
    assert (err.code, err.domain) == (E.NO_SUPPORT, domain)
    assert err.message == f"this function is not supported by the connection driver: {function}"


def test_unsupported_comes_after_the_other_checks(conn, ro_conn) -> None:
    # The recording driver declares undefine and XML description unsupported.
    with pytest.raises(VirError) as info:
        _dom(conn).undefine()
    assert info.value.code == E.NO_SUPPORT
    assert info.value.message.endswith(": virDomainUndefine")
    with pytest.raises(VirError) as info:
        ro_conn.lookup_by_name(REF.name).undefine()
    assert info.value.code == E.OPERATION_DENIED  # read-only first, as in libvirt
    with pytest.raises(VirError) as info:
        _dom(conn).get_xml_desc(-1.5)
    assert info.value.code == E.INVALID_ARG  # argument checks first
    with pytest.raises(VirError) as info:
        _dom(conn).get_xml_desc()
    assert info.value.message.endswith(": virDomainGetXMLDesc")
    assert {c[0] for c in conn.driver.calls} == {"lookup_by_name"}  # no slot was called


def test_a_slot_neither_filled_nor_declared_refuses_the_open() -> None:
    from .conftest import DRIVERS

    with pytest.raises(VirError) as info:
        core.open("undeclared:///")
    err = info.value
    assert (err.code, err.domain) == (E.INTERNAL_ERROR, D.NONE)
    assert err.message == (
        "internal error: driver 'fake' neither fills nor declares unsupported: domain_undefine"
    )
    assert DRIVERS[-1].closed
    with pytest.raises(VirError) as info:
        core.open("untabled:///")
    assert info.value.message == (
        "internal error: driver 'fake' neither fills nor declares unsupported: unsupported_slots"
    )


def test_driver_errors_pass_through(conn) -> None:
    with pytest.raises(VirError) as info:
        conn.lookup_by_name("ghost")
    assert info.value.message == "Domain not found: no domain with matching name 'ghost'"
    assert info.value.domain == D.TEST


def test_create_updates_the_id_and_destroy_clears_it(conn) -> None:
    dom = _dom(conn)
    dom.create()
    assert dom.id == 7
    dom.destroy()
    assert dom.id == -1


def test_event_callback_gets_libvirt_shape(conn) -> None:
    from minivirt.public import BlockJobEvent, LifecycleEvent

    seen = []
    cid = conn.domain_event_register_any(None, 8, lambda *a: seen.append(a), "opaque")
    relay = conn.driver.callbacks[cid]
    relay(BlockJobEvent(REF, "/img/top.qcow2", 1, 0))
    relay(LifecycleEvent(REF, 2, 0))
    (c1, d1, disk, typ, status, op1), (c2, d2, ev, detail, op2) = seen
    assert c2 is conn and d2.name == REF.name
    assert (
        c1 is conn
        and d1.name == REF.name
        and (disk, typ, status, op1) == ("/img/top.qcow2", 1, 0, "opaque")
    )
    assert (ev, detail, op2) == (2, 0, "opaque")
    conn.domain_event_deregister_any(cid)
    assert conn.driver.calls[-1] == ("deregister", cid)
