"""Unit tests of the shared block-job rules (minivirt.hypervisor.blockjob), table-driven.

Expected texts, codes and domains are libvirt 9.0's, as its qemu driver gives
them (checked with ``qemu:///embed`` on Debian's libvirt 9.0.0).
"""

from __future__ import annotations

import dataclasses

import pytest

from minivirt.conf import DiskDef, DomainDef
from minivirt.hypervisor import blockjob as rules
from minivirt.hypervisor import chain
from minivirt.hypervisor.blockjob import Driver
from minivirt.hypervisor.chain import ChainImage
from minivirt.public import (
    BlockJobEvent,
    BlockJobInfo,
    DomainEventID,
    DomainRef,
    ErrorDomain,
    ErrorNumber,
    VirError,
)

QEMU = Driver(ErrorDomain.QEMU, "qemu")
TEST = Driver(ErrorDomain.TEST, "test")
MIB_LIMIT = 8796093022207  # LLONG_MAX >> 20, as libvirt prints it


def err(call):
    with pytest.raises(VirError) as exc:
        call()
    return exc.value.code, exc.value.domain, exc.value.message


# --- flags --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "allowed", "extra"),
    [
        (1, 0, 0x1),
        (3, 1, 0x2),
        (-1, 0x40, 0xFFFFFFBF),  # a C unsigned int: -1 is 0xffffffff
        ((1 << 32) | 1, 0, 0x1),  # bits above 31 do not exist in C
        (1 << 31, 0, 1 << 31),
    ],
)
def test_check_flags_refuses_like_vir_check_flags(flags, allowed, extra):
    with pytest.raises(VirError) as exc:
        rules.check_flags(flags, allowed, "qemuDomainBlockPull", ErrorDomain.QEMU)
    assert exc.value.fields() == (
        ErrorNumber.INVALID_ARG,
        ErrorDomain.QEMU,
        f"unsupported flags (0x{extra:x}) in function qemuDomainBlockPull",
        2,
        "qemuDomainBlockPull",
        "flags",
        None,
        0,
        0,
    )


@pytest.mark.parametrize(("flags", "allowed"), [(0, 0), (0x41, 0x41), (1 << 32, 0)])
def test_check_flags_accepts(flags, allowed):
    rules.check_flags(flags, allowed, "f", ErrorDomain.TEST)


@pytest.mark.parametrize(
    ("api", "allowed"),
    [
        (rules.PULL, 0x40),
        (rules.REBASE, 0x7F),
        (rules.GET_INFO, 0x1),
        (rules.SET_SPEED, 0x1),
        (rules.ABORT, 0x3),
    ],
)
@pytest.mark.parametrize("driver", [QEMU, TEST])
def test_each_api_accepts_its_flags_and_names_its_driver_function(api, allowed, driver):
    rules.check_api_flags(allowed, api, driver)
    for bit in range(32):
        if allowed & (1 << bit):
            continue
        assert err(lambda b=bit: rules.check_api_flags(1 << b, api, driver)) == (
            ErrorNumber.INVALID_ARG,
            driver.domain,
            f"unsupported flags (0x{1 << bit:x}) in function {driver.prefix}{api.name}",
        )


# --- bandwidth ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bandwidth", "in_bytes", "speed"),
    [
        (0, False, 0),
        (1, False, 1 << 20),
        (MIB_LIMIT, False, MIB_LIMIT << 20),
        (0, True, 0),
        (1, True, 1),
        (1 << 44, True, 1 << 44),
        (1 << 63, True, 1 << 63),  # not checked here: speed_argument refuses it
        (-1, True, (1 << 64) - 1),  # a C unsigned long wraps
    ],
)
def test_bandwidth_bytes(bandwidth, in_bytes, speed):
    assert rules.bandwidth_bytes(bandwidth, in_bytes, QEMU) == speed


@pytest.mark.parametrize("bandwidth", [MIB_LIMIT + 1, 1 << 44, 1 << 63, (1 << 64) - 1, -1])
@pytest.mark.parametrize("driver", [QEMU, TEST])
def test_bandwidth_mib_overflow(bandwidth, driver):
    assert err(lambda: rules.bandwidth_bytes(bandwidth, False, driver)) == (
        ErrorNumber.OVERFLOW,
        driver.domain,
        f"numerical overflow: bandwidth must be less than {MIB_LIMIT}",
    )


def test_speed_argument_is_an_int64():
    assert rules.speed_argument((1 << 63) - 1) == (1 << 63) - 1
    for speed in (1 << 63, (1 << 64) - 1):
        with pytest.raises(VirError) as exc:
            rules.speed_argument(speed)
        assert exc.value.fields() == (
            ErrorNumber.INTERNAL_ERROR,
            ErrorDomain.NONE,
            "internal error: argument key 'speed' must not be negative",
            2,
            "internal error: %s",
            "argument key 'speed' must not be negative",
            None,
            -1,
            -1,
        )


@pytest.mark.parametrize(
    ("bandwidth", "flags", "speed"),
    [(3, 0, 3 << 20), (3, 1, 3), (-1, 1, (1 << 64) - 1), (0, 1 << 32, 0)],
)
def test_speed_args(bandwidth, flags, speed):
    assert rules.speed_args(bandwidth, flags, TEST) == speed


# --- info -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "report_bytes", "info"),
    [
        ((0, 0, 0, None), False, BlockJobInfo(1, 0, 0, 1)),
        ((0, 0, 0, False), False, BlockJobInfo(1, 0, 0, 1)),
        ((0, 0, 0, True), False, BlockJobInfo(1, 0, 1, 1)),
        ((7, 7, 0, False), False, BlockJobInfo(1, 0, 6, 7)),
        ((7, 7, 0, None), False, BlockJobInfo(1, 0, 7, 7)),
        ((7, 7, 0, True), False, BlockJobInfo(1, 0, 7, 7)),
        ((3, 9, 1, False), False, BlockJobInfo(1, 1, 3, 9)),
        ((3, 9, 1 << 20, False), False, BlockJobInfo(1, 1, 3, 9)),
        ((3, 9, (1 << 20) + 1, False), False, BlockJobInfo(1, 2, 3, 9)),
        ((3, 9, (1 << 20) + 1, False), True, BlockJobInfo(1, (1 << 20) + 1, 3, 9)),
        ((3, 9, (1 << 63) - 1, False), False, BlockJobInfo(1, 1 << 43, 3, 9)),
    ],
)
def test_translate_info(report, report_bytes, info):
    cur, end, speed, ready = report
    assert rules.translate_info(1, cur, end, speed, ready, report_bytes) == info


@pytest.mark.parametrize(("flags", "report_bytes"), [(0, False), (1, True), ((1 << 32) | 1, True)])
def test_info_args(flags, report_bytes):
    assert rules.info_args(flags, QEMU) is report_bytes


# --- chains ---------------------------------------------------------------------------

CHAIN = (
    ChainImage("/i/top.qcow2", "qcow2", "mid.qcow2"),
    ChainImage("/i/mid.qcow2", "qcow2", "sub/base.qcow2"),
    ChainImage("/i/sub/base.qcow2", "qcow2", None),
)


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("/i/mid.qcow2", 1),
        ("mid.qcow2", 1),
        ("/i/sub/base.qcow2", 2),
        ("sub/base.qcow2", 2),
        ("/i/sub/../sub/base.qcow2", 2),
        ("vda[2]", 1),  # libvirt's storage index: the top of the first disk is vda[1]
        ("vda[3]", 2),
    ],
)
def test_find_base(name, index):
    assert chain.find_base(CHAIN, name, "vda") == index


def test_find_base_of_a_later_disk_counts_from_its_top_index():
    assert chain.find_base(CHAIN, "vdb[5]", "vdb", top_index=4) == 1
    assert err(lambda: chain.find_base(CHAIN, "vdb[4]", "vdb", top_index=4))[2] == (
        "invalid argument: could not find backing store index '4' in chain for 'vdb'"
    )


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        (
            "/i/top.qcow2",
            "could not find image '/i/top.qcow2' beneath '/i/top.qcow2' in chain for 'vda'",
        ),
        ("top", "could not find image 'top' beneath '/i/top.qcow2' in chain for 'vda'"),
        ("/x", "could not find image '/x' beneath '/i/top.qcow2' in chain for 'vda'"),
        ("vda[0]", "could not find image 'vda[0]' beneath '/i/top.qcow2' in chain for 'vda'"),
        ("vda[1]", "could not find backing store index '1' in chain for 'vda'"),
        ("vda[4]", "could not find backing store index '4' in chain for 'vda'"),
        ("vdb[1]", "requested target 'vdb' does not match target 'vda'"),
    ],
)
def test_find_base_not_beneath(name, detail):
    assert err(lambda: chain.find_base(CHAIN, name, "vda")) == (
        ErrorNumber.INVALID_ARG,
        ErrorDomain.STORAGE,
        f"invalid argument: {detail}",
    )


def test_find_base_asks_the_driver_about_links():
    seen = []

    def same_file(a, b):
        seen.append((a, b))
        return b == "/i/sub/base.qcow2" and a == "/link"

    assert chain.find_base(CHAIN, "/link", "vda", same_file) == 2
    assert seen == [("/link", "/i/mid.qcow2"), ("/link", "/i/sub/base.qcow2")]


def test_relative_backing():
    assert chain.relative_backing(CHAIN, 1, ErrorDomain.QEMU) == "mid.qcow2"
    assert chain.relative_backing(CHAIN, 2, ErrorDomain.QEMU) == "sub/base.qcow2"
    absolute = (
        ChainImage("/i/top.qcow2", "qcow2", "/i/base.qcow2"),
        ChainImage("/i/base.qcow2", "qcow2", None),
    )
    assert err(lambda: chain.relative_backing(absolute, 1, ErrorDomain.TEST)) == (
        ErrorNumber.OPERATION_INVALID,
        ErrorDomain.TEST,
        "Requested operation is not valid: can't keep relative backing relationship",
    )


def test_pulled_chain():
    assert chain.pulled_chain(CHAIN, None) == (ChainImage("/i/top.qcow2", "qcow2", None),)
    assert chain.pulled_chain(CHAIN, 2) == (
        ChainImage("/i/top.qcow2", "qcow2", "/i/sub/base.qcow2"),
        CHAIN[2],
    )
    assert chain.pulled_chain((), None) == ()


# --- a domain as the rules see it -------------------------------------------------------


@dataclasses.dataclass
class Job:
    name: str = "drive-virtio-disk0"
    ending: bool = False


@dataclasses.dataclass
class Dom:
    defn: DomainDef
    active: bool = True
    jobs: dict = dataclasses.field(default_factory=dict)
    persistent: bool = True


DEFN = DomainDef(
    "d", "6695eb01-f6a4-8304-79aa-97f2502e193f", disks=(DiskDef("vda", "/i/top.qcow2"),)
)
TWO_DISKS = dataclasses.replace(DEFN, disks=(*DEFN.disks, DiskDef("vdb", "/i/b.qcow2")))


def CHAIN_OF(disk):
    return CHAIN


NOT_RUNNING = (
    ErrorNumber.OPERATION_INVALID,
    ErrorDomain.DOMAIN,
    "Requested operation is not valid: domain is not running",
)


def plan(dom, name="vda", base=None, bandwidth=0, flags=0, driver=QEMU):
    return rules.plan_pull(dom, name, base, bandwidth, flags, lambda d: CHAIN, driver)


@pytest.mark.parametrize(
    ("dom", "args", "expected"),
    [
        # RELATIVE without a base comes before the running check
        (
            Dom(DEFN, active=False),
            {"flags": 0x10},
            (
                ErrorNumber.INVALID_ARG,
                ErrorDomain.QEMU,
                "invalid argument: flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base",
            ),
        ),
        (Dom(DEFN, active=False), {"name": "vdz"}, NOT_RUNNING),
        (
            Dom(DEFN),
            {"name": "vdz"},
            (
                ErrorNumber.INVALID_ARG,
                ErrorDomain.QEMU,
                "invalid argument: disk 'vdz' not found in domain",
            ),
        ),
        (
            Dom(DEFN, jobs={"vda": Job()}),
            {"bandwidth": 1 << 63},
            (
                ErrorNumber.OPERATION_UNSUPPORTED,
                ErrorDomain.QEMU,
                "Operation not supported: disk 'vda' already in active block job",
            ),
        ),
        # the base comes before the bandwidth
        (
            Dom(DEFN),
            {"base": "/x", "bandwidth": 1 << 63},
            (
                ErrorNumber.INVALID_ARG,
                ErrorDomain.STORAGE,
                "invalid argument: could not find image '/x' beneath '/i/top.qcow2' in chain for 'vda'",
            ),
        ),
        (
            Dom(DEFN),
            {"bandwidth": 1 << 43},
            (
                ErrorNumber.OVERFLOW,
                ErrorDomain.QEMU,
                f"numerical overflow: bandwidth must be less than {MIB_LIMIT}",
            ),
        ),
        (
            Dom(DEFN),
            {"bandwidth": 1 << 63, "flags": 0x40},
            (
                ErrorNumber.INTERNAL_ERROR,
                ErrorDomain.NONE,
                "internal error: argument key 'speed' must not be negative",
            ),
        ),
    ],
)
def test_plan_pull_refusals_in_order(dom, args, expected):
    assert err(lambda: plan(dom, **args)) == expected


def test_plan_pull():
    assert plan(Dom(DEFN), "/i/top.qcow2", bandwidth=2) == rules.PullPlan(
        DEFN.disks[0], None, None, None, 2 << 20
    )
    assert plan(Dom(DEFN), base="vda[3]", bandwidth=5, flags=0x50) == rules.PullPlan(
        DEFN.disks[0], 2, "/i/sub/base.qcow2", "sub/base.qcow2", 5
    )


def test_current_job_and_abort_checks():
    assert err(lambda: rules.current_job(Dom(DEFN), "vda", TEST)) == (
        ErrorNumber.INVALID_ARG,
        ErrorDomain.TEST,
        "invalid argument: disk vda does not have an active block job",
    )
    assert err(lambda: rules.current_job(Dom(DEFN, active=False), "vda", TEST)) == NOT_RUNNING
    job = Job()
    assert rules.check_abort(Dom(DEFN, jobs={"vda": job}), "vda", 1, TEST, CHAIN_OF) == (
        DEFN.disks[0],
        job,
    )
    two = Dom(TWO_DISKS, jobs={"vdb": job})
    assert err(lambda: rules.check_abort(two, "vdb", 2, TEST, CHAIN_OF)) == (
        ErrorNumber.BLOCK_COPY_ACTIVE,
        ErrorDomain.TEST,
        # vda's three images are storage nodes 1-3: vdb's top is node 4
        "block copy still active: block job 'pull-vdb-libvirt-4-format' not ready for pivot yet",
    )
    ending = Dom(DEFN, jobs={"vda": Job(ending=True)})
    assert err(lambda: rules.check_abort(ending, "vda", 2, TEST, CHAIN_OF)) == (
        ErrorNumber.OPERATION_INVALID,
        ErrorDomain.TEST,
        "Requested operation is not valid: block job on disk 'vda' is still being ended",
    )
    assert rules.job_disk(Dom(DEFN), "/i/top.qcow2", TEST) == (DEFN.disks[0], None)


def test_refuse_copy_and_no_domain():
    rules.refuse_copy(Dom(DEFN), "vda", 0x77 & ~0x8, QEMU)
    assert err(lambda: rules.refuse_copy(Dom(DEFN, active=False), "vda", 0x8, TEST)) == NOT_RUNNING
    assert err(lambda: rules.refuse_copy(Dom(DEFN), "vda", 0x8, TEST)) == (
        ErrorNumber.OPERATION_INVALID,
        ErrorDomain.TEST,
        "Requested operation is not valid: domain is not transient",
    )
    assert err(lambda: rules.refuse_copy(Dom(DEFN, persistent=False), "vda", 0x8, TEST)) == (
        ErrorNumber.ARGUMENT_UNSUPPORTED,
        ErrorDomain.TEST,
        "argument unsupported: flag VIR_DOMAIN_BLOCK_REBASE_COPY is not supported by minivirt",
    )
    ref = DomainRef("gone", "11111111-2222-3333-4444-555555555555", -1)
    error = rules.no_domain(ref, TEST)
    assert (error.code, error.domain, error.message) == (
        ErrorNumber.NO_DOMAIN,
        ErrorDomain.TEST,
        "Domain not found: no domain with matching uuid "
        "'11111111-2222-3333-4444-555555555555' (gone)",
    )


# --- events and names -------------------------------------------------------------------


def test_job_events_and_name():
    ref = DomainRef("d", DEFN.uuid, 3)
    assert rules.job_events(ref, "vda", "/i/top.qcow2", 1, 2) == (
        BlockJobEvent(ref, "/i/top.qcow2", 1, 2, int(DomainEventID.BLOCK_JOB)),
        BlockJobEvent(ref, "vda", 1, 2, int(DomainEventID.BLOCK_JOB_2)),
    )
    # no source path, no BLOCK_JOB: only the target-named BLOCK_JOB_2
    assert rules.job_events(ref, "vdb", "", 1, 0) == (
        BlockJobEvent(ref, "vdb", 1, 0, int(DomainEventID.BLOCK_JOB_2)),
    )
    assert rules.job_name("vdc", 7) == "pull-vdc-libvirt-7-format"
    assert rules.top_index(Dom(TWO_DISKS), "vda", CHAIN_OF) == 1
    assert rules.top_index(Dom(TWO_DISKS), "vdb", CHAIN_OF) == 4
