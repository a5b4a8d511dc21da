"""start_eager: a call's coroutine stepped at once, finished in a Task only when it waits."""

from __future__ import annotations

import asyncio

import pytest

from minivirt.daemon.eager import start_eager


def _collect(loop, coro):
    got = []
    start_eager(loop, coro, got.append)
    return got


def test_a_coroutine_that_does_not_wait_finishes_without_a_task():
    loop = asyncio.new_event_loop()
    try:

        async def at_once():
            return 42

        got = _collect(loop, at_once())
        assert len(got) == 1 and got[0]() == 42  # done before the loop ever ran
        assert not asyncio.all_tasks(loop)
    finally:
        loop.close()


def test_an_exception_before_the_first_wait_reaches_done():
    loop = asyncio.new_event_loop()
    try:

        async def fails():
            raise ValueError("bad disk")

        got = _collect(loop, fails())
        with pytest.raises(ValueError, match="bad disk"):
            got[0]()
    finally:
        loop.close()


def test_a_coroutine_that_waits_goes_on_in_a_task():
    loop = asyncio.new_event_loop()
    try:
        fut = loop.create_future()
        steps = []

        async def waits():
            steps.append("before")
            value = await fut
            steps.append("after")
            return value + 1

        got = _collect(loop, waits())
        assert steps == ["before"] and not got
        loop.call_soon(fut.set_result, 1)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert steps == ["before", "after"] and got[0]() == 2
    finally:
        loop.close()


def test_cancelling_the_task_reaches_the_coroutine():
    loop = asyncio.new_event_loop()
    try:
        seen = []

        async def waits():
            try:
                await loop.create_future()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        got = _collect(loop, waits())
        (task,) = asyncio.all_tasks(loop)
        task.cancel()
        loop.run_until_complete(asyncio.sleep(0.01))
        assert seen == ["cancelled"]
        with pytest.raises(asyncio.CancelledError):
            got[0]()
    finally:
        loop.close()
