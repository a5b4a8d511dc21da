"""The event loop hooks and the default poll()-based implementation.

Mirrors libvirt's ``virEventRegisterImpl`` / ``virEventRegisterDefaultImpl`` /
``virEventRunDefaultImpl`` and the ``virEventAdd/Update/RemoveHandle|Timeout``
calls.  One implementation is registered per process; every event dispatch in
minivirt (driver events, remote events) goes through a timer of that
implementation, so application callbacks only ever run inside the
application's loop.  This module owns the loop; it knows nothing of domains.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable

from minivirt.public.logger import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Protocol
else:
    Protocol = object  # a static type only: mypy checks it, run time never does

__all__ = [
    "EVENT_HANDLE_ERROR",
    "EVENT_HANDLE_HANGUP",
    "EVENT_HANDLE_READABLE",
    "EVENT_HANDLE_WRITABLE",
    "DefaultEventLoop",
    "EventImpl",
    "EventLoopThread",
    "HandleCallback",
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

log = get_logger(__name__)

EVENT_HANDLE_READABLE: Final = 1
EVENT_HANDLE_WRITABLE: Final = 2
EVENT_HANDLE_ERROR: Final = 4
EVENT_HANDLE_HANGUP: Final = 8

#: ``cb(watch, fd, events)``
HandleCallback = Callable[[int, int, int], None]
#: ``cb(timer)``
TimeoutCallback = Callable[[int], None]


class EventImpl(Protocol):
    """What an application's event loop offers libvirt (virEventRegisterImpl's six hooks)."""

    def add_handle(self, fd: int, events: int, cb: HandleCallback) -> int: ...
    def update_handle(self, watch: int, events: int) -> None: ...
    def remove_handle(self, watch: int) -> int: ...
    def add_timeout(self, interval_ms: int, cb: TimeoutCallback) -> int: ...
    def update_timeout(self, timer: int, interval_ms: int) -> None: ...
    def remove_timeout(self, timer: int) -> int: ...


class _Handle:
    __slots__ = ("cb", "events", "fd")

    def __init__(self, fd: int, events: int, cb: HandleCallback) -> None:
        self.fd = fd
        self.events = events
        self.cb = cb


class _Timeout:
    __slots__ = ("cb", "due", "interval_ms")

    def __init__(self, interval_ms: int, due: float, cb: TimeoutCallback) -> None:
        self.interval_ms = interval_ms
        self.due = due
        self.cb = cb


def _to_poll(events: int) -> int:
    mask = 0
    if events & EVENT_HANDLE_READABLE:
        mask |= select.POLLIN
    if events & EVENT_HANDLE_WRITABLE:
        mask |= select.POLLOUT
    return mask


def _from_poll(revents: int) -> int:
    events = 0
    if revents & select.POLLIN:
        events |= EVENT_HANDLE_READABLE
    if revents & select.POLLOUT:
        events |= EVENT_HANDLE_WRITABLE
    if revents & (select.POLLERR | select.POLLNVAL):
        events |= EVENT_HANDLE_ERROR
    if revents & select.POLLHUP:
        events |= EVENT_HANDLE_HANGUP
    return events


class DefaultEventLoop:
    """libvirt's default poll() loop: file handles and timers, safe to modify from any thread.

    A timer's interval is -1 (disabled), 0 (fire on every iteration) or a
    period in milliseconds.  Any change from another thread wakes a blocked
    ``run_once`` through a self-pipe; a change made by a callback (the thread
    running the iteration) needs no wake-up.  A timer that a handle callback
    makes due (an event queued from a socket read) fires in the same
    iteration, after the handles.  Only one thread runs an iteration at a
    time; callbacks run outside the loop's lock and may call back into it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._handles: dict[int, _Handle] = {}
        self._timeouts: dict[int, _Timeout] = {}
        self._next_watch = 1
        self._next_timer = 1
        self._runner: int | None = None  # the thread inside run_once
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # -- the six hooks ---------------------------------------------------
    def add_handle(self, fd: int, events: int, cb: HandleCallback) -> int:
        with self._lock:
            watch = self._next_watch
            self._next_watch += 1
            self._handles[watch] = _Handle(fd, events, cb)
        self._changed()
        return watch

    def update_handle(self, watch: int, events: int) -> None:
        with self._lock:
            handle = self._handles.get(watch)
            if handle is not None:
                handle.events = events
        self._changed()

    def remove_handle(self, watch: int) -> int:
        with self._lock:
            found = self._handles.pop(watch, None) is not None
        self._changed()
        return 0 if found else -1

    def add_timeout(self, interval_ms: int, cb: TimeoutCallback) -> int:
        with self._lock:
            timer = self._next_timer
            self._next_timer += 1
            self._timeouts[timer] = _Timeout(interval_ms, self._due(interval_ms), cb)
        self._changed()
        return timer

    def update_timeout(self, timer: int, interval_ms: int) -> None:
        with self._lock:
            entry = self._timeouts.get(timer)
            if entry is None:
                return
            entry.interval_ms = interval_ms
            entry.due = self._due(interval_ms)
        self._changed()

    def remove_timeout(self, timer: int) -> int:
        with self._lock:
            found = self._timeouts.pop(timer, None) is not None
        self._changed()
        return 0 if found else -1

    # -- running ---------------------------------------------------------
    @staticmethod
    def _due(interval_ms: int) -> float:
        return time.monotonic() + interval_ms / 1000.0 if interval_ms >= 0 else float("inf")

    def _changed(self) -> None:
        """A handle or timer changed: wake the iteration unless it is the caller's own."""
        if self._runner != threading.get_ident():
            self.wake()

    def wake(self) -> None:
        """Interrupt a blocked iteration (any thread)."""
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: a wake-up is already pending

    def run_once(self, max_wait: float | None = None) -> None:
        """One iteration: wait for the first due timer or ready handle, then dispatch.

        ``max_wait`` (seconds) bounds the wait; None waits as long as needed.
        """
        with self._run_lock:
            self._runner = threading.get_ident()
            try:
                self._iterate(max_wait)
            finally:
                self._runner = None

    def _iterate(self, max_wait: float | None) -> None:
        with self._lock:
            now = time.monotonic()
            nearest = min((t.due for t in self._timeouts.values()), default=float("inf"))
            wait = max(0.0, nearest - now)
            if max_wait is not None:
                wait = min(wait, max_wait)
            fds = [(w, h.fd, _to_poll(h.events)) for w, h in self._handles.items()]
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        for _, fd, mask in fds:
            poller.register(fd, mask)
        timeout_ms = None if wait == float("inf") else int(wait * 1000 + 0.999)
        ready = dict(poller.poll(timeout_ms))
        if self._wake_r in ready:
            self._drain()
        fired = self._dispatch_timeouts(frozenset())
        handled = False
        for watch, fd, _ in fds:
            revents = ready.get(fd)
            if not revents:
                continue
            with self._lock:
                handle = self._handles.get(watch)
            if handle is not None:
                handled = True
                self._call(handle.cb, watch, fd, _from_poll(revents))
        if handled:  # what the handles made due (not a second turn of those that fired)
            self._dispatch_timeouts(fired)

    def _drain(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _dispatch_timeouts(self, skip: frozenset[int]) -> frozenset[int]:
        """Run the due timers, except ``skip``; the ids of those that were due."""
        now = time.monotonic()
        with self._lock:
            due = [(t, e.cb) for t, e in self._timeouts.items() if e.due <= now and t not in skip]
            for timer, _ in due:
                entry = self._timeouts[timer]
                entry.due = (
                    self._due(entry.interval_ms)
                    if entry.interval_ms > 0
                    else (now if entry.interval_ms == 0 else float("inf"))
                )
        for timer, cb in due:
            with self._lock:
                alive = timer in self._timeouts
            if alive:
                self._call(cb, timer)
        return frozenset(timer for timer, _ in due)

    @staticmethod
    def _call(cb: Callable[..., None], *args: int) -> None:
        try:
            cb(*args)
        except Exception:
            log.exception("event loop callback %r failed", cb)


_impl_lock = threading.Lock()
_impl: EventImpl | None = None
_default: DefaultEventLoop | None = None


def event_register_impl(impl: EventImpl) -> None:
    """Mirrors virEventRegisterImpl: install the application's loop (once per process)."""
    global _impl
    with _impl_lock:
        _impl = impl


def event_registered_impl() -> EventImpl | None:
    """The registered implementation, or None."""
    return _impl


def event_register_default_impl() -> int:
    """Mirrors virEventRegisterDefaultImpl: install the default loop; returns 0.

    Calling it again keeps the loop already installed.
    """
    global _impl, _default
    with _impl_lock:
        if _default is None:
            _default = DefaultEventLoop()
        if _impl is None:
            _impl = _default
    return 0


def event_run_default_impl(max_wait: float | None = None) -> int:
    """Mirrors virEventRunDefaultImpl: run one iteration of the default loop.

    Returns 0, or -1 when the default loop was never registered.
    """
    loop = _default
    if loop is None:
        return -1
    loop.run_once(max_wait)
    return 0


def event_add_handle(fd: int, events: int, cb: HandleCallback) -> int:
    """Mirrors virEventAddHandle; -1 when no loop is registered."""
    impl = _impl
    return -1 if impl is None else impl.add_handle(fd, events, cb)


def event_update_handle(watch: int, events: int) -> None:
    """Mirrors virEventUpdateHandle."""
    if _impl is not None:
        _impl.update_handle(watch, events)


def event_remove_handle(watch: int) -> int:
    """Mirrors virEventRemoveHandle."""
    return -1 if _impl is None else _impl.remove_handle(watch)


def event_add_timeout(interval_ms: int, cb: TimeoutCallback) -> int:
    """Mirrors virEventAddTimeout; -1 when no loop is registered."""
    impl = _impl
    return -1 if impl is None else impl.add_timeout(interval_ms, cb)


def event_update_timeout(timer: int, interval_ms: int) -> None:
    """Mirrors virEventUpdateTimeout."""
    if _impl is not None:
        _impl.update_timeout(timer, interval_ms)


def event_remove_timeout(timer: int) -> int:
    """Mirrors virEventRemoveTimeout."""
    return -1 if _impl is None else _impl.remove_timeout(timer)


class EventLoopThread:
    """Run the default loop in a background daemon thread (as virsh and libvirtd do).

    Use as a context manager or with start()/stop().  One runner serves the
    whole process: nested or repeated starts share it; it stops when the last
    user stops.
    """

    _lock = threading.Lock()
    _users = 0
    _thread: threading.Thread | None = None
    _stop = threading.Event()

    def __enter__(self) -> EventLoopThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        event_register_default_impl()
        cls = type(self)
        with cls._lock:
            cls._users += 1
            if cls._thread is None or not cls._thread.is_alive():
                cls._stop = threading.Event()
                cls._thread = threading.Thread(
                    target=_run_until, args=(cls._stop,), name="minivirt-event-loop", daemon=True
                )
                cls._thread.start()

    def stop(self) -> None:
        cls = type(self)
        with cls._lock:
            cls._users = max(0, cls._users - 1)
            if cls._users or cls._thread is None:
                return
            thread, cls._thread = cls._thread, None
            cls._stop.set()
        if _default is not None:
            _default.wake()
        thread.join(timeout=5)


def _run_until(stop: threading.Event) -> None:
    while not stop.is_set():
        event_run_default_impl(max_wait=1.0)
