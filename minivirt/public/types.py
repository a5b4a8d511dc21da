"""Values that cross layers: domain identity, job info, domain info, events.

All are frozen, slotted values (:class:`~minivirt.public.values.FrozenValue`:
equality, hash and repr over their fields, in libvirt's order, which
``__match_args__`` also gives); none holds a reference to a connection or a
driver, so any of them may travel through a queue or over the wire.  They are
plain classes rather than dataclasses so that a one-shot client does not pay
for the ``dataclasses`` machinery at start-up.
"""

from __future__ import annotations

from minivirt.public.enums import DomainBlockJobType, DomainEventID
from minivirt.public.values import FrozenValue, init_fields

__all__ = [
    "BlockJobEvent",
    "BlockJobInfo",
    "DomainEvent",
    "DomainInfo",
    "DomainRef",
    "LifecycleEvent",
]

_BLOCK_JOB = int(DomainEventID.BLOCK_JOB)


class DomainRef(FrozenValue):
    """A domain's identity as libvirt's ``remote_nonnull_domain``: name, UUID, id.

    ``uuid`` is the canonical lower-case string form; ``id`` is -1 while the
    domain is not running.
    """

    __slots__ = ("id", "name", "uuid")
    _fields = __match_args__ = ("name", "uuid", "id")
    name: str
    uuid: str
    id: int

    def __init__(self, name: str, uuid: str, id: int = -1) -> None:
        init_fields(self, name, uuid, id)


class BlockJobInfo(FrozenValue):
    """virDomainBlockJobInfo: job type, bandwidth (MiB/s or bytes/s), cur and end."""

    __slots__ = ("bandwidth", "cur", "end", "type")
    _fields = __match_args__ = ("type", "bandwidth", "cur", "end")
    type: int
    bandwidth: int
    cur: int
    end: int

    def __init__(self, type: int, bandwidth: int, cur: int, end: int) -> None:
        init_fields(self, type, bandwidth, cur, end)

    @property
    def type_name(self) -> str:
        """The job type as a :class:`DomainBlockJobType` name, ``UNKNOWN`` if out of range."""
        try:
            return DomainBlockJobType(self.type).name
        except ValueError:
            return DomainBlockJobType.UNKNOWN.name


class DomainInfo(FrozenValue):
    """virDomainInfo: state, max memory and memory (KiB), vCPUs, CPU time (ns)."""

    __slots__ = ("cpu_time", "max_mem", "memory", "nr_virt_cpu", "state")
    _fields = __match_args__ = ("state", "max_mem", "memory", "nr_virt_cpu", "cpu_time")
    state: int
    max_mem: int
    memory: int
    nr_virt_cpu: int
    cpu_time: int

    def __init__(
        self, state: int, max_mem: int, memory: int, nr_virt_cpu: int, cpu_time: int
    ) -> None:
        init_fields(self, state, max_mem, memory, nr_virt_cpu, cpu_time)


class DomainEvent(FrozenValue):
    """Base of domain events: the domain it is about."""

    __slots__ = ("dom",)
    _fields: tuple[str, ...] = ("dom",)
    __match_args__: tuple[str, ...] = ("dom",)
    dom: DomainRef

    def __init__(self, dom: DomainRef) -> None:
        init_fields(self, dom)

    @property
    def event_id(self) -> int:
        """The virDomainEventID this event is delivered under."""
        raise NotImplementedError


class LifecycleEvent(DomainEvent):
    """VIR_DOMAIN_EVENT_ID_LIFECYCLE: ``event`` (DomainEventType) and its ``detail``."""

    __slots__ = ("detail", "event")
    _fields = __match_args__ = ("dom", "event", "detail")
    event: int
    detail: int

    def __init__(self, dom: DomainRef, event: int, detail: int) -> None:
        init_fields(self, dom, event, detail)

    @property
    def event_id(self) -> int:
        return int(DomainEventID.LIFECYCLE)


class BlockJobEvent(DomainEvent):
    """BLOCK_JOB (``disk`` is the source path) or BLOCK_JOB_2 (``disk`` is the target name)."""

    __slots__ = ("disk", "id", "status", "type")
    _fields = __match_args__ = ("dom", "disk", "type", "status", "id")
    disk: str
    type: int
    status: int
    id: int

    def __init__(
        self, dom: DomainRef, disk: str, type: int, status: int, id: int = _BLOCK_JOB
    ) -> None:
        init_fields(self, dom, disk, type, status, id)

    @property
    def event_id(self) -> int:
        return self.id
