"""Values that cross layers: domain identity, job info, domain info, events.

All are frozen, slotted dataclasses; none holds a reference to a connection or
a driver, so any of them may travel through a queue or over the wire.
"""

from __future__ import annotations

import dataclasses

from minivirt.public.enums import DomainBlockJobType, DomainEventID

__all__ = [
    "BlockJobEvent",
    "BlockJobInfo",
    "DomainEvent",
    "DomainInfo",
    "DomainRef",
    "LifecycleEvent",
]


@dataclasses.dataclass(frozen=True, slots=True)
class DomainRef:
    """A domain's identity as libvirt's ``remote_nonnull_domain``: name, UUID, id.

    ``uuid`` is the canonical lower-case string form; ``id`` is -1 while the
    domain is not running.
    """

    name: str
    uuid: str
    id: int = -1


@dataclasses.dataclass(frozen=True, slots=True)
class BlockJobInfo:
    """virDomainBlockJobInfo: job type, bandwidth (MiB/s or bytes/s), cur and end."""

    type: int
    bandwidth: int
    cur: int
    end: int

    @property
    def type_name(self) -> str:
        """The job type as a :class:`DomainBlockJobType` name, ``UNKNOWN`` if out of range."""
        try:
            return DomainBlockJobType(self.type).name
        except ValueError:
            return DomainBlockJobType.UNKNOWN.name


@dataclasses.dataclass(frozen=True, slots=True)
class DomainInfo:
    """virDomainInfo: state, max memory and memory (KiB), vCPUs, CPU time (ns)."""

    state: int
    max_mem: int
    memory: int
    nr_virt_cpu: int
    cpu_time: int


@dataclasses.dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base of domain events: the domain it is about."""

    dom: DomainRef

    @property
    def event_id(self) -> int:
        """The virDomainEventID this event is delivered under."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, slots=True)
class LifecycleEvent(DomainEvent):
    """VIR_DOMAIN_EVENT_ID_LIFECYCLE: ``event`` (DomainEventType) and its ``detail``."""

    event: int
    detail: int

    @property
    def event_id(self) -> int:
        return int(DomainEventID.LIFECYCLE)


@dataclasses.dataclass(frozen=True, slots=True)
class BlockJobEvent(DomainEvent):
    """BLOCK_JOB (``disk`` is the source path) or BLOCK_JOB_2 (``disk`` is the target name)."""

    disk: str
    type: int
    status: int
    id: int = int(DomainEventID.BLOCK_JOB)

    @property
    def event_id(self) -> int:
        return self.id
