"""The sans-I/O codec: round trips, errors crossing intact, limits, misuse vs peer errors."""

from __future__ import annotations

import struct

import msgpack
import pytest

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.remote.codec import (
    EVENT_SERIAL,
    Codec,
    LocalProtocolError,
    MessageStatus,
    MessageType,
    RemoteProtocolError,
    Role,
)
from minivirt.remote.protocol import messages as m
from minivirt.remote.protocol.procedures import PROCEDURES, Procedure

DOM = m.RemoteNonnullDomain("vm1", bytes(range(16)), 3)


def pair():
    return Codec(Role.CLIENT), Codec(Role.SERVER)


def deliver(data, codec):
    codec.receive_data(data)
    msg = codec.next_message()
    assert codec.next_message() is None
    return msg


def test_call_and_reply_round_trip():
    client, server = pair()
    args = m.RemoteDomainBlockPullArgs(DOM, "vda", 2**64 - 1, 0)
    frame = client.call(Procedure.DOMAIN_BLOCK_PULL, 7, args)
    (length,) = struct.unpack(">I", frame[:4])
    assert length == len(frame)
    assert struct.unpack(">IIiIII", frame[4:28]) == (0x20008086, 1, 240, 0, 7, 0)
    msg = deliver(frame, server)
    assert (msg.procedure, msg.type, msg.serial, msg.status) == (240, 0, 7, 0)
    assert msg.body == args
    ret = m.RemoteDomainGetBlockJobInfoRet(1, 1, 0, 100, 1000)
    back = deliver(server.reply(238, 8, ret), client)
    assert (back.type, back.serial, back.status, back.body) == (1, 8, 0, ret)


def test_void_bodies():
    client, server = pair()
    msg = deliver(client.call(Procedure.CONNECT_GET_TYPE, 1, None), server)
    assert msg.body is None
    back = deliver(server.reply(Procedure.DOMAIN_BLOCK_PULL, 1, None), client)
    assert back.body is None and back.status == MessageStatus.OK


def test_every_message_class_round_trips_through_msgpack():
    samples = {
        m.RemoteConnectOpenArgs: m.RemoteConnectOpenArgs(None, 1),
        m.RemoteDomainBlockRebaseArgs: m.RemoteDomainBlockRebaseArgs(DOM, "vda", "/b.qcow2", 5, 0),
        m.RemoteConnectListAllDomainsRet: m.RemoteConnectListAllDomainsRet((DOM, DOM), 2),
        m.RemoteDomainGetInfoRet: m.RemoteDomainGetInfoRet(1, 2**64 - 1, 0, 65535, 5),
        m.RemoteDomainEventBlockJob2Msg: m.RemoteDomainEventBlockJob2Msg(-1, DOM, "vda", 1, 0),
    }
    for cls, value in samples.items():
        wire = msgpack.unpackb(msgpack.packb(value.to_wire()), raw=False)
        assert cls.from_wire(wire) == value


@pytest.mark.parametrize(
    "err",
    [
        VirError.report(ErrorNumber.NO_DOMAIN, ErrorDomain.DOMAIN, "no domain with name 'x'"),
        VirError(ErrorNumber.OPERATION_INVALID, ErrorDomain.QEMU, "m", 2, "a", "b", "c", 4, -5),
        VirError(999, 77, "", 1, None, None, None, -1, -1),
    ],
)
def test_errors_cross_intact(err):
    client, server = pair()
    back = deliver(server.error_reply(238, 4, err), client)
    assert back.status == MessageStatus.ERROR
    assert back.body == err
    assert back.body.fields() == err.fields()


def test_event_frames_have_serial_one():
    client, server = pair()
    msg = m.RemoteDomainEventBlockJobMsg(DOM, "/img.qcow2", 1, 0)
    back = deliver(server.event(Procedure.DOMAIN_EVENT_BLOCK_JOB, msg), client)
    assert (back.type, back.serial, back.status, back.body) == (2, EVENT_SERIAL, 0, msg)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda c: c.call(9999, 1, None), "unknown procedure: 9999"),
        (lambda c: c.call(240, 1, None), "needs RemoteDomainBlockPullArgs"),
        (lambda c: c.call(3, 1, m.RemoteConnectOpenArgs(None, 0)), "takes no body"),
        (lambda c: c.call(241, 1, None), "is an event"),
        (lambda c: c.reply(3, 1, None), "only a server"),
        (
            lambda c: c.call(240, 1, m.RemoteDomainBlockPullArgs(DOM, "vda", -1, 0)),
            "bandwidth: -1 out of range",
        ),
        (
            lambda c: c.call(240, 1, m.RemoteDomainBlockPullArgs(DOM, 5, 0, 0)),
            "path: expected a string",
        ),
        (
            lambda c: c.call(240, 1, m.RemoteDomainBlockPullArgs(DOM, "v", 0, True)),
            "flags: expected an integer",
        ),
    ],
)
def test_misuse_is_a_local_protocol_error(make, fragment):
    with pytest.raises(LocalProtocolError) as info:
        make(Codec(Role.CLIENT))
    assert fragment in info.value.message
    assert (info.value.code, info.value.domain) == (ErrorNumber.RPC, ErrorDomain.RPC)


def frame(proc, mtype, serial, status, body, program=0x20008086, version=1):
    payload = msgpack.packb(body)
    return (
        struct.pack(">IIIiIII", 28 + len(payload), program, version, proc, mtype, serial, status)
        + payload
    )


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (frame(9999, 0, 1, 0, None), "unknown procedure: 9999"),
        (frame(3, 0, 1, 0, None, program=1), "cannot find program 0x1 version 1"),
        (frame(3, 0, 1, 0, None, version=2), "version 2"),
        (frame(3, 1, 1, 0, None), "unexpected message type 1"),
        (frame(241, 0, 1, 0, None), "unexpected message type 0"),
        (frame(3, 0, 1, 1, None), "unexpected message status 1"),
        (frame(3, 0, 1, 0, [1]), "unexpected payload"),
        (frame(240, 0, 1, 0, [1, 2]), "expected a struct of 4 fields"),
        (frame(240, 0, 1, 0, [[b"n", bytes(16), 1], "vda", 0, 0]), "expected a string"),
        (frame(240, 0, 1, 0, [["n", bytes(15), 1], "vda", 0, 0]), "exactly 16 bytes"),
        (frame(240, 0, 1, 0, [["n", bytes(16), 1], "vda", -1, 0]), "out of range"),
        (frame(240, 0, 1, 0, [["n", bytes(16), 1], "vda", 0, False]), "expected an integer"),
        (struct.pack(">IIIiIII", 29, 0x20008086, 1, 3, 0, 1, 0) + b"\xc1", "Unable to decode"),
    ],
)
def test_peer_errors_keep_the_stream_usable(data, fragment):
    server = Codec(Role.SERVER)
    server.receive_data(data + frame(3, 0, 2, 0, None))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_message()
    assert fragment in info.value.message
    assert info.value.header.serial == 1
    assert not server.broken
    assert server.next_message().serial == 2


@pytest.mark.parametrize("length", [0, 3, 27, 33554433, 2**32 - 1])
def test_bad_lengths_are_fatal_and_checked_first(length):
    server = Codec(Role.SERVER)
    server.receive_data(struct.pack(">I", length))  # only the length word: nothing allocated
    with pytest.raises(RemoteProtocolError):
        server.next_message()
    assert server.broken
    with pytest.raises(RemoteProtocolError):
        server.next_message()


def test_configured_limit():
    server = Codec(Role.SERVER, max_message=100)
    server.receive_data(frame(23, 0, 1, 0, ["x" * 200]))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_message()
    assert "too large" in info.value.message
    assert info.value.header.serial == 1
    client = Codec(Role.CLIENT, max_message=100)
    with pytest.raises(LocalProtocolError):
        client.call(23, 1, m.RemoteDomainLookupByNameArgs("x" * 200))


def test_string_bound_checked_on_decode():
    server = Codec(Role.SERVER)
    server.receive_data(frame(23, 0, 1, 0, ["é" * (4194304 // 2 + 1)]))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_message()
    assert "longer than 4194304" in info.value.message


def test_partial_frames_wait_for_more():
    client, server = pair()
    data = client.call(23, 5, m.RemoteDomainLookupByNameArgs("test"))
    for i in range(len(data) - 1):
        server.receive_data(data[i : i + 1])
        assert server.next_message() is None
    server.receive_data(data[-1:])
    assert server.next_message().body == m.RemoteDomainLookupByNameArgs("test")
    assert server.buffered == 0


def test_procedure_table_annotations():
    assert PROCEDURES[238].readonly_allowed and not PROCEDURES[240].readonly_allowed
    assert PROCEDURES[167].priority_high and not PROCEDURES[240].priority_high
    assert PROCEDURES[240].api == "virDomainBlockPull"
    assert PROCEDURES[167].api == "virConnectDomainEventRegisterAny"
    assert PROCEDURES[238].generate == "none" and PROCEDURES[237].generate == "both"
    assert MessageType.MESSAGE == 2 and MessageStatus.ERROR == 1
