"""minivirsh end to end on real QEMU: ``blockpull --wait --verbose`` and ``event --loop``.

A 64 MiB qcow2 base full of data and a qcow2 overlay are made with qemu-img;
the domain is defined from YAML under ``qemu:///embed?root=<tmp>``, started,
pulled and destroyed through the shell.  Every QEMU is killed at teardown,
even when a test fails (the domains are destroyed, then ``qemu_root`` kills
whatever is left).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading

import pytest

from minivirt import core
from minivirt.public import VirError
from minivirt.shell.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRESS = re.compile(r"(\rBlock Pull: \[ {0,2}\d{1,3} %\])*\rBlock Pull: \[100 %\]")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), out, err)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def guest(qemu_uri, images, tmp_path, event_loop):
    """(uri, yaml path, chain): a defined domain 'guest' on a 64 MiB chain; destroyed at teardown."""
    chain = images.chain(64)
    definition = tmp_path / "guest.yaml"
    definition.write_text(
        f"name: guest\nmemory: 64\ndisks:\n  - {{target: vda, source: '{chain.top}', format: qcow2}}\n"
    )
    yield qemu_uri, str(definition), chain
    conn = core.open(qemu_uri)  # a failure here is the project's, and fails the test
    try:
        for dom in conn.list_all_domains(1):
            with contextlib.suppress(VirError):  # it may have stopped meanwhile
                dom.destroy()
    finally:
        conn.close()


def test_blockpull_wait_verbose(guest, images):
    uri, definition, chain = guest
    assert run("-c", uri, "define", definition) == (
        0,
        f"Domain 'guest' defined from {definition}\n\n",
        "",
    )
    assert run("-c", uri, "start", "guest") == (0, "Domain 'guest' started\n\n", "")
    rc, out, err = run("-c", uri, "domblklist", "guest")
    assert (rc, out.split("\n")[2]) == (0, f" vda      {chain.top}")
    assert run("-c", uri, "blockjob", "guest", "vda") == (0, "No current block job for vda\n", "")

    rc, out, err = run("-c", uri, "blockpull", "guest", "vda", "--wait", "--verbose")
    assert (rc, out) == (0, "\nPull complete\n")
    assert PROGRESS.fullmatch(err), repr(err)

    assert run("-c", uri, "blockjob", "guest", "vda", "--raw") == (0, "\n", "")
    assert run("-c", uri, "destroy", "guest") == (0, "Domain 'guest' destroyed\n\n", "")
    assert images.backing_file(chain.top) is None
    assert run("-c", uri, "domstate", "guest") == (0, "shut off\n\n", "")


def test_blockpull_in_a_real_process(guest, images):
    import subprocess

    uri, definition, chain = guest
    line = f"define {definition}; start guest; blockpull guest vda --wait --verbose; destroy guest"
    p = subprocess.run(
        [sys.executable, "-m", "minivirt.shell", "-c", uri, line],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert (
        p.stdout
        == (
            f"Domain 'guest' defined from {definition}\n\n"
            "Domain 'guest' started\n\n"
            "\nPull complete\n"
            "Domain 'guest' destroyed\n\n"
        ).encode()
    )
    assert PROGRESS.fullmatch(p.stderr.decode())
    assert images.backing_file(chain.top) is None


def test_event_loop_sees_the_pull(guest, monkeypatch):
    uri, definition, chain = guest
    assert run("-c", uri, "define", definition)[0] == 0
    assert run("-c", uri, "start", "guest")[0] == 0

    original = core.Connection.domain_event_register_any
    registered = threading.Semaphore(0)

    def counting(self, *args, **kwargs):
        cid = original(self, *args, **kwargs)
        registered.release()
        return cid

    monkeypatch.setattr(core.Connection, "domain_event_register_any", counting)
    result: list[tuple[int, str, str]] = []
    listener = threading.Thread(
        target=lambda: result.append(run("-c", uri, "event", "--all", "--loop", "--timeout", "10"))
    )
    listener.start()
    try:
        for _ in range(27):  # one registration per event id
            assert registered.acquire(timeout=30)
        monkeypatch.setattr(core.Connection, "domain_event_register_any", original)
        assert run("-c", uri, "blockpull", "guest", "vda", "--wait") == (0, "\nPull complete\n", "")
        assert run("-c", uri, "destroy", "guest")[0] == 0
    finally:
        listener.join(timeout=60)
    rc, out, err = result[0]
    assert (rc, err) == (0, "")
    lines = out.split("\n")
    assert f"event 'block-job' for domain 'guest': Block Pull for {chain.top} completed" in lines
    assert "event 'block-job-2' for domain 'guest': Block Pull for vda completed" in lines
    assert "event 'lifecycle' for domain 'guest': Stopped Destroyed" in lines
    assert lines[-4:-1] == ["event loop timed out", f"events received: {len(lines) - 4}", ""]
