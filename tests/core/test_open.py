"""open(), URIs, the registry and connection-level calls."""

from __future__ import annotations

import pytest

from minivirt import core
from minivirt.public import ErrorDomain, ErrorNumber, VirError


@pytest.mark.parametrize(
    ("text", "scheme", "transport", "host", "port", "path", "query"),
    [
        ("test:///default", "test", None, "", None, "/default", {}),
        ("qemu:///system", "qemu", None, "", None, "/system", {}),
        ("qemu+tcp://127.0.0.1:16510/system", "qemu", "tcp", "127.0.0.1", 16510, "/system", {}),
        ("qemu+tcp://localhost/system", "qemu", "tcp", "localhost", None, "/system", {}),
        ("qemu:///embed?root=/tmp/x", "qemu", None, "", None, "/embed", {"root": "/tmp/x"}),
        ("QEMU+UNIX:///system?socket=/s", "qemu", "unix", "", None, "/system", {"socket": "/s"}),
    ],
)
def test_uri_parse(text, scheme, transport, host, port, path, query) -> None:
    uri = core.URI.parse(text)
    assert (uri.scheme, uri.transport, uri.host, uri.port, uri.path, uri.query) == (
        scheme,
        transport,
        host,
        port,
        path,
        query,
    )
    assert str(uri) == text


@pytest.mark.parametrize("text", ["nonsense", "qemu+tcp://host:notaport/system", "://x"])
def test_uri_parse_error(text) -> None:
    with pytest.raises(VirError) as info:
        core.URI.parse(text)
    assert (info.value.code, info.value.domain) == (ErrorNumber.INTERNAL_ERROR, ErrorDomain.URI)
    assert info.value.message == f"internal error: Unable to parse URI {text}"


def test_unknown_scheme_is_no_connect() -> None:
    with pytest.raises(VirError) as info:
        core.open("bogus:///x")
    err = info.value
    assert (err.code, err.domain) == (ErrorNumber.NO_CONNECT, ErrorDomain.NONE)
    assert err.message == "no connection driver available for bogus:///x"


def test_default_uri_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("MINIVIRT_DEFAULT_URI", "fake:///env")
    conn = core.open()
    assert conn.get_uri() == "fake:///env"
    conn.close()


def test_close_twice_is_invalid_conn() -> None:
    conn = core.open("fake:///x")
    assert conn.close() == 0
    assert conn.driver.closed
    assert not conn.is_alive()
    with pytest.raises(VirError) as info:
        conn.close()
    assert info.value.code == ErrorNumber.INVALID_CONN
    with pytest.raises(VirError) as info:
        conn.lookup_by_name("fakedom")
    assert info.value.message == "invalid connection pointer in virDomainLookupByName"


def test_connection_queries(conn) -> None:
    assert conn.get_type() == "Fake"
    assert conn.get_lib_version() == 9_000_000  # libvirt 9.0.0, as Debian's libvirt reports
    assert conn.is_alive() and not conn.is_read_only()
    assert [d.name for d in conn.list_all_domains()] == ["fakedom"]
    assert conn.list_domains_id() == [3]
    dom = conn.lookup_by_uuid_string("11111111222233334444555555555555")
    assert conn.driver.calls[-1] == ("lookup_by_uuid", "11111111-2222-3333-4444-555555555555")
    assert dom == conn.lookup_by_id(3) and hash(dom) == hash(conn.lookup_by_id(3))
    new = conn.define_xml("name: new\n")
    assert new.name == "new" and new.id == -1


def test_missing_version_slot_is_no_support() -> None:
    conn = core.open("bare:///")
    with pytest.raises(VirError) as info:
        conn.get_version()
    assert (
        info.value.message
        == "this function is not supported by the connection driver: virConnectGetVersion"
    )
    assert info.value.domain == ErrorDomain.NONE


def test_read_only_flag(ro_conn) -> None:
    assert ro_conn.is_read_only()


def test_opening_without_the_wiring_says_so() -> None:
    # A process that imports core alone has no driver: the error names the missing wiring.
    import subprocess
    import sys

    code = (
        "from minivirt import core\n"
        "from minivirt.public import VirError\n"
        "try:\n"
        "    core.open('test:///default')\n"
        "except VirError as exc:\n"
        "    print(int(exc.code), int(exc.domain), exc.message)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out == (
        f"{int(ErrorNumber.INTERNAL_ERROR)} {int(ErrorDomain.NONE)} internal error: "
        "no connection driver is registered: import minivirt.wiring "
        "(or register drivers with minivirt.core.register_driver) before opening\n"
    )
