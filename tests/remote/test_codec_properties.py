"""Property tests: any split of a byte stream gives the same messages; garbage gives
only protocol errors (VirError RPC), never another exception."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivirt.public import VirError
from minivirt.remote.codec import Codec, RemoteProtocolError, Role
from minivirt.remote.protocol import messages as m

names = st.text(max_size=40)
uuids = st.binary(min_size=16, max_size=16)
doms = st.builds(m.RemoteNonnullDomain, names, uuids, st.integers(-(2**31), 2**31 - 1))
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)

calls = st.one_of(
    st.builds(
        lambda d, p, b, f: (240, m.RemoteDomainBlockPullArgs(d, p, b, f)), doms, names, u64, u32
    ),
    st.builds(lambda d, p, f: (238, m.RemoteDomainGetBlockJobInfoArgs(d, p, f)), doms, names, u32),
    st.builds(
        lambda d, p, base, b, f: (266, m.RemoteDomainBlockRebaseArgs(d, p, base, b, f)),
        doms,
        names,
        st.none() | names,
        u64,
        u32,
    ),
    st.builds(lambda n: (23, m.RemoteDomainLookupByNameArgs(n)), names),
    st.just((3, None)),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(calls, min_size=1, max_size=8), st.data())
def test_random_splits_give_the_same_messages(items, data):
    client = Codec(Role.CLIENT)
    stream = b"".join(client.call(proc, i, body) for i, (proc, body) in enumerate(items))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    server = Codec(Role.SERVER)
    got = []
    last = 0
    for cut in [*cuts, len(stream)]:
        server.receive_data(stream[last:cut])
        last = cut
        while (msg := server.next_message()) is not None:
            got.append((msg.procedure, msg.body, msg.serial))
    assert got == [(proc, body, i) for i, (proc, body) in enumerate(items)]


def _drain(codec, data):
    codec.receive_data(data)
    for _ in range(1000):
        try:
            if codec.next_message() is None:
                return
        except RemoteProtocolError as exc:
            assert isinstance(exc, VirError) and exc.code == 39 and exc.domain == 7
            if codec.broken:
                return


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from([Role.CLIENT, Role.SERVER]))
def test_random_bytes_give_only_protocol_errors(data, role):
    _drain(Codec(role), data)


@settings(max_examples=300)
@given(
    st.integers(0, 500),
    st.sampled_from([0x20008086, 0, 7]),
    st.sampled_from([1, 0, 2]),
    st.integers(-5, 400),
    st.integers(0, 3),
    st.integers(0, 3),
    st.binary(max_size=200),
    st.sampled_from([Role.CLIENT, Role.SERVER]),
)
def test_random_frames_give_only_protocol_errors(proc, prog, vers, p, mtype, status, body, role):
    head = struct.pack(">IIIiIII", 28 + len(body), prog, vers, p, mtype, proc, status)
    _drain(Codec(role), head + body)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=10)
    | st.binary(max_size=20)
    | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(st.sampled_from([1, 3, 16, 23, 167, 196, 237, 238, 240, 266, 273]), msgpack_values)
def test_wrong_typed_bodies_give_only_protocol_errors(proc, value):
    import msgpack

    body = msgpack.packb(value)
    head = struct.pack(">IIIiIII", 28 + len(body), 0x20008086, 1, proc, 0, 1, 0)
    _drain(Codec(Role.SERVER), head + body)
