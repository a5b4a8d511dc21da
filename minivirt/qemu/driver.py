"""The qemu driver's connections and the factory the wiring module registers.

This module owns :func:`open_driver` (``qemu:///session``,
``qemu:///embed?root=DIR``, ``qemu:///system``; None for any other URI), the
process-wide table of driver states (connections on the same root share one
state: one monitor thread, one domain table) and :class:`QemuConnection`,
which implements :class:`~minivirt.public.HypervisorDriver` by delegating to
the state and to :mod:`minivirt.qemu.blockjob`.  Each connection owns its own
event registrations and drops them on close.  It must not import core.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Final

from minivirt.conf import format_qemu_xml
from minivirt.hypervisor.blockjob import check_flags
from minivirt.public import (
    BlockJobInfo,
    ConnectListAllDomainsFlags,
    ConnectURI,
    DomainInfo,
    DomainRef,
    DomainState,
    DomainXMLFlags,
    DriverSlot,
    ErrorDomain,
    ErrorNumber,
    EventCallback,
    VirError,
)
from minivirt.qemu import aio, blockjob, passthrough, process
from minivirt.qemu.domain import DomainObj
from minivirt.qemu.paths import StateRoots, roots_for_uri
from minivirt.qemu.state import QemuDriverState

__all__ = ["QemuConnection", "open_driver"]

_states: dict[str, QemuDriverState] = {}
_states_lock = threading.Lock()

_XML_FLAGS = (
    DomainXMLFlags.SECURE
    | DomainXMLFlags.INACTIVE
    | DomainXMLFlags.UPDATE_CPU
    | DomainXMLFlags.MIGRATABLE
)
#: VIR_CONNECT_LIST_DOMAINS_FILTERS_ALL (bits 0..13).
_LIST_FLAGS = (1 << 14) - 1
_DESTROY_GRACEFUL = 1
_DEFINE_VALIDATE = 1
_UNDEFINE_FLAGS = 0x7F


def open_driver(uri: ConnectURI, read_only: bool = False) -> QemuConnection | None:
    """The driver factory: a connection for a local qemu URI, None to decline others.

    Raises VirError INVALID_ARG for ``qemu:///embed`` without ``root`` and
    INTERNAL_ERROR for an unknown ``qemu:///`` path.
    """
    roots = roots_for_uri(uri)
    if roots is None:
        return None
    with _states_lock:
        state = _states.get(roots.key)
        if state is None:
            state = QemuDriverState(roots)
            _states[roots.key] = state
        state.connections += 1
    return QemuConnection(state, roots, read_only)


def _release(state: QemuDriverState) -> None:
    state.records.flush()  # a closing daemon leaves the status files current
    with _states_lock:
        state.connections -= 1
        if state.connections > 0 or state.any_active():
            return
        if _states.get(state.roots.key) is state:
            del _states[state.roots.key]
    state.shutdown()


def _qemu_user(state: QemuDriverState) -> tuple[int, int]:
    """The (uid, gid) QEMU runs as: the DAC driver's user, else this process's."""
    ident = state.dac.identity
    if ident.uid is not None and ident.gid is not None:
        return ident.uid, ident.gid
    return os.getuid(), os.getgid()


def _cpu_time_ns(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0
    return ticks * (1_000_000_000 // os.sysconf("SC_CLK_TCK"))


def _matches(dom: DomainObj, flags: int) -> bool:
    def pair(yes: int, no: int, value: bool) -> bool:
        if flags & (yes | no) in (0, yes | no):
            return True
        return value if flags & yes else not value

    state = dom.state
    states = flags & 0xF0
    state_ok = not states or bool(
        (flags & 16 and state == DomainState.RUNNING)
        or (flags & 32 and state == DomainState.PAUSED)
        or (flags & 64 and state == DomainState.SHUTOFF)
        or (
            flags & 128
            and state not in (DomainState.RUNNING, DomainState.PAUSED, DomainState.SHUTOFF)
        )
    )
    return (
        pair(ConnectListAllDomainsFlags.ACTIVE, ConnectListAllDomainsFlags.INACTIVE, dom.active)
        and pair(
            ConnectListAllDomainsFlags.PERSISTENT,
            ConnectListAllDomainsFlags.TRANSIENT,
            dom.persistent,
        )
        and state_ok
        and pair(256, 512, False)
        and pair(1024, 2048, False)
        and pair(4096, 8192, False)
    )


class QemuConnection:
    """One connection to the qemu driver (libvirt's qemu driver table for one virConnect)."""

    unsupported_slots: Final = frozenset[DriverSlot]()  # fills every slot
    #: Calls answered from the driver's memory, never from QEMU or the disk: a
    #: server may run them inline.  Block jobs, lifecycle calls, the XML (a
    #: shut-off domain's backing chain is read with qemu-img) and the version
    #: probe (it may run the emulator) are not among them.
    nonblocking_slots: Final = frozenset(
        {
            "get_type",
            "get_hostname",
            "is_alive",
            "list_all_domains",
            "lookup_by_name",
            "lookup_by_id",
            "lookup_by_uuid",
            "domain_get_state",
            "domain_get_info",
            "connect_domain_event_register_any",
            "connect_domain_event_deregister_any",
        }
    )

    def __init__(self, state: QemuDriverState, roots: StateRoots, read_only: bool) -> None:
        self.state = state
        self.roots = roots
        self.read_only = read_only
        self._callbacks: set[int] = set()
        self._lock = threading.Lock()
        self._closed = False

    # -- connection ------------------------------------------------------------

    def close(self) -> None:
        """connectClose: drop this connection's event callbacks; release the state."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            ids, self._callbacks = self._callbacks, set()
        for cid in ids:
            try:
                self.state.events.deregister(cid)
            except VirError:
                pass
        _release(self.state)

    def get_type(self) -> str:
        """connectGetType."""
        return "QEMU"

    def get_version(self) -> int:
        """connectGetVersion: the QEMU binary's version (e.g. 7002022)."""
        return process.emulator_version()

    def get_hostname(self) -> str:
        """connectGetHostname."""
        return socket.gethostname()

    def is_alive(self) -> bool:
        """connectIsAlive."""
        return not self._closed

    def get_uri(self) -> str:
        """The canonical URI of this connection's state."""
        return self.roots.uri

    # -- domains ---------------------------------------------------------------

    def list_all_domains(self, flags: int) -> list[DomainRef]:
        """connectListAllDomains; INVALID_ARG for unknown flags."""
        check_flags(flags, _LIST_FLAGS, "qemuConnectListAllDomains", ErrorDomain.QEMU)
        return [dom.ref() for dom in self.state.all_domains() if _matches(dom, flags)]

    def lookup_by_name(self, name: str) -> DomainRef:
        """domainLookupByName; NO_DOMAIN "no domain with matching name '%s'"."""
        return self.state.by_name(name).ref()

    def lookup_by_id(self, id: int) -> DomainRef:
        """domainLookupByID; NO_DOMAIN "no domain with matching id %d"."""
        return self.state.by_id(id).ref()

    def lookup_by_uuid(self, uuid: str) -> DomainRef:
        """domainLookupByUUID; NO_DOMAIN "no domain with matching uuid '%s'"."""
        return self.state.by_uuid(uuid).ref()

    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        """domainDefineXMLFlags: libvirt XML or minivirt YAML; see QemuDriverState.define."""
        check_flags(flags, _DEFINE_VALIDATE, "qemuDomainDefineXMLFlags", ErrorDomain.QEMU)
        return self.state.define(xml)

    def domain_undefine(self, dom: DomainRef, flags: int) -> None:
        """domainUndefineFlags; see QemuDriverState.undefine."""
        check_flags(flags, _UNDEFINE_FLAGS, "qemuDomainUndefineFlags", ErrorDomain.QEMU)
        self.state.undefine(dom)

    def domain_create(self, dom: DomainRef, flags: int) -> DomainRef:
        """domainCreateWithFlags; see QemuDriverState.start."""
        check_flags(flags, 0, "qemuDomainCreateWithFlags", ErrorDomain.QEMU)
        return self.state.start(dom)

    def domain_destroy(self, dom: DomainRef, flags: int) -> None:
        """domainDestroyFlags (GRACEFUL: SIGTERM only); see QemuDriverState.destroy."""
        check_flags(flags, _DESTROY_GRACEFUL, "qemuDomainDestroyFlags", ErrorDomain.QEMU)
        self.state.destroy(dom, bool(flags & _DESTROY_GRACEFUL))

    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        """domainGetInfo: state, memory (KiB), vCPUs, CPU time (ns) of QEMU."""
        obj = self.state.get(dom)
        with obj.cond:
            defn, state, pid = obj.defn, obj.state, obj.pid
        return DomainInfo(
            state=int(state),
            max_mem=defn.memory_kib,
            memory=defn.current_kib,
            nr_virt_cpu=defn.vcpus,
            cpu_time=_cpu_time_ns(pid) if pid else 0,
        )

    def domain_get_state(self, dom: DomainRef, flags: int) -> tuple[int, int]:
        """domainGetState: (DomainState, reason)."""
        check_flags(flags, 0, "qemuDomainGetState", ErrorDomain.QEMU)
        obj = self.state.get(dom)
        with obj.cond:
            return int(obj.state), int(obj.reason)

    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        """domainGetXMLDesc: libvirt's qemu XML; live, each disk's chain as <backingStore>."""
        check_flags(flags, _XML_FLAGS, "qemuDomainGetXMLDesc", ErrorDomain.QEMU)
        obj = self.state.get(dom)
        with obj.cond:
            inactive = bool(flags & DomainXMLFlags.INACTIVE) or not obj.active
            defn = obj.persistent_defn() if flags & DomainXMLFlags.INACTIVE else obj.defn
            chains = dict(obj.chains) if not inactive else {}
            dom_id = None if inactive else obj.id
        if dom_id is None:
            return format_qemu_xml(defn)
        backing: dict[str, list[tuple[str, str]]] = {}
        for disk in defn.disks:
            chain = chains.get(disk.target) or process.image_chain(disk.source, disk.format)
            if chain:
                backing[disk.target] = [(e.path, e.format) for e in chain[1:]]
        return format_qemu_xml(defn, id=dom_id, chains=backing, seclabel=_qemu_user(self.state))

    # -- block jobs ------------------------------------------------------------

    def domain_block_pull(self, dom: DomainRef, disk: str, bandwidth: int, flags: int) -> None:
        """domainBlockPull; see minivirt.qemu.blockjob.block_pull."""
        blockjob.block_pull(self.state, dom, disk, bandwidth, flags)

    def domain_block_rebase(
        self, dom: DomainRef, disk: str, base: str | None, bandwidth: int, flags: int
    ) -> None:
        """domainBlockRebase; see minivirt.qemu.blockjob.block_rebase."""
        blockjob.block_rebase(self.state, dom, disk, base, bandwidth, flags)

    def domain_get_block_job_info(
        self, dom: DomainRef, disk: str, flags: int
    ) -> BlockJobInfo | None:
        """domainGetBlockJobInfo; see minivirt.qemu.blockjob.get_block_job_info."""
        return blockjob.get_block_job_info(self.state, dom, disk, flags)

    async def domain_get_block_job_info_async(
        self, dom: DomainRef, disk: str, flags: int
    ) -> BlockJobInfo | None:
        """domainGetBlockJobInfo awaited (issue #14); see minivirt.qemu.aio."""
        return await aio.get_block_job_info_async(self.state, dom, disk, flags)

    def domain_block_job_abort(self, dom: DomainRef, disk: str, flags: int) -> None:
        """domainBlockJobAbort; see minivirt.qemu.blockjob.block_job_abort."""
        blockjob.block_job_abort(self.state, dom, disk, flags)

    def domain_block_job_set_speed(
        self, dom: DomainRef, disk: str, bandwidth: int, flags: int
    ) -> None:
        """domainBlockJobSetSpeed; see minivirt.qemu.blockjob.block_job_set_speed."""
        blockjob.block_job_set_speed(self.state, dom, disk, bandwidth, flags)

    # -- libvirt-qemu ------------------------------------------------------------

    def domain_qemu_monitor_command(self, dom: DomainRef, cmd: str, flags: int) -> str:
        """domainQemuMonitorCommand; see minivirt.qemu.passthrough.monitor_command."""
        return passthrough.monitor_command(self.state, dom, cmd, flags)

    # -- events ------------------------------------------------------------------

    def connect_domain_event_register_any(
        self, dom: DomainRef | None, event_id: int, callback: EventCallback
    ) -> int:
        """connectDomainEventRegisterAny: a callback id in the shared event state."""
        cid = self.state.events.register(dom, event_id, callback)
        with self._lock:
            self._callbacks.add(cid)
        return cid

    def connect_domain_event_deregister_any(self, callback_id: int) -> None:
        """connectDomainEventDeregisterAny: INVALID_ARG for an id not registered here."""
        with self._lock:
            if callback_id not in self._callbacks:
                raise VirError.report(
                    ErrorNumber.INVALID_ARG,
                    ErrorDomain.NONE,
                    f"could not find event callback {callback_id} for deletion",
                )
            self._callbacks.discard(callback_id)
        self.state.events.deregister(callback_id)
