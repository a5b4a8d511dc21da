"""Connections (virConnectPtr): open, lookups, define, events; the connect entry points.

A Connection wraps one driver object returned by the registry.  Lookups and
definitions return :class:`~minivirt.core.domain.Domain` handles.  Event
callbacks registered here get libvirt's shapes: ``cb(conn, dom, event,
detail, opaque)`` for lifecycle events and ``cb(conn, dom, disk, type, status,
opaque)`` for block job events; they run in the application's event loop.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from minivirt.core import checks
from minivirt.core.domain import DomainHandle
from minivirt.core.qemu import domain_qemu_monitor_command
from minivirt.core.registry import open_driver
from minivirt.core.uri import URI
from minivirt.public import (
    BlockJobEvent,
    ConnectListAllDomainsFlags,
    DomainEvent,
    DomainEventID,
    DomainRef,
    DriverSlot,
    ErrorDomain,
    HypervisorDriver,
    LifecycleEvent,
)
from minivirt.public.logger import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["LIB_VERSION", "Connection", "Domain", "open", "open_read_only"]

log = get_logger("minivirt.core")

#: The libvirt version whose API surface minivirt follows (major*1e6 + minor*1e3 + micro).
LIB_VERSION: Final = 9_000_000

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def _is_uuid(text: str) -> bool:
    """Whether ``text`` is a UUID as virUUIDParse takes it: 32 hex digits grouped
    8-4-4-4-12, each dash between two groups optional (written without ``re``,
    which a one-shot client would otherwise import at every start)."""
    pos = 0
    for size in (8, 4, 4, 4, 12):
        if pos and text.startswith("-", pos):
            pos += 1
        group = text[pos : pos + size]
        if len(group) != size or not _HEX_DIGITS.issuperset(group):
            return False
        pos += size
    return pos == len(text)


#: A user's domain event callback: ``cb(conn, dom, *event_args, opaque)``.
UserCallback = Callable[..., object]


def open(uri: str | None = None) -> Connection:
    """Mirrors virConnectOpen.  Raises NO_CONNECT, or the accepting driver's error."""
    return Connection._open(uri, read_only=False)


def open_read_only(uri: str | None = None) -> Connection:
    """Mirrors virConnectOpenReadOnly: every modifying call is refused with OPERATION_DENIED."""
    return Connection._open(uri, read_only=True)


class Domain(DomainHandle):
    """A domain handle (virDomainPtr) of a :class:`Connection`.

    Its methods and the domain entry points are ``minivirt.core.domain``'s;
    this class only gives ``conn`` its precise type.
    """

    __slots__ = ()

    def __init__(self, conn: Connection, ref: DomainRef) -> None:
        super().__init__(conn, ref)

    @property
    def conn(self) -> Connection:
        """The connection this handle belongs to (virDomainGetConnect)."""
        conn = self._conn
        assert isinstance(conn, Connection)  # __init__ takes a Connection
        return conn

    def qemu_monitor_command(self, cmd: str, flags: int = 0) -> str:
        """virDomainQemuMonitorCommand (libvirt-qemu); see minivirt.core.qemu."""
        return domain_qemu_monitor_command(self, cmd, flags)


class Connection:
    """A connection to one hypervisor driver (virConnectPtr)."""

    def __init__(self, uri: URI, driver: HypervisorDriver, read_only: bool) -> None:
        self._uri = uri
        self._driver = driver
        self._read_only = read_only
        self._closed = False
        self._lock = threading.Lock()
        self._callbacks: set[int] = set()

    @classmethod
    def _open(cls, name: str | None, read_only: bool) -> Connection:
        log.debug("virConnectOpen uri=%r read_only=%s", name, read_only)
        uri, driver = open_driver(name, read_only)
        return cls(uri, driver, read_only)

    # -- state ------------------------------------------------------------
    @property
    def driver(self) -> HypervisorDriver:
        return self._driver

    @property
    def closed(self) -> bool:
        return self._closed

    def _check(self, function: str, domain: ErrorDomain = ErrorDomain.NONE) -> None:
        if self._closed:
            raise checks.invalid_conn(function, domain)

    def _writable(self, function: str) -> None:
        if self._read_only:
            raise checks.read_only_denied(function)

    def _table(
        self, slot: DriverSlot, function: str, domain: ErrorDomain = ErrorDomain.DOMAIN
    ) -> HypervisorDriver:
        return checks.supported(self._driver, slot, function, domain)

    def is_read_only(self) -> bool:
        return self._read_only

    def close(self) -> int:
        """Mirrors virConnectClose: the driver drops this connection's event callbacks."""
        if self._closed:
            raise checks.invalid_conn("virConnectClose")
        self._closed = True
        self._driver.close()
        return 0

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._closed:
            self.close()

    # -- connect-level queries --------------------------------------------
    def get_uri(self) -> str:
        """Mirrors virConnectGetURI."""
        self._check("virConnectGetURI")
        return self._uri.text

    def get_type(self) -> str:
        """Mirrors virConnectGetType."""
        self._check("virConnectGetType")
        return self._table("get_type", "virConnectGetType", ErrorDomain.NONE).get_type()

    def get_version(self) -> int:
        """Mirrors virConnectGetVersion: the hypervisor's version."""
        self._check("virConnectGetVersion")
        return self._table("get_version", "virConnectGetVersion", ErrorDomain.NONE).get_version()

    def get_lib_version(self) -> int:
        """Mirrors virConnectGetLibVersion."""
        self._check("virConnectGetLibVersion")
        return LIB_VERSION

    def get_hostname(self) -> str:
        """Mirrors virConnectGetHostname."""
        self._check("virConnectGetHostname")
        if "get_hostname" in self._driver.unsupported_slots:
            return socket.gethostname()
        return self._driver.get_hostname()

    def is_alive(self) -> bool:
        """Mirrors virConnectIsAlive."""
        if self._closed:
            return False
        if "is_alive" in self._driver.unsupported_slots:
            return True
        return self._driver.is_alive()

    # -- lookups ----------------------------------------------------------
    def _domain(self, ref: DomainRef) -> Domain:
        return Domain(self, ref)

    def lookup_by_name(self, name: str) -> Domain:
        """Mirrors virDomainLookupByName.  Raises INVALID_CONN, INVALID_ARG, NO_DOMAIN."""
        fn = "virDomainLookupByName"
        self._check(fn, ErrorDomain.DOMAIN)
        checks.non_null(name, "name", fn)
        return self._domain(self._table("lookup_by_name", fn).lookup_by_name(name))

    def lookup_by_id(self, id: int) -> Domain:
        """Mirrors virDomainLookupByID.  Raises INVALID_CONN, INVALID_ARG, NO_DOMAIN."""
        fn = "virDomainLookupByID"
        self._check(fn, ErrorDomain.DOMAIN)
        if isinstance(id, bool) or not isinstance(id, int):
            raise checks.invalid_arg("id", fn, f"id in {fn} must be an integer")
        checks.non_negative(id, "id", fn)
        return self._domain(self._table("lookup_by_id", fn).lookup_by_id(id))

    def lookup_by_uuid_string(self, uuid: str) -> Domain:
        """Mirrors virDomainLookupByUUIDString.  Raises INVALID_CONN, INVALID_ARG, NO_DOMAIN."""
        fn = "virDomainLookupByUUIDString"
        self._check(fn, ErrorDomain.DOMAIN)
        checks.non_null(uuid, "uuidstr", fn)
        text = uuid.strip()
        if not _is_uuid(text):
            raise checks.invalid_arg("uuidstr", fn, f"uuidstr in {fn} must be a valid UUID")
        hexa = text.replace("-", "").lower()
        canonical = f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"
        return self._domain(self._table("lookup_by_uuid", fn).lookup_by_uuid(canonical))

    def list_all_domains(self, flags: int = 0) -> list[Domain]:
        """Mirrors virConnectListAllDomains (ACTIVE / INACTIVE filters)."""
        fn = "virConnectListAllDomains"
        self._check(fn, ErrorDomain.DOMAIN)
        flags = checks.uint_arg(flags, "flags", fn)
        refs = self._table("list_all_domains", fn).list_all_domains(flags)
        return [self._domain(r) for r in refs]

    def list_domains_id(self) -> list[int]:
        """Mirrors virConnectListDomains: ids of the running domains."""
        doms = self.list_all_domains(ConnectListAllDomainsFlags.ACTIVE)
        return sorted(d.id for d in doms)

    def define_xml(self, xml: str) -> Domain:
        """Mirrors virDomainDefineXML; the document may be libvirt XML or minivirt YAML.

        Raises INVALID_CONN, OPERATION_DENIED, INVALID_ARG, NO_SUPPORT and the
        driver's XML_ERROR family.
        """
        fn = "virDomainDefineXML"
        self._check(fn, ErrorDomain.DOMAIN)
        self._writable(fn)
        checks.non_null(xml, "xml", fn)
        return self._domain(self._table("domain_define_xml", fn).domain_define_xml(xml, 0))

    # -- events -----------------------------------------------------------
    def domain_event_register_any(
        self,
        dom: Domain | None,
        event_id: int,
        callback: UserCallback,
        opaque: object = None,
    ) -> int:
        """Mirrors virConnectDomainEventRegisterAny; returns the callback id.

        Allowed on read-only connections.  Raises INVALID_CONN, INVALID_DOMAIN,
        INVALID_ARG (NULL callback, foreign domain, bad event id), NO_SUPPORT,
        INTERNAL_ERROR when no event loop is registered.
        """
        fn = "virConnectDomainEventRegisterAny"
        self._check(fn, ErrorDomain.DOMAIN)
        if callback is None:
            raise checks.invalid_arg("cb", fn, f"cb in {fn} must not be NULL")
        if dom is not None:
            if not isinstance(dom, Domain) or dom.conn.closed:
                raise checks.invalid_domain(fn)
            if dom.conn is not self:
                raise checks.invalid_arg(
                    "dom", fn, f"domain '{dom.name}' in {fn} must match connection"
                )
        if isinstance(event_id, bool) or not isinstance(event_id, int):
            raise checks.invalid_arg("eventID", fn, f"eventID in {fn} must be an integer")
        checks.non_negative(event_id, "eventID", fn)
        if event_id >= DomainEventID.LAST:
            raise checks.invalid_arg(
                "eventID", fn, f"eventID in {fn} must be less than {int(DomainEventID.LAST)}"
            )
        table = self._table("connect_domain_event_register_any", fn)
        relay = self._relay(callback, opaque)
        callback_id = table.connect_domain_event_register_any(
            None if dom is None else dom.ref, event_id, relay
        )
        with self._lock:
            self._callbacks.add(callback_id)
        return callback_id

    def domain_event_deregister_any(self, callback_id: int) -> None:
        """Mirrors virConnectDomainEventDeregisterAny.  Raises INVALID_CONN, INVALID_ARG."""
        fn = "virConnectDomainEventDeregisterAny"
        self._check(fn, ErrorDomain.DOMAIN)
        if isinstance(callback_id, bool) or not isinstance(callback_id, int):
            raise checks.invalid_arg("callbackID", fn, f"callbackID in {fn} must be an integer")
        checks.non_negative(callback_id, "callbackID", fn)
        self._table("connect_domain_event_deregister_any", fn).connect_domain_event_deregister_any(
            callback_id
        )
        with self._lock:
            self._callbacks.discard(callback_id)

    def _relay(self, callback: UserCallback, opaque: object) -> Callable[[DomainEvent], None]:
        def relay(event: DomainEvent) -> None:
            dom = Domain(self, event.dom)
            if isinstance(event, BlockJobEvent):
                callback(self, dom, event.disk, event.type, event.status, opaque)
            elif isinstance(event, LifecycleEvent):
                callback(self, dom, event.event, event.detail, opaque)

        return relay

    def __repr__(self) -> str:
        mode = " read-only" if self._read_only else ""
        return f"<Connection {self._uri.text!r}{mode}{' closed' if self._closed else ''}>"
