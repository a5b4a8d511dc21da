"""The ``test:///default`` connection driver (libvirt's ``src/test/test_driver.c`` twin).

A :class:`TestDriver` is one connection: it implements the
:class:`~minivirt.public.HypervisorDriver` table on the process-wide
:class:`~minivirt.testdrv.hypervisor.TestHypervisor`, and owns the
connection's :class:`~minivirt.events.EventState` (so closing a connection
drops its callbacks).  The shared hypervisor is created by the first open and
thrown away when the last connection closes, as libvirt's test:///default.
This module must not import core: ``minivirt.wiring`` registers
:func:`open_test_driver` with it.
"""

from __future__ import annotations

import socket
import threading
from typing import Final

from minivirt.events import EventState
from minivirt.public import (
    DRIVER_METHODS,
    BlockJobInfo,
    ConnectURI,
    DomainInfo,
    DomainRef,
    DriverSlot,
    ErrorDomain,
    ErrorNumber,
    EventCallback,
    VirError,
)
from minivirt.testdrv.hypervisor import Clock, TestHypervisor

__all__ = [
    "TEST_VERSION",
    "TestDriver",
    "open_test_driver",
    "set_clock",
    "shared_hypervisor",
]

#: What testConnectGetVersion reports.
TEST_VERSION: Final[int] = 2


_lock = threading.Lock()
_shared: TestHypervisor | None = None
_users = 0
_clock: Clock | None = None


def set_clock(clock: Clock | None) -> None:
    """Use ``clock`` for the next shared hypervisor (tests); None restores time.monotonic."""
    global _clock
    _clock = clock


def shared_hypervisor() -> TestHypervisor | None:
    """The hypervisor of the open test:///default connections, if any (for tests)."""
    with _lock:
        return _shared


def _acquire() -> TestHypervisor:
    global _shared, _users
    with _lock:
        if _shared is None:
            _shared = TestHypervisor() if _clock is None else TestHypervisor(clock=_clock)
        _users += 1
        return _shared


def _release(hv: TestHypervisor) -> None:
    global _shared, _users
    with _lock:
        _users -= 1
        last = _users == 0 and _shared is hv
        if last:
            _shared = None
    if last:
        hv.shutdown()


def open_test_driver(uri: ConnectURI, read_only: bool) -> TestDriver | None:
    """Mirrors testConnectOpen: accept ``test:///default`` only, decline anything else.

    Read-only is enforced by core's entry points, as libvirt's public API does.
    """
    if uri.scheme != "test" or uri.host or uri.path != "/default":
        return None
    return TestDriver(_acquire(), read_only)


class TestDriver:
    """One test:///default connection (every slot of the driver table)."""

    #: Every call is in memory and never waits: a server may run it inline.
    #: libvirt's test driver has no libvirt-qemu entries.
    unsupported_slots: Final = frozenset[DriverSlot](("domain_qemu_monitor_command",))
    nonblocking_slots: Final = frozenset(DRIVER_METHODS)

    __test__ = False  # not a pytest class

    def __init__(self, hv: TestHypervisor, read_only: bool = False) -> None:
        self._hv: TestHypervisor | None = hv
        self.read_only = read_only
        self._events = EventState()
        hv.attach(self._events)

    @property
    def hypervisor(self) -> TestHypervisor:
        """The simulated host; INVALID_CONN once the connection is closed."""
        hv = self._hv
        if hv is None:
            raise VirError.report(
                ErrorNumber.INVALID_CONN, ErrorDomain.TEST, "connection is closed"
            )
        return hv

    def close(self) -> None:
        """Mirrors testConnectClose: drop this connection's callbacks; last one resets state."""
        hv, self._hv = self._hv, None
        if hv is None:
            return
        hv.detach(self._events)
        self._events.close()
        _release(hv)

    def get_type(self) -> str:
        """Mirrors testConnectGetType."""
        return "TEST"

    def get_version(self) -> int:
        """Mirrors testConnectGetVersion."""
        return TEST_VERSION

    def get_hostname(self) -> str:
        """Mirrors testConnectGetHostname (the real host name)."""
        return socket.gethostname()

    def is_alive(self) -> bool:
        """Mirrors testConnectIsAlive."""
        return self._hv is not None

    def list_all_domains(self, flags: int) -> list[DomainRef]:
        """Mirrors testConnectListAllDomains."""
        return self.hypervisor.list_all(flags)

    def lookup_by_name(self, name: str) -> DomainRef:
        """Mirrors testDomainLookupByName: NO_DOMAIN "no domain with matching name '…'"."""
        return self.hypervisor.lookup_by_name(name)

    def lookup_by_id(self, id: int) -> DomainRef:
        """Mirrors testDomainLookupByID: NO_DOMAIN "no domain with matching id N"."""
        return self.hypervisor.lookup_by_id(id)

    def lookup_by_uuid(self, uuid: str) -> DomainRef:
        """Mirrors testDomainLookupByUUID: NO_DOMAIN "no domain with matching uuid '…'"."""
        return self.hypervisor.lookup_by_uuid(uuid)

    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        """Mirrors testDomainDefineXMLFlags (XML or YAML document)."""
        return self.hypervisor.define(xml, flags)

    def domain_undefine(self, dom: DomainRef, flags: int) -> None:
        """Mirrors testDomainUndefineFlags."""
        self.hypervisor.undefine(dom, flags)

    def domain_create(self, dom: DomainRef, flags: int) -> DomainRef:
        """Mirrors testDomainCreateWithFlags."""
        return self.hypervisor.create(dom, flags)

    def domain_destroy(self, dom: DomainRef, flags: int) -> None:
        """Mirrors testDomainDestroyFlags."""
        self.hypervisor.destroy(dom, flags)

    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        """Mirrors testDomainGetInfo."""
        return self.hypervisor.get_info(dom)

    def domain_get_state(self, dom: DomainRef, flags: int) -> tuple[int, int]:
        """Mirrors testDomainGetState."""
        return self.hypervisor.get_state(dom, flags)

    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        """Mirrors testDomainGetXMLDesc."""
        return self.hypervisor.get_xml_desc(dom, flags)

    def domain_block_pull(self, dom: DomainRef, disk: str, bandwidth: int, flags: int) -> None:
        """Mirrors qemuDomainBlockPull's behaviour on the simulated host."""
        self.hypervisor.block_pull(dom, disk, bandwidth, flags)

    def domain_block_rebase(
        self, dom: DomainRef, disk: str, base: str | None, bandwidth: int, flags: int
    ) -> None:
        """Mirrors qemuDomainBlockRebase's pull form on the simulated host."""
        self.hypervisor.block_rebase(dom, disk, base, bandwidth, flags)

    def domain_get_block_job_info(
        self, dom: DomainRef, disk: str, flags: int
    ) -> BlockJobInfo | None:
        """Mirrors qemuDomainGetBlockJobInfo on the simulated host."""
        return self.hypervisor.get_block_job_info(dom, disk, flags)

    async def domain_get_block_job_info_async(
        self, dom: DomainRef, disk: str, flags: int
    ) -> BlockJobInfo | None:
        """The awaitable twin (issue #14): the simulated host lives in memory."""
        return self.hypervisor.get_block_job_info(dom, disk, flags)

    def domain_block_job_abort(self, dom: DomainRef, disk: str, flags: int) -> None:
        """Mirrors qemuDomainBlockJobAbort on the simulated host."""
        self.hypervisor.block_job_abort(dom, disk, flags)

    def domain_block_job_set_speed(
        self, dom: DomainRef, disk: str, bandwidth: int, flags: int
    ) -> None:
        """Mirrors qemuDomainBlockJobSetSpeed on the simulated host."""
        self.hypervisor.block_job_set_speed(dom, disk, bandwidth, flags)

    def connect_domain_event_register_any(
        self, dom: DomainRef | None, event_id: int, callback: EventCallback
    ) -> int:
        """Mirrors testConnectDomainEventRegisterAny (INTERNAL_ERROR without an event loop)."""
        self.hypervisor  # noqa: B018 - INVALID_CONN when closed
        return self._events.register(dom, event_id, callback)

    def connect_domain_event_deregister_any(self, callback_id: int) -> None:
        """Mirrors testConnectDomainEventDeregisterAny (INVALID_ARG for an unknown id)."""
        self._events.deregister(callback_id)

    def domain_qemu_monitor_command(self, dom: DomainRef, cmd: str, flags: int) -> str:
        """libvirt's test driver has no libvirt-qemu entries: declared unsupported above, so
        core answers NO_SUPPORT without calling this."""
        raise VirError.report(
            ErrorNumber.NO_SUPPORT, ErrorDomain.NONE, "virDomainQemuMonitorCommand"
        )
