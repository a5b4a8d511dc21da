"""``event`` golden tests on test:///default: lifecycle and block job lines, loop, timeout."""

from __future__ import annotations

import re
import threading

import pytest

from minivirt import core, testdrv
from minivirt.shell.cmd_event import EVENT_NAMES


@pytest.fixture
def registered(monkeypatch):
    """Counts the callbacks the shell registers; ``registered.wait(n)`` blocks until n are."""
    original = core.Connection.domain_event_register_any
    cond = threading.Condition()
    count = [0]

    def wrapper(self, *args, **kwargs):
        cid = original(self, *args, **kwargs)
        with cond:
            count[0] += 1
            cond.notify_all()
        return cid

    monkeypatch.setattr(core.Connection, "domain_event_register_any", wrapper)

    class Waiter:
        def wait(self, n: int) -> None:
            with cond:
                assert cond.wait_for(lambda: count[0] >= n, timeout=30)

    return Waiter()


def in_background(fn):
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def finish_pull(conn, clock):
    """Start a pull on test/vda through ``conn`` and let the frozen clock run past its end."""
    conn.lookup_by_name("test").block_pull("vda")
    clock.now += 10
    testdrv.shared_hypervisor().kick()


def test_list(sh):
    r = sh("event", "--list")
    assert (r.rc, r.out, r.err) == (0, "".join(f"{n}\n" for n in EVENT_NAMES) + "\n", "")
    assert EVENT_NAMES[8] == "block-job" and EVENT_NAMES[16] == "block-job-2"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "one of --list, --all, or --event <type> is required"),
        (["--event", "nosuch"], "unknown event type nosuch"),
        (["--all", "--event", "lifecycle"], "Options --all and --event are mutually exclusive"),
        (["--list", "--all"], "Options --list and --all are mutually exclusive"),
        (
            ["--all", "--timeout", "0"],
            "Numeric value '0' for <timeout> option is malformed or out of range",
        ),
        (["--all", "--domain", "nosuch"], "failed to get domain 'nosuch'"),
    ],
)
def test_errors(sh, argv, message):
    r = sh("event", *argv)
    assert (r.rc, r.out, r.err) == (1, "\n", f"error: {message}\n")


def test_lifecycle(sh, host, domain_file, registered):
    assert sh("define", domain_file("ev")).rc == 0

    def trigger():
        registered.wait(1)
        host.lookup_by_name("ev").create()

    thread = in_background(trigger)
    r = sh("event", "--event", "lifecycle", "--timeout", "30")
    thread.join()
    assert (r.rc, r.out, r.err) == (
        0,
        "event 'lifecycle' for domain 'ev': Started Booted\nevents received: 1\n\n",
        "",
    )


def test_block_job_2(sh, frozen, registered):
    conn, clock = frozen
    thread = in_background(lambda: (registered.wait(1), finish_pull(conn, clock)))
    r = sh("event", "test", "block-job-2", "30")  # positional domain, event, timeout
    thread.join()
    assert (r.rc, r.out, r.err) == (
        0,
        "event 'block-job-2' for domain 'test': Block Pull for vda completed\n"
        "events received: 1\n\n",
        "",
    )


def test_loop_all_until_timeout(sh, frozen, registered):
    conn, clock = frozen
    thread = in_background(lambda: (registered.wait(len(EVENT_NAMES)), finish_pull(conn, clock)))
    r = sh("event", "--all", "--loop", "--timeout", "2", "--domain", "test")
    thread.join()
    assert r.rc == 0 and r.err == ""
    lines = r.out.split("\n")
    assert sorted(lines[:2]) == [
        "event 'block-job' for domain 'test': Block Pull for /guest/diskimage1 completed",
        "event 'block-job-2' for domain 'test': Block Pull for vda completed",
    ]
    assert lines[2:] == ["event loop timed out", "events received: 2", "", ""]


def test_timestamp(sh, frozen, registered):
    conn, clock = frozen
    thread = in_background(lambda: (registered.wait(1), finish_pull(conn, clock)))
    r = sh("event", "--event", "block-job", "--timestamp", "--timeout", "30")
    thread.join()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: event 'block-job' for domain 'test': "
        r"Block Pull for /guest/diskimage1 completed\nevents received: 1\n\n",
        r.out,
    )


def test_domain_filter(sh, host, domain_file, registered):
    assert sh("define", domain_file("other")).rc == 0

    def trigger():
        registered.wait(1)
        host.lookup_by_name("other").create()
        host.lookup_by_name("test").destroy()

    thread = in_background(trigger)
    r = sh("event", "--domain", "test", "--event", "lifecycle", "--timeout", "30")
    thread.join()
    assert r.out == "event 'lifecycle' for domain 'test': Stopped Destroyed\nevents received: 1\n\n"


def test_timeout_without_events(sh):
    r = sh("event", "--event", "block-job", "--timeout", "1")
    assert (r.rc, r.out, r.err) == (1, "event loop timed out\nevents received: 0\n\n", "")


def test_ctrl_c_ends_the_loop(sh, registered):
    import os
    import signal

    def interrupt():
        registered.wait(len(EVENT_NAMES))
        os.kill(os.getpid(), signal.SIGINT)

    thread = in_background(interrupt)
    r = sh("event", "--all", "--loop")
    thread.join()
    assert (r.rc, r.out, r.err) == (1, "event loop interrupted\nevents received: 0\n\n", "")
