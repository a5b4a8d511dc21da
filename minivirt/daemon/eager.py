"""Eager start of a coroutine on the daemon's loop (issue #14).

Owns :func:`start_eager`: a call's coroutine is stepped at once, in the
loop callback that read the call.  One that finishes without waiting (a
block-job query answered from memory: no job on the disk) costs no Task
and no extra loop iteration; one that waits (for QEMU) goes on in a Task
from where it stopped, as Python 3.12's eager task factory does.  Must not:
block, or swallow the coroutine's exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["start_eager"]

_T = TypeVar("_T")

#: ``done(result)``: ``result()`` returns the coroutine's value or raises its exception.
Done = Callable[[Callable[[], _T]], None]


def _value(value: _T) -> Callable[[], _T]:
    return lambda: value


def _raise(exc: Exception) -> Callable[[], Any]:
    def result() -> Any:
        raise exc

    return result


class _Resumed:
    """The rest of a coroutine that already yielded ``first`` (awaitable once)."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro, self._first = coro, first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, out = self._coro, self._first
        while True:
            try:
                sent = yield out
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation included: the coroutine decides
                try:
                    out = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                out = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def _resume(coro: Coroutine[Any, Any, _T], first: Any) -> _T:
    result: _T = await _Resumed(coro, first)
    return result


def start_eager(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, _T], done: Done[_T]
) -> None:
    """Run ``coro`` now up to its first wait; ``done`` gets its result (now or later)."""
    try:
        first = coro.send(None)
    except StopIteration as stop:
        done(_value(stop.value))
        return
    except Exception as exc:
        done(_raise(exc))
        return
    task = loop.create_task(_resume(coro, first))
    task.add_done_callback(lambda t: done(t.result))
