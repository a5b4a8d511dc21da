"""Fixtures of the daemon tests: those of the remote tests (daemon subprocess, event loop)."""

from __future__ import annotations

from tests.remote.conftest import (  # noqa: F401  (fixtures, found by name)
    daemon,
    event_loop_thread,
    no_leaked_test_connection,
)
