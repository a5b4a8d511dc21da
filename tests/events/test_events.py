"""The default event loop and the per-driver event queue."""

from __future__ import annotations

import os
import threading
import time

import pytest

from minivirt import events
from minivirt.events import loop as loop_mod
from minivirt.public import (
    BlockJobEvent,
    DomainRef,
    ErrorDomain,
    ErrorNumber,
    LifecycleEvent,
    VirError,
)

A = DomainRef("a", "00000000-0000-0000-0000-00000000000a", 1)
B = DomainRef("b", "00000000-0000-0000-0000-00000000000b", 2)


@pytest.fixture(autouse=True)
def default_loop() -> None:
    assert events.event_register_default_impl() == 0


def run_until(pred, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        events.event_run_default_impl(max_wait=0.05)


def test_timeout_fires_only_when_armed() -> None:
    fired: list[int] = []
    timer = events.event_add_timeout(-1, fired.append)
    events.event_run_default_impl(max_wait=0.01)
    assert fired == []
    events.event_update_timeout(timer, 0)
    run_until(lambda: fired)
    assert fired[0] == timer
    events.event_update_timeout(timer, -1)
    n = len(fired)
    events.event_run_default_impl(max_wait=0.01)
    assert len(fired) == n
    assert events.event_remove_timeout(timer) == 0
    assert events.event_remove_timeout(timer) == -1


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def test_periodic_timeout(monkeypatch) -> None:
    # The loop's clock is the test's: firings are checked against the interval, not waited for.
    clock = FakeClock()
    monkeypatch.setattr(loop_mod, "time", clock)
    fired: list[int] = []
    timer = events.event_add_timeout(10, fired.append)
    try:
        # (clock step in ms, firings expected after it): due 10 ms after the timer was added,
        # then 10 ms after each firing; never early, and a late loop fires once, not in bursts
        steps = [(0, 0), (9.5, 0), (1, 1), (0, 1), (9, 1), (2, 2), (30, 3), (0, 3), (9, 3)]
        for step, count in steps:
            clock.now += step / 1000
            events.event_run_default_impl(max_wait=0)
            assert (clock.now, len(fired)) == (clock.now, count)
        assert set(fired) == {timer}
    finally:
        events.event_remove_timeout(timer)


def test_handle_reports_readable() -> None:
    r, w = os.pipe()
    seen: list[tuple[int, int, int]] = []
    watch = events.event_add_handle(r, events.EVENT_HANDLE_READABLE, lambda *a: seen.append(a))
    try:
        os.write(w, b"x")
        run_until(lambda: seen)
        assert seen[0] == (watch, r, events.EVENT_HANDLE_READABLE)
    finally:
        events.event_remove_handle(watch)
        os.close(r)
        os.close(w)


def test_callback_exception_does_not_break_the_loop() -> None:
    fired: list[int] = []

    def bad(timer: int) -> None:
        raise RuntimeError("boom")

    t1 = events.event_add_timeout(0, bad)
    t2 = events.event_add_timeout(0, fired.append)
    try:
        run_until(lambda: fired)
    finally:
        events.event_remove_timeout(t1)
        events.event_remove_timeout(t2)


def test_callbacks_run_only_in_the_loop() -> None:
    state = events.EventState()
    got: list[tuple[str, object]] = []
    state.register(None, 8, lambda ev: got.append((threading.current_thread().name, ev)))
    ev = BlockJobEvent(A, "/img/a.qcow2", 1, 0)
    state.queue(ev)
    assert got == []  # nothing runs inside queue()
    run_until(lambda: got)
    assert got == [(threading.current_thread().name, ev)]
    state.close()


def test_filters_by_event_id_and_domain() -> None:
    state = events.EventState()
    only_a: list[object] = []
    every: list[object] = []
    block2: list[object] = []
    state.register(A, 8, only_a.append)
    state.register(None, 8, every.append)
    state.register(None, 16, block2.append)
    evs = [
        BlockJobEvent(A, "/a", 1, 0),
        BlockJobEvent(B, "/b", 1, 2),
        BlockJobEvent(A, "vda", 1, 0, id=16),
        LifecycleEvent(A, 2, 0),
    ]
    for ev in evs:
        state.queue(ev)
    run_until(lambda: len(every) == 2 and block2)
    assert only_a == [evs[0]]
    assert every == evs[:2]
    assert block2 == [evs[2]]
    state.close()


def test_order_is_kept_across_threads() -> None:
    state = events.EventState()
    got: list[int] = []
    state.register(None, 8, lambda ev: got.append(ev.status))

    def producer(base: int) -> None:
        for i in range(50):
            state.queue(BlockJobEvent(A, "/a", 1, base + i))

    threads = [threading.Thread(target=producer, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run_until(lambda: len(got) == 200)
    for k in range(4):
        mine = [s for s in got if k * 1000 <= s < (k + 1) * 1000]
        assert mine == sorted(mine) and len(mine) == 50
    state.close()


def test_deregister_and_unknown_id() -> None:
    state = events.EventState()
    got: list[object] = []
    cid = state.register(None, 8, got.append)
    assert state.count(8) == 1
    state.deregister(cid)
    state.queue(BlockJobEvent(A, "/a", 1, 0))
    events.event_run_default_impl(max_wait=0.01)
    assert got == []
    with pytest.raises(VirError) as info:
        state.deregister(cid)
    assert (info.value.code, info.value.message) == (
        ErrorNumber.INVALID_ARG,
        f"invalid argument: could not find event callback {cid} for deletion",
    )


def test_duplicate_registration_refused() -> None:
    state = events.EventState()
    cb = print
    state.register(None, 8, cb)
    with pytest.raises(VirError) as info:
        state.register(None, 8, cb)
    assert info.value.message == "invalid argument: event callback already tracked"
    state.close()


def test_no_event_loop_means_no_registration(monkeypatch) -> None:
    monkeypatch.setattr(loop_mod, "_impl", None)
    state = events.EventState()
    with pytest.raises(VirError) as info:
        state.register(None, 8, print)
    err = info.value
    assert (err.code, err.domain, err.message) == (
        ErrorNumber.INTERNAL_ERROR,
        ErrorDomain.NONE,
        "internal error: could not initialize domain event timer",
    )


def test_callback_that_deregisters_another() -> None:
    state = events.EventState()
    got: list[str] = []
    ids: dict[str, int] = {}

    def first(ev: object) -> None:
        got.append("first")
        state.deregister(ids["second"])

    ids["first"] = state.register(None, 8, first)
    ids["second"] = state.register(None, 8, lambda ev: got.append("second"))
    state.queue(BlockJobEvent(A, "/a", 1, 0))
    run_until(lambda: got)
    events.event_run_default_impl(max_wait=0.01)
    assert got == ["first"]
    state.close()


def test_event_loop_thread_delivers() -> None:
    state = events.EventState()
    done = threading.Event()
    with events.EventLoopThread():
        state.register(None, 8, lambda ev: done.set())
        state.queue(BlockJobEvent(A, "/a", 1, 0))
        assert done.wait(5)
    state.close()


def _one_readable_iteration(interval_ms: int, on_readable=None) -> tuple[int, list[int]]:
    """A timer with ``interval_ms`` and a pipe made readable; one iteration runs.

    ``on_readable(timer)`` runs in the handle's callback.  Returns the timer and
    its firings."""
    r, w = os.pipe()
    fired: list[int] = []
    timer = events.event_add_timeout(interval_ms, fired.append)

    def readable(watch: int, fd: int, revents: int) -> None:
        os.read(fd, 1)
        if on_readable is not None:
            on_readable(timer)

    watch = events.event_add_handle(r, events.EVENT_HANDLE_READABLE, readable)
    try:
        os.write(w, b"x")
        events.event_run_default_impl(max_wait=5)
        return timer, fired
    finally:
        events.event_remove_handle(watch)
        events.event_remove_timeout(timer)
        os.close(r)
        os.close(w)


def test_a_timer_a_handle_arms_fires_in_the_same_iteration() -> None:
    # A remote event read from a socket is queued on a zero timer: it must not wait a turn.
    timer, fired = _one_readable_iteration(-1, lambda t: events.event_update_timeout(t, 0))
    assert fired == [timer]


def test_a_steady_zero_timer_fires_once_per_iteration() -> None:
    timer, fired = _one_readable_iteration(0)
    assert fired == [timer]


def _wake_pending() -> bool:
    default = loop_mod._default
    assert default is not None
    try:
        data = os.read(default._wake_r, 4096)
    except BlockingIOError:
        return False
    return bool(data)


def test_only_changes_from_other_threads_wake_the_loop() -> None:
    events.event_run_default_impl(max_wait=0)  # drain what earlier tests left
    timer = events.event_add_timeout(-1, lambda t: None)
    assert _wake_pending()  # from this thread, while no iteration runs: the pipe is written
    changed: list[bool] = []

    def from_the_loop(t: int) -> None:
        events.event_update_timeout(timer, -1)
        changed.append(_wake_pending())

    own = events.event_add_timeout(0, from_the_loop)
    try:
        run_until(lambda: changed)
        assert changed[0] is False  # a callback's change needs no wake-up of its own loop
    finally:
        events.event_remove_timeout(own)
        events.event_remove_timeout(timer)
