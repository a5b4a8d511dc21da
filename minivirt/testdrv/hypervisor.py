"""The in-memory hypervisor behind ``test:///default``: domains, images, jobs, timer.

One :class:`TestHypervisor` is shared by every connection open at the same
time (as libvirt's test:///default); it starts with libvirt's predefined
domain 'test'.  This module owns the domain lifecycle on the shared
:class:`~minivirt.testdrv.host.SimHost` (domain table, simulated images), the
timer thread that ends jobs on time, and the fan-out of events to every
attached connection's :class:`~minivirt.events.EventState`.  Events are
queued only after the host lock is released.  It must not import core nor any
other driver.

Block-job calls go to :mod:`minivirt.testdrv.blockjob`.  Errors use error
domain ``ErrorDomain.TEST`` except checks that libvirt performs in shared conf
code (``virDomainObjCheckActive`` "domain is not running" and
``virDomainObjListAdd`` conflicts: ``ErrorDomain.DOMAIN``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Final

from minivirt.conf import DiskDef, DomainDef, format_xml, parse_domain
from minivirt.events import EventState
from minivirt.hypervisor.blockjob import check_flags, not_running
from minivirt.hypervisor.domains import check_define
from minivirt.public import (
    BlockJobInfo,
    DomainEvent,
    DomainEventDefinedDetailType,
    DomainEventStartedDetailType,
    DomainEventStoppedDetailType,
    DomainEventType,
    DomainEventUndefinedDetailType,
    DomainInfo,
    DomainRef,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    ErrorDomain,
    ErrorNumber,
    LifecycleEvent,
    VirError,
)
from minivirt.testdrv.blockjob import BlockJobs
from minivirt.testdrv.host import FAILING_PREFIX, Clock, DomainObj, SimHost
from minivirt.testdrv.simjob import DEFAULT_DISK_SIZE

__all__ = [
    "FAILING_PREFIX",
    "TEST_DOMAIN_UUID",
    "Clock",
    "DomainObj",
    "TestHypervisor",
]


TEST_DOMAIN_UUID: Final[str] = "6695eb01-f6a4-8304-79aa-97f2502e193f"
#: Longest the timer thread sleeps without a known deadline change (seconds).
_MAX_SLEEP: Final[float] = 5.0

_TEST_DOMAIN = DomainDef(
    name="test",
    uuid=TEST_DOMAIN_UUID,
    memory_kib=8388608,
    current_memory_kib=2097152,
    vcpus=2,
    disks=(DiskDef("vda", "/guest/diskimage1"),),
)
_TEST_IMAGES: Final[dict[str, list[tuple[str, str]]]] = {
    "/guest/diskimage1": [("/guest/template.qcow2", "qcow2")],
}


def _no_domain(detail: str) -> VirError:
    return VirError.report(ErrorNumber.NO_DOMAIN, ErrorDomain.TEST, detail)


class TestHypervisor:
    """The shared simulated host.  Thread-safe; every public method takes the lock.

    ``clock`` (seconds, monotonic) drives job progress; tests inject a fake one
    and call :meth:`kick` after moving it.  ``disk_size`` is the simulated
    virtual size of every disk.  Failures are injected with
    :meth:`inject_failure`, or by naming a disk image ``failing…``.
    """

    __test__ = False  # not a pytest class

    def __init__(self, clock: Clock = time.monotonic, disk_size: int = DEFAULT_DISK_SIZE) -> None:
        self.host = SimHost(clock, disk_size, _TEST_IMAGES)
        self.jobs = BlockJobs(self.host)
        self.clock = clock
        self.disk_size = disk_size
        self._lock = self.host.lock
        self._cond = self.host.cond
        self._domains = self.host.domains
        self._listeners: list[EventState] = []
        self._next_id = 1
        self._thread: threading.Thread | None = None
        self._kicked = False
        self._stopping = False
        test = DomainObj(_TEST_DOMAIN)
        self._start_locked(test)
        test.reason = DomainRunningReason.UNKNOWN  # libvirt: "running (unknown)"
        self._domains[test.defn.uuid] = test

    # -- plumbing -------------------------------------------------------------

    def attach(self, events: EventState) -> None:
        """Deliver this hypervisor's events to ``events`` (one per connection)."""
        with self._lock:
            self._listeners.append(events)

    def detach(self, events: EventState) -> None:
        with self._lock:
            if events in self._listeners:
                self._listeners.remove(events)

    def _broadcast(self, events: Iterable[DomainEvent]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for event in events:
            for state in listeners:
                state.queue(event)

    def settle(self) -> None:
        """End every job whose time has come (events queued), as the timer would."""
        self._broadcast(self.jobs.reap())

    def kick(self) -> None:
        """Re-evaluate job deadlines now (after a fake clock moved), then let the timer run."""
        self.settle()
        with self._cond:
            self._kicked = True
            self._cond.notify_all()

    def shutdown(self) -> None:
        """Stop the timer thread (the last connection closed)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _ensure_timer(self) -> None:
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(
                target=self._run_timer, name="minivirt-testdrv-jobs", daemon=True
            )
            self._thread.start()

    def _run_timer(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
            self.settle()
            with self._cond:
                if self._stopping:
                    return
                if not self._kicked:
                    deadline = self._next_deadline_locked()
                    timeout = _MAX_SLEEP if deadline is None else deadline - self.clock()
                    if timeout > 0:
                        self._cond.wait(min(timeout, _MAX_SLEEP))
                self._kicked = False

    def _next_deadline_locked(self) -> float | None:
        deadlines = [j.deadline() for d in self._domains.values() for j in d.jobs.values()]
        return min(deadlines) if deadlines else None

    # -- lookups --------------------------------------------------------------

    def _find(self, dom: DomainRef) -> DomainObj:
        return self.host.find(dom)

    def lookup_by_name(self, name: str) -> DomainRef:
        """Mirrors testDomainLookupByName; NO_DOMAIN when absent."""
        with self._lock:
            for obj in self._domains.values():
                if obj.defn.name == name:
                    return obj.ref
        raise _no_domain(f"no domain with matching name '{name}'")

    def lookup_by_id(self, id: int) -> DomainRef:
        """Mirrors testDomainLookupByID; NO_DOMAIN when absent."""
        with self._lock:
            for obj in self._domains.values():
                if obj.active and obj.id == id:
                    return obj.ref
        raise _no_domain(f"no domain with matching id {id}")

    def lookup_by_uuid(self, uuid: str) -> DomainRef:
        """Mirrors testDomainLookupByUUID; NO_DOMAIN when absent."""
        with self._lock:
            obj = self._domains.get(uuid.lower())
            if obj is not None:
                return obj.ref
        raise _no_domain(f"no domain with matching uuid '{uuid}'")

    def list_all(self, flags: int) -> list[DomainRef]:
        """Mirrors testConnectListAllDomains (ACTIVE/INACTIVE/PERSISTENT/TRANSIENT filters)."""
        check_flags(flags, 0xF, "testConnectListAllDomains", ErrorDomain.TEST)
        out = []
        with self._lock:
            for obj in self._domains.values():
                if flags & 0x3 and not (flags & (0x1 if obj.active else 0x2)):
                    continue
                if flags & 0xC and not (flags & (0x4 if obj.persistent else 0x8)):
                    continue
                out.append(obj.ref)
        return sorted(out, key=lambda r: r.name)

    # -- lifecycle ------------------------------------------------------------

    def define(self, document: str, flags: int) -> DomainRef:
        """Mirrors testDomainDefineXMLFlags: add or update a persistent domain.

        Raises the conf parse errors, OPERATION_FAILED (VIR_FROM_DOMAIN)
        "domain 'x' already exists with uuid …" / "domain 'x' is already
        defined with uuid …", INVALID_ARG unsupported flags.
        """
        check_flags(
            flags, 0x1, "testDomainDefineXMLFlags", ErrorDomain.TEST
        )  # VIR_DOMAIN_DEFINE_VALIDATE
        defn = parse_domain(document)
        self.settle()
        with self._lock:
            obj = self._domains.get(defn.uuid)
            check_define(defn, obj.defn if obj else None, (d.defn for d in self._domains.values()))
            if obj is None:
                obj = DomainObj(defn)
                self._domains[defn.uuid] = obj
                detail = DomainEventDefinedDetailType.ADDED
            else:
                detail = DomainEventDefinedDetailType.UPDATED
                if obj.active:
                    obj.new_defn = defn
                else:
                    obj.defn = defn
            obj.persistent = True
            ref = obj.ref
        self._broadcast([LifecycleEvent(ref, DomainEventType.DEFINED, detail)])
        return ref

    def undefine(self, dom: DomainRef, flags: int) -> None:
        """Mirrors testDomainUndefineFlags: a running domain becomes transient."""
        check_flags(flags, 0x7F, "testDomainUndefineFlags", ErrorDomain.TEST)
        with self._lock:
            obj = self._find(dom)
            if not obj.persistent:
                raise VirError.report(
                    ErrorNumber.OPERATION_INVALID,
                    ErrorDomain.TEST,
                    "cannot undefine transient domain",
                )
            ref = obj.ref
            if obj.active:
                obj.persistent = False
                obj.new_defn = None
            else:
                del self._domains[obj.defn.uuid]
        self._broadcast(
            [LifecycleEvent(ref, DomainEventType.UNDEFINED, DomainEventUndefinedDetailType.REMOVED)]
        )

    def _start_locked(self, obj: DomainObj) -> None:
        obj.id = self._next_id
        self._next_id += 1
        obj.state = DomainState.RUNNING
        obj.reason = DomainRunningReason.BOOTED

    def create(self, dom: DomainRef, flags: int) -> DomainRef:
        """Mirrors testDomainCreateWithFlags; OPERATION_INVALID "domain is already running"."""
        check_flags(flags, 0, "testDomainCreateWithFlags", ErrorDomain.TEST)
        self.settle()
        with self._lock:
            obj = self._find(dom)
            if obj.active:
                raise VirError.report(
                    ErrorNumber.OPERATION_INVALID, ErrorDomain.TEST, "domain is already running"
                )
            self._start_locked(obj)
            ref = obj.ref
        self._broadcast(
            [LifecycleEvent(ref, DomainEventType.STARTED, DomainEventStartedDetailType.BOOTED)]
        )
        return ref

    def destroy(self, dom: DomainRef, flags: int) -> None:
        """Mirrors testDomainDestroyFlags; OPERATION_INVALID "domain is not running".

        Running block jobs vanish with the simulated QEMU, without events.
        """
        check_flags(
            flags, 0x1, "testDomainDestroyFlags", ErrorDomain.TEST
        )  # VIR_DOMAIN_DESTROY_GRACEFUL
        self.settle()
        with self._lock:
            obj = self._find(dom)
            if not obj.active:
                raise not_running()
            ref = obj.ref
            obj.jobs.clear()
            obj.id = -1
            obj.state = DomainState.SHUTOFF
            obj.reason = DomainShutoffReason.DESTROYED
            if obj.new_defn is not None:
                obj.defn, obj.new_defn = obj.new_defn, None
            if not obj.persistent:
                del self._domains[obj.defn.uuid]
        self._broadcast(
            [LifecycleEvent(ref, DomainEventType.STOPPED, DomainEventStoppedDetailType.DESTROYED)]
        )

    def get_info(self, dom: DomainRef) -> DomainInfo:
        """Mirrors testDomainGetInfo."""
        with self._lock:
            obj = self._find(dom)
            cpu = time.time_ns() if obj.active else 0
            return DomainInfo(
                int(obj.state), obj.defn.memory_kib, obj.defn.current_kib, obj.defn.vcpus, cpu
            )

    def get_state(self, dom: DomainRef, flags: int) -> tuple[int, int]:
        """Mirrors testDomainGetState: (state, reason)."""
        check_flags(flags, 0, "testDomainGetState", ErrorDomain.TEST)
        with self._lock:
            obj = self._find(dom)
            return int(obj.state), int(obj.reason)

    def get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        """Mirrors testDomainGetXMLDesc: live XML with backing chains, or the config (INACTIVE)."""
        check_flags(flags, 0xF, "testDomainGetXMLDesc", ErrorDomain.TEST)
        self.settle()
        with self._lock:
            obj = self._find(dom)
            if not obj.active or flags & 0x2:
                defn = obj.new_defn if obj.new_defn is not None else obj.defn
                return format_xml(defn)
            backing = {d.target: list(self.host.images.get(d.source, [])) for d in obj.defn.disks}
            return format_xml(obj.defn, id=obj.id, backing=backing)

    # -- simulated storage and failures (for tests) ----------------------------

    def set_backing(self, source: str, chain: list[tuple[str, str]]) -> None:
        """Declare that image ``source`` has the backing ``chain`` [(path, format), …]."""
        with self._lock:
            self.host.images[source] = list(chain)

    def backing_chain(self, source: str) -> list[tuple[str, str]]:
        """The backing chain of image ``source`` (empty when it stands alone)."""
        with self._lock:
            return list(self.host.images.get(source, []))

    def inject_failure(self, source: str, fraction: float = 0.5) -> None:
        """Make jobs on image ``source`` fail (FAILED) after ``fraction`` of the disk."""
        with self._lock:
            self.host.failures[source] = fraction

    # -- block jobs (see minivirt.testdrv.blockjob) -----------------------------

    def block_pull(self, dom: DomainRef, disk: str, bandwidth: int, flags: int) -> None:
        """Mirrors qemuDomainBlockPull on the simulated host."""
        self.settle()
        self._started(self.jobs.pull(dom, disk, bandwidth, flags))

    def block_rebase(
        self, dom: DomainRef, disk: str, base: str | None, bandwidth: int, flags: int
    ) -> None:
        """Mirrors qemuDomainBlockRebase (pull form) on the simulated host."""
        self.settle()
        self._started(self.jobs.rebase(dom, disk, base, bandwidth, flags))

    def _started(self, events: Iterable[DomainEvent]) -> None:
        with self._lock:
            self._ensure_timer()
        self._broadcast(events)

    def get_block_job_info(self, dom: DomainRef, disk: str, flags: int) -> BlockJobInfo | None:
        """Mirrors qemuDomainGetBlockJobInfo on the simulated host."""
        self.settle()
        return self.jobs.info(dom, disk, flags)

    def block_job_abort(self, dom: DomainRef, disk: str, flags: int) -> None:
        """Mirrors qemuDomainBlockJobAbort on the simulated host."""
        self.settle()
        self._broadcast(self.jobs.abort(dom, disk, flags))

    def block_job_set_speed(self, dom: DomainRef, disk: str, bandwidth: int, flags: int) -> None:
        """Mirrors qemuDomainBlockJobSetSpeed on the simulated host."""
        self.settle()
        self.jobs.set_speed(dom, disk, bandwidth, flags)
