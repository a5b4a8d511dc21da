"""The hypervisor driver interface (libvirt's ``virHypervisorDriver`` table).

A driver is any object with some of these methods.  Only ``close`` is
mandatory; a method a driver leaves out behaves as libvirt's NULL slot: the
entry point in ``minivirt.core`` reports VIR_ERR_NO_SUPPORT.  Drivers raise
:class:`~minivirt.public.errors.VirError` for every failure and never return
error codes.  Drivers must be thread-safe: the daemon calls them from worker
threads.  This module declares; it implements nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from minivirt.public.types import BlockJobInfo, DomainEvent, DomainInfo, DomainRef

__all__ = [
    "DRIVER_METHODS",
    "AsyncBlockJobInfoDriver",
    "ConnectURI",
    "EventCallback",
    "HypervisorDriver",
    "KeepAliveDriver",
]

#: What a driver calls for each event delivered to one registration.  It is
#: invoked from the application's event loop, never from inside a driver call.
EventCallback = Callable[[DomainEvent], None]


class ConnectURI(Protocol):
    """What a driver factory reads of a parsed connection URI (libvirt's virURI).

    ``minivirt.core.URI`` has these fields; drivers type their factories with
    this protocol because they must not import core.
    """

    @property
    def scheme(self) -> str: ...
    @property
    def transport(self) -> str | None: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int | None: ...
    @property
    def path(self) -> str: ...
    @property
    def query(self) -> dict[str, str]: ...


class HypervisorDriver(Protocol):
    """The full driver table.  Each method's docstring names libvirt's slot."""

    def close(self) -> None:
        """connectClose: release the connection's resources (events deregistered)."""

    def get_type(self) -> str:
        """connectGetType: "QEMU", "Test", …"""
        ...

    def get_version(self) -> int:
        """connectGetVersion: hypervisor version as major*1000000+minor*1000+micro."""
        ...

    def get_hostname(self) -> str:
        """connectGetHostname."""
        ...

    def is_alive(self) -> bool:
        """connectIsAlive."""
        ...

    def list_all_domains(self, flags: int) -> list[DomainRef]:
        """connectListAllDomains, filtered by ConnectListAllDomainsFlags."""
        ...

    def lookup_by_name(self, name: str) -> DomainRef:
        """domainLookupByName; NO_DOMAIN when absent."""
        ...

    def lookup_by_id(self, id: int) -> DomainRef:
        """domainLookupByID; NO_DOMAIN when absent."""
        ...

    def lookup_by_uuid(self, uuid: str) -> DomainRef:
        """domainLookupByUUID (canonical string); NO_DOMAIN when absent."""
        ...

    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        """domainDefineXMLFlags: the document is libvirt domain XML or minivirt YAML."""
        ...

    def domain_undefine(self, dom: DomainRef, flags: int) -> None:
        """domainUndefineFlags."""

    def domain_create(self, dom: DomainRef, flags: int) -> DomainRef:
        """domainCreateWithFlags: start; returns the identity with its new id."""
        ...

    def domain_destroy(self, dom: DomainRef, flags: int) -> None:
        """domainDestroyFlags."""

    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        """domainGetInfo."""
        ...

    def domain_get_state(self, dom: DomainRef, flags: int) -> tuple[int, int]:
        """domainGetState: (DomainState, reason)."""
        ...

    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        """domainGetXMLDesc: libvirt domain XML."""
        ...

    def domain_block_pull(self, dom: DomainRef, disk: str, bandwidth: int, flags: int) -> None:
        """domainBlockPull."""

    def domain_block_rebase(
        self, dom: DomainRef, disk: str, base: str | None, bandwidth: int, flags: int
    ) -> None:
        """domainBlockRebase (a pull limited to the layers above ``base``)."""

    def domain_get_block_job_info(
        self, dom: DomainRef, disk: str, flags: int
    ) -> BlockJobInfo | None:
        """domainGetBlockJobInfo: the job, or None when the disk has none."""
        ...

    def domain_block_job_abort(self, dom: DomainRef, disk: str, flags: int) -> None:
        """domainBlockJobAbort."""

    def domain_block_job_set_speed(
        self, dom: DomainRef, disk: str, bandwidth: int, flags: int
    ) -> None:
        """domainBlockJobSetSpeed."""

    def connect_domain_event_register_any(
        self, dom: DomainRef | None, event_id: int, callback: EventCallback
    ) -> int:
        """connectDomainEventRegisterAny: returns a callback id (>= 0)."""
        ...

    def connect_domain_event_deregister_any(self, callback_id: int) -> None:
        """connectDomainEventDeregisterAny: INVALID_ARG when the id is unknown."""


class KeepAliveDriver(Protocol):
    """The slot only a driver with a peer has (libvirt's remote driver)."""

    def connect_set_keep_alive(self, interval: int, count: int) -> int:
        """connectSetKeepAlive: PINGs after ``interval`` silent seconds (<= 0 stops); 0."""
        ...


class AsyncBlockJobInfoDriver(Protocol):
    """The awaitable twin of a hot slot, for a server running an asyncio loop (issue #14).

    It answers from the driver's memory at once (no job on the disk) or
    awaits QEMU without blocking the caller's loop; it never blocks.  Same
    arguments, result and errors as ``domain_get_block_job_info``.
    """

    def domain_get_block_job_info_async(
        self, dom: DomainRef, disk: str, flags: int
    ) -> Awaitable[BlockJobInfo | None]:
        """domainGetBlockJobInfo, awaited."""
        ...


#: Every slot name of :class:`HypervisorDriver` but ``close``, in table order.
DRIVER_METHODS: Final[tuple[str, ...]] = (
    "get_type",
    "get_version",
    "get_hostname",
    "is_alive",
    "list_all_domains",
    "lookup_by_name",
    "lookup_by_id",
    "lookup_by_uuid",
    "domain_define_xml",
    "domain_undefine",
    "domain_create",
    "domain_destroy",
    "domain_get_info",
    "domain_get_state",
    "domain_get_xml_desc",
    "domain_block_pull",
    "domain_block_rebase",
    "domain_get_block_job_info",
    "domain_block_job_abort",
    "domain_block_job_set_speed",
    "connect_domain_event_register_any",
    "connect_domain_event_deregister_any",
)
