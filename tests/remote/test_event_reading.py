"""Who reads a client's socket for events: the application's event loop, as libvirt's client.

Once a callback is registered and an event loop is installed, the socket is
watched by that loop (virEventAddHandle) and read there without blocking; the
background reader thread stays idle.  The watch is paused while a calling
thread holds the buck and resumed when it lets go, and it goes when the
connection fails, so a dead socket never keeps the loop spinning.
"""

from __future__ import annotations

import queue
import socket
import threading

import minivirt.wiring  # noqa: F401  (the remote driver)
from minivirt import core
from minivirt.events import EVENT_HANDLE_READABLE
from minivirt.events import loop as loop_mod
from minivirt.public import DomainEventID, DomainEventType
from minivirt.remote import codec as codec_mod
from minivirt.remote.rpcclient import RPCClient

LOOP_THREAD = "minivirt-event-loop"  # EventLoopThread's thread
READER_THREAD = "minivirt-remote-events"  # RPCClient's background thread


def _watched_fds() -> dict[int, int]:
    """fd -> events of every handle the default loop watches."""
    default = loop_mod._default
    assert default is not None
    with default._lock:
        return {h.fd: h.events for h in default._handles.values()}


def test_events_are_read_by_the_event_loop_thread(daemon, event_loop_thread, monkeypatch):
    readers: list[str] = []
    receive = codec_mod.Codec.receive_data

    def spy(self, data):
        readers.append(threading.current_thread().name)
        return receive(self, data)

    monkeypatch.setattr(codec_mod.Codec, "receive_data", spy)
    conn = core.open(daemon.url())
    got: queue.Queue = queue.Queue()
    try:
        dom = conn.lookup_by_name("test")
        conn.domain_event_register_any(
            None,
            DomainEventID.LIFECYCLE,
            lambda c, d, ev, detail, opaque: got.put((threading.current_thread().name, ev)),
        )
        readers.clear()
        dom.destroy()
        assert got.get(timeout=10) == (LOOP_THREAD, DomainEventType.STOPPED)
        dom.create()
        assert got.get(timeout=10) == (LOOP_THREAD, DomainEventType.STARTED)
        # the events came in through the loop's own read, never through the reader thread
        assert LOOP_THREAD in readers
        assert READER_THREAD not in readers
    finally:
        conn.close()


def _client_pair() -> tuple[RPCClient, socket.socket]:
    ours, theirs = socket.socketpair()
    return RPCClient(ours, lambda msg: None), theirs


def test_the_watch_pauses_while_a_caller_reads(event_loop_thread):
    rpc, peer = _client_pair()
    try:
        rpc.want_events(True)
        fd = rpc._sock.fileno()
        assert _watched_fds()[fd] == EVENT_HANDLE_READABLE
        with rpc._lock:
            rpc._reading = True  # a calling thread holds the buck
        rpc._incoming(rpc._watch, fd, EVENT_HANDLE_READABLE)
        assert _watched_fds()[fd] == 0  # the loop no longer wakes for the caller's bytes
        rpc._pass_buck()  # the caller lets go
        assert _watched_fds()[fd] == EVENT_HANDLE_READABLE
    finally:
        rpc.close()
        peer.close()
    assert fd not in _watched_fds()


def test_a_dead_connection_is_no_longer_watched(event_loop_thread):
    rpc, peer = _client_pair()
    try:
        rpc.want_events(True)
        fd = rpc._sock.fileno()
        assert fd in _watched_fds()
        peer.close()  # the server hangs up: the socket stays readable (EOF) from now on
        with rpc._idle:
            assert rpc._idle.wait_for(lambda: rpc.dead is not None, 10)
        assert rpc.dead.message == "End of file while reading data: Input/output error"
        assert fd not in _watched_fds()
    finally:
        rpc.close()


def test_without_an_event_loop_the_reader_thread_reads(monkeypatch):
    monkeypatch.setattr(loop_mod, "_impl", None)
    got: queue.Queue = queue.Queue()
    ours, theirs = socket.socketpair()
    rpc = RPCClient(ours, lambda msg: got.put(threading.current_thread().name))
    try:
        rpc.want_events(True)
        assert rpc._watch == -1
        theirs.sendall(_lifecycle_frame())
        assert got.get(timeout=10) == READER_THREAD
    finally:
        rpc.close()
        theirs.close()


def _lifecycle_frame() -> bytes:
    from minivirt.remote.protocol import messages as m
    from minivirt.remote.protocol.procedures import Procedure
    from minivirt.remote.protocol.runtime import uuid_to_bytes

    server = codec_mod.Codec(codec_mod.Role.SERVER, 1 << 20)
    dom = m.RemoteNonnullDomain("test", uuid_to_bytes("6695eb01-f6a4-8304-79aa-97f2502e193f"), 1)
    body = m.RemoteDomainEventLifecycleMsg(dom, int(DomainEventType.STOPPED), 0)
    return server.event(Procedure.DOMAIN_EVENT_LIFECYCLE, body)
