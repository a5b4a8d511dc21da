"""Fixtures for the test driver: a fake clock, a fresh shared host, an event collector."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from minivirt.events import EventLoopThread
from minivirt.public import DomainEvent
from minivirt.testdrv import TestDriver, open_test_driver, set_clock, shared_hypervisor


@dataclasses.dataclass(frozen=True)
class URI:
    """The attributes of core.URI the driver factory reads."""

    scheme: str
    host: str = ""
    path: str = "/default"


DEFAULT = URI("test")


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    clk = FakeClock()
    set_clock(clk)
    yield clk
    set_clock(None)


@pytest.fixture
def drv(clock):
    assert shared_hypervisor() is None, "a previous test leaked a connection"
    d = open_test_driver(DEFAULT, False)
    assert isinstance(d, TestDriver)
    yield d
    d.close()
    assert shared_hypervisor() is None
    assert not [t for t in threading.enumerate() if t.name == "minivirt-testdrv-jobs"]


@pytest.fixture
def loop():
    with EventLoopThread() as thread:
        yield thread


@dataclasses.dataclass
class Collector:
    """Collects events delivered by the event loop; ``wait(n)`` blocks until n arrived."""

    events: list[DomainEvent] = dataclasses.field(default_factory=list)
    cond: threading.Condition = dataclasses.field(default_factory=threading.Condition)

    def __call__(self, event: DomainEvent) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[DomainEvent]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events)


@pytest.fixture
def collector():
    return Collector()
