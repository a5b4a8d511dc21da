"""The simulated block-job engine of the test driver: progress over an injectable clock.

A job copies ``end`` bytes at its bandwidth (bytes/s), or at
:data:`DEFAULT_RATE` when unlimited, from the moment it starts; ``set_speed``
re-bases the progress so the rate change applies from that instant.  This
module owns the arithmetic (progress, deadlines, MiB <-> bytes with libvirt's
overflow rule, libvirt's info fix-ups) and the errors the qemu driver reports
for bandwidth.  It holds no lock, starts no thread and reads no clock itself:
every function takes ``now`` from the caller's clock.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final

from minivirt.public import (
    BlockJobInfo,
    DomainBlockJobType,
    ErrorDomain,
    ErrorLevel,
    ErrorNumber,
    VirError,
)

__all__ = [
    "ABORT_DELAY",
    "DEFAULT_DISK_SIZE",
    "DEFAULT_RATE",
    "LLONG_MAX",
    "MAX_MIB_BANDWIDTH",
    "JobState",
    "SimJob",
    "check_flags",
    "info_of",
    "mib_to_bytes",
    "not_running",
    "unsupported_flags",
]

#: Copy rate of an unlimited job (bytes/s): a 1 GiB disk is pulled in about a second.
DEFAULT_RATE: Final[int] = 1 << 30
#: Simulated virtual size of every disk (bytes), as QEMU's ``len``.
DEFAULT_DISK_SIZE: Final[int] = 1 << 30
#: Seconds (of the driver's clock) an asynchronously aborted job lingers before vanishing.
ABORT_DELAY: Final[float] = 0.05
LLONG_MAX: Final[int] = (1 << 63) - 1
#: Largest bandwidth in MiB/s that converts to bytes/s without overflow (LLONG_MAX >> 20).
MAX_MIB_BANDWIDTH: Final[int] = LLONG_MAX >> 20


class JobState(enum.Enum):
    """Where a simulated job is in its life (libvirt's qemuBlockjobState subset)."""

    RUNNING = "running"
    ABORTING = "aborting"


@dataclasses.dataclass(slots=True)
class SimJob:
    """One running job on one disk.  Mutable: owned by the hypervisor, under its lock.

    ``cur0`` bytes were done at time ``t0``; ``speed`` is bytes/s (0 = unlimited);
    ``keep`` is how many layers of the backing chain survive completion (0 for a
    full pull, the base's depth for a rebase); ``fail_at`` is the byte offset at
    which an injected failure ends the job with status FAILED.
    """

    target: str
    source: str
    type: int
    end: int
    speed: int
    t0: float
    keep: int = 0
    cur0: int = 0
    fail_at: int | None = None
    state: JobState = JobState.RUNNING
    abort_at: float = 0.0

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


def unsupported_flags(flags: int, function: str) -> VirError:
    """libvirt's virCheckFlags failure: INVALID_ARG "unsupported flags (0x…) in function …".

    Reported through virReportInvalidArg: no "invalid argument: " prefix.
    """
    detail = f"unsupported flags (0x{flags:x}) in function {function}"
    return VirError(
        ErrorNumber.INVALID_ARG,
        ErrorDomain.TEST,
        detail,
        ErrorLevel.ERROR,
        function,
        "flags",
        None,
        0,
        0,
    )


def check_flags(flags: int, allowed: int, function: str) -> None:
    """virCheckFlags: refuse any bit outside ``allowed`` (see :func:`unsupported_flags`)."""
    extra = int(flags) & ~int(allowed)
    if extra:
        raise unsupported_flags(extra, function)


def not_running() -> VirError:
    """virDomainObjCheckActive's error; shared conf code in libvirt, hence VIR_FROM_DOMAIN."""
    return VirError.report(
        ErrorNumber.OPERATION_INVALID, ErrorDomain.DOMAIN, "domain is not running"
    )


def mib_to_bytes(bandwidth: int) -> int:
    """MiB/s -> bytes/s; OVERFLOW "bandwidth must be less than %llu" past LLONG_MAX >> 20."""
    if bandwidth > MAX_MIB_BANDWIDTH:
        raise VirError.report(
            ErrorNumber.OVERFLOW,
            ErrorDomain.TEST,
            f"bandwidth must be less than {MAX_MIB_BANDWIDTH}",
        )
    return bandwidth << 20


def info_of(job: SimJob, now: float, in_bytes: bool) -> BlockJobInfo:
    """The job as virDomainGetBlockJobInfo reports it (qemuBlockJobInfoTranslate's rules).

    Bandwidth is bytes/s with ``in_bytes``, else MiB/s rounded up.  A job not
    yet started reports end=1; a not-ready job never reports cur == end > 0.
    """
    cur, end = job.cur(now), job.end
    if cur == 0 and end == 0:
        end = 1
    if cur == end and cur > 0:
        cur -= 1
    bandwidth = job.speed if in_bytes else -(-job.speed // (1 << 20))
    return BlockJobInfo(int(job.type or DomainBlockJobType.PULL), bandwidth, cur, end)
