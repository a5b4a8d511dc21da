"""Domain handles and the domain entry points (libvirt-domain.c).

Every entry point runs libvirt's checks in libvirt's order — valid domain,
read-only denial (not for queries), non-null arguments — then dispatches to
the connection's driver, or reports VIR_ERR_NO_SUPPORT when the driver has no
such slot.  A check that fails never reaches the driver.  Entry points never
catch driver errors: a VirError from the driver reaches the caller as is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from minivirt.core import checks
from minivirt.public import (
    BlockJobInfo,
    DomainBlockRebaseFlags,
    DomainInfo,
    DomainRef,
    DomainState,
)
from minivirt.public.logger import get_logger

if TYPE_CHECKING:
    from minivirt.core.connection import Connection

__all__ = [
    "Domain",
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


class Domain:
    """A domain handle (virDomainPtr): a connection plus the domain's name, UUID and id."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: DomainRef) -> None:
        self._conn = conn
        self._ref = ref

    @property
    def conn(self) -> Connection:
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
            isinstance(other, Domain)
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


def _domain(dom: object, function: str) -> Domain:
    """virCheckDomainReturn: a Domain whose connection is still open."""
    if not isinstance(dom, Domain) or dom.conn.closed:
        raise checks.invalid_domain(function)
    return dom


def _writable(dom: Domain, function: str) -> None:
    if dom.conn.is_read_only():
        raise checks.read_only_denied(function)


def _slot(dom: Domain, name: str, function: str) -> Callable[..., object]:
    method = getattr(dom.conn.driver, name, None)
    if method is None:
        raise checks.unsupported(function)
    return cast("Callable[..., object]", method)


def domain_create(dom: Domain, flags: int = 0) -> None:
    """Mirrors virDomainCreateWithFlags.  Raises INVALID_DOMAIN, OPERATION_DENIED, NO_SUPPORT."""
    fn = "virDomainCreateWithFlags" if flags else "virDomainCreate"
    dom = _domain(dom, fn)
    _writable(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    ref = _slot(dom, "domain_create", fn)(dom.ref, flags)
    if isinstance(ref, DomainRef):
        dom._update(ref)


def domain_destroy(dom: Domain, flags: int = 0) -> None:
    """Mirrors virDomainDestroyFlags.  Raises INVALID_DOMAIN, OPERATION_DENIED, NO_SUPPORT."""
    fn = "virDomainDestroyFlags" if flags else "virDomainDestroy"
    dom = _domain(dom, fn)
    _writable(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    _slot(dom, "domain_destroy", fn)(dom.ref, flags)
    dom._update(DomainRef(dom.name, dom.ref.uuid, -1))


def domain_undefine(dom: Domain, flags: int = 0) -> None:
    """Mirrors virDomainUndefineFlags.  Raises INVALID_DOMAIN, OPERATION_DENIED, NO_SUPPORT."""
    fn = "virDomainUndefineFlags" if flags else "virDomainUndefine"
    dom = _domain(dom, fn)
    _writable(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    _slot(dom, "domain_undefine", fn)(dom.ref, flags)


def domain_get_info(dom: Domain) -> DomainInfo:
    """Mirrors virDomainGetInfo.  Raises INVALID_DOMAIN, NO_SUPPORT."""
    fn = "virDomainGetInfo"
    dom = _domain(dom, fn)
    return cast(DomainInfo, _slot(dom, "domain_get_info", fn)(dom.ref))


def domain_get_state(dom: Domain, flags: int = 0) -> tuple[int, int]:
    """Mirrors virDomainGetState: (state, reason).  Raises INVALID_DOMAIN, NO_SUPPORT."""
    fn = "virDomainGetState"
    dom = _domain(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    return cast("tuple[int, int]", _slot(dom, "domain_get_state", fn)(dom.ref, flags))


def domain_get_xml_desc(dom: Domain, flags: int = 0) -> str:
    """Mirrors virDomainGetXMLDesc.  Raises INVALID_DOMAIN, NO_SUPPORT."""
    fn = "virDomainGetXMLDesc"
    dom = _domain(dom, fn)
    flags = checks.uint_arg(flags, "flags", fn)
    return cast(str, _slot(dom, "domain_get_xml_desc", fn)(dom.ref, flags))


def domain_block_pull(dom: Domain, disk: str, bandwidth: int = 0, flags: int = 0) -> None:
    """Mirrors virDomainBlockPull: start copying the backing chain into ``disk``.

    Raises INVALID_DOMAIN (from DOM), OPERATION_DENIED, INVALID_ARG (disk NULL),
    NO_SUPPORT, and whatever the driver reports.
    """
    fn = "virDomainBlockPull"
    log.debug("%s dom=%r disk=%r bandwidth=%r flags=%r", fn, dom, disk, bandwidth, flags)
    dom = _domain(dom, fn)
    _writable(dom, fn)
    checks.non_null(disk, "disk", fn)
    bandwidth = checks.ulong_arg(bandwidth, "bandwidth", fn)
    flags = checks.uint_arg(flags, "flags", fn)
    _slot(dom, "domain_block_pull", fn)(dom.ref, disk, bandwidth, flags)


def domain_block_rebase(
    dom: Domain, disk: str, base: str | None, bandwidth: int = 0, flags: int = 0
) -> None:
    """Mirrors virDomainBlockRebase: a pull of the layers above ``base`` (all when None).

    Raises INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG (disk NULL; COPY
    without base; copy-only flags without COPY), NO_SUPPORT, driver errors.
    """
    fn = "virDomainBlockRebase"
    log.debug(
        "%s dom=%r disk=%r base=%r bandwidth=%r flags=%r", fn, dom, disk, base, bandwidth, flags
    )
    dom = _domain(dom, fn)
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
    _slot(dom, "domain_block_rebase", fn)(dom.ref, disk, base, bandwidth, flags)


def domain_get_block_job_info(dom: Domain, disk: str, flags: int = 0) -> BlockJobInfo | None:
    """Mirrors virDomainGetBlockJobInfo: the job on ``disk``, or None when it has none.

    Allowed on read-only connections.  Raises INVALID_DOMAIN, INVALID_ARG
    (disk NULL), NO_SUPPORT, driver errors; "no job" is never an error.
    """
    fn = "virDomainGetBlockJobInfo"
    dom = _domain(dom, fn)
    checks.non_null(disk, "disk", fn)
    flags = checks.uint_arg(flags, "flags", fn)
    info = _slot(dom, "domain_get_block_job_info", fn)(dom.ref, disk, flags)
    return cast("BlockJobInfo | None", info)


def domain_block_job_abort(dom: Domain, disk: str, flags: int = 0) -> None:
    """Mirrors virDomainBlockJobAbort.

    Raises INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG (disk NULL), NO_SUPPORT,
    driver errors.
    """
    fn = "virDomainBlockJobAbort"
    log.debug("%s dom=%r disk=%r flags=%r", fn, dom, disk, flags)
    dom = _domain(dom, fn)
    _writable(dom, fn)
    checks.non_null(disk, "disk", fn)
    flags = checks.uint_arg(flags, "flags", fn)
    _slot(dom, "domain_block_job_abort", fn)(dom.ref, disk, flags)


def domain_block_job_set_speed(dom: Domain, disk: str, bandwidth: int, flags: int = 0) -> None:
    """Mirrors virDomainBlockJobSetSpeed (bandwidth in MiB/s unless BANDWIDTH_BYTES).

    Raises INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG (disk NULL), NO_SUPPORT,
    driver errors.
    """
    fn = "virDomainBlockJobSetSpeed"
    log.debug("%s dom=%r disk=%r bandwidth=%r flags=%r", fn, dom, disk, bandwidth, flags)
    dom = _domain(dom, fn)
    _writable(dom, fn)
    checks.non_null(disk, "disk", fn)
    bandwidth = checks.ulong_arg(bandwidth, "bandwidth", fn)
    flags = checks.uint_arg(flags, "flags", fn)
    _slot(dom, "domain_block_job_set_speed", fn)(dom.ref, disk, bandwidth, flags)
