"""The hypervisor driver interface (libvirt's ``virHypervisorDriver`` table).

:class:`HypervisorDriver` is the whole table: every slot is a typed method,
so ``mypy --strict`` checks each call core makes against it, and a driver
whose factory is typed ``-> HypervisorDriver`` must have every slot.  What
libvirt expresses with a NULL slot is *declared* here: a driver lists the
slots it cannot serve in ``unsupported_slots`` (a frozenset of
:data:`DriverSlot` names, checked by mypy too), and the entry point in
``minivirt.core`` reports VIR_ERR_NO_SUPPORT with its own function name
("this function is not supported by the connection driver: virDomainX")
after libvirt's other checks, without calling the slot.  Core never guesses
from a missing attribute; when a driver is opened, core refuses one that
neither fills nor declares a slot (VIR_ERR_INTERNAL_ERROR), so a misspelt
method is found at the first open, not as "not supported".

Drivers raise :class:`~minivirt.public.errors.VirError` for every failure
and never return error codes.  Drivers must be thread-safe: the daemon calls
them from worker threads.  This module declares; it implements nothing but
the two capability tests (:func:`has_keep_alive`, :func:`has_async_block_job_info`).

Run time never imports :mod:`typing` here (issue 14: a one-shot ``minivirsh``
would pay for it at every start): the protocols are static types only, whose
run-time base is ``object`` (nothing ``isinstance``-checks them), and
:data:`DriverSlot` is written as a string alias, which mypy reads as the
``Literal`` and run time keeps as text.  :data:`DRIVER_METHODS` is read off
the table itself, and a test pins it equal to :data:`DriverSlot`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from minivirt.public.types import BlockJobInfo, DomainEvent, DomainInfo, DomainRef

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Literal, Protocol, TypeAlias, TypeGuard
else:
    Protocol = object  # static types only: mypy checks them, run time never does

__all__ = [
    "DRIVER_METHODS",
    "AsyncBlockJobInfoDriver",
    "ConnectURI",
    "DriverSlot",
    "EventCallback",
    "HypervisorDriver",
    "KeepAliveDriver",
    "has_async_block_job_info",
    "has_keep_alive",
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


#: The name of every slot of :class:`HypervisorDriver` but ``close``, in table order
#: (mypy reads the string as the Literal it spells; see the module docstring).
DriverSlot: TypeAlias = """Literal[
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
    "domain_qemu_monitor_command",
]"""


class HypervisorDriver(Protocol):
    """The full driver table.  Each method's docstring names libvirt's slot.

    ``close`` is mandatory; every other slot is named by :data:`DriverSlot`.
    """

    @property
    def unsupported_slots(self) -> frozenset[DriverSlot]:
        """The slots this driver cannot serve (libvirt's NULL slots); usually empty.

        Core reports VIR_ERR_NO_SUPPORT for them and never calls them.  A
        driver may leave such a method out entirely.
        """
        ...

    def close(self) -> None:
        """connectClose: release the connection's resources (events deregistered)."""

    def get_type(self) -> str:
        """connectGetType: "QEMU", "TEST", …"""
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

    def domain_qemu_monitor_command(self, dom: DomainRef, cmd: str, flags: int) -> str:
        """domainQemuMonitorCommand (libvirt-qemu): QEMU's reply to a QMP command or an
        HMP command line.  Only QEMU drivers (and the remote driver) fill it."""
        ...


class KeepAliveDriver(Protocol):
    """The slot only a driver with a peer has (libvirt's remote driver).

    An optional capability rather than a slot of the table: a driver declares
    it by having the method, and core narrows with :func:`has_keep_alive`.
    """

    def connect_set_keep_alive(self, interval: int, count: int) -> int:
        """connectSetKeepAlive: PINGs after ``interval`` silent seconds (<= 0 stops); 0."""
        ...


class AsyncBlockJobInfoDriver(Protocol):
    """The awaitable twin of a hot slot, for a server running an asyncio loop (issue #14).

    An optional capability (declared by having the method, narrowed with
    :func:`has_async_block_job_info`): a driver without it is served by the
    blocking slot.

    It answers from the driver's memory at once (no job on the disk) or
    awaits QEMU without blocking the caller's loop; it never blocks.  Same
    arguments, result and errors as ``domain_get_block_job_info``.
    """

    def domain_get_block_job_info_async(
        self, dom: DomainRef, disk: str, flags: int
    ) -> Awaitable[BlockJobInfo | None]:
        """domainGetBlockJobInfo, awaited."""
        ...


def has_keep_alive(driver: object) -> TypeGuard[KeepAliveDriver]:
    """Whether ``driver`` has the :class:`KeepAliveDriver` capability (has its method)."""
    return getattr(driver, "connect_set_keep_alive", None) is not None


def has_async_block_job_info(driver: object) -> TypeGuard[AsyncBlockJobInfoDriver]:
    """Whether ``driver`` has the :class:`AsyncBlockJobInfoDriver` capability."""
    return getattr(driver, "domain_get_block_job_info_async", None) is not None


#: Every slot name of :class:`HypervisorDriver` but ``close``, in table order: read
#: off the table's own methods (mypy cannot see that they are DriverSlot's names; a
#: test pins the two equal).
DRIVER_METHODS: Final[tuple[DriverSlot, ...]] = tuple(
    name  # type: ignore[misc]
    for name, member in vars(HypervisorDriver).items()
    if callable(member) and not name.startswith("_") and name != "close"
)
