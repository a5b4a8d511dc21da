"""Table-driven tests of the driver's pure block-job rules and URI mapping."""

from __future__ import annotations

import pytest

from minivirt.public import BlockJobInfo, DomainBlockJobStatus, ErrorDomain, ErrorNumber, VirError
from minivirt.qemu.blockjob import (
    check_flags,
    event_status,
    find_base,
    job_type,
    mib_to_bytes,
    relative_backing,
    translate_info,
)
from minivirt.qemu.paths import roots_for_uri
from minivirt.qemu.qmpreply import (
    BlockChainEntry,
    QemuBlockJob,
    QemuBlockJobEvent,
    QmpEvent,
    parse_block_job_event,
)


def err(call):
    with pytest.raises(VirError) as exc:
        call()
    return exc.value.code, exc.value.domain, exc.value.message


@pytest.mark.parametrize(
    ("flags", "allowed", "message"),
    [
        (1, 0, "unsupported flags (0x1) in function f"),
        (3, 1, "unsupported flags (0x2) in function f"),
        (-1, 0x41, "unsupported flags (0xffffffbe) in function f"),
    ],
)
def test_check_flags_rejects(flags, allowed, message):
    assert err(lambda: check_flags(flags, allowed, "f")) == (
        ErrorNumber.INVALID_ARG,
        ErrorDomain.QEMU,
        message,
    )


def test_check_flags_accepts():
    check_flags(0, 0, "f")
    check_flags(0x41, 0x41, "f")


@pytest.mark.parametrize(
    ("mib", "nbytes"), [(0, 0), (1, 1 << 20), ((1 << 43) - 1, (1 << 63) - (1 << 20))]
)
def test_mib_to_bytes(mib, nbytes):
    assert mib_to_bytes(mib) == nbytes


@pytest.mark.parametrize("mib", [1 << 43, (1 << 64) - 1, -1])
def test_mib_to_bytes_overflow(mib):
    assert err(lambda: mib_to_bytes(mib)) == (
        ErrorNumber.OVERFLOW,
        ErrorDomain.QEMU,
        "numerical overflow: bandwidth must be less than 8796093022207",
    )


def raw(offset, length, speed=0, ready=None):
    return QemuBlockJob("drive-virtio-disk0", "stream", speed, offset, length, ready)


@pytest.mark.parametrize(
    ("job", "report_bytes", "info"),
    [
        (raw(0, 0), False, BlockJobInfo(1, 0, 0, 1)),
        (raw(0, 0, ready=False), False, BlockJobInfo(1, 0, 0, 1)),
        (raw(0, 0, ready=True), False, BlockJobInfo(1, 0, 1, 1)),
        (raw(7, 7, ready=False), False, BlockJobInfo(1, 0, 6, 7)),
        (raw(7, 7, ready=None), False, BlockJobInfo(1, 0, 7, 7)),
        (raw(7, 7, ready=True), False, BlockJobInfo(1, 0, 7, 7)),
        (raw(3, 9, speed=1), False, BlockJobInfo(1, 1, 3, 9)),
        (raw(3, 9, speed=1 << 20), False, BlockJobInfo(1, 1, 3, 9)),
        (raw(3, 9, speed=(1 << 20) + 1), False, BlockJobInfo(1, 2, 3, 9)),
        (raw(3, 9, speed=(1 << 20) + 1), True, BlockJobInfo(1, (1 << 20) + 1, 3, 9)),
    ],
)
def test_translate_info(job, report_bytes, info):
    assert translate_info(job, 1, report_bytes) == info


def test_translate_info_overflow():
    assert err(lambda: translate_info(raw(0, 1, speed=1 << 64), 1, True)) == (
        ErrorNumber.OVERFLOW,
        ErrorDomain.QEMU,
        f"numerical overflow: bandwidth {1 << 64} cannot be represented in result",
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


CHAIN = (
    BlockChainEntry("/i/top.qcow2", "qcow2", "mid.qcow2"),
    BlockChainEntry("/i/mid.qcow2", "qcow2", "sub/base.qcow2"),
    BlockChainEntry("/i/sub/base.qcow2", "qcow2", None),
)


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("/i/mid.qcow2", 1),
        ("mid.qcow2", 1),
        ("/i/sub/base.qcow2", 2),
        ("sub/base.qcow2", 2),
        ("/i/sub/../sub/base.qcow2", 2),
        ("vda[2]", 1),  # libvirt's storage index: the top is vda[1]
        ("vda[3]", 2),
    ],
)
def test_find_base(name, index):
    assert find_base(CHAIN, name, "vda") == index


def test_find_base_of_a_second_disk_counts_from_its_top_index():
    assert find_base(CHAIN, "vdb[5]", "vdb", top_index=4) == 1


@pytest.mark.parametrize(
    "name", ["/i/top.qcow2", "vda[0]", "vda[1]", "vda[4]", "vdb[2]", "/x", "top"]
)
def test_find_base_not_beneath(name):
    assert err(lambda: find_base(CHAIN, name, "vda")) == (
        ErrorNumber.INVALID_ARG,
        ErrorDomain.QEMU,
        f"invalid argument: could not find image '{name}' beneath '/i/top.qcow2' "
        "in chain for 'vda'",
    )


def test_relative_backing():
    assert relative_backing(CHAIN, 1) == "mid.qcow2"
    assert relative_backing(CHAIN, 2) == "sub/base.qcow2"
    absolute = (
        BlockChainEntry("/i/top.qcow2", "qcow2", "/i/base.qcow2"),
        BlockChainEntry("/i/base.qcow2", "qcow2", None),
    )
    assert err(lambda: relative_backing(absolute, 1)) == (
        ErrorNumber.OPERATION_INVALID,
        ErrorDomain.QEMU,
        "Requested operation is not valid: can't keep relative backing relationship",
    )


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
