"""Domain handles and the domain entry points (libvirt-domain.c).

Every entry point runs libvirt's checks in libvirt's order — valid domain,
read-only denial (not for queries), non-null arguments — then dispatches to
the connection's driver through a typed call of its
:class:`~minivirt.public.HypervisorDriver` slot, or reports VIR_ERR_NO_SUPPORT
when the driver declares that slot unsupported (``checks.supported``).  A
check that fails never reaches the driver.  Entry points never
catch driver errors: a VirError from the driver reaches the caller as is.
"""

from __future__ import annotations

from minivirt.core import checks
from minivirt.public import (
    BlockJobInfo,
    DomainBlockRebaseFlags,
    DomainInfo,
    DomainRef,
    DomainState,
    DriverSlot,
    HypervisorDriver,
)
from minivirt.public.logger import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # a static type only: mypy checks it, run time never does

__all__ = [
    "DomainHandle",
    "HandleOwner",
    "BLOCK_JOB_INFO",
    "block_job_info_checks",
    "check_domain",
    "driver_for",
    "domain_block_job_abort",
    "domain_block_job_set_speed",
    "domain_block_pull",
    "domain_block_rebase",
    "domain_create",
    "domain_destroy",
    "domain_get_block_job_info",
    "domain_get_info",
    "domain_get_state",
    "domain_get_xml_desc",
    "domain_undefine",
]

log = get_logger("minivirt.core")


class HandleOwner(Protocol):
    """What the domain entry points need of a handle's connection.

    :class:`minivirt.core.Connection` is the one implementation; naming it
    here would make this module and ``connection`` import each other.
    """

    @property
    def driver(self) -> HypervisorDriver: ...
    @property
    def closed(self) -> bool: ...
    def is_read_only(self) -> bool: ...


class DomainHandle:
    """A domain handle (virDomainPtr): a connection plus the domain's name, UUID and id.

    The base of :class:`minivirt.core.Domain`, which types ``conn`` as its
    Connection; the entry points below accept any handle.
    """

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: HandleOwner, ref: DomainRef) -> None:
        self._conn = conn
        self._ref = ref

    @property
    def conn(self) -> HandleOwner:
        """The connection this handle belongs to."""
        return self._conn

    @property
    def ref(self) -> DomainRef:
        """The identity sent to drivers (name, uuid, id)."""
        return self._ref

    @property
    def name(self) -> str:
        """virDomainGetName."""
        return self._ref.name

    @property
    def id(self) -> int:
        """virDomainGetID: -1 while the domain is not running (as cached by lookup)."""
        return self._ref.id

    def uuid_string(self) -> str:
        """virDomainGetUUIDString."""
        return self._ref.uuid

    def _update(self, ref: DomainRef) -> None:
        self._ref = ref

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, DomainHandle)
            and other._conn is self._conn
            and other._ref.uuid == self._ref.uuid
        )

    def __hash__(self) -> int:
        return hash((id(self._conn), self._ref.uuid))

    def __repr__(self) -> str:
        return f"<Domain {self._ref.name!r} id={self._ref.id} uuid={self._ref.uuid}>"

    # -- methods: thin wrappers over the entry points ----------------------
    def create(self, flags: int = 0) -> None:
        domain_create(self, flags)

    def destroy(self, flags: int = 0) -> None:
        domain_destroy(self, flags)

    def undefine(self, flags: int = 0) -> None:
        domain_undefine(self, flags)

    def get_info(self) -> DomainInfo:
        return domain_get_info(self)

    def get_state(self, flags: int = 0) -> tuple[int, int]:
        return domain_get_state(self, flags)

    def is_active(self) -> bool:
        """virDomainIsActive (derived from the state)."""
        return domain_get_state(self, 0)[0] not in (DomainState.SHUTOFF, DomainState.NOSTATE)

    def get_xml_desc(self, flags: int = 0) -> str:
        return domain_get_xml_desc(self, flags)

    def block_pull(self, disk: str, bandwidth: int = 0, flags: int = 0) -> None:
        domain_block_pull(self, disk, bandwidth, flags)

    def block_rebase(self, disk: str, base: str | None, bandwidth: int = 0, flags: int = 0) -> None:
        domain_block_rebase(self, disk, base, bandwidth, flags)

    def get_block_job_info(self, disk: str, flags: int = 0) -> BlockJobInfo | None:
        return domain_get_block_job_info(self, disk, flags)

    def block_job_abort(self, disk: str, flags: int = 0) -> None:
        domain_block_job_abort(self, disk, flags)

    def block_job_set_speed(self, disk: str, bandwidth: int, flags: int = 0) -> None:
        domain_block_job_set_speed(self, disk, bandwidth, flags)


def check_domain(dom: object, function: str) -> DomainHandle:
    """virCheckDomainReturn: a domain handle whose connection is still open."""
    if not isinstance(dom, DomainHandle) or dom.conn.closed:
        raise checks.invalid_domain(function)
    return dom


def _writable(dom: DomainHandle, function: str) -> None:
    if dom.conn.is_read_only():
        raise checks.read_only_denied(function)


def driver_for(dom: DomainHandle, slot: DriverSlot, function: str) -> HypervisorDriver:
    """The table to call ``slot`` on; NO_SUPPORT when the driver declares it unsupported."""
    return checks.supported(dom.conn.driver, slot, function)


def domain_create(dom: DomainHandle, flags: int = 0) -> None:
    """Mirrors virDomainCreateWithFlags.  Raises INVALID_DOMAIN, OPERATION_DENIED, NO_SUPPORT."""
    fn = "virDomainCreateWithFlags" if flags else "virDomainCreate"
    dom = check_domain(dom, fn)
    _writable(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    dom._update(driver_for(dom, "domain_create", fn).domain_create(dom.ref, flags))


def domain_destroy(dom: DomainHandle, flags: int = 0) -> None:
    """Mirrors virDomainDestroyFlags.  Raises INVALID_DOMAIN, OPERATION_DENIED, NO_SUPPORT."""
    fn = "virDomainDestroyFlags" if flags else "virDomainDestroy"
    dom = check_domain(dom, fn)
    _writable(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    driver_for(dom, "domain_destroy", fn).domain_destroy(dom.ref, flags)
    dom._update(DomainRef(dom.name, dom.ref.uuid, -1))


def domain_undefine(dom: DomainHandle, flags: int = 0) -> None:
    """Mirrors virDomainUndefineFlags.  Raises INVALID_DOMAIN, OPERATION_DENIED, NO_SUPPORT."""
    fn = "virDomainUndefineFlags" if flags else "virDomainUndefine"
    dom = check_domain(dom, fn)
    _writable(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    driver_for(dom, "domain_undefine", fn).domain_undefine(dom.ref, flags)


def domain_get_info(dom: DomainHandle) -> DomainInfo:
    """Mirrors virDomainGetInfo.  Raises INVALID_DOMAIN, NO_SUPPORT."""
    fn = "virDomainGetInfo"
    dom = check_domain(dom, fn)
    return driver_for(dom, "domain_get_info", fn).domain_get_info(dom.ref)


def domain_get_state(dom: DomainHandle, flags: int = 0) -> tuple[int, int]:
    """Mirrors virDomainGetState: (state, reason).  Raises INVALID_DOMAIN, NO_SUPPORT."""
    fn = "virDomainGetState"
    dom = check_domain(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    return driver_for(dom, "domain_get_state", fn).domain_get_state(dom.ref, flags)


def domain_get_xml_desc(dom: DomainHandle, flags: int = 0) -> str:
    """Mirrors virDomainGetXMLDesc.  Raises INVALID_DOMAIN, NO_SUPPORT."""
    fn = "virDomainGetXMLDesc"
    dom = check_domain(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    return driver_for(dom, "domain_get_xml_desc", fn).domain_get_xml_desc(dom.ref, flags)


def domain_block_pull(dom: DomainHandle, disk: str, bandwidth: int = 0, flags: int = 0) -> None:
    """Mirrors virDomainBlockPull: start copying the backing chain into ``disk``.

    Raises INVALID_DOMAIN (from DOM), OPERATION_DENIED, INVALID_ARG (disk NULL),
    NO_SUPPORT, and whatever the driver reports.
    """
    fn = "virDomainBlockPull"
    log.debug("%s dom=%r disk=%r bandwidth=%r flags=%r", fn, dom, disk, bandwidth, flags)
    dom = check_domain(dom, fn)
    _writable(dom, fn)
    checks.non_null(disk, "disk", fn)
    bandwidth = checks.ulong_arg(bandwidth, "bandwidth", fn)
    flags = checks.uint_arg(flags, "flags", fn)
    driver_for(dom, "domain_block_pull", fn).domain_block_pull(dom.ref, disk, bandwidth, flags)


def domain_block_rebase(
    dom: DomainHandle, disk: str, base: str | None, bandwidth: int = 0, flags: int = 0
) -> None:
    """Mirrors virDomainBlockRebase: a pull of the layers above ``base`` (all when None).

    Raises INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG (disk NULL; COPY
    without base; copy-only flags without COPY), NO_SUPPORT, driver errors.
    """
    fn = "virDomainBlockRebase"
    log.debug(
        "%s dom=%r disk=%r base=%r bandwidth=%r flags=%r", fn, dom, disk, base, bandwidth, flags
    )
    dom = check_domain(dom, fn)
    _writable(dom, fn)
    checks.non_null(disk, "disk", fn)
    bandwidth = checks.ulong_arg(bandwidth, "bandwidth", fn)
    flags = checks.uint_arg(flags, "flags", fn)
    if base is not None and not isinstance(base, str):
        raise checks.invalid_arg("base", fn, f"base in {fn} must be a string")
    copy_only = (
        DomainBlockRebaseFlags.SHALLOW
        | DomainBlockRebaseFlags.REUSE_EXT
        | DomainBlockRebaseFlags.COPY_RAW
        | DomainBlockRebaseFlags.COPY_DEV
    )
    if flags & DomainBlockRebaseFlags.COPY:
        checks.non_null(base, "base", fn)
    elif flags & copy_only:
        raise checks.invalid_arg("flags", fn, "use of flags requires a copy job")
    driver_for(dom, "domain_block_rebase", fn).domain_block_rebase(
        dom.ref, disk, base, bandwidth, flags
    )


def domain_get_block_job_info(dom: DomainHandle, disk: str, flags: int = 0) -> BlockJobInfo | None:
    """Mirrors virDomainGetBlockJobInfo: the job on ``disk``, or None when it has none.

    Allowed on read-only connections.  Raises INVALID_DOMAIN, INVALID_ARG
    (disk NULL), NO_SUPPORT, driver errors; "no job" is never an error.
    """
    dom, flags = block_job_info_checks(dom, disk, flags)
    driver = driver_for(dom, "domain_get_block_job_info", BLOCK_JOB_INFO)
    return driver.domain_get_block_job_info(dom.ref, disk, flags)


#: The public name of virDomainGetBlockJobInfo, for its blocking and awaitable forms.
BLOCK_JOB_INFO = "virDomainGetBlockJobInfo"


def block_job_info_checks(dom: DomainHandle, disk: str, flags: int) -> tuple[DomainHandle, int]:
    """virDomainGetBlockJobInfo's checks, in order: the handle, then its flags.

    Shared by the blocking entry point and its awaitable twin (``core.aio``).
    """
    dom = check_domain(dom, BLOCK_JOB_INFO)
    checks.non_null(disk, "disk", BLOCK_JOB_INFO)
    return dom, checks.uint_arg(flags, "flags", BLOCK_JOB_INFO)


def domain_block_job_abort(dom: DomainHandle, disk: str, flags: int = 0) -> None:
    """Mirrors virDomainBlockJobAbort.

    Raises INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG (disk NULL), NO_SUPPORT,
    driver errors.
    """
    fn = "virDomainBlockJobAbort"
    log.debug("%s dom=%r disk=%r flags=%r", fn, dom, disk, flags)
    dom = check_domain(dom, fn)
    _writable(dom, fn)
    checks.non_null(disk, "disk", fn)
    flags = checks.uint_arg(flags, "flags", fn)
    driver_for(dom, "domain_block_job_abort", fn).domain_block_job_abort(dom.ref, disk, flags)


def domain_block_job_set_speed(
    dom: DomainHandle, disk: str, bandwidth: int, flags: int = 0
) -> None:
    """Mirrors virDomainBlockJobSetSpeed (bandwidth in MiB/s unless BANDWIDTH_BYTES).

    Raises INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG (disk NULL), NO_SUPPORT,
    driver errors.
    """
    fn = "virDomainBlockJobSetSpeed"
    log.debug("%s dom=%r disk=%r bandwidth=%r flags=%r", fn, dom, disk, bandwidth, flags)
    dom = check_domain(dom, fn)
    _writable(dom, fn)
    checks.non_null(disk, "disk", fn)
    bandwidth = checks.ulong_arg(bandwidth, "bandwidth", fn)
    flags = checks.uint_arg(flags, "flags", fn)
    driver_for(dom, "domain_block_job_set_speed", fn).domain_block_job_set_speed(
        dom.ref, disk, bandwidth, flags
    )
