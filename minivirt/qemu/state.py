"""The qemu driver's shared state: domain table, persistence, QEMU lifecycle, QEMU events.

One :class:`QemuDriverState` exists per state root in a process (libvirt's
``virQEMUDriver``); every connection opened on that root shares it: one
monitor thread, one domain table, one :class:`EventState`.  This module owns
define/undefine (definitions persisted as libvirt XML under the config dir),
start (QEMU paused, monitor connected and probed, chains read, then ``cont``),
destroy, the reaction to QEMU going away (monitor EOF → shut off, STOPPED,
jobs dropped) and the translation of QEMU block-job events into BLOCK_JOB /
BLOCK_JOB_2 domain events queued in arrival order.  It never calls user
callbacks (the event loop does) and never holds a domain's ``cond`` while
talking to QEMU.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

from minivirt.conf import DiskDef, DomainDef, format_xml, parse_domain
from minivirt.events import EventState
from minivirt.hypervisor.blockjob import job_events, no_domain
from minivirt.hypervisor.chain import pulled_chain
from minivirt.hypervisor.domains import check_define
from minivirt.public import (
    DomainEvent,
    DomainEventDefinedDetailType,
    DomainEventStartedDetailType,
    DomainEventStoppedDetailType,
    DomainEventType,
    DomainEventUndefinedDetailType,
    DomainRef,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    ErrorDomain,
    ErrorNumber,
    LifecycleEvent,
    VirError,
)
from minivirt.qemu import chain, process, security
from minivirt.qemu.domain import DRIVER, DomainObj, not_running
from minivirt.qemu.monitor import Monitor
from minivirt.qemu.monitorloop import MonitorLoop
from minivirt.qemu.paths import StateRoots
from minivirt.qemu.qmpreply import QmpEvent, event_status, job_type, parse_block_job_event
from minivirt.qemu.reconnect import reconnect
from minivirt.qemu.records import LaterWrites
from minivirt.qemu.validate import validate_for_qemu

__all__ = ["QemuDriverState"]

_log = logging.getLogger(__name__)


def _no_domain(detail: str) -> VirError:
    return VirError.report(ErrorNumber.NO_DOMAIN, ErrorDomain.QEMU, detail)


class QemuDriverState:
    """Domains, monitor thread and event state of one qemu driver root."""

    def __init__(self, roots: StateRoots) -> None:
        self.roots = roots
        for path in (roots.config_dir, roots.run_dir, roots.log_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)
        self.events = EventState()
        self.mloop = MonitorLoop(f"minivirt-qmp-{roots.kind}")
        self._lock = threading.RLock()
        self._domains: dict[str, DomainObj] = {}
        self._next_id = 1
        self.connections = 0
        #: What block-job events changed on disk, written a moment after the event.
        self.records = LaterWrites(self._save_records)
        #: The DAC security driver (QEMU's user, images lent to it); off for session/embed.
        self.dac = security.DacDriver(roots)
        self._load_configs()
        self.dac.release_orphans(d.defn.uuid for d in self._domains.values() if d.active)

    # -- table -----------------------------------------------------------------

    def _load_configs(self) -> None:
        for name in sorted(os.listdir(self.roots.config_dir)):
            if not name.endswith(".xml"):
                continue
            path = os.path.join(self.roots.config_dir, name)
            try:
                with open(path, encoding="utf-8") as src:
                    defn = parse_domain(src.read())
            except (OSError, VirError) as exc:
                _log.warning("ignoring domain config %s: %s", path, exc)
                continue
            dom = DomainObj(defn, persistent=True)
            self._domains[defn.uuid] = dom
            reconnect(self, dom)

    def reserve_id(self, dom_id: int) -> None:
        """Never hand out ``dom_id`` again (a reconnected domain keeps its id)."""
        with self._lock:
            self._next_id = max(self._next_id, dom_id + 1)

    def all_domains(self) -> list[DomainObj]:
        """Every domain, in definition order."""
        with self._lock:
            return list(self._domains.values())

    def any_active(self) -> bool:
        """True while some domain runs."""
        return any(dom.active for dom in self.all_domains())

    def get(self, ref: DomainRef) -> DomainObj:
        """The domain of ``ref``; NO_DOMAIN "no domain with matching uuid '%s' (%s)"."""
        with self._lock:
            dom = self._domains.get(ref.uuid)
        if dom is None:
            raise no_domain(ref, DRIVER)
        return dom

    def by_name(self, name: str) -> DomainObj:
        """NO_DOMAIN "no domain with matching name '%s'" when absent."""
        for dom in self.all_domains():
            if dom.defn.name == name:
                return dom
        raise _no_domain(f"no domain with matching name '{name}'")

    def by_id(self, id: int) -> DomainObj:
        """NO_DOMAIN "no domain with matching id %d" when no running domain has it."""
        for dom in self.all_domains():
            if dom.active and dom.id == id:
                return dom
        raise _no_domain(f"no domain with matching id {id}")

    def by_uuid(self, uuid: str) -> DomainObj:
        """NO_DOMAIN "no domain with matching uuid '%s'" when absent."""
        with self._lock:
            dom = self._domains.get(uuid.lower())
        if dom is None:
            raise _no_domain(f"no domain with matching uuid '{uuid}'")
        return dom

    def queue(self, event: DomainEvent) -> None:
        """Hand an event to the event state (callbacks run later in the app's loop)."""
        self.events.queue(event)

    def _lifecycle(self, dom: DomainObj, event: int, detail: int) -> None:
        self.queue(LifecycleEvent(dom.ref(), int(event), int(detail)))

    def _config_path(self, name: str) -> str:
        return os.path.join(self.roots.config_dir, f"{name}.xml")

    def status_path(self, name: str) -> str:
        """The status file of a running domain."""
        return os.path.join(self.roots.run_dir, f"{name}.json")

    # -- define / undefine -------------------------------------------------------

    def define(self, document: str) -> DomainRef:
        """Mirrors qemuDomainDefineXMLFlags: store a definition, persist it as XML.

        Raises conf's XML errors, CONFIG_UNSUPPORTED from ``validate_for_qemu``;
        OPERATION_FAILED (VIR_FROM_DOMAIN) for name/uuid clashes
        (``minivirt.hypervisor.domains.check_define``).
        """
        defn = validate_for_qemu(parse_domain(document))
        with self._lock:
            dom = self._domains.get(defn.uuid)
            check_define(defn, dom.defn if dom else None, (d.defn for d in self._domains.values()))
            self._write_config(defn)
            detail = DomainEventDefinedDetailType.ADDED
            if dom is None:
                dom = DomainObj(defn, persistent=True)
                self._domains[defn.uuid] = dom
            else:
                with dom.cond:
                    if dom.persistent:
                        detail = DomainEventDefinedDetailType.UPDATED
                    dom.persistent = True
                    if dom.active:
                        dom.new_defn = defn
                    else:
                        dom.defn = defn
        self._lifecycle(dom, DomainEventType.DEFINED, detail)
        return dom.ref()

    def _write_config(self, defn: DomainDef) -> None:
        path = self._config_path(defn.name)
        try:
            with open(f"{path}.new", "w", encoding="utf-8") as out:
                out.write(format_xml(defn))
            os.replace(f"{path}.new", path)
        except OSError as exc:
            raise VirError.report(
                ErrorNumber.WRITE_FAILED, ErrorDomain.QEMU, f"{path}: {exc.strerror}"
            ) from exc

    def undefine(self, ref: DomainRef) -> None:
        """Mirrors qemuDomainUndefineFlags: forget the definition (a running domain goes transient).

        Raises NO_DOMAIN; OPERATION_INVALID "cannot undefine transient domain".
        """
        dom = self.get(ref)
        with self._lock, dom.cond:
            if not dom.persistent:
                raise VirError.report(
                    ErrorNumber.OPERATION_INVALID,
                    ErrorDomain.QEMU,
                    "cannot undefine transient domain",
                )
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._config_path(dom.defn.name))
            dom.persistent = False
            dom.new_defn = None
            if not dom.active:
                del self._domains[dom.defn.uuid]
        self._lifecycle(dom, DomainEventType.UNDEFINED, DomainEventUndefinedDetailType.REMOVED)

    # -- start -----------------------------------------------------------------------

    def start(self, ref: DomainRef) -> DomainRef:
        """Mirrors qemuDomainCreateWithFlags: run QEMU paused, connect QMP, read chains, cont.

        Raises NO_DOMAIN; OPERATION_INVALID "domain is already running";
        OPERATION_FAILED when the binary is missing; INTERNAL_ERROR "process
        exited while connecting to monitor: <QEMU's message>" when QEMU dies.
        """
        dom = self.get(ref)
        with dom.modify_job():
            if dom.active:
                raise VirError.report(
                    ErrorNumber.OPERATION_INVALID, ErrorDomain.QEMU, "domain is already running"
                )
            self._launch(dom)
        self._lifecycle(dom, DomainEventType.STARTED, DomainEventStartedDetailType.BOOTED)
        return dom.ref()

    def _launch(self, dom: DomainObj) -> None:
        defn = validate_for_qemu(dom.defn)
        try:  # libvirt names a broken backing chain before QEMU runs
            chain.check_disks(defn.disks)
        except VirError:
            dom.reason = int(DomainShutoffReason.FAILED)
            raise
        binary = process.emulator_path(defn)
        dom.monitor_path = os.path.join(self.roots.run_dir, f"{defn.name}.monitor")
        dom.log_path = os.path.join(self.roots.log_dir, f"{defn.name}.log")
        try:
            listener = process.listen_unix(dom.monitor_path)
        except OSError as exc:
            raise VirError.report(
                ErrorNumber.SYSTEM_ERROR,
                ErrorDomain.QEMU,
                f"Failed to bind socket to '{dom.monitor_path}': {exc.strerror}",
            ) from exc
        try:
            if self.dac.enabled:  # qemu-img reads the chains only when images get lent
                self.dac.set_domain(defn.uuid, security.image_paths(defn))
            kvm = process.kvm_usable() and (not self.dac.enabled or self.dac.kvm_allowed())
            cmd = process.build_command(defn, binary, listener.fileno(), kvm)
            proc, dom.log_offset = process.spawn(
                cmd, dom.log_path, listener.fileno(), self.dac.spawn_user()
            )
        except VirError:
            with contextlib.suppress(OSError):  # nobody will listen on this socket file
                os.unlink(dom.monitor_path)
            self.dac.release(defn.uuid)
            raise
        finally:
            listener.close()
        with dom.cond:
            dom.run_gen += 1
            gen = dom.run_gen
            dom.proc, dom.pid = proc, proc.pid
            dom.got_shutdown = dom.stopping = False
            dom.jobs.clear()
        try:
            monitor = self.attach_monitor(dom, gen)
            chains = {
                disk.target: monitor.query_block_chain(process.drive_id(disk))
                for disk in defn.disks
            }
            monitor.cont()
        except VirError as exc:
            with dom.cond:
                dom.stopping = True
                mon, dom.monitor = dom.monitor, None
            if mon is not None:
                mon.close()
            process.kill_process(proc, proc.pid)
            dom.proc, dom.pid = None, 0
            dom.reason = int(DomainShutoffReason.FAILED)
            self.dac.release(defn.uuid)
            tail = process.log_tail(dom.log_path, dom.log_offset)
            if proc.returncode is not None and proc.returncode != -15 and tail:
                raise VirError.report(
                    ErrorNumber.INTERNAL_ERROR,
                    ErrorDomain.QEMU,
                    f"process exited while connecting to monitor: {tail}",
                ) from exc
            raise
        with self._lock:
            new_id = self._next_id
            self._next_id += 1
        with dom.cond:
            dom.chains = chains
            dom.id = new_id
            dom.state = DomainState.RUNNING
            dom.reason = int(DomainRunningReason.BOOTED)
        self.write_status(dom)

    def attach_monitor(self, dom: DomainObj, gen: int) -> Monitor:
        """Connect ``dom``'s monitor; its events and EOF count for run ``gen`` only.

        Raises VirError SYSTEM_ERROR when the socket refuses, and the monitor's errors.
        """
        try:
            sock = process.connect_unix(dom.monitor_path)
        except OSError as exc:
            raise VirError.report(
                ErrorNumber.SYSTEM_ERROR,
                ErrorDomain.QEMU,
                f"failed to connect to monitor socket: {exc.strerror}",
            ) from exc
        try:
            monitor = Monitor.open(
                self.mloop,
                sock,
                on_event=lambda ev: self._on_qmp_event(dom, gen, ev),
                on_eof=lambda: self._on_eof(dom, gen),
                name=dom.defn.name,
            )
        except VirError:
            sock.close()
            raise
        with dom.cond:
            dom.monitor = monitor
        return monitor

    def write_status(self, dom: DomainObj) -> None:
        """Write the status file of a running domain (pid, monitor path, active jobs)."""
        with dom.cond:
            if not dom.active:
                return
            status = {
                "name": dom.defn.name,
                "uuid": dom.defn.uuid,
                "id": dom.id,
                "pid": dom.pid,
                "monitor": dom.monitor_path,
                "log": dom.log_path,
                "jobs": {
                    t: {"device": j.device, "type": j.type, "base_index": j.base_index}
                    for t, j in dom.jobs.items()
                },
            }
        try:
            process.write_status(self.status_path(dom.defn.name), status)
        except OSError as exc:
            _log.warning("cannot write status of %s: %s", dom.defn.name, exc)

    # -- stop --------------------------------------------------------------------

    def destroy(self, ref: DomainRef, graceful: bool) -> None:
        """Mirrors qemuDomainDestroyFlags: kill QEMU (SIGTERM, then SIGKILL) and reap it.

        Raises NO_DOMAIN; OPERATION_INVALID "domain is not running";
        OPERATION_FAILED "failed to terminate process %d with SIGTERM" when
        ``graceful`` and QEMU ignores SIGTERM.
        """
        dom = self.get(ref)
        with dom.cond:
            if not dom.active or dom.stopping:
                raise not_running()
            dom.stopping = True
            monitor, proc, pid = dom.monitor, dom.proc, dom.pid
        if monitor is not None:
            monitor.close()
        if not process.kill_process(proc, pid, graceful):
            with dom.cond:
                dom.stopping = False
            raise VirError.report(
                ErrorNumber.OPERATION_FAILED,
                ErrorDomain.QEMU,
                f"failed to terminate process {pid} with SIGTERM",
            )
        self._stopped(dom, DomainShutoffReason.DESTROYED, DomainEventStoppedDetailType.DESTROYED)

    def _stopped(
        self, dom: DomainObj, reason: DomainShutoffReason, detail: DomainEventStoppedDetailType
    ) -> None:
        """Mark a domain shut off after its QEMU is gone (libvirt's qemuProcessStop)."""
        with dom.cond:
            ref = dom.ref()
            dom.id = -1
            dom.state = DomainState.SHUTOFF
            dom.reason = int(reason)
            dom.monitor = None
            dom.proc, dom.pid = None, 0
            dom.jobs.clear()
            dom.chains = {}
            dom.stopping = False
            if dom.new_defn is not None:
                dom.defn, dom.new_defn = dom.new_defn, None
            dom.cond.notify_all()
        process.remove_status(self.status_path(ref.name))
        self.dac.release(ref.uuid)  # every image back to its owner (qemuProcessStop)
        self.queue(LifecycleEvent(ref, int(DomainEventType.STOPPED), int(detail)))
        if not dom.persistent:
            with self._lock:
                self._domains.pop(ref.uuid, None)

    def _on_eof(self, dom: DomainObj, gen: int) -> None:
        """Monitor thread: QEMU closed its monitor; the domain is shut off (no blocking here).

        As libvirt's qemuProcessStop, the process is killed and reaped *before*
        the domain counts as shut off: a QEMU that closed its monitor may still
        hold its image locks for a moment, and a restart must not race them.
        """
        with dom.cond:
            if dom.run_gen != gen or not dom.active or dom.stopping:
                return
            dom.stopping = True
            proc, pid = dom.proc, dom.pid
            graceful = dom.got_shutdown
        if graceful:
            reason, detail = DomainShutoffReason.SHUTDOWN, DomainEventStoppedDetailType.SHUTDOWN
        else:
            reason, detail = DomainShutoffReason.CRASHED, DomainEventStoppedDetailType.FAILED

        def reap_then_stop() -> None:
            if pid > 0:
                process.kill_process(proc, pid)
            self._stopped(dom, reason, detail)

        threading.Thread(target=reap_then_stop, name="minivirt-qemu-reap", daemon=True).start()

    # -- QEMU events ---------------------------------------------------------------

    def _on_qmp_event(self, dom: DomainObj, gen: int, event: QmpEvent) -> None:
        """Monitor thread: turn QEMU block-job events into domain events, in arrival order."""
        if event.name == "SHUTDOWN":
            with dom.cond:
                dom.got_shutdown = True
            return
        parsed = parse_block_job_event(event)
        if parsed is None:
            return
        status = event_status(parsed)
        if status is None:
            return
        with dom.cond:
            if dom.run_gen != gen or not dom.active:
                return
            disk = next((d for d in dom.defn.disks if process.drive_id(d) == parsed.device), None)
            if disk is None:
                _log.warning("no disk found with alias %s", parsed.device)
                return
            job = dom.jobs.get(disk.target)
            jtype = job.type if job is not None else int(job_type(parsed.type))
            dropped: set[str] = set()
            if event.name != "BLOCK_JOB_READY":
                dom.jobs.pop(disk.target, None)
                if parsed.name == "BLOCK_JOB_COMPLETED" and parsed.error is None:
                    before = {e.path for e in dom.chains.get(disk.target, ())}
                    base = job.base_index if job is not None else None
                    dom.chains[disk.target] = pulled_chain(dom.chain(disk.target), base)
                    dropped = before - {e.path for e in dom.chains.get(disk.target, ())}
            ref = dom.ref()
            dom.cond.notify_all()
        revoked = self._revoke_dropped(dom, dropped)  # owners back before the event
        self.emit_block_job(ref, disk, jtype, int(status))
        self.records.after_event(dom, revoked)  # the disk a moment later (records.py)

    def _save_records(self, dom: DomainObj, revoked: bool) -> None:
        if revoked:
            self.dac.save()
        self.write_status(dom)

    def _revoke_dropped(self, dom: DomainObj, dropped: set[str]) -> bool:
        """After a pull, give back at once the images no disk of ``dom`` reads any more;
        True when some were (the DAC record is then saved later: ``dac.save``)."""
        if not dropped:
            return False
        with dom.cond:
            still = {e.path for chain in dom.chains.values() for e in chain}
        return bool(self.dac.release(dom.defn.uuid, sorted(dropped - still), save=False))

    def emit_block_job(self, ref: DomainRef, disk: DiskDef, jtype: int, status: int) -> None:
        """Queue BLOCK_JOB (source path) then BLOCK_JOB_2 (target) for one job transition."""
        for event in job_events(ref, disk.target, disk.source, jtype, status):
            self.queue(event)

    # -- teardown -------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the monitor thread and drop events (only when no domain runs)."""
        self.records.flush()
        self.events.close()
        self.mloop.close()
