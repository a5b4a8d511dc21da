"""Taking back domains whose QEMU outlived the driver that started them.

A running domain's status file (pid, monitor socket, id, active jobs) lets a
new driver state — after a daemon restart, or a later ``qemu:///session``
process — reconnect to the QEMU still running: connect the monitor, re-read
the backing chains and keep the jobs QEMU still reports.  This module owns
that procedure only; it never signals a process it could not reconnect to
(its pid may have been reused).  It reaches the driver state through the
small :class:`ReconnectHost` interface, so the state imports this module and
not the other way round.
"""

from __future__ import annotations

import logging
from typing import Protocol

from minivirt.public import DomainRunningReason, DomainState, VirError
from minivirt.qemu import process
from minivirt.qemu.domain import ActiveJob, DomainObj
from minivirt.qemu.monitor import Monitor

__all__ = ["ReconnectHost", "reconnect"]

_log = logging.getLogger(__name__)


class ReconnectHost(Protocol):
    """What reconnecting needs of the driver state (QemuDriverState provides it)."""

    def status_path(self, name: str) -> str:
        """The status file of a running domain."""
        ...

    def attach_monitor(self, dom: DomainObj, gen: int) -> Monitor:
        """Connect ``dom``'s monitor for run ``gen``."""
        ...

    def reserve_id(self, dom_id: int) -> None:
        """Never hand out ``dom_id`` again."""
        ...

    def write_status(self, dom: DomainObj) -> None:
        """Write the status file of a running domain."""
        ...


def reconnect(state: ReconnectHost, dom: DomainObj) -> None:
    """Take back a domain whose QEMU outlived a previous driver (its status file says so).

    A dead pid or an unreachable monitor leaves the domain shut off; the
    process is never signalled then (its pid may have been reused).
    """
    path = state.status_path(dom.defn.name)
    status = process.read_status(path)
    if status is None:
        return
    try:
        pid, dom_id = int(str(status.get("pid"))), int(str(status.get("id")))
        dom.monitor_path = str(status["monitor"])
        dom.log_path = str(status.get("log", ""))
        saved = status.get("jobs")
        saved_jobs = saved if isinstance(saved, dict) else {}
    except (KeyError, TypeError, ValueError):
        process.remove_status(path)
        return
    if pid <= 0 or dom_id < 0 or not process.pid_alive(pid):
        process.remove_status(path)
        return
    dom.run_gen += 1
    dom.pid = pid
    try:
        monitor = state.attach_monitor(dom, dom.run_gen)
        chains = {d.target: monitor.query_block_chain(process.drive_id(d)) for d in dom.defn.disks}
        running = {job.device for job in monitor.query_block_jobs()}
    except (OSError, VirError) as exc:
        _log.warning("cannot reconnect to %s: %s", dom.defn.name, exc)
        if dom.monitor is not None:
            dom.monitor.close()
        dom.monitor, dom.pid = None, 0
        process.remove_status(path)
        return
    for target, saved_job in saved_jobs.items():
        if isinstance(saved_job, dict) and saved_job.get("device") in running:
            base = saved_job.get("base_index")
            dom.jobs[str(target)] = ActiveJob(
                str(target),
                str(saved_job["device"]),
                int(saved_job.get("type", 1)),
                base if isinstance(base, int) else None,
            )
    dom.chains = chains
    dom.id = dom_id
    dom.state = DomainState.RUNNING
    dom.reason = int(DomainRunningReason.UNKNOWN)
    state.reserve_id(dom_id)
    state.write_status(dom)
