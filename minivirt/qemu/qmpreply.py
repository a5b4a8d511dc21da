"""QMP replies and events as typed values, and QMP errors as libvirt errors.

This module owns the validation of what QEMU sends back (``query-block-jobs``
entries, ``query-commands``, block-job event payloads, ``query-block``
backing chains), what QEMU's job types and block-job events mean to libvirt
(:func:`job_type`, :func:`event_status`) and the mapping of QMP error classes
to :class:`VirError` (libvirt's ``src/qemu/qemu_monitor_json.c``).  It is
pure: it never imports ``qemu.qmp``, never touches a socket, a thread or a
clock.  A malformed reply is an ``INTERNAL_ERROR`` in the QEMU error domain,
never another exception.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Final

from minivirt.hypervisor.blockjob import ULONG_MASK
from minivirt.hypervisor.chain import ChainImage
from minivirt.public import (
    DomainBlockJobStatus,
    DomainBlockJobType,
    ErrorDomain,
    ErrorNumber,
    VirError,
)

__all__ = [
    "BLOCK_JOB_EVENTS",
    "BlockChainEntry",
    "CommandSet",
    "QemuBlockJob",
    "QemuBlockJobEvent",
    "QmpEvent",
    "chain_from_qemu_img",
    "command_error",
    "event_status",
    "internal_error",
    "job_type",
    "parse_block_chain",
    "parse_block_job_event",
    "parse_block_jobs",
    "parse_command_set",
]

#: The QEMU events that concern block jobs, in the names QEMU uses.
BLOCK_JOB_EVENTS: Final[frozenset[str]] = frozenset(
    {
        "BLOCK_JOB_COMPLETED",
        "BLOCK_JOB_CANCELLED",
        "BLOCK_JOB_READY",
        "BLOCK_JOB_ERROR",
    }
)


class CommandSet(enum.Enum):
    """The block-job command generation a QEMU speaks (probed with query-commands)."""

    #: ``block-stream`` (with ``speed``/``base``), ``block-job-cancel`` (async,
    #: emits BLOCK_JOB_CANCELLED), ``block-job-set-speed`` with ``speed``.
    MODERN = "modern"
    #: The 2011 names: ``block_stream``, ``block_job_cancel`` (synchronous, no
    #: event), ``block_job_set_speed`` with ``value``.
    LEGACY = "legacy"
    #: Neither: block jobs are not supported by this binary.
    NONE = "none"


@dataclasses.dataclass(frozen=True, slots=True)
class QmpEvent:
    """One QMP event as QEMU sent it: name, data and timestamp."""

    name: str
    data: Mapping[str, object]
    seconds: int = 0
    microseconds: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class QemuBlockJob:
    """One validated ``query-block-jobs`` entry (bytes, bytes/s; ``ready`` None if absent)."""

    device: str
    type: str
    speed: int
    offset: int
    len: int
    ready: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class QemuBlockJobEvent:
    """A BLOCK_JOB_* event payload; missing numbers default to 0 as libvirt does."""

    name: str
    device: str
    type: str
    len: int
    offset: int
    speed: int
    error: str | None


#: One image of a disk's backing chain (the shared rules' value: path, format, backing name).
BlockChainEntry = ChainImage

_QEMU_JOB_TYPES: Final[dict[str, DomainBlockJobType]] = {
    "stream": DomainBlockJobType.PULL,
    "commit": DomainBlockJobType.COMMIT,
    "mirror": DomainBlockJobType.COPY,
    "backup": DomainBlockJobType.BACKUP,
}


def job_type(qemu_type: str) -> DomainBlockJobType:
    """QEMU's job type string as virDomainBlockJobType (UNKNOWN for anything else)."""
    return _QEMU_JOB_TYPES.get(qemu_type, DomainBlockJobType.UNKNOWN)


def event_status(event: QemuBlockJobEvent) -> DomainBlockJobStatus | None:
    """The BLOCK_JOB status of a QEMU event; None for events libvirt does not turn into one.

    COMPLETED is COMPLETED, or FAILED when it carries ``error`` or offset != len;
    CANCELLED is CANCELED; READY is READY; BLOCK_JOB_ERROR is None (libvirt
    ignores it: the COMPLETED that follows ends the job).
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


def internal_error(detail: str) -> VirError:
    """VIR_ERR_INTERNAL_ERROR in the QEMU error domain with ``detail``."""
    return VirError.report(ErrorNumber.INTERNAL_ERROR, ErrorDomain.QEMU, detail)


def command_error(command: str, error_class: str, desc: str, job: str | None) -> VirError:
    """Map a QMP error reply to libvirt's error, as qemuMonitorJSONBlockJobError does.

    ``DeviceNotActive`` → OPERATION_INVALID "No active block job '<job>'";
    every other class → INTERNAL_ERROR "unable to execute QEMU command '<cmd>': <desc>".
    """
    if error_class == "DeviceNotActive" and job is not None:
        return VirError.report(
            ErrorNumber.OPERATION_INVALID, ErrorDomain.QEMU, f"No active block job '{job}'"
        )
    return internal_error(f"unable to execute QEMU command '{command}': {desc}")


def _ulong(entry: Mapping[str, object], key: str) -> int:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ULONG_MASK:
        raise internal_error(f"entry was missing '{key}'")
    return value


def parse_block_jobs(reply: object) -> tuple[QemuBlockJob, ...]:
    """Validate a ``query-block-jobs`` reply field by field (qemuMonitorJSONParseBlockJobInfo).

    Raises VirError INTERNAL_ERROR (domain QEMU) for a reply that is not an
    array ("reply was missing return data"), an element that is not an object
    ("missing array element"), or an entry lacking ``device``, ``type``,
    ``speed``, ``offset`` or ``len`` ("entry was missing '<name>'").
    """
    if not isinstance(reply, list):
        raise internal_error("reply was missing return data")
    jobs: list[QemuBlockJob] = []
    for entry in reply:
        if not isinstance(entry, dict):
            raise internal_error("missing array element")
        device = entry.get("device")
        if not isinstance(device, str):
            raise internal_error("entry was missing 'device'")
        jtype = entry.get("type")
        if not isinstance(jtype, str):
            raise internal_error("entry was missing 'type'")
        speed = _ulong(entry, "speed")
        offset = _ulong(entry, "offset")
        length = _ulong(entry, "len")
        ready = entry.get("ready")
        jobs.append(
            QemuBlockJob(
                device=device,
                type=jtype,
                speed=speed,
                offset=offset,
                len=length,
                ready=ready if isinstance(ready, bool) else None,
            )
        )
    return tuple(jobs)


def parse_command_set(reply: object) -> CommandSet:
    """Pick the command generation from a ``query-commands`` reply (the async names win)."""
    if not isinstance(reply, list):
        raise internal_error("reply was missing return data")
    names = {entry.get("name") for entry in reply if isinstance(entry, dict) and "name" in entry}
    if "block-job-cancel" in names:
        return CommandSet.MODERN
    if "block_job_cancel" in names:
        return CommandSet.LEGACY
    return CommandSet.NONE


def _int_or_zero(data: Mapping[str, object], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def parse_block_job_event(event: QmpEvent) -> QemuBlockJobEvent | None:
    """A block-job event's payload, or None if ``event`` is not one or names no device."""
    if event.name not in BLOCK_JOB_EVENTS:
        return None
    device = event.data.get("device")
    if not isinstance(device, str):
        return None
    jtype = event.data.get("type")
    error = event.data.get("error")
    if event.name == "BLOCK_JOB_ERROR":
        operation = event.data.get("operation")
        error = f"{operation} error" if isinstance(operation, str) else "I/O error"
    return QemuBlockJobEvent(
        name=event.name,
        device=device,
        type=jtype if isinstance(jtype, str) else "",
        len=_int_or_zero(event.data, "len"),
        offset=_int_or_zero(event.data, "offset"),
        speed=_int_or_zero(event.data, "speed"),
        error=error if isinstance(error, str) else None,
    )


def _chain_from_image(image: Mapping[str, object]) -> list[BlockChainEntry]:
    chain: list[BlockChainEntry] = []
    current: object = image
    while isinstance(current, dict):
        filename = current.get("filename")
        fmt = current.get("format")
        if not isinstance(filename, str) or not isinstance(fmt, str):
            raise internal_error("image information was missing 'filename' or 'format'")
        backing_name = current.get("backing-filename")
        chain.append(
            BlockChainEntry(
                path=filename,
                format=fmt,
                backing_name=backing_name if isinstance(backing_name, str) else None,
            )
        )
        current = current.get("backing-image")
    return chain


def parse_block_chain(reply: object, device: str) -> tuple[BlockChainEntry, ...]:
    """The backing chain (top first) of ``device`` from a ``query-block`` reply.

    Returns () when the device is absent or has no medium; raises VirError
    INTERNAL_ERROR for a malformed reply.
    """
    if not isinstance(reply, list):
        raise internal_error("reply was missing return data")
    for entry in reply:
        if not isinstance(entry, dict) or entry.get("device") != device:
            continue
        inserted = entry.get("inserted")
        if not isinstance(inserted, dict):
            return ()
        image = inserted.get("image")
        if not isinstance(image, dict):
            raise internal_error("image information was missing 'filename' or 'format'")
        return tuple(_chain_from_image(image))
    return ()


def chain_from_qemu_img(entries: Sequence[object]) -> tuple[BlockChainEntry, ...]:
    """The chain from ``qemu-img info --backing-chain --output=json`` (a list, top first)."""
    chain: list[BlockChainEntry] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise internal_error("image information was missing 'filename' or 'format'")
        chain.extend(_chain_from_image({k: v for k, v in entry.items() if k != "backing-image"}))
    return tuple(chain)
