"""The loop every QMP client of a qemu driver state runs on (issue #14).

Owns :class:`MonitorLoop`: an asyncio loop in a thread of its own (the
embedded uses, with their blocking API), or a server's I/O loop once the
server called :func:`share_loop` (minivirtd: an awaited QMP call then needs
no thread hand-off).  Running a coroutine there from another thread with a
timeout, and the timeout's error, are here too.  Must not: import qemu.qmp
(that is :mod:`minivirt.qemu.monitor`'s alone) or know QMP commands.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import TypeVar

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.qemu.qmpreply import internal_error

__all__ = ["MonitorLoop", "share_loop", "timeout_error"]

_T = TypeVar("_T")


def timeout_error(what: str, timeout: float) -> VirError:
    """OPERATION_TIMEOUT (QEMU): the monitor did not answer ``what`` within ``timeout`` s."""
    return VirError.report(
        ErrorNumber.OPERATION_TIMEOUT,
        ErrorDomain.QEMU,
        f"QEMU monitor did not answer '{what}' within {timeout:g} s",
    )


#: A server's loop (and the thread running it) that MonitorLoops share, once set.
_shared: tuple[asyncio.AbstractEventLoop, int] | None = None


def share_loop(loop: asyncio.AbstractEventLoop | None, thread_ident: int = 0) -> None:
    """Make the MonitorLoops created from now on run on ``loop`` (issue #14).

    A server whose own I/O loop runs in thread ``thread_ident`` (minivirtd)
    calls this before any driver state exists: QMP replies and events are
    then handled on that loop, and an awaited QMP call needs no thread
    hand-off.  ``None`` goes back to one thread per driver state (the
    embedded uses keep that, and their blocking API).
    """
    global _shared
    _shared = None if loop is None else (loop, thread_ident)


class MonitorLoop:
    """The asyncio loop hosting every QMP client of a driver: its own thread, or a server's."""

    def __init__(self, name: str = "minivirt-qmp") -> None:
        self._closed = False
        self._thread: threading.Thread | None = None
        if _shared is not None:
            self._loop, self._ident = _shared
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ident = self._thread.ident or 0

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio loop (for code running on the loop thread)."""
        return self._loop

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._closed

    def in_loop_thread(self) -> bool:
        """True when called from the loop thread itself (where blocking calls would deadlock)."""
        return threading.get_ident() == self._ident

    def run(self, coro: Coroutine[object, object, _T], timeout: float, what: str) -> _T:
        """Run ``coro`` on the loop and wait for it, at most ``timeout`` seconds.

        Raises VirError OPERATION_TIMEOUT (QEMU) when the time runs out and
        INTERNAL_ERROR when called from the loop thread or after close().
        """
        if self._closed or self.in_loop_thread():
            coro.close()
            raise internal_error(f"cannot run '{what}' on the monitor thread now")
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout), self._loop)
        try:
            return future.result(timeout + 5.0)
        except (TimeoutError, concurrent.futures.TimeoutError) as exc:
            future.cancel()
            raise timeout_error(what, timeout) from exc

    def close(self) -> None:
        """Stop the loop and join its thread (idempotent); a shared loop is its owner's."""
        if self._closed:
            return
        self._closed = True
        if self._thread is None:
            return
        if self.in_loop_thread():
            self._loop.stop()
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10.0)
