"""Random bytes and random frames from raw sockets never take minivirtd down.

A well-behaved client stays connected alongside and is answered after every
hostile example.  ``make fuzz`` runs the same test long
(``MINIVIRT_FUZZ_EXAMPLES``, default 40 here).
"""

from __future__ import annotations

import os
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minivirt.wiring  # noqa: F401
from minivirt import core
from tests.daemon.daemon_process import DaemonProcess


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory):
    d = DaemonProcess(tmp_path_factory.mktemp("fuzz"))
    d.bystander = core.open(d.url())  # a well-behaved client alongside the fuzz
    yield d
    d.bystander.close()
    d.stop()


def _send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass  # the daemon may drop us first


frames = st.builds(
    lambda prog, proc, mtype, serial, status, body: (
        struct.pack(">IIIiIII", 28 + len(body), prog, 1, proc, mtype, serial, status) + body
    ),
    st.sampled_from([0x20008086, 0x20008086, 0x6B656570, 0x1234]),
    st.sampled_from([1, 2, 3, 23, 167, 168, 238, 240, 241, 9999, -1]),
    st.integers(0, 3),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2),
    st.binary(max_size=64),
)


@settings(
    max_examples=int(os.environ.get("MINIVIRT_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(st.one_of(st.binary(min_size=1, max_size=200), st.lists(frames, min_size=1, max_size=4)))
def test_the_daemon_survives(shared_daemon, data):
    payload = data if isinstance(data, bytes) else b"".join(data)
    _send(shared_daemon.port, payload)
    assert shared_daemon.proc.poll() is None
    assert shared_daemon.bystander.lookup_by_name("test").get_state()[0] == 1


def test_still_serving_after_the_fuzz(shared_daemon):
    conn = core.open(shared_daemon.url())
    assert conn.lookup_by_name("test").get_block_job_info("vda") is None
    conn.close()
    shared_daemon.log.flush()
    assert "Traceback" not in shared_daemon.log_path.read_text()
