"""The block-job entry points of the qemu driver (qemuDomainBlockPull and friends).

This module owns libvirt's driver-side checks for the four APIs and
BlockRebase, in modern libvirt's order (flags, domain, job lock, running,
disk, job present/absent), and the sequencing of monitor commands with the
driver's job table: a job is recorded before ``block-stream`` is sent so its
events always find it; Abort waits, event-driven, until the job is gone
unless ABORT_ASYNC.  It must not parse QMP or queue events other than the
CANCELED that the 2011 ``block_job_cancel`` never announces.
"""

from __future__ import annotations

from minivirt.conf import DiskDef
from minivirt.public import (
    BlockJobInfo,
    DomainBlockJobAbortFlags,
    DomainBlockJobInfoFlags,
    DomainBlockJobSetSpeedFlags,
    DomainBlockJobStatus,
    DomainBlockJobType,
    DomainBlockPullFlags,
    DomainBlockRebaseFlags,
    DomainRef,
    ErrorDomain,
    ErrorNumber,
    VirError,
)
from minivirt.qemu.blockjob import (
    check_flags,
    find_base,
    mib_to_bytes,
    relative_backing,
    translate_info,
)
from minivirt.qemu.domain import ActiveJob, DomainObj, not_running
from minivirt.qemu.monitor import Monitor
from minivirt.qemu.process import drive_id
from minivirt.qemu.state import QemuDriverState

__all__ = [
    "block_job_abort",
    "block_job_set_speed",
    "block_pull",
    "block_rebase",
    "get_block_job_info",
]

_REBASE_FLAGS = (
    DomainBlockRebaseFlags.SHALLOW
    | DomainBlockRebaseFlags.REUSE_EXT
    | DomainBlockRebaseFlags.COPY
    | DomainBlockRebaseFlags.COPY_RAW
    | DomainBlockRebaseFlags.RELATIVE
    | DomainBlockRebaseFlags.COPY_DEV
    | DomainBlockRebaseFlags.BANDWIDTH_BYTES
)


def _current_job(dom: DomainObj, disk: str) -> tuple[DiskDef, ActiveJob]:
    """Under ``dom.cond``: the running domain's disk and its job.

    Raises OPERATION_INVALID (not running), INVALID_ARG (unknown disk; "disk %s
    does not have an active block job").
    """
    dom.check_active()
    disk_def = dom.disk(disk)
    job = dom.jobs.get(disk_def.target)
    if job is None:
        raise VirError.report(
            ErrorNumber.INVALID_ARG,
            ErrorDomain.QEMU,
            f"disk {disk_def.target} does not have an active block job",
        )
    return disk_def, job


def _top_index(dom: DomainObj, target: str) -> int:
    """libvirt's storage index of the disk's top image (``vda[1]`` for the first disk).

    libvirt numbers the storage nodes of all disks in order, top to bottom of
    each chain; the same numbers are the ``index`` attributes of the live XML.
    """
    index = 1
    for d in dom.defn.disks:
        if d.target == target:
            break
        index += max(1, len(dom.chains.get(d.target, ())))
    return index


def _job_name(dom: DomainObj, target: str) -> str:
    """The name libvirt gives a pull job: ``pull-<target>-libvirt-<top index>-format``."""
    return f"pull-{target}-libvirt-{_top_index(dom, target)}-format"


def _monitor(dom: DomainObj) -> Monitor:
    monitor = dom.monitor
    if monitor is None:
        raise not_running()
    return monitor


def block_pull(
    state: QemuDriverState, ref: DomainRef, disk: str, bandwidth: int, flags: int
) -> None:
    """Mirrors qemuDomainBlockPull: BlockRebase with no base.

    Raises INVALID_ARG (flags, unknown disk), NO_DOMAIN, OPERATION_INVALID
    (not running), OPERATION_UNSUPPORTED (job already active), OVERFLOW
    (bandwidth), and QEMU's errors (facts §4.3).
    """
    check_flags(flags, DomainBlockPullFlags.BANDWIDTH_BYTES, "qemuDomainBlockPull")
    _pull_common(state, state.get(ref), disk, None, bandwidth, flags)


def block_rebase(
    state: QemuDriverState, ref: DomainRef, disk: str, base: str | None, bandwidth: int, flags: int
) -> None:
    """Mirrors qemuDomainBlockRebase for pulls: stream the layers above ``base``.

    Raises as :func:`block_pull`, plus INVALID_ARG "could not find image '%s'
    beneath '%s' in chain for '%s'", INVALID_ARG for RELATIVE without a base,
    OPERATION_INVALID "can't keep relative backing relationship", and for
    copy jobs OPERATION_INVALID "domain is not transient" (persistent domain,
    as libvirt) or ARGUMENT_UNSUPPORTED (not implemented by minivirt).
    """
    check_flags(flags, _REBASE_FLAGS, "qemuDomainBlockRebase")
    dom = state.get(ref)
    if flags & DomainBlockRebaseFlags.COPY:
        with dom.cond:
            dom.check_active()
            dom.disk(disk)
            persistent = dom.persistent
        if persistent:  # libvirt copies only transient domains (qemuDomainBlockCopyCommon)
            raise VirError.report(
                ErrorNumber.OPERATION_INVALID, ErrorDomain.QEMU, "domain is not transient"
            )
        raise VirError.report(
            ErrorNumber.ARGUMENT_UNSUPPORTED,
            ErrorDomain.QEMU,
            "flag VIR_DOMAIN_BLOCK_REBASE_COPY is not supported by minivirt's qemu driver",
        )
    _pull_common(state, dom, disk, base, bandwidth, flags)


def _pull_common(
    state: QemuDriverState,
    dom: DomainObj,
    name: str,
    base: str | None,
    bandwidth: int,
    flags: int,
) -> None:
    """qemuDomainBlockPullCommon: the checks, then record the job and send block-stream."""
    relative = bool(flags & DomainBlockRebaseFlags.RELATIVE)
    if relative and base is None:
        raise VirError.report(
            ErrorNumber.INVALID_ARG,
            ErrorDomain.QEMU,
            "flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base",
        )
    with dom.modify_job():
        with dom.cond:
            dom.check_active()
            disk = dom.disk(name)
            if disk.target in dom.jobs:
                raise VirError.report(
                    ErrorNumber.OPERATION_UNSUPPORTED,
                    ErrorDomain.QEMU,
                    f"disk '{disk.target}' already in active block job",
                )
            chain = dom.chains.get(disk.target, ())
            monitor = _monitor(dom)
        base_index = (
            find_base(chain, base, disk.target, _top_index(dom, disk.target))
            if base is not None
            else None
        )
        backing = (
            relative_backing(chain, base_index) if relative and base_index is not None else None
        )
        if flags & DomainBlockPullFlags.BANDWIDTH_BYTES:
            speed = bandwidth
        else:
            speed = mib_to_bytes(bandwidth)
        job = ActiveJob(disk.target, drive_id(disk), int(DomainBlockJobType.PULL), base_index)
        with dom.cond:
            dom.jobs[disk.target] = job
        state.write_status(dom)
        try:
            monitor.block_stream(
                job.device,
                base=chain[base_index].path if base_index is not None else None,
                backing_file=backing,
                speed=speed,
            )
        except VirError:
            with dom.cond:
                if dom.jobs.get(disk.target) is job:
                    del dom.jobs[disk.target]
            state.write_status(dom)
            raise


def get_block_job_info(
    state: QemuDriverState, ref: DomainRef, disk: str, flags: int
) -> BlockJobInfo | None:
    """Mirrors qemuDomainGetBlockJobInfo: the job on ``disk`` as QEMU reports it, or None.

    Concurrent calls share one ``query-block-jobs`` in flight.  Raises
    INVALID_ARG (flags, unknown disk), NO_DOMAIN, OPERATION_INVALID (not
    running), OVERFLOW (bandwidth not representable), INTERNAL_ERROR
    (malformed reply).
    """
    check_flags(flags, DomainBlockJobInfoFlags.BANDWIDTH_BYTES, "qemuDomainGetBlockJobInfo")
    dom = state.get(ref)
    with dom.cond:
        dom.check_active()
        target = dom.disk(disk).target
        job = dom.jobs.get(target)
        if job is None:
            return None
        monitor = _monitor(dom)
    for raw in monitor.query_block_jobs():
        if raw.device == job.device:
            return translate_info(
                raw, job.type, bool(flags & DomainBlockJobInfoFlags.BANDWIDTH_BYTES)
            )
    return None


def block_job_set_speed(
    state: QemuDriverState, ref: DomainRef, disk: str, bandwidth: int, flags: int
) -> None:
    """Mirrors qemuDomainBlockJobSetSpeed.

    Raises INVALID_ARG (flags, unknown disk, "disk %s does not have an active
    block job"), OVERFLOW "bandwidth must be less than %llu" (checked first,
    as libvirt), NO_DOMAIN, OPERATION_INVALID (not running), QEMU's errors.
    """
    check_flags(flags, DomainBlockJobSetSpeedFlags.BANDWIDTH_BYTES, "qemuDomainBlockJobSetSpeed")
    if flags & DomainBlockJobSetSpeedFlags.BANDWIDTH_BYTES:
        speed = bandwidth
    else:
        speed = mib_to_bytes(bandwidth)
    dom = state.get(ref)
    with dom.modify_job():
        with dom.cond:
            job = _current_job(dom, disk)[1]
            monitor = _monitor(dom)
        monitor.block_job_set_speed(job.device, speed)


def block_job_abort(state: QemuDriverState, ref: DomainRef, disk: str, flags: int) -> None:
    """Mirrors qemuDomainBlockJobAbort: cancel, and wait for the job's end unless ABORT_ASYNC.

    Raises INVALID_ARG (flags, unknown disk, no job), NO_DOMAIN,
    OPERATION_INVALID (not running; "block job on disk '%s' is still being
    ended"), BLOCK_COPY_ACTIVE ("block job '…' not ready for pivot yet": a pull is
    never ready), OPERATION_FAILED
    "domain is not running" when QEMU dies while waiting, QEMU's errors.
    """
    check_flags(
        flags,
        DomainBlockJobAbortFlags.ASYNC | DomainBlockJobAbortFlags.PIVOT,
        "qemuDomainBlockJobAbort",
    )
    dom = state.get(ref)
    with dom.modify_job():
        with dom.cond:
            disk_def, job = _current_job(dom, disk)
            if job.aborting:
                raise VirError.report(
                    ErrorNumber.OPERATION_INVALID,
                    ErrorDomain.QEMU,
                    f"block job on disk '{disk_def.target}' is still being ended",
                )
            if flags & DomainBlockJobAbortFlags.PIVOT:
                raise VirError.report(
                    ErrorNumber.BLOCK_COPY_ACTIVE,
                    ErrorDomain.QEMU,
                    f"block job '{_job_name(dom, disk_def.target)}' not ready for pivot yet",
                )
            monitor = _monitor(dom)
            job.aborting = True
        try:
            announced = monitor.block_job_cancel(job.device)
        except VirError:
            with dom.cond:
                job.aborting = False
            raise
        if not announced:
            _synthesise_cancel(state, dom, job, disk_def.source)
            return
        if flags & DomainBlockJobAbortFlags.ASYNC:
            return
        with dom.cond:
            dom.cond.wait_for(lambda: dom.jobs.get(job.target) is not job or not dom.active)
            if not dom.active:
                raise VirError.report(
                    ErrorNumber.OPERATION_FAILED, ErrorDomain.QEMU, "domain is not running"
                )


def _synthesise_cancel(state: QemuDriverState, dom: DomainObj, job: ActiveJob, source: str) -> None:
    """The 2011 block_job_cancel is synchronous and silent: emit CANCELED ourselves."""
    with dom.cond:
        if dom.jobs.get(job.target) is not job:
            return
        del dom.jobs[job.target]
        ref = dom.ref()
        dom.cond.notify_all()
    state.write_status(dom)
    state.emit_block_job(ref, source, job.target, job.type, int(DomainBlockJobStatus.CANCELED))
