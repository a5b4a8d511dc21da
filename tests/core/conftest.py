"""A recording fake driver registered under the ``fake://`` scheme."""

from __future__ import annotations

import pytest

from minivirt import core
from minivirt.public import (
    DRIVER_METHODS,
    BlockJobInfo,
    DomainInfo,
    DomainRef,
    ErrorDomain,
    ErrorNumber,
    VirError,
)

REF = DomainRef("fakedom", "11111111-2222-3333-4444-555555555555", 3)


class RecordingDriver:
    """Records every call; answers with canned values.  It cannot undefine nor describe
    a domain, nor tell its version or host, nor pass QEMU monitor commands: it declares
    those slots unsupported."""

    unsupported_slots = frozenset(
        {
            "domain_undefine",
            "domain_get_xml_desc",
            "get_version",
            "get_hostname",
            "is_alive",
            "domain_qemu_monitor_command",
        }
    )

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.job: BlockJobInfo | None = BlockJobInfo(1, 10, 5, 100)
        self.closed = False
        self.callbacks: dict[int, object] = {}

    def close(self) -> None:
        self.closed = True

    def get_type(self) -> str:
        return "Fake"

    def lookup_by_name(self, name: str) -> DomainRef:
        self.calls.append(("lookup_by_name", name))
        if name != REF.name:
            raise VirError.report(
                ErrorNumber.NO_DOMAIN, ErrorDomain.TEST, f"no domain with matching name '{name}'"
            )
        return REF

    def lookup_by_id(self, id: int) -> DomainRef:
        self.calls.append(("lookup_by_id", id))
        return REF

    def lookup_by_uuid(self, uuid: str) -> DomainRef:
        self.calls.append(("lookup_by_uuid", uuid))
        return REF

    def list_all_domains(self, flags: int) -> list[DomainRef]:
        self.calls.append(("list_all_domains", flags))
        return [REF]

    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        self.calls.append(("domain_define_xml", xml, flags))
        return DomainRef("new", "11111111-2222-3333-4444-000000000000", -1)

    def domain_create(self, dom: DomainRef, flags: int) -> DomainRef:
        self.calls.append(("domain_create", dom, flags))
        return DomainRef(dom.name, dom.uuid, 7)

    def domain_destroy(self, dom: DomainRef, flags: int) -> None:
        self.calls.append(("domain_destroy", dom, flags))

    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        self.calls.append(("domain_get_info", dom))
        return DomainInfo(1, 65536, 65536, 1, 0)

    def domain_get_state(self, dom: DomainRef, flags: int) -> tuple[int, int]:
        self.calls.append(("domain_get_state", dom, flags))
        return (1, 1)

    def domain_block_pull(self, dom: DomainRef, disk: str, bandwidth: int, flags: int) -> None:
        self.calls.append(("domain_block_pull", dom, disk, bandwidth, flags))

    def domain_block_rebase(
        self, dom: DomainRef, disk: str, base: str | None, bandwidth: int, flags: int
    ) -> None:
        self.calls.append(("domain_block_rebase", dom, disk, base, bandwidth, flags))

    def domain_get_block_job_info(
        self, dom: DomainRef, disk: str, flags: int
    ) -> BlockJobInfo | None:
        self.calls.append(("domain_get_block_job_info", dom, disk, flags))
        return self.job

    def domain_block_job_abort(self, dom: DomainRef, disk: str, flags: int) -> None:
        self.calls.append(("domain_block_job_abort", dom, disk, flags))

    def domain_block_job_set_speed(
        self, dom: DomainRef, disk: str, bandwidth: int, flags: int
    ) -> None:
        self.calls.append(("domain_block_job_set_speed", dom, disk, bandwidth, flags))

    def connect_domain_event_register_any(self, dom, event_id, callback) -> int:  # type: ignore[no-untyped-def]
        self.calls.append(("register", dom, event_id))
        cid = len(self.callbacks)
        self.callbacks[cid] = callback
        return cid

    def connect_domain_event_deregister_any(self, callback_id: int) -> None:
        self.calls.append(("deregister", callback_id))
        del self.callbacks[callback_id]


class BareDriver:
    """A driver that fills no slot but ``close``, and declares every other one unsupported."""

    unsupported_slots = frozenset(DRIVER_METHODS)

    def close(self) -> None:
        pass


class UndeclaredDriver(RecordingDriver):
    """A driver that neither fills nor declares a slot (here a misspelt name)."""

    unsupported_slots = RecordingDriver.unsupported_slots - {"domain_undefine"}

    def domain_undefin(self, dom: DomainRef, flags: int) -> None:
        raise AssertionError("never called")


class UntabledDriver:
    """A driver with no ``unsupported_slots`` declaration at all."""

    def close(self) -> None:
        pass


DRIVERS: list[object] = []


def _factory(uri: core.URI, read_only: bool) -> object | None:
    if uri.scheme == "fake":
        drv = RecordingDriver()
        DRIVERS.append(drv)
        return drv
    if uri.scheme == "bare":
        return BareDriver()
    if uri.scheme == "undeclared":
        drv = UndeclaredDriver()
        DRIVERS.append(drv)
        return drv
    if uri.scheme == "untabled":
        return UntabledDriver()
    return None


core.register_driver("fake", _factory)  # type: ignore[arg-type]


@pytest.fixture
def driver() -> RecordingDriver:
    return RecordingDriver()


@pytest.fixture
def conn() -> core.Connection:
    c = core.open("fake:///x")
    yield c
    if not c.closed:
        c.close()


@pytest.fixture
def ro_conn() -> core.Connection:
    c = core.open_read_only("fake:///x")
    yield c
    if not c.closed:
        c.close()
