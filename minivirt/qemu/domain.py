"""One domain as the qemu driver tracks it (libvirt's virDomainObj + qemuDomainObjPrivate).

This module owns the mutable per-domain record: definition, run state,
process, monitor, active block jobs and backing chains, the condition that
guards them and the "modify" job lock that serialises state-changing calls.
Rule for users: never hold ``cond`` while calling the monitor (QMP events are
handled on the monitor thread under ``cond``).  It must not start processes,
speak QMP or queue events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import threading
from collections.abc import Iterator
from typing import Final

from minivirt.conf import DiskDef, DomainDef
from minivirt.public import (
    DomainRef,
    DomainShutoffReason,
    DomainState,
    ErrorDomain,
    ErrorNumber,
    VirError,
)
from minivirt.qemu.monitor import Monitor
from minivirt.qemu.qmpreply import BlockChainEntry

__all__ = ["JOB_LOCK_TIMEOUT", "ActiveJob", "DomainObj", "disk_not_found", "not_running"]

#: Seconds a state-changing call waits for another one on the same domain.
JOB_LOCK_TIMEOUT: Final[float] = 30.0


@dataclasses.dataclass(slots=True)
class ActiveJob:
    """A block job libvirt-side: its disk, QMP device, type and pull base (chain index)."""

    target: str
    device: str
    type: int
    base_index: int | None = None
    aborting: bool = False


def not_running() -> VirError:
    """OPERATION_INVALID "domain is not running" (virDomainObjCheckActive)."""
    return VirError.report(
        ErrorNumber.OPERATION_INVALID, ErrorDomain.DOMAIN, "domain is not running"
    )


def disk_not_found(name: str) -> VirError:
    """INVALID_ARG "disk '%s' not found in domain" (qemuDomainDiskByName)."""
    return VirError.report(
        ErrorNumber.INVALID_ARG, ErrorDomain.QEMU, f"disk '{name}' not found in domain"
    )


class DomainObj:
    """A defined (or transient running) domain and its runtime state."""

    def __init__(self, defn: DomainDef, persistent: bool) -> None:
        self.defn = defn
        self.new_defn: DomainDef | None = None
        self.persistent = persistent
        self.state = DomainState.SHUTOFF
        self.reason = int(DomainShutoffReason.UNKNOWN)
        self.id = -1
        self.pid = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.monitor: Monitor | None = None
        self.monitor_path = ""
        self.log_path = ""
        self.log_offset = 0
        self.jobs: dict[str, ActiveJob] = {}
        self.chains: dict[str, tuple[BlockChainEntry, ...]] = {}
        self.run_gen = 0
        self.got_shutdown = False
        self.stopping = False
        self.cond = threading.Condition(threading.RLock())
        self._job_lock = threading.Lock()

    @property
    def active(self) -> bool:
        """True while QEMU runs for this domain."""
        return self.id >= 0

    def ref(self) -> DomainRef:
        """The domain's identity (id -1 when inactive)."""
        return DomainRef(self.defn.name, self.defn.uuid, self.id)

    def persistent_defn(self) -> DomainDef:
        """The definition the next start will use."""
        return self.new_defn or self.defn

    def disk(self, name: str) -> DiskDef:
        """The disk by target name or (for names starting with '/') source path.

        Raises VirError INVALID_ARG "disk '%s' not found in domain".
        """
        disk = self.defn.disk(name)
        if disk is None:
            raise disk_not_found(name)
        return disk

    def check_active(self) -> None:
        """OPERATION_INVALID "domain is not running" unless the domain runs."""
        if not self.active:
            raise not_running()

    @contextlib.contextmanager
    def modify_job(self) -> Iterator[None]:
        """Serialise state-changing calls on this domain (libvirt's QEMU_JOB_MODIFY).

        Raises VirError OPERATION_TIMEOUT "cannot acquire state change lock"
        after :data:`JOB_LOCK_TIMEOUT` seconds.
        """
        if not self._job_lock.acquire(timeout=JOB_LOCK_TIMEOUT):
            raise VirError.report(
                ErrorNumber.OPERATION_TIMEOUT, ErrorDomain.QEMU, "cannot acquire state change lock"
            )
        try:
            yield
        finally:
            self._job_lock.release()
