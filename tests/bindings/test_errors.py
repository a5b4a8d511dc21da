"""libvirtError as libvirt-python raises it: message, getters, err tuple, last error.

Rows: (call, code, domain, message) with libvirt's texts (``src/libvirt-domain.c``,
``src/qemu/qemu_driver.c``, ``src/test/test_driver.c``).
"""

from __future__ import annotations

import pytest

import minivirt.bindings as libvirt
from minivirt.public import VirError

from .conftest import TEST_URI


def _raises(call) -> libvirt.libvirtError:
    with pytest.raises(libvirt.libvirtError) as info:
        call()
    return info.value


ROWS = [
    (
        lambda c, r, d, rd: rd.blockPull("vda"),
        libvirt.VIR_ERR_OPERATION_DENIED,
        libvirt.VIR_FROM_DOMAIN,
        "operation forbidden: read only access prevents virDomainBlockPull",
    ),
    (
        lambda c, r, d, rd: rd.blockJobAbort("vda"),
        libvirt.VIR_ERR_OPERATION_DENIED,
        libvirt.VIR_FROM_DOMAIN,
        "operation forbidden: read only access prevents virDomainBlockJobAbort",
    ),
    (
        lambda c, r, d, rd: rd.blockJobSetSpeed("vda", 1),
        libvirt.VIR_ERR_OPERATION_DENIED,
        libvirt.VIR_FROM_DOMAIN,
        "operation forbidden: read only access prevents virDomainBlockJobSetSpeed",
    ),
    (
        lambda c, r, d, rd: rd.blockRebase("vda", None),
        libvirt.VIR_ERR_OPERATION_DENIED,
        libvirt.VIR_FROM_DOMAIN,
        "operation forbidden: read only access prevents virDomainBlockRebase",
    ),
    (
        lambda c, r, d, rd: d.blockPull(None),
        libvirt.VIR_ERR_INVALID_ARG,
        libvirt.VIR_FROM_DOMAIN,
        "disk in virDomainBlockPull must not be NULL",
    ),
    (
        lambda c, r, d, rd: d.blockJobInfo(None),
        libvirt.VIR_ERR_INVALID_ARG,
        libvirt.VIR_FROM_DOMAIN,
        "disk in virDomainGetBlockJobInfo must not be NULL",
    ),
    (
        lambda c, r, d, rd: d.blockJobAbort(None),
        libvirt.VIR_ERR_INVALID_ARG,
        libvirt.VIR_FROM_DOMAIN,
        "disk in virDomainBlockJobAbort must not be NULL",
    ),
    (
        lambda c, r, d, rd: d.blockJobSetSpeed(None, 1),
        libvirt.VIR_ERR_INVALID_ARG,
        libvirt.VIR_FROM_DOMAIN,
        "disk in virDomainBlockJobSetSpeed must not be NULL",
    ),
    (
        lambda c, r, d, rd: c.lookupByName("nope"),
        libvirt.VIR_ERR_NO_DOMAIN,
        libvirt.VIR_FROM_TEST,
        "Domain not found: no domain with matching name 'nope'",
    ),
    (
        lambda c, r, d, rd: c.defineXML(None),
        libvirt.VIR_ERR_INVALID_ARG,
        libvirt.VIR_FROM_DOMAIN,
        "xml in virDomainDefineXML must not be NULL",
    ),
    (
        lambda c, r, d, rd: r.defineXML("<domain/>"),
        libvirt.VIR_ERR_OPERATION_DENIED,
        libvirt.VIR_FROM_DOMAIN,
        "operation forbidden: read only access prevents virDomainDefineXML",
    ),
    (
        lambda c, r, d, rd: d.create(),
        libvirt.VIR_ERR_OPERATION_INVALID,
        libvirt.VIR_FROM_TEST,
        "Requested operation is not valid: domain is already running",
    ),
    (
        lambda c, r, d, rd: d.blockJobAbort("vda"),
        libvirt.VIR_ERR_INVALID_ARG,
        libvirt.VIR_FROM_TEST,
        "invalid argument: disk vda does not have an active block job",
    ),
]


@pytest.mark.parametrize(("call", "code", "domain", "message"), ROWS)
def test_error_row(conn, ro_conn, dom, call, code, domain, message) -> None:
    exc = _raises(lambda: call(conn, ro_conn, dom, ro_conn.lookupByName("test")))
    assert exc.get_error_code() == code
    assert exc.get_error_domain() == domain
    assert exc.get_error_message() == message
    assert str(exc) == message
    assert exc.get_error_level() == libvirt.VIR_ERR_ERROR
    assert exc.err is not None and len(exc.err) == 9
    assert exc.err[:4] == (code, domain, message, libvirt.VIR_ERR_ERROR)
    assert (exc.get_str1(), exc.get_str2(), exc.get_str3()) == exc.err[4:7]
    assert (exc.get_int1(), exc.get_int2()) == exc.err[7:9]
    # translated once, chained with `from`
    assert isinstance(exc.__cause__, VirError)
    assert exc.__cause__.fields() == exc.err
    # and kept as the thread's last error, as libvirt does
    assert libvirt.virGetLastError() == exc.err
    assert libvirt.virGetLastErrorCode() == code
    assert libvirt.virGetLastErrorDomain() == domain
    assert libvirt.virGetLastErrorMessage() == message


def test_bad_input_changes_nothing(conn, dom) -> None:
    before = (dom.XMLDesc(), conn.listDefinedDomains(), conn.listDomainsID())
    for call in (
        lambda: dom.blockPull("vdz"),
        lambda: dom.blockPull("vda", 0, 1),
        lambda: dom.blockJobSetSpeed("vda", 1),
        lambda: dom.blockRebase("vda", "/not/in/chain"),
    ):
        _raises(call)
    assert dom.blockJobInfo("vda") == {}
    assert (dom.XMLDesc(), conn.listDefinedDomains(), conn.listDomainsID()) == before


def test_a_successful_call_resets_the_last_error(conn) -> None:
    _raises(lambda: conn.lookupByName("nope"))
    assert libvirt.virGetLastError() is not None
    conn.lookupByName("test")
    assert libvirt.virGetLastError() is None
    assert libvirt.virGetLastErrorCode() == libvirt.VIR_ERR_OK
    assert libvirt.virGetLastErrorDomain() == libvirt.VIR_FROM_NONE
    assert libvirt.virGetLastErrorMessage() == "no error"


def test_reset_last_error(conn) -> None:
    _raises(lambda: conn.lookupByName("nope"))
    libvirt.virResetLastError()
    assert libvirt.virGetLastError() is None


def test_error_without_a_libvirt_error_shows_the_default_message() -> None:
    libvirt.virResetLastError()
    exc = libvirt.libvirtError("virDomainBlockPull() failed")
    assert str(exc) == "virDomainBlockPull() failed"
    assert exc.err is None
    assert exc.get_error_code() is None
    assert exc.get_error_message() is None
    assert exc.get_int2() is None


def test_lookup_by_uuid_needs_16_bytes(conn) -> None:
    exc = _raises(lambda: conn.lookupByUUID(b"short"))
    assert str(exc) == "virDomainLookupByUUID() failed"
    assert exc.err is None


def test_closed_connection_and_its_domains(conn, dom) -> None:
    assert conn.close() == 0
    assert conn.isAlive() == 0
    exc = _raises(conn.getURI)
    assert exc.get_error_code() == libvirt.VIR_ERR_INVALID_CONN
    assert str(exc) == "invalid connection pointer in virConnectGetURI"
    exc = _raises(conn.close)
    assert exc.get_error_code() == libvirt.VIR_ERR_INVALID_CONN
    exc = _raises(lambda: dom.blockPull("vda"))
    assert exc.get_error_code() == libvirt.VIR_ERR_INVALID_DOMAIN
    assert exc.get_error_domain() == libvirt.VIR_FROM_DOM
    assert str(exc) == "invalid domain pointer in virDomainBlockPull"
    exc = _raises(lambda: dom.blockJobInfo("vda"))
    assert str(exc) == "invalid domain pointer in virDomainGetBlockJobInfo"


def test_open_unknown_uri() -> None:
    exc = _raises(lambda: libvirt.open("bogus:///x"))
    assert exc.get_error_code() == libvirt.VIR_ERR_NO_CONNECT
    assert str(exc) == "no connection driver available for bogus:///x"


def test_error_handler_sees_every_error(conn) -> None:
    seen: list[tuple[object, object]] = []
    assert libvirt.registerErrorHandler(lambda ctx, err: seen.append((ctx, err)), "ctx") == 1
    try:
        exc = _raises(lambda: conn.lookupByName("nope"))
    finally:
        libvirt.registerErrorHandler(None, None)
    assert seen == [("ctx", exc.err)]
    _raises(lambda: conn.lookupByName("nope"))
    assert len(seen) == 1


def test_last_error_is_per_thread(conn) -> None:
    import threading

    _raises(lambda: conn.lookupByName("nope"))
    other: list[object] = []
    t = threading.Thread(target=lambda: other.append(libvirt.virGetLastError()))
    t.start()
    t.join()
    assert other == [None]
    assert libvirt.virGetLastError() is not None


def test_event_loop_errors_without_an_impl_are_libvirt_errors(monkeypatch) -> None:
    from minivirt import core

    monkeypatch.setattr(core, "event_add_timeout", lambda ms, cb: -1)
    exc = _raises(lambda: libvirt.virEventAddTimeout(10, lambda t, o: None, None))
    assert str(exc) == "virEventAddTimeout() failed"
    exc = _raises(lambda: libvirt.virEventRemoveTimeout(987654))
    assert str(exc) == "virEventRemoveTimeout() failed"


def test_uri_of_open_connection(conn) -> None:
    assert conn.getURI() == TEST_URI
