"""The block-job entry points of the qemu driver (qemuDomainBlockPull and friends).

The checks, their order and texts are the shared rules of
:mod:`minivirt.hypervisor.blockjob`; this module owns what is QEMU's: the
domain's locks (the "modify" job lock, ``dom.cond``), recording a job before
``block-stream`` is sent so that its events always find it, the monitor
commands, and waiting for the job's end on an Abort without ABORT_ASYNC.  It
must not parse QMP, and it queues no event but the CANCELED that the 2011
``block_job_cancel`` never announces.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from minivirt.conf import DiskDef
from minivirt.hypervisor import blockjob as rules
from minivirt.public import (
    BlockJobInfo,
    DomainBlockJobAbortFlags,
    DomainBlockJobStatus,
    DomainRef,
    ErrorDomain,
    ErrorNumber,
    VirError,
)
from minivirt.qemu.domain import DRIVER, ActiveJob, DomainObj, not_running
from minivirt.qemu.monitor import Monitor
from minivirt.qemu.process import drive_id
from minivirt.qemu.qmpreply import QemuBlockJob
from minivirt.qemu.state import QemuDriverState

__all__ = [
    "block_job_info_pick",
    "block_job_info_query",
    "block_job_abort",
    "block_job_set_speed",
    "block_pull",
    "block_rebase",
    "get_block_job_info",
]


def _monitor(dom: DomainObj) -> Monitor:
    monitor = dom.monitor
    if monitor is None:
        raise not_running()
    return monitor


def _same_file(a: str, b: str) -> bool:
    """Whether two image paths name the same file after resolving symbolic links."""
    return os.path.realpath(a) == os.path.realpath(b)


def block_pull(
    state: QemuDriverState, ref: DomainRef, disk: str, bandwidth: int, flags: int
) -> None:
    """Mirrors qemuDomainBlockPull: BlockRebase with no base.

    Raises INVALID_ARG (flags, unknown disk), NO_DOMAIN, OPERATION_INVALID
    (not running), OPERATION_UNSUPPORTED (job already active), OVERFLOW
    (bandwidth), INTERNAL_ERROR (speed beyond int64), and QEMU's errors.
    """
    rules.check_api_flags(flags, rules.PULL, DRIVER)
    _pull_common(state, state.get(ref), disk, None, bandwidth, flags)


def block_rebase(
    state: QemuDriverState, ref: DomainRef, disk: str, base: str | None, bandwidth: int, flags: int
) -> None:
    """Mirrors qemuDomainBlockRebase for pulls: stream the layers above ``base``.

    Raises as :func:`block_pull`, plus the base lookup's INVALID_ARG
    (VIR_FROM_STORAGE), INVALID_ARG for RELATIVE without a base,
    OPERATION_INVALID "can't keep relative backing relationship", and for
    copy jobs OPERATION_INVALID "domain is not transient" (a persistent
    domain, as libvirt) or ARGUMENT_UNSUPPORTED (not implemented by minivirt).
    """
    rules.check_api_flags(flags, rules.REBASE, DRIVER)
    dom = state.get(ref)
    with dom.cond:
        rules.refuse_copy(dom, disk, flags, DRIVER)
    _pull_common(state, dom, disk, base, bandwidth, flags)


def _pull_common(
    state: QemuDriverState,
    dom: DomainObj,
    name: str,
    base: str | None,
    bandwidth: int,
    flags: int,
) -> None:
    """qemuDomainBlockPullCommon: the shared checks, then record the job and send block-stream."""
    with dom.modify_job():
        with dom.cond:
            plan = rules.plan_pull(
                dom,
                name,
                base,
                bandwidth,
                flags,
                lambda d: dom.chain(d.target),
                DRIVER,
                _same_file,
            )
            monitor = _monitor(dom)
            target = plan.disk.target
            job = ActiveJob(target, drive_id(plan.disk), plan.type, plan.base_index)
            dom.jobs[target] = job
        state.write_status(dom)
        try:
            monitor.block_stream(
                job.device, base=plan.base_path, backing_file=plan.backing, speed=plan.speed
            )
        except VirError:
            with dom.cond:
                if dom.jobs.get(target) is job:
                    del dom.jobs[target]
            state.write_status(dom)
            raise


def get_block_job_info(
    state: QemuDriverState, ref: DomainRef, disk: str, flags: int
) -> BlockJobInfo | None:
    """Mirrors qemuDomainGetBlockJobInfo: the job on ``disk`` as QEMU reports it, or None.

    Concurrent calls share one ``query-block-jobs`` in flight.  Raises
    INVALID_ARG (flags, unknown disk), NO_DOMAIN, OPERATION_INVALID (not
    running), INTERNAL_ERROR (malformed reply).
    """
    found = block_job_info_query(state, ref, disk, flags)
    if found is None:
        return None
    job, monitor, report_bytes = found
    return block_job_info_pick(monitor.query_block_jobs(), job, report_bytes)


def block_job_info_query(
    state: QemuDriverState, ref: DomainRef, disk: str, flags: int
) -> tuple[ActiveJob, Monitor, bool] | None:
    """get_block_job_info's checks and memory: None when the disk has no job (no QMP);
    else the job, the monitor to ask and whether to report bytes/s.

    Shared with the awaitable twin (``minivirt.qemu.aio``); raises as
    :func:`get_block_job_info`.
    """
    report_bytes = rules.info_args(flags, DRIVER)
    dom = state.get(ref)
    with dom.cond:
        target = rules.job_disk(dom, disk, DRIVER)[0].target
        job = dom.jobs.get(target)
        if job is None:
            return None
        return job, _monitor(dom), report_bytes


def block_job_info_pick(
    raws: Iterable[QemuBlockJob], job: ActiveJob, report_bytes: bool
) -> BlockJobInfo | None:
    """The ``query-block-jobs`` entry of ``job``, translated; None when QEMU has none."""
    for raw in raws:
        if raw.device == job.device:
            return rules.translate_info(
                job.type, raw.offset, raw.len, raw.speed, raw.ready, report_bytes
            )
    return None


def block_job_set_speed(
    state: QemuDriverState, ref: DomainRef, disk: str, bandwidth: int, flags: int
) -> None:
    """Mirrors qemuDomainBlockJobSetSpeed.

    Raises INVALID_ARG (flags, unknown disk, "disk %s does not have an active
    block job"), OVERFLOW "bandwidth must be less than %llu" (checked first,
    as libvirt), NO_DOMAIN, OPERATION_INVALID (not running), INTERNAL_ERROR
    (speed beyond int64), QEMU's errors.
    """
    speed = rules.speed_args(bandwidth, flags, DRIVER)
    dom = state.get(ref)
    with dom.modify_job():
        with dom.cond:
            target = rules.current_job(dom, disk, DRIVER)[0].target
            job = dom.jobs[target]
            monitor = _monitor(dom)
        monitor.block_job_set_speed(job.device, rules.speed_argument(speed))


def block_job_abort(state: QemuDriverState, ref: DomainRef, disk: str, flags: int) -> None:
    """Mirrors qemuDomainBlockJobAbort: cancel, and wait for the job's end unless ABORT_ASYNC.

    Raises INVALID_ARG (flags, unknown disk, no job), NO_DOMAIN,
    OPERATION_INVALID (not running; "block job on disk '%s' is still being
    ended"), BLOCK_COPY_ACTIVE "block job '%s' not ready for pivot yet" (a pull
    is never ready), OPERATION_FAILED "domain is not running" when QEMU dies
    while waiting, QEMU's errors.
    """
    rules.check_api_flags(flags, rules.ABORT, DRIVER)
    dom = state.get(ref)
    with dom.modify_job():
        with dom.cond:
            disk_def = rules.check_abort(dom, disk, flags, DRIVER, lambda d: dom.chain(d.target))[0]
            job = dom.jobs[disk_def.target]
            monitor = _monitor(dom)
            job.aborting = True
        try:
            announced = monitor.block_job_cancel(job.device)
        except VirError:
            with dom.cond:
                job.aborting = False
            raise
        if not announced:
            _synthesise_cancel(state, dom, job, disk_def)
            return
        if flags & DomainBlockJobAbortFlags.ASYNC:
            return
        with dom.cond:
            dom.cond.wait_for(lambda: dom.jobs.get(job.target) is not job or not dom.active)
            if not dom.active:
                raise VirError.report(
                    ErrorNumber.OPERATION_FAILED, ErrorDomain.QEMU, "domain is not running"
                )


def _synthesise_cancel(
    state: QemuDriverState, dom: DomainObj, job: ActiveJob, disk: DiskDef
) -> None:
    """The 2011 block_job_cancel is synchronous and silent: emit CANCELED ourselves."""
    with dom.cond:
        if dom.jobs.get(job.target) is not job:
            return
        del dom.jobs[job.target]
        ref = dom.ref()
        dom.cond.notify_all()
    state.write_status(dom)
    state.emit_block_job(ref, disk, job.type, int(DomainBlockJobStatus.CANCELED))
