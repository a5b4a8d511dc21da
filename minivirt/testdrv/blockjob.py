"""The block-job entry points of the test driver, on the simulated host.

The checks, their order and texts are the shared rules of
:mod:`minivirt.hypervisor.blockjob` (as the qemu driver's); this module owns
what is the simulation's: where a job runs (a :class:`SimJob` over the host's
clock), a pull with nothing to copy ending at once, an asynchronous abort
lingering for :data:`ABORT_DELAY`, and :meth:`BlockJobs.reap`, which ends the
jobs whose time has come.  Methods take the host's lock themselves and return
the events to queue; the caller queues them after unlocking.  It must not
start threads or read a clock other than ``host.clock``.
"""

from __future__ import annotations

from minivirt.hypervisor import blockjob as rules
from minivirt.hypervisor.chain import pulled_chain
from minivirt.public import (
    BlockJobEvent,
    BlockJobInfo,
    DomainBlockJobAbortFlags,
    DomainBlockJobStatus,
    DomainRef,
)
from minivirt.testdrv.host import DRIVER, SimHost
from minivirt.testdrv.simjob import ABORT_DELAY, JobState, SimJob

__all__ = ["BlockJobs", "Events"]

#: Events a call produced, for the caller to queue once the host lock is released.
Events = tuple[BlockJobEvent, ...]


def _events(ref: DomainRef, job: SimJob, status: DomainBlockJobStatus) -> Events:
    return rules.job_events(ref, job.target, job.source, job.type, int(status))


class BlockJobs:
    """The block-job calls of the test driver on one simulated host."""

    def __init__(self, host: SimHost) -> None:
        self.host = host

    def pull(self, ref: DomainRef, disk: str, bandwidth: int, flags: int) -> Events:
        """Mirrors qemuDomainBlockPull on the simulated host (see the qemu driver's twin)."""
        rules.check_api_flags(flags, rules.PULL, DRIVER)
        return self._pull_common(ref, disk, None, bandwidth, flags)

    def rebase(
        self, ref: DomainRef, disk: str, base: str | None, bandwidth: int, flags: int
    ) -> Events:
        """Mirrors qemuDomainBlockRebase's pull form: a pull of the layers above ``base``."""
        rules.check_api_flags(flags, rules.REBASE, DRIVER)
        with self.host.lock:
            rules.refuse_copy(self.host.find(ref), disk, flags, DRIVER)
        return self._pull_common(ref, disk, base, bandwidth, flags)

    def _pull_common(
        self, ref: DomainRef, name: str, base: str | None, bandwidth: int, flags: int
    ) -> Events:
        """The shared checks, then start the job (or end it at once: nothing to copy)."""
        host = self.host
        with host.lock:
            obj = host.find(ref)
            plan = rules.plan_pull(obj, name, base, bandwidth, flags, host.chain, DRIVER)
            disk = plan.disk
            job = SimJob(
                name=rules.job_name(disk.target, rules.top_index(obj, disk.target, host.chain)),
                target=disk.target,
                source=disk.source,
                type=plan.type,
                end=host.disk_size,
                speed=plan.speed,
                t0=host.clock(),
                base_index=plan.base_index,
                fail_at=host.failure_point(disk.source),
            )
            if plan.base_index == 1 or len(host.chain(disk)) == 1:
                # nothing between the top and the base: QEMU ends such a stream job at once
                return _events(obj.ref, job, DomainBlockJobStatus.COMPLETED)
            obj.jobs[disk.target] = job
            host.cond.notify_all()
            return ()

    def info(self, ref: DomainRef, disk: str, flags: int) -> BlockJobInfo | None:
        """Mirrors qemuDomainGetBlockJobInfo on the simulated host; None when no job."""
        report_bytes = rules.info_args(flags, DRIVER)
        with self.host.lock:
            obj = self.host.find(ref)
            job = obj.jobs.get(rules.job_disk(obj, disk, DRIVER)[0].target)
            if job is None:
                return None
            cur = job.cur(self.host.clock())
            return rules.translate_info(job.type, cur, job.end, job.speed, False, report_bytes)

    def set_speed(self, ref: DomainRef, disk: str, bandwidth: int, flags: int) -> None:
        """Mirrors qemuDomainBlockJobSetSpeed on the simulated host."""
        speed = rules.speed_args(bandwidth, flags, DRIVER)
        with self.host.lock:
            obj = self.host.find(ref)
            job = obj.jobs[rules.current_job(obj, disk, DRIVER)[0].target]
            job.set_speed(rules.speed_argument(speed), self.host.clock())
            self.host.cond.notify_all()

    def abort(self, ref: DomainRef, disk: str, flags: int) -> Events:
        """Mirrors qemuDomainBlockJobAbort on the simulated host.

        Without ASYNC the job is gone when this returns; with ASYNC it lingers
        (still reported by info) for ABORT_DELAY of the clock.  Either way a
        CANCELED event follows.
        """
        rules.check_api_flags(flags, rules.ABORT, DRIVER)
        with self.host.lock:
            obj = self.host.find(ref)
            target = rules.check_abort(obj, disk, flags, DRIVER, self.host.chain)[0].target
            job = obj.jobs[target]
            if flags & DomainBlockJobAbortFlags.ASYNC:
                job.state = JobState.ABORTING
                job.abort_at = self.host.clock() + ABORT_DELAY
                self.host.cond.notify_all()
                return ()
            del obj.jobs[target]
            return _events(obj.ref, job, DomainBlockJobStatus.CANCELED)

    def reap(self) -> Events:
        """End every job whose deadline has passed; return the events to queue.

        A completed pull leaves the chain the shared rule says; a failed one
        (injected) leaves the chain as it was.
        """
        host = self.host
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
                            chain = pulled_chain(host.chain(disk), job.base_index)
                            host.set_chain(job.source, chain)
                    events.extend(_events(obj.ref, job, status))
        return tuple(events)
