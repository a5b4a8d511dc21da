"""Nothing blocks the loop: a flooding client never stalls another; minivirsh and keepalive.

The flood pipelines the slowest read-only calls a client may send (XML,
listing, block-job info) on one socket; a second client keeps being
answered.  Latency figures are for benchmarks; here a call must simply come
back within a generous liveness bound.
"""

from __future__ import annotations

import io
import signal
import threading

import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.shell.main import main as minivirsh
from tests.daemon.daemon_process import DaemonProcess
from tools.bench_flood import flood, frame

LIVENESS_S = 20.0  # a call must come back within this, whatever the flood


@pytest.fixture
def daemon(tmp_path):
    d = DaemonProcess(tmp_path)
    yield d
    d.stop()


def test_a_flooding_client_does_not_stall_another(daemon):
    uuid = bytes(16)
    dom = ["test", uuid, 1]
    calls = [
        frame(14, [dom, 0]),  # DOMAIN_GET_XML_DESC
        frame(273, [1, 0]),  # CONNECT_LIST_ALL_DOMAINS
        frame(238, [dom, "vda", 0]),  # DOMAIN_GET_BLOCK_JOB_INFO
    ]
    stop = threading.Event()
    replies = [0]

    burst = b"".join(calls) * 1000
    flooder = threading.Thread(target=flood, args=(daemon.port, burst, stop, replies), daemon=True)
    flooder.start()
    conn = core.open(daemon.url())
    try:
        answered = 0
        while replies[0] < 3000 or answered < 200:
            done = threading.Event()
            result = []

            def one(result=result, done=done):
                result.append(conn.lookup_by_name("test").get_state())
                done.set()

            threading.Thread(target=one, daemon=True).start()
            assert done.wait(LIVENESS_S), "the other client was not answered"
            answered += 1
    finally:
        stop.set()
        flooder.join(timeout=30)
        conn.close()
    assert replies[0] >= 3000  # the flood was served too


def _sh(*argv):
    out, err = io.StringIO(), io.StringIO()
    rc = minivirsh(list(argv), out, err, io.StringIO())
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "err"),
    [
        (["-k", "abc", "list"], "error: Invalid value for option -k\n"),
        (["-k", "-1", "list"], "error: option -k requires a positive integer argument\n"),
        (["--keepalive-count=x", "list"], "error: Invalid value for option --keepalive-count\n"),
    ],
)
def test_keepalive_options_are_checked_as_virsh(argv, err):
    assert _sh(*argv) == (1, "", err)


def test_keepalive_options_on_a_remote_and_a_local_connection(daemon):
    rc, out, _ = _sh("-k", "1", "-K", "2", "-c", daemon.url(), "domstate", "test")
    assert (rc, out) == (0, "running\n\n")
    rc, _, err = _sh("-k", "1", "-c", "test:///default", "domstate", "test")
    assert rc == 1  # asked for explicitly, and a local driver has no keepalive
    assert "Cannot setup keepalive on connection as requested, disconnecting" in err
    assert _sh("-c", "test:///default", "domstate", "test")[0] == 0  # default: not required


def test_event_loop_exits_when_its_daemon_goes(tmp_path):
    import time

    d = DaemonProcess(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    argv = ["-c", d.url(), "event", "--all", "--loop", "--timeout", "120"]
    result = []
    runner = threading.Thread(
        target=lambda: result.append(minivirsh(argv, out, err, io.StringIO())), daemon=True
    )
    try:
        runner.start()
        conn = core.open(d.url())
        dom = conn.lookup_by_name("test")
        while "event 'block-job'" not in out.getvalue():  # registered: events flow
            dom.block_pull("vda", 1)
            dom.block_job_abort("vda")
            time.sleep(0.2)
        conn.close()
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        runner.join(timeout=60)
        assert not runner.is_alive(), "event --loop kept waiting for a dead daemon"
    finally:
        d.stop()
    assert result == [1]
    assert f"error: Disconnected from {d.url()} due to " in err.getvalue()
    assert "events received: " in out.getvalue()
