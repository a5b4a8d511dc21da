"""Fixtures: a real minivirtd subprocess on a free loopback port, killed in teardown."""

from __future__ import annotations

import pytest

from tests.daemon.daemon_process import DaemonProcess


@pytest.fixture
def daemon(tmp_path):
    d = DaemonProcess(tmp_path)
    yield d
    d.stop()


@pytest.fixture
def event_loop_thread():
    from minivirt.events import EventLoopThread

    with EventLoopThread() as loop:
        yield loop


@pytest.fixture(autouse=True)
def no_leaked_test_connection():
    """Every in-process test:///default connection a test opens is closed by its end."""
    yield
    from minivirt import testdrv

    assert testdrv.shared_hypervisor() is None, "a test left a test:///default connection open"
