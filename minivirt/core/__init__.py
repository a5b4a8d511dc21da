"""The public entry points (patch 2): open(), connections, domains, block jobs, events.

The event loop calls of ``minivirt.events`` are re-exported here, as libvirt.h
exports virEventRegisterDefaultImpl beside the domain API.

Core checks arguments in libvirt's order and dispatches to drivers through
the registry; it never imports a driver (``minivirt.wiring`` registers them).
The event-loop names are resolved on first use (PEP 562), so that a one-shot
client that never waits for an event does not import the event loop.
"""

from minivirt.core.checks import UINT_MASK, ULONG_MASK
from minivirt.core.connection import LIB_VERSION, Connection, Domain, open, open_read_only
from minivirt.core.domain import (
    domain_block_job_abort,
    domain_block_job_set_speed,
    domain_block_pull,
    domain_block_rebase,
    domain_create,
    domain_destroy,
    domain_get_block_job_info,
    domain_get_info,
    domain_get_state,
    domain_get_xml_desc,
    domain_undefine,
)
from minivirt.core.keepalive import connect_set_keep_alive
from minivirt.core.qemu import DomainQemuMonitorCommandFlags, domain_qemu_monitor_command
from minivirt.core.registry import (
    DriverFactory,
    default_uri,
    is_server_mode,
    register_driver,
    registered_drivers,
    set_server_mode,
)
from minivirt.core.uri import URI

TYPE_CHECKING = False
if TYPE_CHECKING:
    from minivirt.events import (
        EVENT_HANDLE_ERROR,
        EVENT_HANDLE_HANGUP,
        EVENT_HANDLE_READABLE,
        EVENT_HANDLE_WRITABLE,
        EventLoopThread,
        event_add_handle,
        event_add_timeout,
        event_register_default_impl,
        event_register_impl,
        event_remove_handle,
        event_remove_timeout,
        event_run_default_impl,
        event_update_handle,
        event_update_timeout,
    )

__all__ = [
    "connect_set_keep_alive",
    "EVENT_HANDLE_ERROR",
    "EVENT_HANDLE_HANGUP",
    "EVENT_HANDLE_READABLE",
    "EVENT_HANDLE_WRITABLE",
    "LIB_VERSION",
    "UINT_MASK",
    "ULONG_MASK",
    "URI",
    "Connection",
    "Domain",
    "DomainQemuMonitorCommandFlags",
    "DriverFactory",
    "EventLoopThread",
    "default_uri",
    "domain_block_job_abort",
    "domain_block_job_set_speed",
    "domain_block_pull",
    "domain_block_rebase",
    "domain_create",
    "domain_destroy",
    "domain_get_block_job_info",
    "domain_get_info",
    "domain_get_state",
    "domain_get_xml_desc",
    "domain_qemu_monitor_command",
    "domain_undefine",
    "event_add_handle",
    "event_add_timeout",
    "event_register_default_impl",
    "event_register_impl",
    "event_remove_handle",
    "event_remove_timeout",
    "event_run_default_impl",
    "event_update_handle",
    "event_update_timeout",
    "is_server_mode",
    "open",
    "open_read_only",
    "register_driver",
    "registered_drivers",
    "set_server_mode",
]


_EVENT_NAMES = frozenset(
    {
        "EVENT_HANDLE_ERROR",
        "EVENT_HANDLE_HANGUP",
        "EVENT_HANDLE_READABLE",
        "EVENT_HANDLE_WRITABLE",
        "EventLoopThread",
        "event_add_handle",
        "event_add_timeout",
        "event_register_default_impl",
        "event_register_impl",
        "event_remove_handle",
        "event_remove_timeout",
        "event_run_default_impl",
        "event_update_handle",
        "event_update_timeout",
    }
)


def __getattr__(name: str) -> object:
    if name in _EVENT_NAMES:
        from minivirt import events

        value = getattr(events, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
