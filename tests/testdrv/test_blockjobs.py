"""Simulated block jobs: refusals (code, domain, message), clock-driven progress, events."""

from __future__ import annotations

import pytest
from conftest import Collector
from test_domains import TEST, raises

from minivirt.hypervisor.blockjob import MAX_MIB_BANDWIDTH
from minivirt.public import (
    BlockJobEvent,
    BlockJobInfo,
    DomainEventID,
    ErrorDomain,
    ErrorNumber,
)
from minivirt.testdrv import ABORT_DELAY, DEFAULT_DISK_SIZE, DEFAULT_RATE, TestDriver

MiB = 1 << 20
SRC = "/guest/diskimage1"
TEMPLATE = ("/guest/template.qcow2", "qcow2")
INACTIVE_YAML = "name: idle\nmemory: 64\ndisks: [{target: vda, source: /img/off.qcow2}]\n"
COMPLETED, FAILED, CANCELED = (int(s) for s in (0, 1, 2))


def events_for(status, disk_source=SRC, target="vda"):
    return [
        BlockJobEvent(TEST, disk_source, 1, status, int(DomainEventID.BLOCK_JOB)),
        BlockJobEvent(TEST, target, 1, status, int(DomainEventID.BLOCK_JOB_2)),
    ]


def watch(drv: TestDriver, collector: Collector) -> None:
    drv.connect_domain_event_register_any(None, DomainEventID.BLOCK_JOB, collector)
    drv.connect_domain_event_register_any(None, DomainEventID.BLOCK_JOB_2, collector)


def info(drv, disk="vda", flags=0):
    return drv.domain_get_block_job_info(TEST, disk, flags)


# --- refusals ---------------------------------------------------------------------

INV, OPI = ErrorNumber.INVALID_ARG, ErrorNumber.OPERATION_INVALID
T = ErrorDomain.TEST


def _off(drv):
    return drv.domain_define_xml(INACTIVE_YAML, 0)


def _busy(drv):
    drv.domain_block_pull(TEST, "vda", 0, 0)


def _aborting(drv):
    drv.domain_block_pull(TEST, "vda", 0, 0)
    drv.domain_block_job_abort(TEST, "vda", 1)


GONE = TEST.__class__("gone", "11111111-2222-3333-4444-555555555555")
NODOM = (
    "Domain not found: no domain with matching uuid '11111111-2222-3333-4444-555555555555' (gone)"
)
BIG = MAX_MIB_BANDWIDTH + 1
OVERFLOW_MSG = f"numerical overflow: bandwidth must be less than {MAX_MIB_BANDWIDTH}"

REFUSALS = [
    # (id, setup, call, code, domain, message)
    (
        "pull-flags",
        None,
        lambda d: d.domain_block_pull(TEST, "vda", 0, 1),
        INV,
        T,
        "unsupported flags (0x1) in function testDomainBlockPull",
    ),
    (
        "pull-nodom",
        None,
        lambda d: d.domain_block_pull(GONE, "vda", 0, 0),
        ErrorNumber.NO_DOMAIN,
        T,
        NODOM,
    ),
    (
        "pull-inactive",
        _off,
        lambda d: d.domain_block_pull(d.lookup_by_name("idle"), "vda", 0, 0),
        OPI,
        ErrorDomain.DOMAIN,
        "Requested operation is not valid: domain is not running",
    ),
    (
        "pull-nodisk",
        None,
        lambda d: d.domain_block_pull(TEST, "vdb", 0, 0),
        INV,
        T,
        "invalid argument: disk 'vdb' not found in domain",
    ),
    (
        "pull-nopath",
        None,
        lambda d: d.domain_block_pull(TEST, "/guest/other", 0, 0),
        INV,
        T,
        "invalid argument: disk '/guest/other' not found in domain",
    ),
    (
        "pull-busy",
        _busy,
        lambda d: d.domain_block_pull(TEST, SRC, 0, 0),
        ErrorNumber.OPERATION_UNSUPPORTED,
        T,
        "Operation not supported: disk 'vda' already in active block job",
    ),
    (
        "pull-overflow",
        None,
        lambda d: d.domain_block_pull(TEST, "vda", BIG, 0),
        ErrorNumber.OVERFLOW,
        T,
        OVERFLOW_MSG,
    ),
    (
        "pull-bytes-overflow",
        None,
        lambda d: d.domain_block_pull(TEST, "vda", 1 << 63, 0x40),
        ErrorNumber.INTERNAL_ERROR,
        ErrorDomain.NONE,
        "internal error: argument key 'speed' must not be negative",
    ),
    (
        "pull-negative",
        None,
        lambda d: d.domain_block_pull(TEST, "vda", -1, 0),
        ErrorNumber.OVERFLOW,
        T,
        OVERFLOW_MSG,
    ),
    (
        "rebase-flags",
        None,
        lambda d: d.domain_block_rebase(TEST, "vda", None, 0, 0x80),
        INV,
        T,
        "unsupported flags (0x80) in function testDomainBlockRebase",
    ),
    (
        "rebase-copy",
        None,
        lambda d: d.domain_block_rebase(TEST, "vda", "/x", 0, 0x8),
        ErrorNumber.OPERATION_INVALID,
        T,
        "Requested operation is not valid: domain is not transient",
    ),
    (
        "rebase-relative",
        None,
        lambda d: d.domain_block_rebase(TEST, "vda", None, 0, 0x10),
        INV,
        T,
        "invalid argument: flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base",
    ),
    (
        "rebase-relative-first",
        _off,
        lambda d: d.domain_block_rebase(d.lookup_by_name("idle"), "vda", None, 0, 0x10),
        INV,
        T,
        "invalid argument: flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base",
    ),
    (
        "rebase-base",
        None,
        lambda d: d.domain_block_rebase(TEST, "vda", "/nope", 0, 0),
        INV,
        ErrorDomain.STORAGE,
        "invalid argument: could not find image '/nope' beneath '/guest/diskimage1' in chain for 'vda'",
    ),
    (
        "rebase-top",
        None,
        lambda d: d.domain_block_rebase(TEST, "vda", SRC, 0, 0),
        INV,
        ErrorDomain.STORAGE,
        "invalid argument: could not find image '/guest/diskimage1' beneath '/guest/diskimage1' in chain for 'vda'",
    ),
    (
        "rebase-index",
        None,
        lambda d: d.domain_block_rebase(TEST, "vda", "vda[3]", 0, 0),
        INV,
        ErrorDomain.STORAGE,
        "invalid argument: could not find backing store index '3' in chain for 'vda'",
    ),
    (
        "rebase-busy",
        _busy,
        lambda d: d.domain_block_rebase(TEST, "vda", TEMPLATE[0], 0, 0),
        ErrorNumber.OPERATION_UNSUPPORTED,
        T,
        "Operation not supported: disk 'vda' already in active block job",
    ),
    (
        "info-flags",
        None,
        lambda d: info(d, flags=2),
        INV,
        T,
        "unsupported flags (0x2) in function testDomainGetBlockJobInfo",
    ),
    (
        "info-nodom",
        None,
        lambda d: d.domain_get_block_job_info(GONE, "vda", 0),
        ErrorNumber.NO_DOMAIN,
        T,
        NODOM,
    ),
    (
        "info-inactive",
        _off,
        lambda d: d.domain_get_block_job_info(d.lookup_by_name("idle"), "vda", 0),
        OPI,
        ErrorDomain.DOMAIN,
        "Requested operation is not valid: domain is not running",
    ),
    (
        "info-nodisk",
        None,
        lambda d: info(d, "sda"),
        INV,
        T,
        "invalid argument: disk 'sda' not found in domain",
    ),
    (
        "abort-flags",
        None,
        lambda d: d.domain_block_job_abort(TEST, "vda", 4),
        INV,
        T,
        "unsupported flags (0x4) in function testDomainBlockJobAbort",
    ),
    (
        "abort-nodom",
        None,
        lambda d: d.domain_block_job_abort(GONE, "vda", 0),
        ErrorNumber.NO_DOMAIN,
        T,
        NODOM,
    ),
    (
        "abort-inactive",
        _off,
        lambda d: d.domain_block_job_abort(d.lookup_by_name("idle"), "vda", 0),
        OPI,
        ErrorDomain.DOMAIN,
        "Requested operation is not valid: domain is not running",
    ),
    (
        "abort-nodisk",
        None,
        lambda d: d.domain_block_job_abort(TEST, "vdc", 0),
        INV,
        T,
        "invalid argument: disk 'vdc' not found in domain",
    ),
    (
        "abort-nojob",
        None,
        lambda d: d.domain_block_job_abort(TEST, SRC, 0),
        INV,
        T,
        "invalid argument: disk vda does not have an active block job",
    ),
    (
        "abort-pivot",
        _busy,
        lambda d: d.domain_block_job_abort(TEST, "vda", 2),
        ErrorNumber.BLOCK_COPY_ACTIVE,
        T,
        "block copy still active: block job 'pull-vda-libvirt-1-format' not ready for pivot yet",
    ),
    (
        "abort-again",
        _aborting,
        lambda d: d.domain_block_job_abort(TEST, "vda", 0),
        OPI,
        T,
        "Requested operation is not valid: block job on disk 'vda' is still being ended",
    ),
    (
        "speed-flags",
        None,
        lambda d: d.domain_block_job_set_speed(TEST, "vda", 1, 2),
        INV,
        T,
        "unsupported flags (0x2) in function testDomainBlockJobSetSpeed",
    ),
    (
        "speed-overflow-first",
        None,
        lambda d: d.domain_block_job_set_speed(GONE, "vda", BIG, 0),
        ErrorNumber.OVERFLOW,
        T,
        OVERFLOW_MSG,
    ),
    (
        "speed-nodom",
        None,
        lambda d: d.domain_block_job_set_speed(GONE, "vda", 1, 0),
        ErrorNumber.NO_DOMAIN,
        T,
        NODOM,
    ),
    (
        "speed-inactive",
        _off,
        lambda d: d.domain_block_job_set_speed(d.lookup_by_name("idle"), "vda", 1, 0),
        OPI,
        ErrorDomain.DOMAIN,
        "Requested operation is not valid: domain is not running",
    ),
    (
        "speed-nodisk",
        None,
        lambda d: d.domain_block_job_set_speed(TEST, "hda", 1, 0),
        INV,
        T,
        "invalid argument: disk 'hda' not found in domain",
    ),
    (
        "speed-nojob",
        None,
        lambda d: d.domain_block_job_set_speed(TEST, SRC, 1, 0),
        INV,
        T,
        "invalid argument: disk vda does not have an active block job",
    ),
]


@pytest.mark.parametrize(
    ("setup", "call", "code", "domain", "message"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_refusals_change_nothing(drv, setup, call, code, domain, message):
    if setup is not None:
        setup(drv)
    before = (info(drv), drv.domain_get_xml_desc(TEST, 0))
    raises(lambda: call(drv), code, domain, message)
    assert (info(drv), drv.domain_get_xml_desc(TEST, 0)) == before


# --- progress and completion -----------------------------------------------------


def test_no_job_info_is_none(drv):
    assert info(drv) is None
    assert info(drv, SRC) is None


def test_progress_follows_the_clock(drv, clock):
    drv.domain_block_pull(TEST, "vda", 0, 0)
    assert info(drv) == BlockJobInfo(1, 0, 0, DEFAULT_DISK_SIZE)
    clock.advance(0.25)
    assert info(drv) == BlockJobInfo(1, 0, DEFAULT_RATE // 4, DEFAULT_DISK_SIZE)
    drv.domain_block_job_set_speed(TEST, "vda", 2, 0)
    clock.advance(3)
    cur = DEFAULT_RATE // 4 + 6 * MiB
    assert info(drv) == BlockJobInfo(1, 2, cur, DEFAULT_DISK_SIZE)
    assert info(drv, flags=1) == BlockJobInfo(1, 2 * MiB, cur, DEFAULT_DISK_SIZE)
    drv.domain_block_job_set_speed(TEST, SRC, 1000, 1)  # bytes/s, reported rounded up
    assert info(drv).bandwidth == 1
    assert info(drv, flags=1).bandwidth == 1000
    clock.advance(10)
    assert info(drv).cur == cur + 10_000


def test_pull_with_bandwidth_bytes_flag(drv, clock):
    drv.domain_block_pull(TEST, "vda", 3 * MiB + 1, 0x40)
    assert info(drv) == BlockJobInfo(1, 4, 0, DEFAULT_DISK_SIZE)
    assert info(drv, flags=1).bandwidth == 3 * MiB + 1


def test_largest_bandwidth_is_accepted(drv):
    drv.domain_block_pull(TEST, "vda", MAX_MIB_BANDWIDTH, 0)
    assert info(drv).bandwidth == MAX_MIB_BANDWIDTH


def test_completion_drops_backing_chain_and_emits_events(drv, clock, loop, collector):
    watch(drv, collector)
    assert "<source file='/guest/template.qcow2'/>" in drv.domain_get_xml_desc(TEST, 0)
    drv.domain_block_pull(TEST, "vda", 0, 0)
    clock.advance(0.999)
    assert info(drv).cur < DEFAULT_DISK_SIZE
    assert "template.qcow2" in drv.domain_get_xml_desc(TEST, 0)
    clock.advance(0.001)
    assert info(drv) is None
    assert collector.wait(2) == events_for(COMPLETED)
    xml = drv.domain_get_xml_desc(TEST, 0)
    assert "template.qcow2" not in xml
    assert "<source file='/guest/diskimage1'/>\n      <backingStore/>\n" in xml
    # a second pull has nothing to copy: it completes at once, as in QEMU
    drv.domain_block_pull(TEST, "vda", 0, 0)
    assert info(drv) is None
    assert collector.wait(4)[2:] == events_for(COMPLETED)


def test_timer_completes_jobs_without_polling(clock, loop, collector):
    from conftest import DEFAULT

    from minivirt.testdrv import open_test_driver, set_clock, shared_hypervisor

    set_clock(None)  # the real clock: the timer thread alone must end the job
    drv = open_test_driver(DEFAULT, False)
    try:
        shared_hypervisor().disk_size = 1 << 20  # ~1 ms at the default rate
        watch(drv, collector)
        drv.domain_block_pull(TEST, "vda", 0, 0)
        assert collector.wait(2) == events_for(COMPLETED)
        assert shared_hypervisor().backing_chain(SRC) == []
    finally:
        drv.close()


def test_kick_ends_jobs_for_a_fake_clock(drv, clock, loop, collector):
    watch(drv, collector)
    drv.domain_block_pull(TEST, "vda", 0, 0)
    clock.advance(5)
    drv.hypervisor.kick()
    assert collector.wait(2) == events_for(COMPLETED)


def test_sync_abort(drv, clock, loop, collector):
    watch(drv, collector)
    drv.domain_block_pull(TEST, "vda", 1, 0)
    clock.advance(1)
    drv.domain_block_job_abort(TEST, SRC, 0)
    assert info(drv) is None
    assert collector.wait(2) == events_for(CANCELED)
    assert drv.hypervisor.backing_chain(SRC) == [TEMPLATE]
    drv.domain_block_pull(TEST, "vda", 0, 0)  # the disk is free again
    assert info(drv) is not None


def test_async_abort(drv, clock, loop, collector):
    watch(drv, collector)
    drv.domain_block_pull(TEST, "vda", 1, 0)
    drv.domain_block_job_abort(TEST, "vda", 1)
    assert info(drv) is not None  # still there, being ended
    raises(
        lambda: drv.domain_block_pull(TEST, "vda", 0, 0),
        ErrorNumber.OPERATION_UNSUPPORTED,
        ErrorDomain.TEST,
        "Operation not supported: disk 'vda' already in active block job",
    )
    drv.domain_block_job_set_speed(TEST, "vda", 5, 0)  # allowed while ending
    clock.advance(ABORT_DELAY)
    assert info(drv) is None
    assert collector.wait(2) == events_for(CANCELED)
    assert drv.hypervisor.backing_chain(SRC) == [TEMPLATE]


def test_rebase_keeps_base(drv, clock, loop, collector):
    hv = drv.hypervisor
    chain = [
        ("/guest/mid.qcow2", "qcow2"),
        ("/guest/base.qcow2", "qcow2"),
        ("/guest/root.img", "raw"),
    ]
    hv.set_backing(SRC, chain)
    watch(drv, collector)
    drv.domain_block_rebase(TEST, "vda", "/guest/base.qcow2", 0, 0x10)
    clock.advance(1)
    assert info(drv) is None
    assert collector.wait(2) == events_for(COMPLETED)
    assert hv.backing_chain(SRC) == chain[1:]
    assert "/guest/mid.qcow2" not in drv.domain_get_xml_desc(TEST, 0)
    # by libvirt's storage index (the top is vda[1]): vda[2] is the first backing
    # file, so nothing to copy
    drv.domain_block_rebase(TEST, "vda", "vda[2]", 0, 0)
    assert info(drv) is None
    assert hv.backing_chain(SRC) == chain[1:]
    drv.domain_block_rebase(TEST, SRC, "vda[3]", 0, 0)
    clock.advance(1)
    assert info(drv) is None
    assert hv.backing_chain(SRC) == chain[2:]
    drv.domain_block_rebase(TEST, "vda", None, 0, 0)  # null base: a full pull
    clock.advance(1)
    assert info(drv) is None
    assert hv.backing_chain(SRC) == []


def test_injected_failure(drv, clock, loop, collector):
    watch(drv, collector)
    drv.hypervisor.inject_failure(SRC, 0.25)
    drv.domain_block_pull(TEST, "vda", 0, 0)
    clock.advance(0.2)
    assert info(drv).cur == int(0.2 * DEFAULT_RATE)
    clock.advance(0.05)
    assert info(drv) is None
    assert collector.wait(2) == events_for(FAILED)
    assert drv.hypervisor.backing_chain(SRC) == [TEMPLATE]


def test_failing_image_name(drv, clock, loop, collector):
    src = "/img/failing.qcow2"
    ref = drv.domain_define_xml(f"name: f\nmemory: 1\ndisks: [{{target: vdb, source: {src}}}]\n", 0)
    ref = drv.domain_create(ref, 0)
    drv.hypervisor.set_backing(src, [("/img/base.qcow2", "qcow2")])
    watch(drv, collector)
    drv.domain_block_pull(ref, "vdb", 0, 0)
    clock.advance(1)
    assert drv.domain_get_block_job_info(ref, "vdb", 0) is None
    assert collector.wait(2) == [
        BlockJobEvent(ref, src, 1, FAILED, int(DomainEventID.BLOCK_JOB)),
        BlockJobEvent(ref, "vdb", 1, FAILED, int(DomainEventID.BLOCK_JOB_2)),
    ]


def test_destroy_drops_jobs(drv, clock):
    drv.domain_block_pull(TEST, "vda", 1, 0)
    drv.domain_destroy(TEST, 0)
    live = drv.domain_create(TEST, 0)
    assert drv.domain_get_block_job_info(live, "vda", 0) is None
    assert drv.hypervisor.backing_chain(SRC) == [TEMPLATE]


def test_event_filter_by_domain_and_id(drv, clock, loop, collector):
    only2 = Collector()
    drv.connect_domain_event_register_any(TEST, DomainEventID.BLOCK_JOB_2, only2)
    drv.connect_domain_event_register_any(TEST, DomainEventID.BLOCK_JOB, collector)
    drv.domain_block_pull(TEST, "vda", 0, 0)
    clock.advance(2)
    drv.hypervisor.kick()
    assert collector.wait(1) == events_for(COMPLETED)[:1]
    assert only2.wait(1) == events_for(COMPLETED)[1:]
