"""libvirt-python's ``VIR_*`` constants, derived from minivirt.public's enums.

No value is typed here: each enum of the public header is paired with the C
prefix libvirt gives its members (``DomainBlockJobType.PULL`` →
``VIR_DOMAIN_BLOCK_JOB_TYPE_PULL``), and :data:`CONSTANTS` is built from those
pairs.  Sentinels (``*_LAST``) are left out, as libvirt-python leaves them
out.  The package ``minivirt.bindings`` exposes every entry as a module
attribute holding a plain ``int``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from minivirt import core
from minivirt.public import (
    ConnectListAllDomainsFlags,
    DomainBlockCommitFlags,
    DomainBlockCopyFlags,
    DomainBlockJobAbortFlags,
    DomainBlockJobInfoFlags,
    DomainBlockJobSetSpeedFlags,
    DomainBlockJobStatus,
    DomainBlockJobType,
    DomainBlockPullFlags,
    DomainBlockRebaseFlags,
    DomainEventDefinedDetailType,
    DomainEventID,
    DomainEventStartedDetailType,
    DomainEventStoppedDetailType,
    DomainEventType,
    DomainEventUndefinedDetailType,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    DomainXMLFlags,
    ErrorDomain,
    ErrorLevel,
    ErrorNumber,
)

__all__ = ["CONSTANTS", "PREFIXES"]

#: Each public enum with the C prefix of its members, in header order.
PREFIXES: Final[tuple[tuple[type[enum.IntEnum] | type[enum.IntFlag], str], ...]] = (
    (DomainBlockJobType, "VIR_DOMAIN_BLOCK_JOB_TYPE_"),
    (DomainBlockJobStatus, "VIR_DOMAIN_BLOCK_JOB_"),
    (DomainEventID, "VIR_DOMAIN_EVENT_ID_"),
    (DomainBlockJobAbortFlags, "VIR_DOMAIN_BLOCK_JOB_ABORT_"),
    (DomainBlockJobInfoFlags, "VIR_DOMAIN_BLOCK_JOB_INFO_"),
    (DomainBlockJobSetSpeedFlags, "VIR_DOMAIN_BLOCK_JOB_SPEED_"),
    (DomainBlockPullFlags, "VIR_DOMAIN_BLOCK_PULL_"),
    (DomainBlockRebaseFlags, "VIR_DOMAIN_BLOCK_REBASE_"),
    (DomainBlockCommitFlags, "VIR_DOMAIN_BLOCK_COMMIT_"),
    (DomainBlockCopyFlags, "VIR_DOMAIN_BLOCK_COPY_"),
    (DomainState, "VIR_DOMAIN_"),
    (DomainRunningReason, "VIR_DOMAIN_RUNNING_"),
    (DomainShutoffReason, "VIR_DOMAIN_SHUTOFF_"),
    (DomainEventType, "VIR_DOMAIN_EVENT_"),
    (DomainEventDefinedDetailType, "VIR_DOMAIN_EVENT_DEFINED_"),
    (DomainEventUndefinedDetailType, "VIR_DOMAIN_EVENT_UNDEFINED_"),
    (DomainEventStartedDetailType, "VIR_DOMAIN_EVENT_STARTED_"),
    (DomainEventStoppedDetailType, "VIR_DOMAIN_EVENT_STOPPED_"),
    (ConnectListAllDomainsFlags, "VIR_CONNECT_LIST_DOMAINS_"),
    (DomainXMLFlags, "VIR_DOMAIN_XML_"),
    (ErrorNumber, "VIR_ERR_"),
    (ErrorDomain, "VIR_FROM_"),
    (ErrorLevel, "VIR_ERR_"),
)

#: The event-loop handle bits (virEventHandleType), re-exported by core.
_HANDLE_BITS: Final = (
    ("VIR_EVENT_HANDLE_READABLE", core.EVENT_HANDLE_READABLE),
    ("VIR_EVENT_HANDLE_WRITABLE", core.EVENT_HANDLE_WRITABLE),
    ("VIR_EVENT_HANDLE_ERROR", core.EVENT_HANDLE_ERROR),
    ("VIR_EVENT_HANDLE_HANGUP", core.EVENT_HANDLE_HANGUP),
)


def _c_name(prefix: str, member: str) -> str:
    # virErrorNumber's warnings are VIR_WAR_NO_*, not VIR_ERR_WAR_NO_*.
    if prefix == "VIR_ERR_" and member.startswith("WAR_"):
        return "VIR_" + member
    return prefix + member


def _build() -> dict[str, int]:
    table: dict[str, int] = {}
    for enum_type, prefix in PREFIXES:
        for member in enum_type:
            name = member.name
            if name is None or name == "LAST":
                continue
            c_name = _c_name(prefix, name)
            if c_name in table and table[c_name] != int(member):
                raise RuntimeError(f"constant {c_name} derived twice with different values")
            table[c_name] = int(member)
    for c_name, value in _HANDLE_BITS:
        table[c_name] = int(value)
    return table


#: Every ``VIR_*`` name minivirt.bindings exposes, with libvirt's value.
CONSTANTS: Final[Mapping[str, int]] = MappingProxyType(_build())
