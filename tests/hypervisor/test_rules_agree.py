"""Every block-job rule, run against both drivers: they agree, and agree with libvirt 9.0.

Each row runs on a fresh pair (the test driver on a frozen clock; the qemu
driver on a scripted QMP peer, see conftest.py) and must give the expected
outcome on both: the same value, or the same error code and message.  Error
domains and driver function names may differ only as each driver declares
(``VIR_FROM_QEMU``/``qemuDomain…`` against ``VIR_FROM_TEST``/``testDomain…``);
errors from shared libvirt code carry the same domain on both.  A refused call
changes nothing.  Expected values are libvirt 9.0's (checked with
``qemu:///embed``); the 2**63 bytes/s case in particular: libvirt 9.0 does not
range-check bytes, and its monitor's JSON builder refuses a speed beyond
int64 before QEMU hears of it.
"""

from __future__ import annotations

import pytest

from minivirt.public import BlockJobInfo, DomainRef, ErrorDomain, ErrorNumber, VirError
from tests.hypervisor.conftest import BASE, TOP, Side

DRIVER = "driver's own"  # the side's declared error domain (QEMU or TEST)
MIB_LIMIT = 8796093022207
SIZE = 1 << 30
BYTES = 0x40  # PULL/REBASE BANDWIDTH_BYTES
INFO_BYTES = SPEED_BYTES = 0x1
ASYNC, PIVOT = 0x1, 0x2

NOT_RUNNING = (
    ErrorNumber.OPERATION_INVALID,
    ErrorDomain.DOMAIN,
    "Requested operation is not valid: domain is not running",
)
NO_DOMAIN = (
    ErrorNumber.NO_DOMAIN,
    DRIVER,
    "Domain not found: no domain with matching uuid '11111111-2222-3333-4444-555555555555' (gone)",
)
OVERFLOW = (
    ErrorNumber.OVERFLOW,
    DRIVER,
    f"numerical overflow: bandwidth must be less than {MIB_LIMIT}",
)
NOT_INT64 = (
    ErrorNumber.INTERNAL_ERROR,
    ErrorDomain.NONE,
    "internal error: argument key 'speed' must not be negative",
)
NO_JOB = (
    ErrorNumber.INVALID_ARG,
    DRIVER,
    "invalid argument: disk vda does not have an active block job",
)
BUSY = (
    ErrorNumber.OPERATION_UNSUPPORTED,
    DRIVER,
    "Operation not supported: disk 'vda' already in active block job",
)


def no_disk(name: str):
    return (ErrorNumber.INVALID_ARG, DRIVER, f"invalid argument: disk '{name}' not found in domain")


def flags_error(bits: int, api: str):
    return (
        ErrorNumber.INVALID_ARG,
        DRIVER,
        f"unsupported flags (0x{bits:x}) in function <driver>{api}",
    )


def job(bandwidth: int) -> tuple[str, BlockJobInfo]:
    return ("ok", BlockJobInfo(1, bandwidth, 0, SIZE))


def outcome(side: Side, call) -> tuple:
    """The call's value, or its error with the side's own domain and function prefix named."""
    try:
        value = call(side)
    except VirError as exc:
        other = {ErrorDomain.QEMU, ErrorDomain.TEST} - {side.driver_domain}
        assert exc.domain not in other, f"{side.name} driver raised in another driver's domain"
        domain = DRIVER if exc.domain == side.driver_domain else exc.domain
        message = exc.message.replace(
            f"in function {side.name}Domain", "in function <driver>Domain"
        )
        return (exc.code, domain, message)
    return ("ok", value)


# --- steps ----------------------------------------------------------------------------------


def pull(bandwidth=0, flags=0, disk="vda"):
    return lambda s: s.conn.domain_block_pull(s.ref, disk, bandwidth, flags)


def rebase(base, flags=0, bandwidth=0, disk="vda"):
    return lambda s: s.conn.domain_block_rebase(s.ref, disk, base, bandwidth, flags)


def info(flags=0, disk="vda"):
    return lambda s: s.conn.domain_get_block_job_info(s.ref, disk, flags)


def speed(bandwidth, flags=0, disk="vda"):
    return lambda s: s.conn.domain_block_job_set_speed(s.ref, disk, bandwidth, flags)


def abort(flags=0, disk="vda"):
    return lambda s: s.conn.domain_block_job_abort(s.ref, disk, flags)


def on(which, call):
    """``call`` on another domain: 'off' (defined, not running) or 'gone' (unknown)."""

    return lambda s: call(_Other(s.conn, getattr(s, which)))


class _Other:
    """The same connection, another domain."""

    def __init__(self, conn, ref: DomainRef) -> None:
        self.conn, self.ref = conn, ref


def then(*steps):
    """Run ``steps`` in order; the last one's value is the outcome."""

    def run(s):
        value = None
        for step in steps:
            value = step(s)
        return value

    return run


# id, setup, call, expected[, hold QEMU's cancel event]
ROWS = [
    # -- domain and disk lookups, per API, in libvirt's order
    ("pull-gone", None, on("gone", pull()), NO_DOMAIN),
    ("pull-off", None, on("off", pull()), NOT_RUNNING),
    ("pull-off-unknown-disk", None, on("off", pull(disk="vdz")), NOT_RUNNING),
    ("pull-unknown-disk", None, pull(disk="vdz"), no_disk("vdz")),
    ("pull-unknown-path", None, pull(disk="/guest/other"), no_disk("/guest/other")),
    ("pull-busy", pull(), pull(disk=TOP), BUSY),
    ("pull-busy-before-bandwidth", pull(), pull(1 << 63, BYTES), BUSY),
    ("info-gone", None, on("gone", info()), NO_DOMAIN),
    ("info-off", None, on("off", info()), NOT_RUNNING),
    ("info-unknown-disk", None, info(disk="sda"), no_disk("sda")),
    ("info-no-job", None, info(), ("ok", None)),
    ("speed-gone", None, on("gone", speed(1)), NO_DOMAIN),
    ("speed-overflow-before-lookup", None, on("gone", speed(1 << 43)), OVERFLOW),
    ("speed-off", None, on("off", speed(1)), NOT_RUNNING),
    ("speed-unknown-disk", None, speed(1, disk="hda"), no_disk("hda")),
    ("speed-no-job", None, speed(1), NO_JOB),
    ("speed-no-job-before-int64", None, speed(1 << 63, SPEED_BYTES), NO_JOB),
    ("abort-gone", None, on("gone", abort()), NO_DOMAIN),
    ("abort-off", None, on("off", abort()), NOT_RUNNING),
    ("abort-unknown-disk", None, abort(disk="vdc"), no_disk("vdc")),
    ("abort-no-job", None, abort(disk=TOP), NO_JOB),
    (
        "abort-pivot-on-a-pull",
        pull(),
        abort(PIVOT),
        (
            ErrorNumber.BLOCK_COPY_ACTIVE,
            DRIVER,
            "block copy still active: block job 'pull-vda-libvirt-1-format' not ready for pivot yet",
        ),
    ),
    (
        "abort-while-ending",
        then(pull(), abort(ASYNC)),
        abort(PIVOT),
        (
            ErrorNumber.OPERATION_INVALID,
            DRIVER,
            "Requested operation is not valid: block job on disk 'vda' is still being ended",
        ),
        True,
    ),
    ("abort-async-keeps-reporting", pull(3), then(abort(ASYNC), info()), job(3), True),
    ("abort", pull(), then(abort(), info()), ("ok", None)),
    # -- rebase
    ("rebase-gone-before-relative", None, on("gone", rebase(None, 0x10)), NO_DOMAIN),
    (
        "rebase-relative-without-base",
        None,
        on("off", rebase(None, 0x10)),
        (
            ErrorNumber.INVALID_ARG,
            DRIVER,
            "invalid argument: flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base",
        ),
    ),
    (
        "rebase-copy",
        None,
        rebase(BASE, 0x8),
        # a copy needs a transient domain (qemuDomainBlockCopyCommon); both are persistent
        (
            ErrorNumber.OPERATION_INVALID,
            DRIVER,
            "Requested operation is not valid: domain is not transient",
        ),
    ),
    (
        "rebase-base-not-in-chain",
        None,
        rebase("/nope", 0, 1 << 63),
        (
            ErrorNumber.INVALID_ARG,
            ErrorDomain.STORAGE,
            f"invalid argument: could not find image '/nope' beneath '{TOP}' in chain for 'vda'",
        ),
    ),
    (
        "rebase-top-is-no-base",
        None,
        rebase(TOP),
        (
            ErrorNumber.INVALID_ARG,
            ErrorDomain.STORAGE,
            f"invalid argument: could not find image '{TOP}' beneath '{TOP}' in chain for 'vda'",
        ),
    ),
    (
        "rebase-index",
        None,
        rebase("vda[3]"),  # libvirt's storage index: vda[1] the top, vda[2] its base
        (
            ErrorNumber.INVALID_ARG,
            ErrorDomain.STORAGE,
            "invalid argument: could not find backing store index '3' in chain for 'vda'",
        ),
    ),
    (
        "rebase-other-target",
        None,
        rebase("vdb[1]"),
        (
            ErrorNumber.INVALID_ARG,
            ErrorDomain.STORAGE,
            "invalid argument: requested target 'vdb' does not match target 'vda'",
        ),
    ),
    ("rebase-busy", pull(), rebase(BASE), BUSY),
    ("rebase-overflow-after-base", None, rebase("template.qcow2", 0x10, 1 << 43), OVERFLOW),
    # -- info translation
    ("info-mib-rounds-up", then(pull(), speed(5, SPEED_BYTES)), info(), job(1)),
    ("info-bytes", then(pull(), speed(5, SPEED_BYTES)), info(INFO_BYTES), job(5)),
    ("info-mib", pull(7), info(), job(7)),
    ("info-limit", pull(MIB_LIMIT), info(), job(MIB_LIMIT)),
    ("info-int64-bytes", pull((1 << 63) - 1, BYTES), info(), job(1 << 43)),
]

# -- bandwidth edge cases, for the pull and for set-speed: MiB/s and bytes/s
EDGES = [0, 1, 1 << 44, MIB_LIMIT, MIB_LIMIT + 1, 1 << 63, -1, (1 << 64) - 1]


def _mib(value: int):
    wrapped = value & ((1 << 64) - 1)
    return OVERFLOW if wrapped > MIB_LIMIT else job(wrapped << 20)


def _bytes(value: int):
    wrapped = value & ((1 << 64) - 1)
    return NOT_INT64 if wrapped >= 1 << 63 else job(wrapped)


for value in EDGES:
    ROWS += [
        (f"pull-mib-{value}", None, then(pull(value), info(INFO_BYTES)), _mib(value)),
        (f"pull-bytes-{value}", None, then(pull(value, BYTES), info(INFO_BYTES)), _bytes(value)),
        (f"speed-mib-{value}", pull(), then(speed(value), info(INFO_BYTES)), _mib(value)),
        (
            f"speed-bytes-{value}",
            pull(),
            then(speed(value, SPEED_BYTES), info(INFO_BYTES)),
            _bytes(value),
        ),
    ]


def _state(side: Side) -> tuple:
    return outcome(side, info(INFO_BYTES))


@pytest.mark.parametrize(
    ("setup", "call", "expected", "hold"),
    [(r[1], r[2], r[3], r[4] if len(r) > 4 else False) for r in ROWS],
    ids=[r[0] for r in ROWS],
)
def test_both_drivers_follow_the_rule(sides, setup, call, expected, hold):
    results = []
    for side in sides:
        if side.fake is not None:
            side.fake.hold_cancel = hold
        if setup is not None:
            setup(side)
        before = _state(side)
        got = outcome(side, call)
        if got[0] != "ok":
            assert _state(side) == before, f"{side.name}: a refused call changed the job"
        results.append(got)
    test, qemu = results
    assert test == qemu, "the drivers disagree"
    assert test == expected


@pytest.mark.parametrize(
    ("api", "call", "allowed"),
    [
        ("DomainBlockPull", lambda s, f: s.conn.domain_block_pull(s.gone, "vda", 0, f), 0x40),
        (
            "DomainBlockRebase",
            lambda s, f: s.conn.domain_block_rebase(s.gone, "vda", None, 0, f),
            0x7F,
        ),
        (
            "DomainGetBlockJobInfo",
            lambda s, f: s.conn.domain_get_block_job_info(s.gone, "vda", f),
            0x1,
        ),
        (
            "DomainBlockJobSetSpeed",
            lambda s, f: s.conn.domain_block_job_set_speed(s.gone, "vda", 0, f),
            0x1,
        ),
        ("DomainBlockJobAbort", lambda s, f: s.conn.domain_block_job_abort(s.gone, "vda", f), 0x3),
    ],
)
def test_every_flag_of_every_api(sides, api, call, allowed):
    """Flags come first, as C ``unsigned int``: every bit, -1, and bits above 31."""
    cases = [1 << bit for bit in range(32)] + [-1, (1 << 32) | 1, (1 << 32) | allowed, 0]
    for flags in cases:
        bits = flags & 0xFFFFFFFF & ~allowed
        expected = flags_error(bits, api) if bits else NO_DOMAIN
        got = [outcome(side, lambda s, f=flags: call(s, f)) for side in sides]
        assert got == [expected, expected], f"flags {flags:#x}"


def test_events_of_an_abort(sides):
    for side in sides:
        side.watch()
        side.conn.domain_block_pull(side.ref, "vda", 0, 0)
        side.conn.domain_block_job_abort(side.ref, "vda", 0)
    test, qemu = (side.recorder.wait(2) for side in sides)
    assert test == qemu == [(TOP, 1, 2, 8), ("vda", 1, 2, 16)]


def test_the_2_63_bytes_pull_reaches_no_hypervisor(sides):
    """libvirt 9.0: INTERNAL_ERROR (VIR_FROM_NONE) before QEMU hears of it; nothing starts."""
    test, qemu = sides
    for side in sides:
        assert outcome(side, pull(1 << 63, BYTES)) == NOT_INT64
        assert outcome(side, info()) == ("ok", None)
    assert [name for name, _ in qemu.peer.received if name.startswith("block")] == []
    assert shared_jobs(test) == {}


def shared_jobs(side: Side) -> dict:
    from minivirt.testdrv import shared_hypervisor

    hv = shared_hypervisor()
    assert hv is not None
    return dict(hv.host.find(side.ref).jobs)
