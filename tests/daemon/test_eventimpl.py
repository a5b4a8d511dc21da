"""LoopEventImpl: libvirt's event hooks on the daemon's asyncio loop."""

from __future__ import annotations

import asyncio
import os
import threading

from minivirt.daemon.eventimpl import LoopEventImpl
from minivirt.events import EVENT_HANDLE_READABLE


def _run(loop, seconds=0.05):
    loop.run_until_complete(asyncio.sleep(seconds))


def test_a_timer_armed_from_another_thread_fires_on_the_loop_thread():
    loop = asyncio.new_event_loop()
    try:
        impl = LoopEventImpl(loop, threading.get_ident())
        fired = []

        def cb(timer):
            fired.append((timer, threading.get_ident()))
            impl.update_timeout(timer, -1)  # as EventState's flush does

        timer = impl.add_timeout(-1, cb)
        _run(loop)
        assert fired == []  # disabled timers never fire
        worker = threading.Thread(target=impl.update_timeout, args=(timer, 0))
        worker.start()
        worker.join()
        assert fired == []  # never inside the caller's thread
        _run(loop)
        assert fired == [(timer, threading.get_ident())]
        assert impl.remove_timeout(timer) == 0 and impl.remove_timeout(timer) == -1
    finally:
        loop.close()


def test_a_zero_timer_fires_every_iteration_until_updated_and_removed():
    loop = asyncio.new_event_loop()
    try:
        impl = LoopEventImpl(loop, threading.get_ident())
        count = []
        timer = impl.add_timeout(0, count.append)
        _run(loop, 0.02)
        assert len(count) > 1
        impl.remove_timeout(timer)
        seen = len(count)
        _run(loop, 0.02)
        assert len(count) == seen
        periodic = []
        impl.add_timeout(10, periodic.append)
        _run(loop, 0.1)
        assert 2 <= len(periodic) <= 11
    finally:
        loop.close()


def test_a_readable_handle_calls_back_until_removed():
    loop = asyncio.new_event_loop()
    r, w = os.pipe()
    try:
        impl = LoopEventImpl(loop, threading.get_ident())
        got = []

        def cb(watch, fd, events):
            got.append((fd, events))
            os.read(fd, 100)

        watch = impl.add_handle(r, EVENT_HANDLE_READABLE, cb)
        os.write(w, b"x")
        _run(loop)
        assert got == [(r, EVENT_HANDLE_READABLE)]
        assert impl.remove_handle(watch) == 0 and impl.remove_handle(watch) == -1
        os.write(w, b"y")
        _run(loop)
        assert len(got) == 1
    finally:
        loop.close()
        os.close(r)
        os.close(w)
