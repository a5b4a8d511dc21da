"""Server-side dispatch of one client's calls (libvirt's ``remote_daemon_dispatch.c``).

Owns the hand-written dispatchers (procedures annotated ``@generate: none``
or ``client``), the read-only refusal, the client's public-API connection and
its event registrations (one per event id, relayed as MESSAGE frames through
the ``send_event`` hook).  The generated dispatchers come from
``server_stubs``.  Dispatchers run in the daemon's worker threads, or on
its I/O thread for the calls the client's driver declares non-blocking.  It
calls the public API through what ``server`` hands in (``open_conn``,
``make_domain``), so that it can be tested with fakes.  Must not: do socket
I/O.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from minivirt.public import (
    DomainEventID,
    DomainRef,
    DriverSlot,
    ErrorDomain,
    ErrorNumber,
    VirError,
)
from minivirt.remote.protocol import messages as m
from minivirt.remote.protocol.procedures import PROCEDURES, Procedure
from minivirt.remote.protocol.runtime import (
    ProcedureInfo,
    WireStruct,
    uuid_from_bytes,
    uuid_to_bytes,
)
from minivirt.remote.protocol.server_stubs import SERVER_DISPATCH, ServerStubs

__all__ = ["MEMORY_SLOTS", "Handler", "denied", "map_uri"]

log = logging.getLogger(__name__)

#: Procedures that are not sent as events but carry a relay for an event id.
EVENT_PROCEDURES: Final[dict[int, int]] = {
    int(DomainEventID.LIFECYCLE): int(Procedure.DOMAIN_EVENT_LIFECYCLE),
    int(DomainEventID.BLOCK_JOB): int(Procedure.DOMAIN_EVENT_BLOCK_JOB),
    int(DomainEventID.BLOCK_JOB_2): int(Procedure.DOMAIN_EVENT_BLOCK_JOB_2),
}

SendEvent = Callable[[int, WireStruct], None]
#: core's awaitable entry point for block-job info, and its "does the driver have the twin".
AsyncJobInfo = tuple[Callable[..., Awaitable[Any]], Callable[[Any, str], bool]]

#: The driver slot behind each API a procedure calls (see ``nonblocking_slots``).
API_SLOTS: Final[dict[str, DriverSlot]] = {
    "virConnectGetType": "get_type",
    "virConnectGetVersion": "get_version",
    "virConnectGetHostname": "get_hostname",
    "virConnectListAllDomains": "list_all_domains",
    "virConnectListDomains": "list_all_domains",
    "virConnectNumOfDomains": "list_all_domains",
    "virDomainLookupByName": "lookup_by_name",
    "virDomainLookupByID": "lookup_by_id",
    "virDomainLookupByUUID": "lookup_by_uuid",
    "virDomainGetState": "domain_get_state",
    "virDomainGetInfo": "domain_get_info",
    "virDomainGetXMLDesc": "domain_get_xml_desc",
    "virDomainGetBlockJobInfo": "domain_get_block_job_info",
    "virDomainBlockJobAbort": "domain_block_job_abort",
    "virDomainBlockJobSetSpeed": "domain_block_job_set_speed",
    "virDomainBlockPull": "domain_block_pull",
    "virDomainBlockRebase": "domain_block_rebase",
    "virConnectDomainEventRegisterAny": "connect_domain_event_register_any",
    "virConnectDomainEventDeregisterAny": "connect_domain_event_deregister_any",
}


#: Slots whose answer lives in a driver's memory by their nature (lookups,
#: state, listing, event registrations).  Only these may run on the daemon's
#: loop, and only when the driver also lists them in ``nonblocking_slots``:
#: the XML (it may probe the disk for the backing chain), the version (it may
#: run the emulator) and anything that may reach QEMU never do, whatever a
#: driver declares.
MEMORY_SLOTS: Final = frozenset(
    {
        "get_type",
        "get_hostname",
        "is_alive",
        "list_all_domains",
        "lookup_by_name",
        "lookup_by_id",
        "lookup_by_uuid",
        "domain_get_state",
        "domain_get_info",
        "connect_domain_event_register_any",
        "connect_domain_event_deregister_any",
    }
)


def denied(info: ProcedureInfo) -> VirError:
    """libvirt's refusal of a modifying call on a read-only connection."""
    return VirError.report(
        ErrorNumber.OPERATION_DENIED, ErrorDomain.DOMAIN, f"read only access prevents {info.api}"
    )


def _internal(text: str) -> VirError:
    return VirError.report(ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, text)


def map_uri(asked: str | None, local_uri: str) -> str:
    """The URI the daemon opens for a client's CONNECT_OPEN name.

    ``qemu:///system`` (or no name) means the daemon's own hypervisor
    (``--uri``); ``test:///…`` and the daemon's own URI pass through.
    Anything else is NO_CONNECT: remote clients do not choose local paths.
    """
    if not asked or asked in ("qemu:///system", "qemu:///system/", local_uri):
        return local_uri
    if asked.startswith("test:///"):
        return asked
    raise VirError.report(ErrorNumber.NO_CONNECT, ErrorDomain.NONE, asked)


class Handler(ServerStubs):
    """One client's dispatchers and public-API connection."""

    def __init__(
        self,
        open_conn: Callable[[str, bool], Any],
        make_domain: Callable[[Any, DomainRef], Any],
        local_uri: str,
        send_event: SendEvent,
        job_info_async: AsyncJobInfo | None = None,
    ) -> None:
        self._open_conn = open_conn
        self._job_info_async = job_info_async
        self._make_domain = make_domain
        self._local_uri = local_uri
        self._send_event = send_event
        self._lock = threading.Lock()
        self._connection: Any = None
        self._twin: tuple[Any, bool] | None = None  # (connection, has the awaitable twin)
        self.read_only = False
        self._registrations: dict[int, int] = {}  # event id -> core callback id
        self._methods: dict[int, Callable[[Any], WireStruct | None]] = {
            number: getattr(self, name) for number, name in SERVER_DISPATCH.items()
        }

    # -- what the daemon calls ----------------------------------------------

    def check(self, info: ProcedureInfo) -> VirError | None:
        """The refusal for calling ``info`` now (loop thread), or None."""
        if self._connection is None and info.number != Procedure.CONNECT_OPEN:
            return _internal("connection not open")
        if self.read_only and not info.readonly_allowed:
            return denied(info)
        return None

    def inline(self, info: ProcedureInfo) -> bool:
        """Whether ``info`` may run on the I/O thread: its slot is answered from memory.

        The slot must be one of :data:`MEMORY_SLOTS` and the client's driver
        must list it in ``nonblocking_slots``; anything else (opening,
        closing, lifecycle, XML, block jobs) goes to the worker pool, so a
        slow call never stalls other clients.
        """
        conn = self._connection
        slot = API_SLOTS.get(info.api)
        if conn is None or slot is None or slot not in MEMORY_SLOTS:
            return False
        return slot in getattr(conn.driver, "nonblocking_slots", ())

    def dispatch_async(self, proc: int, args: Any) -> Coroutine[Any, Any, WireStruct] | None:
        """The call as a coroutine for the I/O loop (issue #14), or None: use dispatch().

        Only for procedures whose driver slot has an awaitable twin (block-job
        info); the twin answers from memory at once or awaits QEMU without
        blocking the loop.
        """
        if proc != Procedure.DOMAIN_GET_BLOCK_JOB_INFO or self._job_info_async is None:
            return None
        call, has_twin = self._job_info_async
        conn = self._connection
        if conn is None:
            return None
        twin = self._twin
        if twin is None or twin[0] is not conn:  # asked once per connection, not per call
            twin = self._twin = (conn, has_twin(conn, "domain_get_block_job_info"))
        if not twin[1]:
            return None
        return self._block_job_info_async(call, args)

    async def _block_job_info_async(
        self, call: Callable[..., Awaitable[Any]], args: m.RemoteDomainGetBlockJobInfoArgs
    ) -> WireStruct:
        return _job_info_ret(await call(self._domain(args.dom), args.path, args.flags))

    def dispatch(self, proc: int, args: Any) -> WireStruct | None:
        """Run procedure ``proc`` with its decoded ``args`` (worker thread)."""
        method = self._methods.get(proc)
        if method is None:
            raise _internal(f"unknown procedure: {proc}")
        return method(args)

    def cleanup(self) -> None:
        """The client is gone: drop its registrations and close its connection."""
        with self._lock:
            conn, self._connection = self._connection, None
            regs, self._registrations = self._registrations, {}
        if conn is None:
            return
        for callback_id in regs.values():
            try:
                conn.domain_event_deregister_any(callback_id)
            except VirError as exc:
                log.debug("dropping registration %d: %s", callback_id, exc)
        try:
            conn.close()
        except VirError as exc:
            log.debug("closing a client's connection: %s", exc)

    # -- ServerStubBase hooks -----------------------------------------------

    def _conn(self) -> Any:
        conn = self._connection
        if conn is None:
            raise _internal("connection not open")
        return conn

    def _domain(self, dom: Any) -> Any:
        ref = DomainRef(dom.name, uuid_from_bytes(dom.uuid), dom.id)
        return self._make_domain(self._conn(), ref)

    def _wire_domain(self, dom: Any) -> m.RemoteNonnullDomain:
        return m.RemoteNonnullDomain(dom.name, uuid_to_bytes(dom.uuid_string()), dom.id)

    # -- hand-written dispatchers ---------------------------------------------

    def dispatch_connect_open(self, args: m.RemoteConnectOpenArgs) -> None:
        """REMOTE_PROC_CONNECT_OPEN: virConnectOpen / virConnectOpenReadOnly in the daemon."""
        read_only = bool(args.flags & 1)
        uri = map_uri(args.name, self._local_uri)
        with self._lock:
            if self._connection is not None:
                raise _internal("connection already open")
        conn = self._open_conn(uri, read_only)
        with self._lock:
            self._connection = conn
            self.read_only = read_only

    def dispatch_connect_close(self, args: None) -> None:
        """REMOTE_PROC_CONNECT_CLOSE: drop registrations, close the connection."""
        self.cleanup()

    def dispatch_domain_define_xml(
        self, args: m.RemoteDomainDefineXmlArgs
    ) -> m.RemoteDomainDefineXmlRet:
        """REMOTE_PROC_DOMAIN_DEFINE_XML: virDomainDefineXML."""
        return m.RemoteDomainDefineXmlRet(self._wire_domain(self._conn().define_xml(args.xml)))

    def dispatch_domain_define_xml_flags(
        self, args: m.RemoteDomainDefineXmlFlagsArgs
    ) -> m.RemoteDomainDefineXmlFlagsRet:
        """REMOTE_PROC_DOMAIN_DEFINE_XML_FLAGS: virDomainDefineXMLFlags (no flag is known)."""
        if args.flags:
            raise VirError.report(
                ErrorNumber.INVALID_ARG,
                ErrorDomain.DOMAIN,
                f"unsupported flags (0x{args.flags:x}) in function virDomainDefineXMLFlags",
            )
        dom = self._conn().define_xml(args.xml)
        return m.RemoteDomainDefineXmlFlagsRet(self._wire_domain(dom))

    def dispatch_domain_get_info(self, args: m.RemoteDomainGetInfoArgs) -> m.RemoteDomainGetInfoRet:
        """REMOTE_PROC_DOMAIN_GET_INFO: virDomainGetInfo."""
        i = self._domain(args.dom).get_info()
        return m.RemoteDomainGetInfoRet(i.state, i.max_mem, i.memory, i.nr_virt_cpu, i.cpu_time)

    def dispatch_domain_lookup_by_uuid(
        self, args: m.RemoteDomainLookupByUuidArgs
    ) -> m.RemoteDomainLookupByUuidRet:
        """REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID: virDomainLookupByUUID."""
        dom = self._conn().lookup_by_uuid_string(uuid_from_bytes(args.uuid))
        return m.RemoteDomainLookupByUuidRet(self._wire_domain(dom))

    def dispatch_connect_list_domains(
        self, args: m.RemoteConnectListDomainsArgs
    ) -> m.RemoteConnectListDomainsRet:
        """REMOTE_PROC_CONNECT_LIST_DOMAINS: virConnectListDomains."""
        if args.maxids > m.REMOTE_DOMAIN_ID_LIST_MAX:
            raise VirError.report(
                ErrorNumber.RPC, ErrorDomain.RPC, "maxids > REMOTE_DOMAIN_ID_LIST_MAX"
            )
        ids = self._conn().list_domains_id()
        return m.RemoteConnectListDomainsRet(tuple(ids[: max(args.maxids, 0)]))

    def dispatch_connect_num_of_domains(self, args: None) -> m.RemoteConnectNumOfDomainsRet:
        """REMOTE_PROC_CONNECT_NUM_OF_DOMAINS: virConnectNumOfDomains."""
        return m.RemoteConnectNumOfDomainsRet(len(self._conn().list_domains_id()))

    def dispatch_connect_list_all_domains(
        self, args: m.RemoteConnectListAllDomainsArgs
    ) -> m.RemoteConnectListAllDomainsRet:
        """REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS: virConnectListAllDomains."""
        doms = self._conn().list_all_domains(args.flags)
        if len(doms) > m.REMOTE_DOMAIN_LIST_MAX:
            raise VirError.report(
                ErrorNumber.RPC,
                ErrorDomain.RPC,
                f"Too many domains '{len(doms)}' for limit '{m.REMOTE_DOMAIN_LIST_MAX}'",
            )
        wire = tuple(self._wire_domain(d) for d in doms) if args.need_results else ()
        return m.RemoteConnectListAllDomainsRet(wire, len(doms))

    def dispatch_domain_create_with_flags(
        self, args: m.RemoteDomainCreateWithFlagsArgs
    ) -> m.RemoteDomainCreateWithFlagsRet:
        """REMOTE_PROC_DOMAIN_CREATE_WITH_FLAGS: virDomainCreateWithFlags; returns the new id."""
        dom = self._domain(args.dom)
        dom.create(args.flags)
        return m.RemoteDomainCreateWithFlagsRet(self._wire_domain(dom))

    def dispatch_domain_get_state(
        self, args: m.RemoteDomainGetStateArgs
    ) -> m.RemoteDomainGetStateRet:
        """REMOTE_PROC_DOMAIN_GET_STATE: virDomainGetState."""
        state, reason = self._domain(args.dom).get_state(args.flags)
        return m.RemoteDomainGetStateRet(state, reason)

    def dispatch_domain_get_block_job_info(
        self, args: m.RemoteDomainGetBlockJobInfoArgs
    ) -> m.RemoteDomainGetBlockJobInfoRet:
        """REMOTE_PROC_DOMAIN_GET_BLOCK_JOB_INFO: virDomainGetBlockJobInfo (found=0: no job)."""
        return _job_info_ret(self._domain(args.dom).get_block_job_info(args.path, args.flags))

    def dispatch_domain_events_register_any(
        self, args: m.RemoteDomainEventsRegisterAnyArgs
    ) -> None:
        """REMOTE_PROC_DOMAIN_EVENTS_REGISTER_ANY: one server-side callback per event id."""
        event_id = _event_id(args.eventID)
        conn = self._conn()
        with self._lock:
            if event_id in self._registrations:
                raise VirError.report(
                    ErrorNumber.INTERNAL_ERROR,
                    ErrorDomain.RPC,
                    f"domain event {event_id} already registered",
                )
            callback_id = conn.domain_event_register_any(None, event_id, self._relay(event_id))
            self._registrations[event_id] = callback_id

    def dispatch_domain_events_deregister_any(
        self, args: m.RemoteDomainEventsDeregisterAnyArgs
    ) -> None:
        """REMOTE_PROC_DOMAIN_EVENTS_DEREGISTER_ANY."""
        event_id = _event_id(args.eventID)
        conn = self._conn()
        with self._lock:
            callback_id = self._registrations.pop(event_id, None)
            if callback_id is None:
                raise VirError.report(
                    ErrorNumber.INTERNAL_ERROR,
                    ErrorDomain.RPC,
                    f"domain event {event_id} not registered",
                )
            conn.domain_event_deregister_any(callback_id)

    # -- event relay ----------------------------------------------------------

    def _relay(self, event_id: int) -> Callable[..., None]:
        """The core callback for ``event_id``: build the message, hand it to the daemon."""
        proc = EVENT_PROCEDURES.get(event_id)

        def relay(conn: Any, dom: Any, *rest: Any) -> None:
            if proc is None:
                return
            wire = self._wire_domain(dom)
            msg: WireStruct
            if proc == Procedure.DOMAIN_EVENT_LIFECYCLE:
                msg = m.RemoteDomainEventLifecycleMsg(wire, rest[0], rest[1])
            elif proc == Procedure.DOMAIN_EVENT_BLOCK_JOB:
                msg = m.RemoteDomainEventBlockJobMsg(wire, rest[0], rest[1], rest[2])
            else:
                msg = m.RemoteDomainEventBlockJob2Msg(-1, wire, rest[0], rest[1], rest[2])
            self._send_event(proc, msg)

        return relay


def _job_info_ret(info: Any) -> m.RemoteDomainGetBlockJobInfoRet:
    """A BlockJobInfo (or None: found=0) as the wire reply."""
    if info is None:
        return m.RemoteDomainGetBlockJobInfoRet(0, 0, 0, 0, 0)
    return m.RemoteDomainGetBlockJobInfoRet(1, info.type, info.bandwidth, info.cur, info.end)


def _event_id(event_id: int) -> int:
    """An event id a client may register: INTERNAL_ERROR "unsupported event ID %d" else."""
    if not 0 <= event_id < DomainEventID.LAST:
        raise VirError.report(
            ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, f"unsupported event ID {event_id}"
        )
    return event_id


def procedure_info(proc: int) -> ProcedureInfo | None:
    """The procedure table row for ``proc``."""
    return PROCEDURES.get(proc)
