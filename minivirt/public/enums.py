"""Enumerations of the series' public header, with libvirt's numeric values.

This module owns numbers only: no logic, no imports beyond the stdlib.  Every
value here is frozen forever, as in libvirt; tests pin each one.
"""

from __future__ import annotations

import enum

__all__ = [
    "ConnectListAllDomainsFlags",
    "DomainBlockCommitFlags",
    "DomainBlockCopyFlags",
    "DomainBlockJobAbortFlags",
    "DomainBlockJobInfoFlags",
    "DomainBlockJobSetSpeedFlags",
    "DomainBlockJobStatus",
    "DomainBlockJobType",
    "DomainBlockPullFlags",
    "DomainBlockRebaseFlags",
    "DomainEventDefinedDetailType",
    "DomainEventID",
    "DomainEventStartedDetailType",
    "DomainEventStoppedDetailType",
    "DomainEventType",
    "DomainEventUndefinedDetailType",
    "DomainRunningReason",
    "DomainQemuMonitorCommandFlags",
    "DomainShutoffReason",
    "DomainState",
    "DomainXMLFlags",
]


class DomainBlockJobType(enum.IntEnum):
    """virDomainBlockJobType."""

    UNKNOWN = 0
    PULL = 1
    COPY = 2
    COMMIT = 3
    ACTIVE_COMMIT = 4
    BACKUP = 5


class DomainBlockJobStatus(enum.IntEnum):
    """virConnectDomainEventBlockJobStatus."""

    COMPLETED = 0
    FAILED = 1
    CANCELED = 2
    READY = 3


class DomainEventID(enum.IntEnum):
    """virDomainEventID (values as in libvirt 9.x; LAST is the sentinel)."""

    LIFECYCLE = 0
    REBOOT = 1
    RTC_CHANGE = 2
    WATCHDOG = 3
    IO_ERROR = 4
    GRAPHICS = 5
    IO_ERROR_REASON = 6
    CONTROL_ERROR = 7
    BLOCK_JOB = 8
    DISK_CHANGE = 9
    TRAY_CHANGE = 10
    PMWAKEUP = 11
    PMSUSPEND = 12
    BALLOON_CHANGE = 13
    PMSUSPEND_DISK = 14
    DEVICE_REMOVED = 15
    BLOCK_JOB_2 = 16
    TUNABLE = 17
    AGENT_LIFECYCLE = 18
    DEVICE_ADDED = 19
    MIGRATION_ITERATION = 20
    JOB_COMPLETED = 21
    DEVICE_REMOVAL_FAILED = 22
    METADATA_CHANGE = 23
    BLOCK_THRESHOLD = 24
    MEMORY_FAILURE = 25
    MEMORY_DEVICE_SIZE_CHANGE = 26
    LAST = 27


class DomainBlockJobAbortFlags(enum.IntFlag):
    """virDomainBlockJobAbortFlags."""

    ASYNC = 1 << 0
    PIVOT = 1 << 1


class DomainBlockJobInfoFlags(enum.IntFlag):
    """virDomainBlockJobInfoFlags."""

    BANDWIDTH_BYTES = 1 << 0


class DomainBlockJobSetSpeedFlags(enum.IntFlag):
    """virDomainBlockJobSetSpeedFlags."""

    BANDWIDTH_BYTES = 1 << 0


class DomainBlockPullFlags(enum.IntFlag):
    """virDomainBlockPullFlags (the bit equals the rebase one on purpose)."""

    BANDWIDTH_BYTES = 1 << 6


class DomainBlockRebaseFlags(enum.IntFlag):
    """virDomainBlockRebaseFlags."""

    SHALLOW = 1 << 0
    REUSE_EXT = 1 << 1
    COPY_RAW = 1 << 2
    COPY = 1 << 3
    RELATIVE = 1 << 4
    COPY_DEV = 1 << 5
    BANDWIDTH_BYTES = 1 << 6


class DomainBlockCommitFlags(enum.IntFlag):
    """virDomainBlockCommitFlags."""

    SHALLOW = 1 << 0
    DELETE = 1 << 1
    ACTIVE = 1 << 2
    RELATIVE = 1 << 3
    BANDWIDTH_BYTES = 1 << 4


class DomainBlockCopyFlags(enum.IntFlag):
    """virDomainBlockCopyFlags."""

    SHALLOW = 1 << 0
    REUSE_EXT = 1 << 1
    TRANSIENT_JOB = 1 << 2
    SYNCHRONOUS_WRITES = 1 << 3


class DomainState(enum.IntEnum):
    """virDomainState."""

    NOSTATE = 0
    RUNNING = 1
    BLOCKED = 2
    PAUSED = 3
    SHUTDOWN = 4
    SHUTOFF = 5
    CRASHED = 6
    PMSUSPENDED = 7


class DomainRunningReason(enum.IntEnum):
    """virDomainRunningReason (the ones minivirt reports)."""

    UNKNOWN = 0
    BOOTED = 1


class DomainShutoffReason(enum.IntEnum):
    """virDomainShutoffReason."""

    UNKNOWN = 0
    SHUTDOWN = 1
    DESTROYED = 2
    CRASHED = 3
    MIGRATED = 4
    SAVED = 5
    FAILED = 6
    FROM_SNAPSHOT = 7
    DAEMON = 8


class DomainEventType(enum.IntEnum):
    """virDomainEventType: the lifecycle event's ``event`` value."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    SUSPENDED = 3
    RESUMED = 4
    STOPPED = 5
    SHUTDOWN = 6
    PMSUSPENDED = 7
    CRASHED = 8


class DomainEventDefinedDetailType(enum.IntEnum):
    """virDomainEventDefinedDetailType."""

    ADDED = 0
    UPDATED = 1


class DomainEventUndefinedDetailType(enum.IntEnum):
    """virDomainEventUndefinedDetailType."""

    REMOVED = 0


class DomainEventStartedDetailType(enum.IntEnum):
    """virDomainEventStartedDetailType."""

    BOOTED = 0


class DomainEventStoppedDetailType(enum.IntEnum):
    """virDomainEventStoppedDetailType."""

    SHUTDOWN = 0
    DESTROYED = 1
    CRASHED = 2
    MIGRATED = 3
    SAVED = 4
    FAILED = 5
    FROM_SNAPSHOT = 6


class DomainQemuMonitorCommandFlags(enum.IntFlag):
    """virDomainQemuMonitorCommandFlags (libvirt-qemu.h)."""

    DEFAULT = 0
    HMP = 1  # cmd is a human-monitor (HMP) command line


class ConnectListAllDomainsFlags(enum.IntFlag):
    """virConnectListAllDomainsFlags (the filters minivirt honours)."""

    ACTIVE = 1 << 0
    INACTIVE = 1 << 1
    PERSISTENT = 1 << 2
    TRANSIENT = 1 << 3


class DomainXMLFlags(enum.IntFlag):
    """virDomainXMLFlags."""

    SECURE = 1 << 0
    INACTIVE = 1 << 1
    UPDATE_CPU = 1 << 2
    MIGRATABLE = 1 << 3
