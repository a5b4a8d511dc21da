"""The remote client driver (libvirt's ``remote_driver.c``).

Owns the driver slots (generated ones from ``client_stubs``, hand-written
ones here for ``@generate: none`` procedures), connecting (tcp, unix, tls),
and the events: MESSAGE frames become domain events queued in this driver's
own :class:`~minivirt.events.EventState`; REGISTER_ANY is sent when the first
local callback of an event id appears, DEREGISTER_ANY when the last goes.
The wire itself (serials, who reads, dropped connections) is ``rpcclient``'s.
Must not: import asyncio (fast start for the shell) or minivirt.core.
"""

from __future__ import annotations

import socket
import threading

from minivirt.public import (
    BlockJobEvent,
    BlockJobInfo,
    DomainEventID,
    DomainInfo,
    DomainRef,
    DriverSlot,
    EventCallback,
    LifecycleEvent,
    VirError,
)
from minivirt.public.logger import get_logger
from minivirt.remote.codec import Message
from minivirt.remote.protocol import messages as m
from minivirt.remote.protocol.client_stubs import ClientStubs
from minivirt.remote.protocol.procedures import Procedure
from minivirt.remote.protocol.runtime import WireStruct, uuid_from_bytes, uuid_to_bytes
from minivirt.remote.rpcclient import RPCClient, StreamSocket, os_text, system_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, TypeVar

    from minivirt.events import EventState

    R = TypeVar("R")

__all__ = ["VIR_CONNECT_RO", "RemoteDriver", "connect_tcp", "connect_tls", "connect_unix"]

log = get_logger(__name__)

#: virConnectFlags: VIR_CONNECT_RO, sent in CONNECT_OPEN's flags.
VIR_CONNECT_RO: Final = 1


def connect_tcp(host: str, port: int) -> socket.socket:
    """A connected TCP socket; SYSTEM_ERROR (RPC) with libvirt's text on failure."""
    try:
        # An ASCII host goes as bytes: getaddrinfo would import the idna codec for a str
        # (typeshed says str, CPython takes both).
        address = (host.encode() if host.isascii() else host, port)
        sock = socket.create_connection(address)  # type: ignore[arg-type]
    except OSError as exc:
        raise system_error(
            f"unable to connect to server at '{host}:{port}': {os_text(exc)}"
        ) from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def connect_tls(host: str, port: int, pkipath: str | None, verify: bool) -> StreamSocket:
    """A TLS session to ``host:port`` with x509 certificates (libvirt's paths or pkipath)."""
    from minivirt.remote.tls import TLSSocket, client_context

    ctx = client_context(pkipath, verify)
    sock = connect_tcp(host, port)
    try:
        return TLSSocket(sock, ctx, host)
    except BaseException:
        sock.close()
        raise


def connect_unix(path: str) -> socket.socket:
    """A connected unix socket; SYSTEM_ERROR (RPC) with libvirt's text on failure."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise system_error(f"Failed to connect socket to '{path}': {os_text(exc)}") from exc
    return sock


class RemoteDriver(ClientStubs):
    """A HypervisorDriver whose every slot is a round trip to minivirtd.

    Every slot raises the server's VirError unchanged (code, domain, message,
    level, str1..3, int1..2), SYSTEM_ERROR (RPC) when the connection drops
    ("End of file while reading data: Input/output error", "Cannot write
    data: …"), INTERNAL_ERROR (RPC) "client socket is closed" afterwards, and
    RPC (RPC) for protocol violations either way.
    """

    #: Every slot is a procedure; the daemon reports what its own driver cannot do.
    unsupported_slots: Final = frozenset[DriverSlot]()

    def __init__(self, sock: StreamSocket) -> None:
        self._rpc = RPCClient(sock, self._event)
        self._event_state: EventState | None = None  # made with the first callback
        self._event_lock = threading.Lock()
        self._callback_events: dict[int, int] = {}

    # -- opening and closing ------------------------------------------------

    def open(self, name: str | None, read_only: bool) -> None:
        """Mirrors remoteConnectOpen: CONNECT_OPEN with the server-side URI."""
        flags = VIR_CONNECT_RO if read_only else 0
        try:
            self._call_void(Procedure.CONNECT_OPEN, m.RemoteConnectOpenArgs(name, flags))
        except BaseException:
            self._rpc.close()
            raise

    def close(self) -> None:
        """Mirrors remoteConnectClose: CONNECT_CLOSE, then the socket and events go."""
        if self._rpc.alive:
            try:
                self._call_void(Procedure.CONNECT_CLOSE, None)
            except VirError as exc:
                log.debug("CONNECT_CLOSE failed: %s", exc)
        self._rpc.close()
        if self._event_state is not None:
            self._event_state.close()

    def is_alive(self) -> bool:
        """connectIsAlive: the connection has not failed or been closed."""
        return self._rpc.alive

    def connect_set_keep_alive(self, interval: int, count: int) -> int:
        """Mirrors remoteConnectSetKeepAlive: start (interval > 0) or stop keepalive; 0."""
        self._rpc.start_keepalive(interval, count)
        return 0

    def _call(self, proc: int, args: WireStruct | None, ret: type[R]) -> R:
        # The reply's class is the procedure's ``ret`` (the codec decodes by procedure).
        return self._rpc.call(proc, args)  # type: ignore[return-value]

    def _call_void(self, proc: int, args: WireStruct | None) -> None:
        self._rpc.call(proc, args)

    # -- events -------------------------------------------------------------

    @property
    def _events(self) -> EventState:
        # A one-shot client never registers a callback: it need not import the events package.
        if self._event_state is None:
            from minivirt.events import EventState

            self._event_state = EventState()
        return self._event_state

    def _event(self, msg: Message) -> None:
        if self._event_state is None:
            return  # no callback was ever registered
        body = msg.body
        if isinstance(body, m.RemoteDomainEventLifecycleMsg):
            self._events.queue(LifecycleEvent(_ref(body.dom), body.event, body.detail))
        elif isinstance(body, m.RemoteDomainEventBlockJobMsg):
            event = BlockJobEvent(_ref(body.dom), body.path, body.type, body.status)
            self._events.queue(event)
        elif isinstance(body, m.RemoteDomainEventBlockJob2Msg):
            event = BlockJobEvent(
                _ref(body.dom), body.dst, body.type, body.status, int(DomainEventID.BLOCK_JOB_2)
            )
            self._events.queue(event)

    def connect_domain_event_register_any(
        self, dom: DomainRef | None, event_id: int, callback: EventCallback
    ) -> int:
        """Mirrors remoteConnectDomainEventRegisterAny: local callback, REGISTER_ANY once."""
        with self._event_lock:
            callback_id = self._events.register(dom, event_id, callback)
            first = event_id not in self._callback_events.values()
            self._callback_events[callback_id] = event_id
            if first:
                self._rpc.want_events(True)
                try:
                    args = m.RemoteDomainEventsRegisterAnyArgs(event_id)
                    self._call_void(Procedure.DOMAIN_EVENTS_REGISTER_ANY, args)
                except BaseException:
                    del self._callback_events[callback_id]
                    self._events.deregister(callback_id)
                    self._rpc.want_events(bool(self._callback_events))
                    raise
        return callback_id

    def connect_domain_event_deregister_any(self, callback_id: int) -> None:
        """Mirrors remoteConnectDomainEventDeregisterAny: DEREGISTER_ANY with the last one."""
        with self._event_lock:
            self._events.deregister(callback_id)
            event_id = self._callback_events.pop(callback_id)
            if event_id not in self._callback_events.values():
                self._rpc.want_events(bool(self._callback_events))
                args = m.RemoteDomainEventsDeregisterAnyArgs(event_id)
                self._call_void(Procedure.DOMAIN_EVENTS_DEREGISTER_ANY, args)

    # -- hand-written slots (@generate none) -------------------------------

    def lookup_by_uuid(self, uuid: str) -> DomainRef:
        """Mirrors remoteDomainLookupByUUID."""
        args = m.RemoteDomainLookupByUuidArgs(uuid_to_bytes(uuid))
        ret = self._call(Procedure.DOMAIN_LOOKUP_BY_UUID, args, m.RemoteDomainLookupByUuidRet)
        return _ref(ret.dom)

    def list_all_domains(self, flags: int) -> list[DomainRef]:
        """Mirrors remoteConnectListAllDomains."""
        args = m.RemoteConnectListAllDomainsArgs(1, flags)
        ret = self._call(Procedure.CONNECT_LIST_ALL_DOMAINS, args, m.RemoteConnectListAllDomainsRet)
        return [_ref(d) for d in ret.domains]

    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        """Mirrors remoteDomainGetInfo."""
        args = m.RemoteDomainGetInfoArgs(_wire(dom))
        r = self._call(Procedure.DOMAIN_GET_INFO, args, m.RemoteDomainGetInfoRet)
        return DomainInfo(r.state, r.maxMem, r.memory, r.nrVirtCpu, r.cpuTime)

    def domain_get_state(self, dom: DomainRef, flags: int) -> tuple[int, int]:
        """Mirrors remoteDomainGetState."""
        args = m.RemoteDomainGetStateArgs(_wire(dom), flags)
        r = self._call(Procedure.DOMAIN_GET_STATE, args, m.RemoteDomainGetStateRet)
        return (r.state, r.reason)

    def domain_get_block_job_info(
        self, dom: DomainRef, disk: str, flags: int
    ) -> BlockJobInfo | None:
        """Mirrors remoteDomainGetBlockJobInfo: the reply's ``found`` tells job from none."""
        args = m.RemoteDomainGetBlockJobInfoArgs(_wire(dom), disk, flags)
        r = self._call(Procedure.DOMAIN_GET_BLOCK_JOB_INFO, args, m.RemoteDomainGetBlockJobInfoRet)
        if not r.found:
            return None
        return BlockJobInfo(r.type, r.bandwidth, r.cur, r.end)


def _ref(dom: m.RemoteNonnullDomain) -> DomainRef:
    return DomainRef(dom.name, uuid_from_bytes(dom.uuid), dom.id)


def _wire(dom: DomainRef) -> m.RemoteNonnullDomain:
    return m.RemoteNonnullDomain(dom.name, uuid_to_bytes(dom.uuid), dom.id)
