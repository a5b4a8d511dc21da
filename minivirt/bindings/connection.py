"""``virConnect`` and ``open``/``openReadOnly``: libvirt-python's connection surface.

This module owns libvirt-python's connection method names, parameters and
return shapes, and the domain event plumbing in libvirt-python's shape:
``domainEventRegisterAny`` stores ``cbData = {"cb", "conn", "opaque"}`` and
every event reaches the user through a ``_dispatchDomainEvent*Callback``
method looked up on the connection at dispatch time.  It reaches hypervisors
only through ``minivirt.core``; it must not check arguments (core does) nor
import a driver, conf or the event package.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, cast

import minivirt.wiring  # noqa: F401  (registers the drivers with core)
from minivirt import core
from minivirt.bindings.domain import DomainCalls
from minivirt.bindings.errors import ApiCall
from minivirt.public import ConnectListAllDomainsFlags, DomainEventID

__all__ = ["getVersion", "open", "openReadOnly", "virConnect", "virDomain"]

#: The connection method that receives each event id, as libvirt-python's C glue picks it.
_DISPATCHERS: Final[dict[int, str]] = {
    int(DomainEventID.LIFECYCLE): "_dispatchDomainEventLifecycleCallback",
    int(DomainEventID.BLOCK_JOB): "_dispatchDomainEventBlockJobCallback",
    int(DomainEventID.BLOCK_JOB_2): "_dispatchDomainEventBlockJobCallback",
}

#: The UUID length libvirt-python requires of ``lookupByUUID`` (VIR_UUID_BUFLEN).
_UUID_BUFLEN: Final = 16


def open(name: str | None = None) -> virConnect:
    """Mirrors virConnectOpen: a read-write connection to ``name`` (any minivirt URI).

    ``name`` None uses MINIVIRT_DEFAULT_URI.  Raises libvirtError NO_CONNECT
    when no driver accepts the URI, or the driver's open error.
    """
    with ApiCall("virConnectOpen"):
        return virConnect(_obj=core.open(name))


def openReadOnly(name: str | None = None) -> virConnect:
    """Mirrors virConnectOpenReadOnly: modifying calls fail with OPERATION_DENIED."""
    with ApiCall("virConnectOpenReadOnly"):
        return virConnect(_obj=core.open_read_only(name))


def getVersion(name: str | None = None) -> int | tuple[int, int]:
    """Mirrors libvirt-python's getVersion (virGetVersion): the library version.

    With a driver ``name`` the pair (library version, driver version) is
    returned; as modern libvirt, both are the library version.
    """
    with ApiCall("virGetVersion"):
        version = core.LIB_VERSION
        return version if name is None else (version, version)


class virDomain(DomainCalls):
    """Mirrors libvirt-python's virDomain (virDomainPtr); its calls are ``DomainCalls``'.

    Built by the connection's lookups, ``defineXML`` and event dispatch as
    ``virDomain(conn, _obj=<core.Domain>)``.
    """

    __slots__ = ()

    def __init__(self, conn: virConnect, _obj: core.Domain | None = None) -> None:
        super().__init__(conn, _obj)

    def connect(self) -> virConnect:
        """The virConnect this domain belongs to."""
        return cast(virConnect, self._conn)


class virConnect:
    """Mirrors libvirt-python's virConnect (virConnectPtr).

    Every method raises libvirtError for every failure; after ``close()``
    calls fail with INVALID_CONN.
    """

    def __init__(self, _obj: core.Connection | None = None) -> None:
        if not isinstance(_obj, core.Connection):
            raise TypeError(f"Expected a minivirt.core.Connection but got {type(_obj)}")
        self._o: core.Connection = _obj
        self.domainEventCallbackID: dict[int, Any] = {}

    def __repr__(self) -> str:
        return f"<virConnect {self._o!r}>"

    def __enter__(self) -> virConnect:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _domain(self, dom: core.Domain) -> virDomain:
        return virDomain(self, _obj=dom)

    # -- the connection itself ------------------------------------------------
    def close(self) -> int:
        """Mirrors virConnectClose: 0; the connection's event callbacks are dropped.

        Raises INVALID_CONN when already closed.
        """
        with ApiCall("virConnectClose"):
            ret = self._o.close()
        self.domainEventCallbackID.clear()
        return ret

    def isAlive(self) -> int:
        """Mirrors virConnectIsAlive: 1 while usable, 0 once closed or the peer is gone."""
        with ApiCall("virConnectIsAlive"):
            return int(self._o.is_alive())

    def getURI(self) -> str:
        """Mirrors virConnectGetURI.  Raises INVALID_CONN."""
        with ApiCall("virConnectGetURI"):
            return self._o.get_uri()

    def getType(self) -> str:
        """Mirrors virConnectGetType ("QEMU", "TEST").  Raises INVALID_CONN, NO_SUPPORT."""
        with ApiCall("virConnectGetType"):
            return self._o.get_type()

    def getVersion(self) -> int:
        """Mirrors virConnectGetVersion: the hypervisor's version (major*1e6+minor*1e3+micro)."""
        with ApiCall("virConnectGetVersion"):
            return self._o.get_version()

    def getLibVersion(self) -> int:
        """Mirrors virConnectGetLibVersion: the libvirt version minivirt follows."""
        with ApiCall("virConnectGetLibVersion"):
            return self._o.get_lib_version()

    def getHostname(self) -> str:
        """Mirrors virConnectGetHostname."""
        with ApiCall("virConnectGetHostname"):
            return self._o.get_hostname()

    # -- lookups and listings ---------------------------------------------------
    def lookupByName(self, name: str) -> virDomain:
        """Mirrors virDomainLookupByName.  Raises INVALID_CONN, INVALID_ARG, NO_DOMAIN."""
        with ApiCall("virDomainLookupByName"):
            return self._domain(self._o.lookup_by_name(name))

    def lookupByID(self, id: int) -> virDomain:
        """Mirrors virDomainLookupByID.  Raises INVALID_CONN, INVALID_ARG, NO_DOMAIN."""
        with ApiCall("virDomainLookupByID"):
            return self._domain(self._o.lookup_by_id(id))

    def lookupByUUIDString(self, uuidstr: str) -> virDomain:
        """Mirrors virDomainLookupByUUIDString.  Raises INVALID_CONN, INVALID_ARG, NO_DOMAIN."""
        with ApiCall("virDomainLookupByUUIDString"):
            return self._domain(self._o.lookup_by_uuid_string(uuidstr))

    def lookupByUUID(self, uuid: bytes) -> virDomain:
        """Mirrors virDomainLookupByUUID: ``uuid`` is the 16 raw bytes.

        As libvirt-python, anything but 16 bytes fails without a libvirt error
        (libvirtError "virDomainLookupByUUID() failed", ``err`` None).
        Raises INVALID_CONN, NO_DOMAIN.
        """
        call = ApiCall("virDomainLookupByUUID")
        with call:
            if not isinstance(uuid, bytes | bytearray) or len(uuid) != _UUID_BUFLEN:
                raise call.fail()
            text = str(_uuid.UUID(bytes=bytes(uuid)))
            return self._domain(self._o.lookup_by_uuid_string(text))

    def listAllDomains(self, flags: int = 0) -> list[virDomain]:
        """Mirrors virConnectListAllDomains (VIR_CONNECT_LIST_DOMAINS_ACTIVE / _INACTIVE …)."""
        with ApiCall("virConnectListAllDomains"):
            return [self._domain(d) for d in self._o.list_all_domains(flags)]

    def listDomainsID(self) -> list[int]:
        """Mirrors virConnectListDomains: the ids of the running domains."""
        with ApiCall("virConnectListDomains"):
            return self._o.list_domains_id()

    def listDefinedDomains(self) -> list[str]:
        """Mirrors virConnectListDefinedDomains: the names of the inactive domains."""
        with ApiCall("virConnectListDefinedDomains"):
            inactive = self._o.list_all_domains(ConnectListAllDomainsFlags.INACTIVE)
            return [d.name for d in inactive]

    def numOfDomains(self) -> int:
        """Mirrors virConnectNumOfDomains: how many domains are running."""
        with ApiCall("virConnectNumOfDomains"):
            return len(self._o.list_all_domains(ConnectListAllDomainsFlags.ACTIVE))

    def numOfDefinedDomains(self) -> int:
        """Mirrors virConnectNumOfDefinedDomains: how many domains are defined but inactive."""
        with ApiCall("virConnectNumOfDefinedDomains"):
            return len(self._o.list_all_domains(ConnectListAllDomainsFlags.INACTIVE))

    # -- definitions --------------------------------------------------------------
    def defineXML(self, xml: str) -> virDomain:
        """Mirrors virDomainDefineXML: define (or redefine) a persistent domain.

        The libvirt XML subset: name, uuid, memory/currentMemory, vcpu, and
        ``<disk type='file' device='disk'>`` with ``<driver type=…>``,
        ``<source file=…>``, ``<target dev=… bus=…>``.  Raises INVALID_CONN,
        OPERATION_DENIED, INVALID_ARG, XML_ERROR (malformed, oversized, DOCTYPE
        or entity declarations), CONFIG_UNSUPPORTED and the driver's errors.
        """
        with ApiCall("virDomainDefineXML"):
            return self._domain(self._o.define_xml(xml))

    def defineYAML(self, yaml: str) -> virDomain:
        """minivirt extension (no libvirt twin): defineXML for a minivirt YAML document.

        Raises as :meth:`defineXML`.
        """
        with ApiCall("virDomainDefineXML"):
            return self._domain(self._o.define_xml(yaml))

    # -- events ---------------------------------------------------------------------
    def domainEventRegisterAny(
        self, dom: virDomain | None, eventID: int, cb: Callable[..., object], opaque: Any
    ) -> int:
        """Mirrors virConnectDomainEventRegisterAny; returns the callback id.

        ``cb(conn, dom, disk, type, status, opaque)`` for BLOCK_JOB (disk = source
        path) and BLOCK_JOB_2 (disk = target name); ``cb(conn, dom, event,
        detail, opaque)`` for LIFECYCLE.  Callbacks run inside the event loop
        (``virEventRunDefaultImpl``).  Raises INVALID_CONN, INVALID_DOMAIN,
        INVALID_ARG (bad event id, foreign domain) and INTERNAL_ERROR "could
        not initialize domain event timer" when no event loop is registered.
        """
        cb_data: dict[str, Any] = {"cb": cb, "conn": self, "opaque": opaque}
        dispatcher = _DISPATCHERS.get(eventID) if isinstance(eventID, int) else None

        def relay(_conn: core.Connection, core_dom: core.Domain, *args: Any) -> None:
            if dispatcher is not None:
                # libvirt-python hands plain ints (not enum members) to callbacks.
                plain = [int(a) if isinstance(a, int) else a for a in args]
                getattr(self, dispatcher)(core_dom, *plain)

        with ApiCall("virConnectDomainEventRegisterAny"):
            target: Any = None if dom is None else getattr(dom, "_o", dom)
            ret = self._o.domain_event_register_any(target, eventID, relay, cb_data)
        self.domainEventCallbackID[ret] = opaque
        return ret

    def domainEventDeregisterAny(self, callbackID: int) -> None:
        """Mirrors virConnectDomainEventDeregisterAny.  Raises INVALID_CONN, INVALID_ARG."""
        with ApiCall("virConnectDomainEventDeregisterAny"):
            self._o.domain_event_deregister_any(callbackID)
        self.domainEventCallbackID.pop(callbackID, None)

    def _dispatchDomainEventLifecycleCallback(
        self, dom: core.Domain, event: int, detail: int, cbData: dict[str, Any]
    ) -> int:
        """libvirt-python's lifecycle dispatcher: ``cb(conn, dom, event, detail, opaque)``."""
        cb = cbData["cb"]
        opaque = cbData["opaque"]
        cb(self, virDomain(self, _obj=dom), event, detail, opaque)
        return 0

    def _dispatchDomainEventBlockJobCallback(
        self,
        dom: core.Domain,
        disk: str,
        type: int,
        status: int,
        cbData: dict[str, Any],
    ) -> None:
        """libvirt-python's BLOCK_JOB / BLOCK_JOB_2 dispatcher (AttributeError swallowed)."""
        try:
            cb = cbData["cb"]
            opaque = cbData["opaque"]
            cb(self, virDomain(self, _obj=dom), disk, type, status, opaque)
        except AttributeError:
            pass
