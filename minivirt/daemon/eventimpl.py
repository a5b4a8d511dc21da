"""minivirtd's event-loop implementation: libvirt's virEvent hooks on the daemon's own loop.

libvirtd registers its main loop as the process's virEvent implementation,
so a driver's queued event is relayed to the clients by the thread that
also writes their replies.  This module does the same for minivirtd: it
owns :class:`LoopEventImpl`, the six ``virEventAdd/Update/Remove
Handle|Timeout`` hooks over an asyncio loop (uvloop's in the daemon).  Any
thread may add, update or remove; callbacks run on the loop thread only,
never inside the caller.  An event queued on the loop thread (a QMP event)
is dispatched in the loop's next iteration, from another thread (a worker)
after one ``call_soon_threadsafe``: no second thread, no poll period, no
GIL hand-over on the way to the socket.  Must not: block, or run a callback
in the thread that armed it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Final

from minivirt.events import (
    EVENT_HANDLE_READABLE,
    EVENT_HANDLE_WRITABLE,
    HandleCallback,
    TimeoutCallback,
)
from minivirt.public.logger import get_logger

__all__ = ["LoopEventImpl"]

log = get_logger(__name__)

_OFF: Final = -1


class _Timer:
    __slots__ = ("cb", "gen", "handle", "interval_ms")

    def __init__(self, interval_ms: int, cb: TimeoutCallback) -> None:
        self.interval_ms = interval_ms
        self.cb = cb
        self.gen = 0  # bumped by every update: a stale arming does nothing
        self.handle: asyncio.Handle | None = None


class LoopEventImpl:
    """virEventRegisterImpl's hooks over ``loop``, which runs in thread ``thread_ident``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread_ident: int) -> None:
        self._loop = loop
        self._ident = thread_ident
        self._lock = threading.Lock()
        self._timers: dict[int, _Timer] = {}
        self._handles: dict[int, tuple[int, int, HandleCallback]] = {}
        self._next = 1

    # -- plumbing ---------------------------------------------------------------

    def _on_loop(self, fn: object, *args: object) -> None:
        try:
            if threading.get_ident() == self._ident:
                fn(*args)  # type: ignore[operator]
            else:
                self._loop.call_soon_threadsafe(fn, *args)  # type: ignore[arg-type]
        except RuntimeError:  # the loop is closed: the daemon is stopping
            pass

    @staticmethod
    def _call(cb: object, *args: int) -> None:
        try:
            cb(*args)  # type: ignore[operator]
        except Exception:
            log.exception("event loop callback %r failed", cb)

    # -- timeouts -----------------------------------------------------------------

    def add_timeout(self, interval_ms: int, cb: TimeoutCallback) -> int:
        with self._lock:
            timer = self._next
            self._next += 1
            entry = self._timers[timer] = _Timer(interval_ms, cb)
            gen = entry.gen
        if interval_ms >= 0:
            self._on_loop(self._arm, timer, gen)
        return timer

    def update_timeout(self, timer: int, interval_ms: int) -> None:
        with self._lock:
            entry = self._timers.get(timer)
            if entry is None:
                return
            entry.interval_ms = interval_ms
            entry.gen += 1
            gen = entry.gen
        self._on_loop(self._arm, timer, gen)

    def remove_timeout(self, timer: int) -> int:
        with self._lock:
            entry = self._timers.pop(timer, None)
            if entry is None:
                return -1
            entry.gen += 1
        self._on_loop(self._cancel, entry)
        return 0

    @staticmethod
    def _cancel(entry: _Timer) -> None:
        if entry.handle is not None:
            entry.handle.cancel()
            entry.handle = None

    def _arm(self, timer: int, gen: int) -> None:
        """Loop thread: (re)schedule ``timer`` as its latest interval says."""
        with self._lock:
            entry = self._timers.get(timer)
            if entry is None or entry.gen != gen:
                return  # removed, or a later update arms it
            interval = entry.interval_ms
        self._cancel(entry)
        if interval == _OFF or interval < 0:
            return
        if interval == 0:
            entry.handle = self._loop.call_soon(self._fire, timer, gen)
        else:
            entry.handle = self._loop.call_later(interval / 1000.0, self._fire, timer, gen)

    def _fire(self, timer: int, gen: int) -> None:
        with self._lock:
            entry = self._timers.get(timer)
            if entry is None or entry.gen != gen:
                return
            entry.handle = None
            cb = entry.cb
        self._call(cb, timer)
        self._arm(timer, gen)  # periodic, or every iteration for 0, until updated

    # -- handles ----------------------------------------------------------------------

    def add_handle(self, fd: int, events: int, cb: HandleCallback) -> int:
        with self._lock:
            watch = self._next
            self._next += 1
            self._handles[watch] = (fd, events, cb)
        self._on_loop(self._watch, watch)
        return watch

    def update_handle(self, watch: int, events: int) -> None:
        with self._lock:
            entry = self._handles.get(watch)
            if entry is None:
                return
            self._handles[watch] = (entry[0], events, entry[2])
        self._on_loop(self._watch, watch)

    def remove_handle(self, watch: int) -> int:
        with self._lock:
            entry = self._handles.pop(watch, None)
        if entry is None:
            return -1
        self._on_loop(self._unwatch, entry[0])
        return 0

    def _unwatch(self, fd: int) -> None:
        self._loop.remove_reader(fd)
        self._loop.remove_writer(fd)

    def _watch(self, watch: int) -> None:
        """Loop thread: make the loop's readers/writers for ``watch`` match its events."""
        with self._lock:
            entry = self._handles.get(watch)
        if entry is None:
            return
        fd, events, cb = entry
        self._unwatch(fd)
        if events & EVENT_HANDLE_READABLE:
            self._loop.add_reader(fd, self._call, cb, watch, fd, EVENT_HANDLE_READABLE)
        if events & EVENT_HANDLE_WRITABLE:
            self._loop.add_writer(fd, self._call, cb, watch, fd, EVENT_HANDLE_WRITABLE)
