"""The block-job rules every driver shares (libvirt 9.x), as pure functions.

This module owns, once for the qemu and the test driver: the flags each
block-job API accepts and ``virCheckFlags`` on a C ``unsigned int``; the
checks of qemuDomainBlockPullCommon, qemuDomainGetBlockJobInfo,
qemuDomainBlockJobSetSpeed and qemuDomainBlockJobAbort in libvirt's order with
libvirt's codes, error domains and texts; bandwidth MiB/s <-> bytes/s on a C
``unsigned long`` with the overflow guards; the lookup of a rebase base in a
backing chain (through :mod:`minivirt.hypervisor.chain`); the translation of
a hypervisor's job report into ``virDomainBlockJobInfo``; and the BLOCK_JOB /
BLOCK_JOB_2 event pair of a job transition.

What differs between drivers is a :class:`Driver` value (error domain, prefix
of the driver's function names).  Checks that libvirt makes in shared code keep
that code's error domain whatever the driver: ``DOMAIN`` for "domain is not
running" (virDomainObjCheckActive), ``STORAGE`` for the chain lookup
(virStorageSourceChainLookup), ``NONE`` for a speed the monitor's JSON builder
refuses.  Verified against libvirt 9.0's qemu driver (``qemu:///embed``).

Pure: no threads, no I/O, no clock, no locks; callers pass the domain's state
in and act on what comes back.  It must not import a driver, core or remote.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Protocol

from minivirt.conf import DiskDef, DomainDef, top_storage_index
from minivirt.hypervisor.chain import ChainImage, find_base, relative_backing
from minivirt.public import (
    BlockJobEvent,
    BlockJobInfo,
    DomainBlockJobAbortFlags,
    DomainBlockJobInfoFlags,
    DomainBlockJobSetSpeedFlags,
    DomainBlockJobType,
    DomainBlockPullFlags,
    DomainBlockRebaseFlags,
    DomainEventID,
    DomainRef,
    ErrorDomain,
    ErrorLevel,
    ErrorNumber,
    VirError,
)

__all__ = [
    "ABORT",
    "GET_INFO",
    "LLONG_MAX",
    "MAX_MIB_BANDWIDTH",
    "MIB",
    "PULL",
    "REBASE",
    "SET_SPEED",
    "UINT_MASK",
    "ULONG_MASK",
    "Api",
    "DomainView",
    "Driver",
    "JobView",
    "PullPlan",
    "bandwidth_bytes",
    "check_abort",
    "check_active",
    "check_api_flags",
    "check_flags",
    "current_job",
    "find_disk",
    "info_args",
    "job_disk",
    "job_events",
    "job_name",
    "no_domain",
    "not_running",
    "plan_pull",
    "refuse_copy",
    "speed_args",
    "speed_argument",
    "translate_info",
]

#: C ``unsigned int`` (flags) and ``unsigned long`` (bandwidth, LP64): values wrap as in C.
UINT_MASK: Final[int] = (1 << 32) - 1
ULONG_MASK: Final[int] = (1 << 64) - 1
#: C's LLONG_MAX: the largest speed QEMU takes (an int64), bytes/s.
LLONG_MAX: Final[int] = (1 << 63) - 1
#: One MiB: libvirt's bandwidth unit.
MIB: Final[int] = 1 << 20
#: The largest MiB/s value libvirt converts to bytes/s (``LLONG_MAX >> 20``).
MAX_MIB_BANDWIDTH: Final[int] = LLONG_MAX >> 20


@dataclasses.dataclass(frozen=True, slots=True)
class Driver:
    """What differs between drivers: the error domain and the prefix of their function names."""

    domain: ErrorDomain
    prefix: str

    def function(self, api: Api) -> str:
        """The driver function name libvirt reports, e.g. ``qemuDomainBlockPull``."""
        return f"{self.prefix}{api.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class Api:
    """One block-job API: its name after the driver prefix and the flags it accepts."""

    name: str
    flags: int


PULL: Final = Api("DomainBlockPull", int(DomainBlockPullFlags.BANDWIDTH_BYTES))
REBASE: Final = Api(
    "DomainBlockRebase",
    int(
        DomainBlockRebaseFlags.SHALLOW
        | DomainBlockRebaseFlags.REUSE_EXT
        | DomainBlockRebaseFlags.COPY
        | DomainBlockRebaseFlags.COPY_RAW
        | DomainBlockRebaseFlags.RELATIVE
        | DomainBlockRebaseFlags.COPY_DEV
        | DomainBlockRebaseFlags.BANDWIDTH_BYTES
    ),
)
GET_INFO: Final = Api("DomainGetBlockJobInfo", int(DomainBlockJobInfoFlags.BANDWIDTH_BYTES))
#: The flag as a plain int: ``int & IntFlag`` takes enum's slow reflected path, and
#: this test runs on every blockJobInfo call.
_INFO_BYTES: Final = int(DomainBlockJobInfoFlags.BANDWIDTH_BYTES)
SET_SPEED: Final = Api("DomainBlockJobSetSpeed", int(DomainBlockJobSetSpeedFlags.BANDWIDTH_BYTES))
ABORT: Final = Api(
    "DomainBlockJobAbort", int(DomainBlockJobAbortFlags.ASYNC | DomainBlockJobAbortFlags.PIVOT)
)


class JobView(Protocol):
    """What the rules read of a driver's job: its name and whether it is being ended."""

    @property
    def name(self) -> str: ...

    @property
    def ending(self) -> bool: ...


class DomainView(Protocol):
    """What the rules read of a driver's domain (under the driver's lock)."""

    @property
    def active(self) -> bool: ...

    @property
    def defn(self) -> DomainDef: ...

    @property
    def persistent(self) -> bool: ...

    @property
    def jobs(self) -> Mapping[str, JobView]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class PullPlan:
    """What a pull that passed every check does: disk, base (chain index), speed (bytes/s).

    ``backing`` is the base's name relative to the top image (RELATIVE), else
    None; ``type`` is the job's virDomainBlockJobType.
    """

    disk: DiskDef
    base_index: int | None
    base_path: str | None
    backing: str | None
    speed: int
    type: int = int(DomainBlockJobType.PULL)


def check_flags(flags: int, allowed: int, function: str, domain: ErrorDomain) -> None:
    """virCheckFlags on a C ``unsigned int``: any bit outside ``allowed`` is refused.

    INVALID_ARG "unsupported flags (0x%x) in function <function>": no "invalid
    argument: " prefix, str1 = function, str2 = "flags", int1 = int2 = 0, as
    libvirt's virReportInvalidArg (checked against libvirt 9.0).
    """
    extra = int(flags) & UINT_MASK & ~int(allowed)
    if extra:
        raise VirError(
            ErrorNumber.INVALID_ARG,
            domain,
            f"unsupported flags (0x{extra:x}) in function {function}",
            ErrorLevel.ERROR,
            function,
            "flags",
            None,
            0,
            0,
        )


def check_api_flags(flags: int, api: Api, driver: Driver) -> None:
    """:func:`check_flags` for a block-job API in ``driver`` (its function name, its domain)."""
    check_flags(flags, api.flags, driver.function(api), driver.domain)


def info_args(flags: int, driver: Driver) -> bool:
    """qemuDomainGetBlockJobInfo's flags check; True when bandwidth is wanted in bytes/s."""
    check_api_flags(flags, GET_INFO, driver)
    return bool(flags & _INFO_BYTES)


def speed_args(bandwidth: int, flags: int, driver: Driver) -> int:
    """qemuDomainBlockJobSetSpeed's checks before the domain lookup: flags, then the MiB overflow.

    Returns the speed in bytes/s (see :func:`bandwidth_bytes`).
    """
    check_api_flags(flags, SET_SPEED, driver)
    in_bytes = bool(flags & DomainBlockJobSetSpeedFlags.BANDWIDTH_BYTES)
    return bandwidth_bytes(bandwidth, in_bytes, driver)


def no_domain(ref: DomainRef, driver: Driver) -> VirError:
    """The domain lookup's failure (qemuDomainObjFromDomain).

    NO_DOMAIN "no domain with matching uuid '%s' (%s)".
    """
    return VirError.report(
        ErrorNumber.NO_DOMAIN,
        driver.domain,
        f"no domain with matching uuid '{ref.uuid}' ({ref.name})",
    )


def not_running() -> VirError:
    """virDomainObjCheckActive: OPERATION_INVALID "domain is not running" (VIR_FROM_DOMAIN)."""
    return VirError.report(
        ErrorNumber.OPERATION_INVALID, ErrorDomain.DOMAIN, "domain is not running"
    )


def check_active(dom: DomainView) -> None:
    """OPERATION_INVALID "domain is not running" unless ``dom`` runs."""
    if not dom.active:
        raise not_running()


def find_disk(defn: DomainDef, name: str, driver: Driver) -> DiskDef:
    """qemuDomainDiskByName: by target, or by source path when ``name`` starts with '/'.

    INVALID_ARG "disk '%s' not found in domain".
    """
    disk = defn.disk(name)
    if disk is None:
        raise VirError.report(
            ErrorNumber.INVALID_ARG, driver.domain, f"disk '{name}' not found in domain"
        )
    return disk


def job_disk(dom: DomainView, name: str, driver: Driver) -> tuple[DiskDef, JobView | None]:
    """The running domain's disk ``name`` and its job (None without one).

    Raises OPERATION_INVALID (not running), INVALID_ARG (unknown disk).
    """
    check_active(dom)
    disk = find_disk(dom.defn, name, driver)
    return disk, dom.jobs.get(disk.target)


def _no_job(disk: DiskDef, driver: Driver) -> VirError:
    return VirError.report(
        ErrorNumber.INVALID_ARG,
        driver.domain,
        f"disk {disk.target} does not have an active block job",
    )


def current_job(dom: DomainView, name: str, driver: Driver) -> tuple[DiskDef, JobView]:
    """As :func:`job_disk`, and INVALID_ARG "disk %s does not have an active block job"."""
    disk, job = job_disk(dom, name, driver)
    if job is None:
        raise _no_job(disk, driver)
    return disk, job


def check_abort(
    dom: DomainView,
    name: str,
    flags: int,
    driver: Driver,
    chain_of: Callable[[DiskDef], Sequence[ChainImage]],
) -> tuple[DiskDef, JobView]:
    """qemuDomainBlockJobAbort's checks after the flags: the disk and the job to cancel.

    Raises as :func:`current_job`, OPERATION_INVALID "block job on disk '%s' is
    still being ended", BLOCK_COPY_ACTIVE "block job '%s' not ready for pivot
    yet" for PIVOT (a pull is never ready).
    """
    disk, job = current_job(dom, name, driver)
    if job.ending:
        raise VirError.report(
            ErrorNumber.OPERATION_INVALID,
            driver.domain,
            f"block job on disk '{disk.target}' is still being ended",
        )
    if flags & DomainBlockJobAbortFlags.PIVOT:
        raise VirError.report(
            ErrorNumber.BLOCK_COPY_ACTIVE,
            driver.domain,
            f"block job '{job_name(disk.target, top_index(dom, disk.target, chain_of))}' "
            "not ready for pivot yet",
        )
    return disk, job


def refuse_copy(dom: DomainView, name: str, flags: int, driver: Driver) -> None:
    """BlockRebase with COPY (qemuDomainBlockCopyCommon's first checks, then minivirt's limit).

    After the domain and disk checks of :func:`job_disk`, a persistent domain
    gets libvirt's OPERATION_INVALID "domain is not transient"; a transient
    one ARGUMENT_UNSUPPORTED: minivirt's drivers have no block copy.
    """
    if flags & DomainBlockRebaseFlags.COPY:
        job_disk(dom, name, driver)
        if dom.persistent:
            raise VirError.report(
                ErrorNumber.OPERATION_INVALID, driver.domain, "domain is not transient"
            )
        raise VirError.report(
            ErrorNumber.ARGUMENT_UNSUPPORTED,
            driver.domain,
            "flag VIR_DOMAIN_BLOCK_REBASE_COPY is not supported by minivirt",
        )


def bandwidth_bytes(bandwidth: int, in_bytes: bool, driver: Driver) -> int:
    """A C ``unsigned long`` bandwidth as bytes/s: as is with ``in_bytes``, else MiB/s << 20.

    OVERFLOW "bandwidth must be less than 8796093022207" for MiB/s above
    ``LLONG_MAX >> 20``.  Bytes are not range-checked here (libvirt 9.0 does
    not): see :func:`speed_argument`.
    """
    value = int(bandwidth) & ULONG_MASK
    if in_bytes:
        return value
    if value > MAX_MIB_BANDWIDTH:
        raise VirError.report(
            ErrorNumber.OVERFLOW,
            driver.domain,
            f"bandwidth must be less than {MAX_MIB_BANDWIDTH}",
        )
    return value << 20


def speed_argument(speed: int) -> int:
    """The speed as the hypervisor takes it: an int64.

    libvirt 9.0 builds the monitor command with a signed 64-bit ``speed`` and
    refuses larger values before anything reaches QEMU: INTERNAL_ERROR
    (VIR_FROM_NONE) "argument key 'speed' must not be negative".
    """
    if speed > LLONG_MAX:
        raise VirError.report(
            ErrorNumber.INTERNAL_ERROR,
            ErrorDomain.NONE,
            "argument key 'speed' must not be negative",
        )
    return speed


def plan_pull(
    dom: DomainView,
    name: str,
    base: str | None,
    bandwidth: int,
    flags: int,
    chain_of: Callable[[DiskDef], Sequence[ChainImage]],
    driver: Driver,
    same_file: Callable[[str, str], bool] | None = None,
) -> PullPlan:
    """qemuDomainBlockPullCommon's checks, in libvirt's order, after the flags and the lookup.

    RELATIVE without a base (INVALID_ARG), domain running, disk, no job yet
    (OPERATION_UNSUPPORTED "disk '%s' already in active block job"), base in
    the chain, relative backing name, MiB overflow, int64 speed.
    """
    relative = bool(flags & DomainBlockRebaseFlags.RELATIVE)
    if relative and base is None:
        raise VirError.report(
            ErrorNumber.INVALID_ARG,
            driver.domain,
            "flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base",
        )
    disk, job = job_disk(dom, name, driver)
    if job is not None:
        raise VirError.report(
            ErrorNumber.OPERATION_UNSUPPORTED,
            driver.domain,
            f"disk '{disk.target}' already in active block job",
        )
    chain = chain_of(disk)
    base_index = base_path = backing = None
    if base is not None:
        top = top_index(dom, disk.target, chain_of)
        base_index = find_base(chain, base, disk.target, same_file, top)
        base_path = chain[base_index].path
        if relative:
            backing = relative_backing(chain, base_index, driver.domain)
    in_bytes = bool(flags & DomainBlockPullFlags.BANDWIDTH_BYTES)
    speed = speed_argument(bandwidth_bytes(bandwidth, in_bytes, driver))
    return PullPlan(disk, base_index, base_path, backing, speed)


def translate_info(
    jtype: int, cur: int, end: int, speed: int, ready: bool | None, report_bytes: bool
) -> BlockJobInfo:
    """A job report (bytes, bytes/s) as virDomainBlockJobInfo (qemuBlockJobInfoTranslate).

    cur/end: 0/0 is 0/1 (not started) or 1/1 (ready); cur == end > 0 while
    not ready is cur - 1, so that nobody mistakes it for done.  Bandwidth:
    bytes/s with ``report_bytes``, else MiB/s rounded up.
    """
    if cur == 0 and end == 0:
        if ready is True:
            cur, end = 1, 1
        else:
            end = 1
    if ready is False and cur == end and cur > 0:
        cur -= 1
    bandwidth = speed if report_bytes else -(-speed // MIB)
    return BlockJobInfo(type=int(jtype), bandwidth=bandwidth, cur=cur, end=end)


def top_index(
    dom: DomainView, target: str, chain_of: Callable[[DiskDef], Sequence[ChainImage]]
) -> int:
    """libvirt's storage index of disk ``target``'s top image (``vda[1]`` on the first disk)."""
    return top_storage_index(dom.defn.disks, target, lambda d: len(chain_of(d)))


def job_name(target: str, top: int) -> str:
    """The name libvirt 9.0 gives a pull job: ``pull-<target>-libvirt-<top index>-format``
    (its blockdev node of the disk's top image); errors about the job carry it."""
    return f"pull-{target}-libvirt-{top}-format"


def job_events(
    ref: DomainRef, target: str, source: str, jtype: int, status: int
) -> tuple[BlockJobEvent, ...]:
    """BLOCK_JOB (source path; only for a disk with a source) then BLOCK_JOB_2 (target)."""
    second = BlockJobEvent(ref, target, int(jtype), int(status), int(DomainEventID.BLOCK_JOB_2))
    if not source:
        return (second,)
    first = BlockJobEvent(ref, source, int(jtype), int(status), int(DomainEventID.BLOCK_JOB))
    return (first, second)
