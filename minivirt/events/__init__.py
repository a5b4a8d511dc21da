"""Domain events (patch 7): event values, the per-driver callback queue, the event loop.

Imports only ``minivirt.public``.  Event values are defined in public (they
cross layers) and re-exported here.
"""

from minivirt.events.loop import (
    EVENT_HANDLE_ERROR,
    EVENT_HANDLE_HANGUP,
    EVENT_HANDLE_READABLE,
    EVENT_HANDLE_WRITABLE,
    DefaultEventLoop,
    EventImpl,
    EventLoopThread,
    HandleCallback,
    TimeoutCallback,
    event_add_handle,
    event_add_timeout,
    event_register_default_impl,
    event_register_impl,
    event_registered_impl,
    event_remove_handle,
    event_remove_timeout,
    event_run_default_impl,
    event_update_handle,
    event_update_timeout,
)
from minivirt.events.state import EventState
from minivirt.public import BlockJobEvent, DomainEvent, LifecycleEvent

__all__ = [
    "EVENT_HANDLE_ERROR",
    "EVENT_HANDLE_HANGUP",
    "EVENT_HANDLE_READABLE",
    "EVENT_HANDLE_WRITABLE",
    "BlockJobEvent",
    "DefaultEventLoop",
    "DomainEvent",
    "EventImpl",
    "EventLoopThread",
    "EventState",
    "HandleCallback",
    "LifecycleEvent",
    "TimeoutCallback",
    "event_add_handle",
    "event_add_timeout",
    "event_register_default_impl",
    "event_register_impl",
    "event_registered_impl",
    "event_remove_handle",
    "event_remove_timeout",
    "event_run_default_impl",
    "event_update_handle",
    "event_update_timeout",
]
