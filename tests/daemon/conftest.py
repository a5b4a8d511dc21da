"""Fixtures of the daemon tests: those of the remote tests (daemon subprocess, event loop),
``make_daemon`` (daemons started with options, a config file, an environment; all stopped)
and :func:`serving` (the daemon answers a well-behaved client)."""

from __future__ import annotations

import pytest

import minivirt.wiring  # noqa: F401  (registers the drivers with core)
from minivirt import core
from tests.daemon.daemon_process import DaemonProcess
from tests.remote.conftest import (  # noqa: F401  (fixtures, found by name)
    daemon,
    event_loop_thread,
    no_leaked_test_connection,
)


def serving(d):
    """A well-behaved client opens, looks the test domain up and closes."""
    conn = core.open(d.url())
    assert conn.lookup_by_name("test").name == "test"
    conn.close()


@pytest.fixture
def make_daemon(tmp_path):
    started = []

    def make(*args, config=None, env=None):
        if config is not None:
            path = tmp_path / f"minivirtd{len(started)}.conf"
            path.write_text(config)
            args = (*args, "--config", str(path))
        d = DaemonProcess(tmp_path, *args, env=env)
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()
