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


class _Resumed(Coroutine[Any, Any, Any]):
    """The rest of a coroutine that already yielded ``first``, as a coroutine for a Task.

    Its first step hands the Task ``first`` (what the coroutine waits on);
    every later step, and any exception the Task throws (cancellation
    included, even before that first step), goes to the coroutine itself.
    """

    __slots__ = ("_coro", "_first", "_started")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro, self._first, self._started = coro, first, False

    def send(self, value: Any) -> Any:
        if not self._started:
            self._started = True
            first, self._first = self._first, None
            return first
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._started, self._first = True, None
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, Any, Any]:
        raise TypeError("only a Task runs this")


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
    task = loop.create_task(_Resumed(coro, first))
    task.add_done_callback(lambda t: done(t.result))
