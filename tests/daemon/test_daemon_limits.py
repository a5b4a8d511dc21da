"""minivirtd's limits: a client that breaks one is told why and dropped; the daemon goes on."""

from __future__ import annotations

import signal
import socket
import struct

import msgpack
import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.public import ErrorDomain, ErrorNumber, VirError
from tests.daemon.conftest import serving

EOF_TEXT = "End of file while reading data: Input/output error"
XML_ERROR_TEXT = "XML error: (domain_definition):1: unclosed token"


def _frame(proc, serial, body, length=None):
    payload = msgpack.packb(body)
    size = 28 + len(payload) if length is None else length
    return struct.pack(">IIIiIII", size, 0x20008086, 1, proc, 0, serial, 0) + payload


def _frames(sock):
    """Every frame until EOF: (header, body) pairs."""
    data = b""
    sock.settimeout(10)
    while chunk := sock.recv(65536):
        data += chunk
    out = []
    while data:
        (n,) = struct.unpack(">I", data[:4])
        out.append((struct.unpack(">IIiIII", data[4:28]), msgpack.unpackb(data[28:n])))
        data = data[n:]
    return out


def test_too_many_clients(make_daemon):
    d = make_daemon("--max-clients", "1")
    first = core.open(d.url())
    with pytest.raises(VirError) as info:
        core.open(d.url())
    assert (info.value.code, info.value.domain) == (ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC)
    assert first.get_type() == "TEST"
    first.close()
    serving(d)


def test_outstanding_calls_stop_reading_not_the_client(make_daemon):
    """At max_client_requests the daemon stops reading (libvirtd): every call is answered."""
    d = make_daemon("--max-outstanding", "1")
    with socket.create_connection(("127.0.0.1", d.port)) as sock:
        sock.sendall(_frame(1, 1, [None, 0]))
        # DOMAIN_DEFINE_XML goes to the worker pool; a malformed document defines nothing.
        burst = [_frame(11, n, ["<bad"]) for n in range(2, 300)]
        sock.sendall(b"".join(burst) + _frame(2, 300, None))  # then CONNECT_CLOSE
        frames = _frames(sock)  # the daemon closes after CONNECT_CLOSE's reply
    assert [h[4] for h, _ in frames] == list(range(1, 301))  # in order, none lost
    assert all(b[0] == ErrorNumber.XML_ERROR for h, b in frames[1:-1])
    assert frames[-1][0][5] == 0  # the close succeeded
    serving(d)


def test_oversized_frame(make_daemon):
    d = make_daemon("--max-message", "4096")
    with socket.create_connection(("127.0.0.1", d.port)) as sock:
        sock.sendall(_frame(23, 9, ["x" * 10], length=5000))
        frames = _frames(sock)
    assert [(h[4], h[5], b[0]) for h, b in frames] == [(9, 1, ErrorNumber.RPC)]
    assert frames[0][1][2] == "packet 5000 bytes received from server too large, want 4096"
    serving(d)


@pytest.mark.parametrize("loop", ["default", "asyncio"])
def test_clean_shutdown_with_clients_connected(make_daemon, loop):
    d = make_daemon(env={"MINIVIRTD_NO_UVLOOP": "1"} if loop == "asyncio" else None)
    conn = core.open(d.url())
    assert conn.get_type() == "TEST"
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(timeout=10) == 0
    with pytest.raises(VirError) as info:
        conn.get_type()
    # libvirt's two reports of a vanished daemon: EOF met by this call, or seen before it
    assert (info.value.code, info.value.domain, info.value.message) in (
        (ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC, EOF_TEXT),
        (ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, "internal error: client socket is closed"),
    )
    conn.close()


def test_nonblocking_calls_run_inline_and_blocking_ones_in_the_pool():
    from minivirt.daemon.dispatch import API_SLOTS, Handler
    from minivirt.remote.protocol.procedures import PROCEDURES, Procedure

    class Conn:
        class driver:
            nonblocking_slots = frozenset(
                {"domain_get_block_job_info", "domain_get_xml_desc", "domain_get_state"}
            )

    h = Handler(
        lambda uri, ro: Conn(), lambda conn, ref: None, "test:///default", lambda p, m: None
    )
    assert not h.inline(PROCEDURES[Procedure.DOMAIN_GET_STATE])  # not open yet
    h._connection = Conn()
    assert h.inline(PROCEDURES[Procedure.DOMAIN_GET_STATE])
    assert not h.inline(PROCEDURES[Procedure.DOMAIN_LOOKUP_BY_NAME])  # not declared
    # whatever the driver declares, what may reach QEMU or the disk never runs inline
    assert not h.inline(PROCEDURES[Procedure.DOMAIN_GET_BLOCK_JOB_INFO])
    assert not h.inline(PROCEDURES[Procedure.DOMAIN_GET_XML_DESC])
    assert not h.inline(PROCEDURES[Procedure.DOMAIN_BLOCK_JOB_ABORT])
    assert not h.inline(PROCEDURES[Procedure.DOMAIN_CREATE])
    assert not h.inline(PROCEDURES[Procedure.CONNECT_CLOSE])
    apis = {info.api for info in PROCEDURES.values()}
    assert set(API_SLOTS) <= apis | {
        "virConnectDomainEventRegisterAny",
        "virConnectDomainEventDeregisterAny",
    }
