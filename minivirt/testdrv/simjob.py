"""The simulated block-job engine of the test driver: progress over an injectable clock.

A job copies ``end`` bytes at its bandwidth (bytes/s), or at
:data:`DEFAULT_RATE` when unlimited, from the moment it starts; ``set_speed``
re-bases the progress so the rate change applies from that instant.  This
module owns that arithmetic (progress, deadlines) only: libvirt's checks,
conversions and info fix-ups are :mod:`minivirt.hypervisor`'s.  It holds no
lock, starts no thread and reads no clock itself: every function takes ``now``
from the caller's clock.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final

__all__ = [
    "ABORT_DELAY",
    "DEFAULT_DISK_SIZE",
    "DEFAULT_RATE",
    "JobState",
    "SimJob",
]

#: Copy rate of an unlimited job (bytes/s): a 1 GiB disk is pulled in about a second.
DEFAULT_RATE: Final[int] = 1 << 30
#: Simulated virtual size of every disk (bytes), as QEMU's ``len``.
DEFAULT_DISK_SIZE: Final[int] = 1 << 30
#: Seconds (of the driver's clock) an asynchronously aborted job lingers before vanishing.
ABORT_DELAY: Final[float] = 0.05


class JobState(enum.Enum):
    """Where a simulated job is in its life (libvirt's qemuBlockjobState subset)."""

    RUNNING = "running"
    ABORTING = "aborting"


@dataclasses.dataclass(slots=True)
class SimJob:
    """One running job on one disk.  Mutable: owned by the hypervisor, under its lock.

    ``name`` is the job's name (as QEMU would call it); ``cur0`` bytes were done
    at time ``t0``; ``speed`` is bytes/s (0 = unlimited); ``base_index`` is the
    base's index in the disk's chain, top = 0 (None for a full pull); ``fail_at``
    is the byte offset at which an injected failure ends the job with status
    FAILED.
    """

    name: str
    target: str
    source: str
    type: int
    end: int
    speed: int
    t0: float
    base_index: int | None = None
    cur0: int = 0
    fail_at: int | None = None
    state: JobState = JobState.RUNNING
    abort_at: float = 0.0

    @property
    def ending(self) -> bool:
        """True once an asynchronous abort was requested."""
        return self.state is JobState.ABORTING

    @property
    def rate(self) -> int:
        """Effective copy rate in bytes/s."""
        return self.speed if self.speed > 0 else DEFAULT_RATE

    def cur(self, now: float) -> int:
        """Bytes copied at ``now`` (never beyond ``end`` or the failure point)."""
        done = self.cur0 + int(max(0.0, now - self.t0) * self.rate)
        stop = self.end if self.fail_at is None else min(self.end, self.fail_at)
        return min(done, stop)

    def finish_time(self) -> float:
        """Clock time at which the job ends by itself (completion or injected failure)."""
        stop = self.end if self.fail_at is None else min(self.end, self.fail_at)
        return self.t0 + max(0, stop - self.cur0) / self.rate

    def deadline(self) -> float:
        """Clock time of the job's next transition (end of copy, or end of an abort)."""
        return self.abort_at if self.state is JobState.ABORTING else self.finish_time()

    def set_speed(self, speed: int, now: float) -> None:
        """Change the bandwidth from ``now`` on (progress so far is kept)."""
        self.cur0 = self.cur(now)
        self.t0 = now
        self.speed = speed

    @property
    def fails(self) -> bool:
        """Whether the job ends with FAILED rather than COMPLETED."""
        return self.fail_at is not None and self.fail_at < self.end
