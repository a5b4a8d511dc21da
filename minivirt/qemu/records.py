"""Writing what a block-job event changed on disk a moment after the event (issue #14).

Owns :class:`LaterWrites`: when QEMU ends a job, the driver changes its
memory and queues the domain event at once, but the status file and the DAC
record are written :data:`RECORDS_DELAY` seconds later.  Creating and
renaming a file costs about as much as the event's whole trip to a remote
client, and done in the same instant it competes with that trip for the CPU
(measured: 0.1-0.25 ms of delivery on two vCPUs).  Several events of one
domain within the delay make one write.  A closing connection or driver
writes what is pending at once (:meth:`LaterWrites.flush`); a crash in
between leaves a job listed (taking the domain back checks
query-block-jobs) or an image listed as lent (given back again, to the same
owner).  Must not: know what the records contain (the writer does).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from minivirt.qemu.domain import DomainObj

__all__ = ["RECORDS_DELAY", "LaterWrites"]

#: Seconds between a block-job event and the writing of what it changed on disk.
RECORDS_DELAY = 0.02


class LaterWrites:
    """Pending ``write(dom, dac_changed)`` calls, one per domain, run after the delay."""

    def __init__(self, write: Callable[[DomainObj, bool], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[DomainObj, bool]] = {}  # uuid -> (domain, DAC changed)

    def after_event(self, dom: DomainObj, dac_changed: bool) -> None:
        """Write ``dom``'s records RECORDS_DELAY from now (at once when not on a loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a direct caller, not the monitor's loop: write them now
            self._write(dom, dac_changed)
            return
        uuid = dom.defn.uuid
        with self._lock:
            first = uuid not in self._pending
            earlier = self._pending.get(uuid, (dom, False))[1]
            self._pending[uuid] = (dom, dac_changed or earlier)
        if first:
            loop.call_later(RECORDS_DELAY, self._due, uuid)

    def _due(self, uuid: str) -> None:
        with self._lock:
            entry = self._pending.pop(uuid, None)
        if entry is not None:
            self._write(*entry)

    def flush(self) -> None:
        """Write now every record still waiting (any thread)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for dom, dac_changed in pending.values():
            self._write(dom, dac_changed)
