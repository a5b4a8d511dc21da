"""Table-driven tests of what QEMU's block-job events and types mean, and of URI mapping.

The shared block-job rules are tested in tests/hypervisor.
"""

from __future__ import annotations

import pytest

from minivirt.public import DomainBlockJobStatus
from minivirt.qemu.paths import roots_for_uri
from minivirt.qemu.qmpreply import (
    QemuBlockJobEvent,
    QmpEvent,
    event_status,
    job_type,
    parse_block_job_event,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("stream", 1), ("mirror", 2), ("commit", 3), ("backup", 5), ("create", 0), ("", 0)],
)
def test_job_type(name, expected):
    assert job_type(name) == expected


def ev(name, **data):
    return QmpEvent(
        name,
        {
            "device": "drive-virtio-disk0",
            "type": "stream",
            "len": 10,
            "offset": 10,
            "speed": 0,
            **data,
        },
    )


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (ev("BLOCK_JOB_COMPLETED"), DomainBlockJobStatus.COMPLETED),
        (ev("BLOCK_JOB_COMPLETED", offset=0, len=0), DomainBlockJobStatus.COMPLETED),
        (ev("BLOCK_JOB_COMPLETED", offset=3), DomainBlockJobStatus.FAILED),
        (ev("BLOCK_JOB_COMPLETED", error="Input/output error"), DomainBlockJobStatus.FAILED),
        (ev("BLOCK_JOB_CANCELLED", offset=3), DomainBlockJobStatus.CANCELED),
        (ev("BLOCK_JOB_READY"), DomainBlockJobStatus.READY),
        (ev("BLOCK_JOB_ERROR", operation="write", action="stop"), None),
    ],
)
def test_event_status(event, status):
    parsed = parse_block_job_event(event)
    assert parsed is not None and event_status(parsed) == status


def test_block_job_event_parsing_is_lenient():
    assert parse_block_job_event(QmpEvent("SHUTDOWN", {})) is None
    assert parse_block_job_event(QmpEvent("BLOCK_JOB_COMPLETED", {"device": 3})) is None
    parsed = parse_block_job_event(QmpEvent("BLOCK_JOB_COMPLETED", {"device": "d", "len": "x"}))
    assert parsed == QemuBlockJobEvent("BLOCK_JOB_COMPLETED", "d", "", 0, 0, 0, None)


class U:
    def __init__(self, scheme="qemu", transport=None, host="", path="/session", query=None):
        self.scheme, self.transport, self.host, self.path = scheme, transport, host, path
        self.query = query or {}


def test_roots(monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "/c")
    monkeypatch.setenv("XDG_CACHE_HOME", "/k")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    session = roots_for_uri(U())
    assert (session.config_dir, session.run_dir, session.log_dir) == (
        "/c/minivirt/qemu",
        "/k/minivirt/qemu/run",
        "/k/minivirt/qemu/log",
    )
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/r")
    assert roots_for_uri(U()).run_dir == "/r/minivirt/qemu"
    embed = roots_for_uri(U(path="/embed", query={"root": "/tmp/x"}))
    assert (embed.config_dir, embed.run_dir, embed.uri) == (
        "/tmp/x/etc/qemu",
        "/tmp/x/run/qemu",
        "qemu:///embed?root=/tmp/x",
    )
    system = roots_for_uri(U(path="/system"))
    assert (system.config_dir, system.run_dir) == ("/var/lib/minivirt/qemu", "/run/minivirt/qemu")
    assert roots_for_uri(U(scheme="test")) is None
    assert roots_for_uri(U(transport="tcp")) is None
    assert roots_for_uri(U(host="h")) is None
