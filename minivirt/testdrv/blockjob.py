"""The block-job entry points of the test driver, on the simulated host.

The checks, their order and texts are the shared rules of
:mod:`minivirt.hypervisor.blockjob` (as the qemu driver's); this module owns
what is the simulation's: where a job runs (a :class:`SimJob` over the host's
clock), a pull with nothing to copy ending at once, an asynchronous abort
lingering for :data:`ABORT_DELAY`, and :func:`reap`, which ends the jobs whose
time has come.  Functions take the host's lock themselves and return the
events to queue; the caller queues them after unlocking.  It must not start
threads or read a clock other than ``host.clock``.
"""

from __future__ import annotations

from typing import Final

from minivirt import hypervisor as rules
from minivirt.public import (
    BlockJobEvent,
    BlockJobInfo,
    DomainBlockJobAbortFlags,
    DomainBlockJobInfoFlags,
    DomainBlockJobSetSpeedFlags,
    DomainBlockJobStatus,
    DomainBlockJobType,
    DomainRef,
    ErrorDomain,
)
from minivirt.testdrv.host import SimHost
from minivirt.testdrv.simjob import ABORT_DELAY, JobState, SimJob

__all__ = [
    "DRIVER",
    "block_job_abort",
    "block_job_set_speed",
    "block_pull",
    "block_rebase",
    "get_block_job_info",
    "reap",
]

#: What the test driver's errors carry: VIR_FROM_TEST, functions named testDomain….
DRIVER: Final = rules.Driver(ErrorDomain.TEST, "test")

Events = tuple[BlockJobEvent, ...]


def _events(ref: DomainRef, job: SimJob, status: DomainBlockJobStatus) -> Events:
    return rules.job_events(ref, job.target, job.source, job.type, int(status))


def block_pull(host: SimHost, ref: DomainRef, disk: str, bandwidth: int, flags: int) -> Events:
    """Mirrors qemuDomainBlockPull on the simulated host (see the qemu driver's twin)."""
    rules.check_api_flags(flags, rules.PULL, DRIVER)
    return _pull_common(host, ref, disk, None, bandwidth, flags)


def block_rebase(
    host: SimHost, ref: DomainRef, disk: str, base: str | None, bandwidth: int, flags: int
) -> Events:
    """Mirrors qemuDomainBlockRebase's pull form: a pull of the layers above ``base``."""
    rules.check_api_flags(flags, rules.REBASE, DRIVER)
    with host.lock:
        host.find(ref)
    rules.refuse_copy(flags)
    return _pull_common(host, ref, disk, base, bandwidth, flags)


def _pull_common(
    host: SimHost, ref: DomainRef, name: str, base: str | None, bandwidth: int, flags: int
) -> Events:
    """The shared checks, then start the job (or end it at once: nothing to copy)."""
    with host.lock:
        obj = host.find(ref)
        plan = rules.plan_pull(obj, name, base, bandwidth, flags, host.chain, DRIVER)
        disk = plan.disk
        job = SimJob(
            name=rules.job_name(disk),
            target=disk.target,
            source=disk.source,
            type=int(DomainBlockJobType.PULL),
            end=host.disk_size,
            speed=plan.speed,
            t0=host.clock(),
            base_index=plan.base_index,
            fail_at=host.failure_point(disk.source),
        )
        if plan.base_index == 1 or len(host.chain(disk)) == 1:
            # nothing between the top and the base: QEMU finishes the stream job at once
            return _events(obj.ref, job, DomainBlockJobStatus.COMPLETED)
        obj.jobs[disk.target] = job
        host.cond.notify_all()
        return ()


def get_block_job_info(host: SimHost, ref: DomainRef, disk: str, flags: int) -> BlockJobInfo | None:
    """Mirrors qemuDomainGetBlockJobInfo on the simulated host; None when no job."""
    rules.check_api_flags(flags, rules.GET_INFO, DRIVER)
    with host.lock:
        obj = host.find(ref)
        target = rules.job_disk(obj, disk, DRIVER)[0].target
        job = obj.jobs.get(target)
        if job is None:
            return None
        report_bytes = bool(flags & DomainBlockJobInfoFlags.BANDWIDTH_BYTES)
        cur = job.cur(host.clock())
        return rules.translate_info(job.type, cur, job.end, job.speed, False, report_bytes)


def block_job_set_speed(
    host: SimHost, ref: DomainRef, disk: str, bandwidth: int, flags: int
) -> None:
    """Mirrors qemuDomainBlockJobSetSpeed on the simulated host."""
    rules.check_api_flags(flags, rules.SET_SPEED, DRIVER)
    in_bytes = bool(flags & DomainBlockJobSetSpeedFlags.BANDWIDTH_BYTES)
    speed = rules.bandwidth_bytes(bandwidth, in_bytes, DRIVER)
    with host.lock:
        obj = host.find(ref)
        target = rules.current_job(obj, disk, DRIVER)[0].target
        obj.jobs[target].set_speed(rules.speed_argument(speed), host.clock())
        host.cond.notify_all()


def block_job_abort(host: SimHost, ref: DomainRef, disk: str, flags: int) -> Events:
    """Mirrors qemuDomainBlockJobAbort on the simulated host.

    Without ASYNC the job is gone when this returns; with ASYNC it lingers
    (still reported by info) for ABORT_DELAY of the clock.  Either way a
    CANCELED event follows.
    """
    rules.check_api_flags(flags, rules.ABORT, DRIVER)
    with host.lock:
        obj = host.find(ref)
        target = rules.check_abort(obj, disk, flags, DRIVER)[0].target
        job = obj.jobs[target]
        if flags & DomainBlockJobAbortFlags.ASYNC:
            job.state = JobState.ABORTING
            job.abort_at = host.clock() + ABORT_DELAY
            host.cond.notify_all()
            return ()
        del obj.jobs[target]
        return _events(obj.ref, job, DomainBlockJobStatus.CANCELED)


def reap(host: SimHost) -> Events:
    """End every job whose deadline has passed; return the events to queue.

    A completed pull leaves the chain a completed pull leaves (the shared
    rule); a failed one (injected) leaves the chain as it was.
    """
    events: list[BlockJobEvent] = []
    with host.lock:
        now = host.clock()
        for obj in host.domains.values():
            for target, job in list(obj.jobs.items()):
                if now < job.deadline():
                    continue
                del obj.jobs[target]
                if job.ending:
                    status = DomainBlockJobStatus.CANCELED
                elif job.fails:
                    status = DomainBlockJobStatus.FAILED
                else:
                    status = DomainBlockJobStatus.COMPLETED
                    disk = obj.defn.disk(target)
                    if disk is not None:
                        chain = host.chain(disk)
                        host.set_chain(job.source, rules.pulled_chain(chain, job.base_index))
                events.extend(_events(obj.ref, job, status))
    return tuple(events)
