"""Callback registry and event queue of one driver state (libvirt's virObjectEventState).

Drivers ``queue`` events from any thread (a QMP thread, a timer, a socket
reader); the queue is flushed by a timer of the registered event loop, so
callbacks run only in the application's loop, never inside a driver call or
under a driver lock.  This module owns registration ids and filtering by event
id and domain; it does not know connections or how callbacks are shaped above
it.
"""

from __future__ import annotations

import threading

from minivirt.events import loop
from minivirt.public import (
    DomainEvent,
    DomainRef,
    ErrorDomain,
    ErrorNumber,
    EventCallback,
    VirError,
)
from minivirt.public.logger import get_logger
from minivirt.public.values import FrozenValue, init_fields

__all__ = ["EventState"]

log = get_logger(__name__)


class _Registration(FrozenValue):
    __slots__ = ("callback", "event_id", "uuid")
    _fields = ("uuid", "event_id", "callback")
    uuid: str | None
    event_id: int
    callback: EventCallback

    def __init__(self, uuid: str | None, event_id: int, callback: EventCallback) -> None:
        init_fields(self, uuid, event_id, callback)


class EventState:
    """One driver's event callbacks and pending events.

    ``register`` returns callback ids (0, 1, …) unique within this state.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[int, _Registration] = {}
        self._pending: list[DomainEvent] = []
        self._next_id = 0
        self._timer = -1

    def register(self, dom: DomainRef | None, event_id: int, callback: EventCallback) -> int:
        """Add a callback for ``event_id``, optionally only for ``dom``; return its id.

        Raises VirError INTERNAL_ERROR "could not initialize domain event
        timer" when no event loop is registered, INVALID_ARG "event callback
        already tracked" for a duplicate registration.
        """
        reg = _Registration(None if dom is None else dom.uuid, int(event_id), callback)
        with self._lock:
            if any(r == reg for r in self._callbacks.values()):
                raise VirError.report(
                    ErrorNumber.INVALID_ARG, ErrorDomain.NONE, "event callback already tracked"
                )
            if self._timer < 0:
                self._timer = loop.event_add_timeout(-1, self._flush)
                if self._timer < 0:
                    raise VirError.report(
                        ErrorNumber.INTERNAL_ERROR,
                        ErrorDomain.NONE,
                        "could not initialize domain event timer",
                    )
            callback_id = self._next_id
            self._next_id += 1
            self._callbacks[callback_id] = reg
        return callback_id

    def deregister(self, callback_id: int) -> None:
        """Remove a callback by id; INVALID_ARG when the id is unknown."""
        with self._lock:
            if self._callbacks.pop(callback_id, None) is None:
                raise VirError.report(
                    ErrorNumber.INVALID_ARG,
                    ErrorDomain.NONE,
                    f"could not find event callback {callback_id} for deletion",
                )
            if not self._callbacks:
                self._drop_timer()

    def count(self, event_id: int | None = None) -> int:
        """How many callbacks are registered (for ``event_id``, or in all)."""
        with self._lock:
            return sum(1 for r in self._callbacks.values() if event_id in (None, r.event_id))

    def queue(self, event: DomainEvent) -> None:
        """Queue an event for dispatch in the event loop (any thread).

        Dropped at once when nobody is registered, as libvirt does.
        """
        with self._lock:
            if self._timer < 0:
                return
            self._pending.append(event)
            timer = self._timer
        loop.event_update_timeout(timer, 0)

    def close(self) -> None:
        """Drop every callback and pending event."""
        with self._lock:
            self._callbacks.clear()
            self._pending.clear()
            self._drop_timer()

    def _drop_timer(self) -> None:
        if self._timer >= 0:
            loop.event_remove_timeout(self._timer)
            self._timer = -1

    def _flush(self, timer: int) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            if self._timer == timer:
                loop.event_update_timeout(timer, -1)
        for event in pending:
            with self._lock:
                targets = [
                    (cid, r)
                    for cid, r in self._callbacks.items()
                    if r.event_id == event.event_id and r.uuid in (None, event.dom.uuid)
                ]
            for cid, reg in targets:
                with self._lock:
                    if cid not in self._callbacks:
                        continue  # deregistered by an earlier callback
                try:
                    reg.callback(event)
                except Exception:
                    log.exception("event callback %d failed", cid)
