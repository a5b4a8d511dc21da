"""Block-job operations of the test driver, with the qemu driver's checks, order and texts.

Each function mirrors one qemu driver entry (``qemuDomainBlockPull``,
``qemuDomainBlockRebase`` → ``qemuDomainBlockPullCommon``,
``qemuDomainGetBlockJobInfo``, ``qemuDomainBlockJobAbort``,
``qemuDomainBlockJobSetSpeed``) on the simulated host, and :func:`reap` ends
jobs whose time has come.  Functions take the hypervisor lock themselves and
return the events to queue; the hypervisor queues them after unlocking.  This
module must not start threads or read a clock other than ``hv.clock``.

Error domains: ``TEST`` for driver checks (flags, domain lookup, disk lookup,
active job, overflow), ``DOMAIN`` for "domain is not running" (libvirt checks it
in shared conf code), ``STORAGE`` for a base not in the chain (libvirt's
``virStorageSourceChainLookup``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from minivirt.conf import DiskDef
from minivirt.public import (
    BlockJobEvent,
    BlockJobInfo,
    DomainBlockJobAbortFlags,
    DomainBlockJobInfoFlags,
    DomainBlockJobSetSpeedFlags,
    DomainBlockJobStatus,
    DomainBlockJobType,
    DomainBlockPullFlags,
    DomainBlockRebaseFlags,
    DomainEvent,
    DomainEventID,
    DomainRef,
    ErrorDomain,
    ErrorNumber,
    VirError,
)
from minivirt.testdrv.jobs import (
    ABORT_DELAY,
    LLONG_MAX,
    JobState,
    SimJob,
    check_flags,
    info_of,
    mib_to_bytes,
    not_running,
)

if TYPE_CHECKING:
    from minivirt.testdrv.hypervisor import DomainObj, TestHypervisor

__all__ = [
    "block_job_abort",
    "block_job_set_speed",
    "block_pull",
    "block_rebase",
    "get_block_job_info",
    "job_events",
    "reap",
]

_INDEX_RE = re.compile(r"(?P<target>[a-z]+)\[(?P<index>[0-9]+)\]")


def _active(hv: TestHypervisor, dom: DomainRef) -> DomainObj:
    obj = hv._find(dom)
    if not obj.active:
        raise not_running()
    return obj


def _disk(obj: DomainObj, name: str) -> DiskDef:
    """qemuDomainDiskByName: a target name, or a source path when ``name`` starts with '/'."""
    disk = obj.defn.disk(name)
    if disk is None:
        raise VirError.report(
            ErrorNumber.INVALID_ARG, ErrorDomain.TEST, f"disk '{name}' not found in domain"
        )
    return disk


def _current_job(
    hv: TestHypervisor, dom: DomainRef, path: str
) -> tuple[DomainObj, DiskDef, SimJob]:
    """Under ``hv._lock``: the running domain, its disk, and the disk's job.

    Raises NO_DOMAIN, OPERATION_INVALID (not running), INVALID_ARG (unknown
    disk; "disk %s does not have an active block job").
    """
    obj = _active(hv, dom)
    disk = _disk(obj, path)
    job = obj.jobs.get(disk.target)
    if job is None:
        raise VirError.report(
            ErrorNumber.INVALID_ARG,
            ErrorDomain.TEST,
            f"disk {disk.target} does not have an active block job",
        )
    return obj, disk, job


def _bandwidth_bytes(bandwidth: int, in_bytes: bool) -> int:
    if bandwidth < 0:
        raise VirError.report(
            ErrorNumber.INVALID_ARG, ErrorDomain.TEST, f"invalid bandwidth {bandwidth}"
        )
    if in_bytes:
        if bandwidth > LLONG_MAX:
            raise VirError.report(
                ErrorNumber.OVERFLOW,
                ErrorDomain.TEST,
                f"bandwidth must be less than {LLONG_MAX}",
            )
        return bandwidth
    return mib_to_bytes(bandwidth)


def _base_index(chain: list[tuple[str, str]], disk: DiskDef, base: str) -> int:
    """Position of ``base`` in the backing chain (0 = first backing file), libvirt's lookup."""
    match = _INDEX_RE.fullmatch(base)
    if match is not None and match["target"] == disk.target:
        index = int(match["index"])
        if 1 <= index <= len(chain):
            return index - 1
        raise VirError.report(
            ErrorNumber.INVALID_ARG,
            ErrorDomain.STORAGE,
            f"could not find backing store index '{index}' in chain for '{disk.target}'",
        )
    for i, (path, _fmt) in enumerate(chain):
        if path == base:
            return i
    raise VirError.report(
        ErrorNumber.INVALID_ARG,
        ErrorDomain.STORAGE,
        f"could not find image '{base}' beneath '{disk.source}' in chain for '{disk.target}'",
    )


def job_events(ref: DomainRef, job: SimJob, status: int) -> list[DomainEvent]:
    """BLOCK_JOB (source path) and BLOCK_JOB_2 (target name) for one job transition."""
    return [
        BlockJobEvent(ref, job.source, job.type, status, int(DomainEventID.BLOCK_JOB)),
        BlockJobEvent(ref, job.target, job.type, status, int(DomainEventID.BLOCK_JOB_2)),
    ]


def _pull_common(
    hv: TestHypervisor, dom: DomainRef, path: str, base: str | None, bandwidth: int, flags: int
) -> list[DomainEvent]:
    """qemuDomainBlockPullCommon's checks in order, then start (or at once end) the job."""
    with hv._lock:
        obj = hv._find(dom)
        if flags & DomainBlockRebaseFlags.RELATIVE and base is None:
            raise VirError.report(
                ErrorNumber.INVALID_ARG,
                ErrorDomain.TEST,
                "flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base",
            )
        obj = _active(hv, dom)
        disk = _disk(obj, path)
        if disk.target in obj.jobs:
            raise VirError.report(
                ErrorNumber.OPERATION_UNSUPPORTED,
                ErrorDomain.TEST,
                f"disk '{disk.target}' already in active block job",
            )
        chain = hv._images.get(disk.source, [])
        keep_from = len(chain) if base is None else _base_index(chain, disk, base)
        speed = _bandwidth_bytes(bandwidth, bool(flags & DomainBlockPullFlags.BANDWIDTH_BYTES))
        job = SimJob(
            target=disk.target,
            source=disk.source,
            type=int(DomainBlockJobType.PULL),
            end=hv.disk_size,
            speed=speed,
            t0=hv.clock(),
            keep=len(chain) - keep_from,
            fail_at=hv._failure_point(disk.source),
        )
        if keep_from == 0:
            # nothing to copy: QEMU finishes the stream job at once
            return job_events(obj.ref, job, DomainBlockJobStatus.COMPLETED)
        obj.jobs[disk.target] = job
        hv._ensure_timer()
        hv._cond.notify_all()
        return []


def block_pull(
    hv: TestHypervisor, dom: DomainRef, path: str, bandwidth: int, flags: int
) -> list[DomainEvent]:
    """Mirrors qemuDomainBlockPull (flags: BANDWIDTH_BYTES).

    Raises INVALID_ARG (flags, disk not found), NO_DOMAIN, OPERATION_INVALID
    "domain is not running", OPERATION_UNSUPPORTED "disk '…' already in active
    block job", OVERFLOW "bandwidth must be less than …".
    """
    check_flags(flags, DomainBlockPullFlags.BANDWIDTH_BYTES, "testDomainBlockPull")
    return _pull_common(hv, dom, path, None, bandwidth, flags)


def block_rebase(
    hv: TestHypervisor, dom: DomainRef, path: str, base: str | None, bandwidth: int, flags: int
) -> list[DomainEvent]:
    """Mirrors qemuDomainBlockRebase without COPY (a pull limited to the layers above ``base``).

    Flags: RELATIVE, BANDWIDTH_BYTES (COPY and its companions are refused as
    unsupported flags: the test driver has no block copy).  Raises as
    :func:`block_pull`, plus INVALID_ARG "flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE
    is valid only with non-null base" and INVALID_ARG (VIR_FROM_STORAGE)
    "could not find image '…' beneath '…' in chain for '…'".
    """
    allowed = DomainBlockRebaseFlags.RELATIVE | DomainBlockRebaseFlags.BANDWIDTH_BYTES
    check_flags(flags, allowed, "testDomainBlockRebase")
    return _pull_common(hv, dom, path, base, bandwidth, flags)


def get_block_job_info(
    hv: TestHypervisor, dom: DomainRef, path: str, flags: int
) -> BlockJobInfo | None:
    """Mirrors qemuDomainGetBlockJobInfo (flags: BANDWIDTH_BYTES); None when no job.

    Raises INVALID_ARG (flags, disk not found), NO_DOMAIN, OPERATION_INVALID.
    """
    check_flags(flags, DomainBlockJobInfoFlags.BANDWIDTH_BYTES, "testDomainGetBlockJobInfo")
    with hv._lock:
        obj = _active(hv, dom)
        disk = _disk(obj, path)
        job = obj.jobs.get(disk.target)
        if job is None:
            return None
        in_bytes = bool(flags & DomainBlockJobInfoFlags.BANDWIDTH_BYTES)
        return info_of(job, hv.clock(), in_bytes)


def block_job_set_speed(
    hv: TestHypervisor, dom: DomainRef, path: str, bandwidth: int, flags: int
) -> None:
    """Mirrors qemuDomainBlockJobSetSpeed (flags: BANDWIDTH_BYTES).

    The overflow check comes first, before the domain lookup, as in libvirt.
    Raises OVERFLOW, INVALID_ARG (flags, disk, "disk … does not have an active
    block job"), NO_DOMAIN, OPERATION_INVALID.
    """
    check_flags(flags, DomainBlockJobSetSpeedFlags.BANDWIDTH_BYTES, "testDomainBlockJobSetSpeed")
    speed = _bandwidth_bytes(bandwidth, bool(flags & DomainBlockJobSetSpeedFlags.BANDWIDTH_BYTES))
    with hv._lock:
        job = _current_job(hv, dom, path)[2]
        job.set_speed(speed, hv.clock())
        hv._cond.notify_all()


def block_job_abort(hv: TestHypervisor, dom: DomainRef, path: str, flags: int) -> list[DomainEvent]:
    """Mirrors qemuDomainBlockJobAbort (flags: ASYNC, PIVOT).

    Without ASYNC the job is gone when this returns; with ASYNC it lingers
    (still reported by info) for ABORT_DELAY of the clock.  Either way a
    CANCELED event follows.  Raises INVALID_ARG (flags, disk, no job),
    OPERATION_INVALID "block job on disk '…' is still being ended" / "domain is
    not running", BLOCK_COPY_ACTIVE "disk '…' not ready for pivot yet" (a pull
    is never ready to pivot), NO_DOMAIN.
    """
    allowed = DomainBlockJobAbortFlags.ASYNC | DomainBlockJobAbortFlags.PIVOT
    check_flags(flags, allowed, "testDomainBlockJobAbort")
    with hv._lock:
        obj, disk, job = _current_job(hv, dom, path)
        if job.state is JobState.ABORTING:
            raise VirError.report(
                ErrorNumber.OPERATION_INVALID,
                ErrorDomain.TEST,
                f"block job on disk '{disk.target}' is still being ended",
            )
        if flags & DomainBlockJobAbortFlags.PIVOT:
            raise VirError.report(
                ErrorNumber.BLOCK_COPY_ACTIVE,
                ErrorDomain.TEST,
                f"disk '{disk.target}' not ready for pivot yet",
            )
        if flags & DomainBlockJobAbortFlags.ASYNC:
            job.state = JobState.ABORTING
            job.abort_at = hv.clock() + ABORT_DELAY
            hv._cond.notify_all()
            return []
        del obj.jobs[disk.target]
        return job_events(obj.ref, job, DomainBlockJobStatus.CANCELED)


def reap(hv: TestHypervisor) -> list[DomainEvent]:
    """End every job whose deadline has passed; return the events to queue.

    A completed pull drops the pulled layers from the image's backing chain;
    a failed one (injected) leaves the chain as it was.
    """
    events: list[DomainEvent] = []
    with hv._lock:
        now = hv.clock()
        for obj in hv._domains.values():
            for target, job in list(obj.jobs.items()):
                if now < job.deadline():
                    continue
                del obj.jobs[target]
                if job.state is JobState.ABORTING:
                    status = DomainBlockJobStatus.CANCELED
                elif job.fails:
                    status = DomainBlockJobStatus.FAILED
                else:
                    status = DomainBlockJobStatus.COMPLETED
                    chain = hv._images.get(job.source, [])
                    hv._images[job.source] = chain[len(chain) - job.keep :] if job.keep else []
                events.extend(job_events(obj.ref, job, status))
    return events
