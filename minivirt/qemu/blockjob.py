"""Block-job arithmetic and rules of libvirt's qemu driver, as pure functions.

This module owns the driver-side conversions and checks that need no domain
and no QEMU: ``virCheckFlags``, bandwidth MiB/s ↔ bytes/s with libvirt's
overflow guards (facts §1.5, §4.2), the translation of a ``query-block-jobs``
entry into ``virDomainBlockJobInfo`` with modern libvirt's cur/end
normalisation (facts §1.2, §4.4), the event status of a QEMU block-job event
(facts §4.6) and the lookup of a base image in a backing chain.  It must not
perform I/O, take locks or know domains beyond the values passed in.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

from minivirt.public import (
    BlockJobInfo,
    DomainBlockJobStatus,
    DomainBlockJobType,
    ErrorDomain,
    ErrorLevel,
    ErrorNumber,
    VirError,
)
from minivirt.qemu.qmpreply import BlockChainEntry, QemuBlockJob, QemuBlockJobEvent

__all__ = [
    "LLONG_MAX",
    "MIB",
    "ULONG_MAX",
    "check_flags",
    "event_status",
    "find_base",
    "job_type",
    "mib_to_bytes",
    "relative_backing",
    "translate_info",
]

#: One MiB: libvirt's bandwidth unit.
MIB: Final[int] = 1 << 20
#: C's LLONG_MAX: modern libvirt refuses MiB/s values above ``LLONG_MAX >> 20``.
LLONG_MAX: Final[int] = (1 << 63) - 1
#: C's ULONG_MAX on LP64: the largest value ``virDomainBlockJobInfo.bandwidth`` holds.
ULONG_MAX: Final[int] = (1 << 64) - 1

_QEMU_JOB_TYPES: Final[dict[str, DomainBlockJobType]] = {
    "stream": DomainBlockJobType.PULL,
    "commit": DomainBlockJobType.COMMIT,
    "mirror": DomainBlockJobType.COPY,
    "backup": DomainBlockJobType.BACKUP,
}


def check_flags(flags: int, allowed: int, function: str) -> None:
    """virCheckFlags: INVALID_ARG "unsupported flags (0x%x) in function <driver function>".

    virCheckFlags reports through virReportInvalidArg: the message has no
    "invalid argument: " prefix (libvirt 9.0).
    """
    extra = (int(flags) & 0xFFFFFFFF) & ~int(allowed)
    if extra:
        detail = f"unsupported flags (0x{extra:x}) in function {function}"
        raise VirError(
            ErrorNumber.INVALID_ARG,
            ErrorDomain.QEMU,
            detail,
            ErrorLevel.ERROR,
            function,
            "flags",
            None,
            0,
            0,
        )


def mib_to_bytes(bandwidth: int) -> int:
    """MiB/s → bytes/s; OVERFLOW "bandwidth must be less than 8796093022207" above LLONG_MAX>>20."""
    if bandwidth < 0 or bandwidth > LLONG_MAX >> 20:
        raise VirError.report(
            ErrorNumber.OVERFLOW,
            ErrorDomain.QEMU,
            f"bandwidth must be less than {LLONG_MAX >> 20}",
        )
    return bandwidth << 20


def job_type(qemu_type: str) -> DomainBlockJobType:
    """QEMU's job type string → virDomainBlockJobType (UNKNOWN for anything else)."""
    return _QEMU_JOB_TYPES.get(qemu_type, DomainBlockJobType.UNKNOWN)


def translate_info(raw: QemuBlockJob, jtype: int, report_bytes: bool) -> BlockJobInfo:
    """A query-block-jobs entry as virDomainBlockJobInfo, as modern libvirt fills it.

    Bandwidth in bytes/s with ``report_bytes``, else MiB/s rounded up; OVERFLOW
    "bandwidth %llu cannot be represented in result" when it exceeds
    ULONG_MAX.  cur/end: 0/0 → 0/1 (not started) or 1/1 (QEMU says ready);
    cur == end > 0 while QEMU says not ready → cur - 1.
    """
    bandwidth = raw.speed if report_bytes else -(-raw.speed // MIB)
    if bandwidth > ULONG_MAX:
        raise VirError.report(
            ErrorNumber.OVERFLOW,
            ErrorDomain.QEMU,
            f"bandwidth {bandwidth} cannot be represented in result",
        )
    cur, end = raw.offset, raw.len
    if cur == 0 and end == 0:
        if raw.ready is True:
            cur, end = 1, 1
        else:
            end = 1
    if raw.ready is False and cur == end and cur > 0:
        cur -= 1
    return BlockJobInfo(type=int(jtype), bandwidth=bandwidth, cur=cur, end=end)


def event_status(event: QemuBlockJobEvent) -> DomainBlockJobStatus | None:
    """The BLOCK_JOB status for a QEMU event; None for events libvirt does not turn into one.

    COMPLETED → COMPLETED, or FAILED when it carries ``error`` or offset != len;
    CANCELLED → CANCELED; READY → READY; BLOCK_JOB_ERROR → None (libvirt
    ignores it; the job's end is reported by the COMPLETED that follows).
    """
    if event.name == "BLOCK_JOB_COMPLETED":
        if event.error is not None or event.offset != event.len:
            return DomainBlockJobStatus.FAILED
        return DomainBlockJobStatus.COMPLETED
    if event.name == "BLOCK_JOB_CANCELLED":
        return DomainBlockJobStatus.CANCELED
    if event.name == "BLOCK_JOB_READY":
        return DomainBlockJobStatus.READY
    return None


def _index_name(name: str, target: str) -> int | None:
    prefix = f"{target}["
    if name.startswith(prefix) and name.endswith("]") and name[len(prefix) : -1].isdigit():
        return int(name[len(prefix) : -1])
    return None


def find_base(chain: Sequence[BlockChainEntry], name: str, target: str, top_index: int = 1) -> int:
    """Index in ``chain`` (top first) of the image ``name`` strictly beneath the top.

    ``name`` is a path (absolute, or relative as recorded in the image above
    it) or ``<target>[<index>]`` with libvirt's storage index, the ``index``
    attribute of the live XML (``top_index`` is the top image's: 1 for the
    first disk, so ``vda[2]`` is its first backing image).  INVALID_ARG
    "could not find image '%s' beneath '%s' in chain for '%s'" when it is not
    below the top image.
    """
    index = _index_name(name, target)
    if index is not None:
        if 0 < index - top_index < len(chain):
            return index - top_index
    else:
        for i in range(1, len(chain)):
            entry = chain[i]
            recorded = chain[i - 1].backing_name
            if name in (entry.path, recorded):
                return i
            if name.startswith("/") and os.path.realpath(name) == os.path.realpath(entry.path):
                return i
    top = chain[0].path if chain else ""
    raise VirError.report(
        ErrorNumber.INVALID_ARG,
        ErrorDomain.QEMU,
        f"could not find image '{name}' beneath '{top}' in chain for '{target}'",
    )


def relative_backing(chain: Sequence[BlockChainEntry], base_index: int) -> str:
    """The base's name relative to the top image, through recorded relative names.

    OPERATION_INVALID "can't keep relative backing relationship" when a link
    between the top and the base was recorded as an absolute path.
    """
    rel = ""
    for i in range(base_index):
        recorded = chain[i].backing_name
        if not recorded or recorded.startswith("/"):
            raise VirError.report(
                ErrorNumber.OPERATION_INVALID,
                ErrorDomain.QEMU,
                "can't keep relative backing relationship",
            )
        rel = os.path.join(os.path.dirname(rel), recorded)
    return rel
