"""The state of the simulated host behind ``test:///default``, shared under one lock.

This module owns the data the test driver's modules work on together: the
lock and its condition, the domain table (:class:`DomainObj`), the simulated
images (a backing chain per source path), the injected failures and the
clock.  :mod:`minivirt.testdrv.hypervisor` (domains, timer, events) and
:mod:`minivirt.testdrv.blockjob` (block jobs) both use it through its public
attributes and methods; it starts no thread and queues no event.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import posixpath
import threading
from collections.abc import Callable
from typing import Final

from minivirt.conf import DiskDef, DomainDef
from minivirt.hypervisor.blockjob import Driver, no_domain
from minivirt.hypervisor.chain import ChainImage
from minivirt.public import DomainRef, DomainShutoffReason, DomainState, ErrorDomain
from minivirt.testdrv.simjob import SimJob

__all__ = ["DRIVER", "FAILING_PREFIX", "Clock", "DomainObj", "SimHost"]

#: What the test driver's errors carry in the shared rules: VIR_FROM_TEST, testDomain… names.
DRIVER: Final = Driver(ErrorDomain.TEST, "test")

Clock = Callable[[], float]

#: A disk whose source file name starts with this fails its pulls half-way (status FAILED).
FAILING_PREFIX: Final[str] = "failing"


@dataclasses.dataclass(slots=True)
class DomainObj:
    """One domain (libvirt's virDomainObj): live definition, pending config, state, jobs."""

    defn: DomainDef
    persistent: bool = True
    id: int = -1
    state: DomainState = DomainState.SHUTOFF
    reason: int = DomainShutoffReason.UNKNOWN
    new_defn: DomainDef | None = None
    jobs: dict[str, SimJob] = dataclasses.field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.id >= 0

    @property
    def ref(self) -> DomainRef:
        return DomainRef(self.defn.name, self.defn.uuid, self.id)


class SimHost:
    """Domains, images, failures and clock of the simulated host; ``lock`` guards them all.

    ``images`` maps an image path to its backing chain [(path, format), …]
    (first backing file first).  ``cond`` is notified whenever a job changes.
    """

    def __init__(
        self, clock: Clock, disk_size: int, images: dict[str, list[tuple[str, str]]]
    ) -> None:
        self.clock = clock
        self.disk_size = disk_size
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.domains: dict[str, DomainObj] = {}
        self.images = {path: list(chain) for path, chain in images.items()}
        self.failures: dict[str, float] = {}

    def find(self, ref: DomainRef) -> DomainObj:
        """The domain of ``ref``; NO_DOMAIN "no domain with matching uuid '%s' (%s)"."""
        obj = self.domains.get(ref.uuid)
        if obj is None:
            raise no_domain(ref, DRIVER)
        return obj

    def chain(self, disk: DiskDef) -> tuple[ChainImage, ...]:
        """The disk's whole chain, top first, as the shared rules read it.

        A simulated image records its backing file relative to its own
        directory (as ``qemu-img create -b base.qcow2`` does).
        """
        layers = [(disk.source, disk.format), *self.images.get(disk.source, [])]
        names = [
            posixpath.relpath(below, posixpath.dirname(above))
            for (above, _), (below, _) in itertools.pairwise(layers)
        ]
        return tuple(
            ChainImage(path, fmt, names[i] if i < len(names) else None)
            for i, (path, fmt) in enumerate(layers)
        )

    def set_chain(self, source: str, chain: tuple[ChainImage, ...]) -> None:
        """Record the chain (top first) of image ``source`` after a job changed it."""
        self.images[source] = [(image.path, image.format) for image in chain[1:]]

    def failure_point(self, source: str) -> int | None:
        """Byte offset at which jobs on image ``source`` fail, or None."""
        fraction = self.failures.get(source)
        if fraction is None and os.path.basename(source).startswith(FAILING_PREFIX):
            fraction = 0.5
        return None if fraction is None else int(self.disk_size * fraction)
