"""``blockpull`` golden tests on test:///default (virsh-examples.md situations and error paths)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from minivirt import testdrv
from tests.shell.conftest import ROOT, URI

BUSY = "error: Operation not supported: disk 'vda' already in active block job\n"


def info(conn, disk="vda", flags=1):
    return conn.lookup_by_name("test").get_block_job_info(disk, flags)


def test_start_a_pull(sh, frozen):
    conn, _ = frozen
    r = sh("blockpull", "test", "vda", "--bandwidth", "1")
    assert (r.rc, r.out, r.err) == (0, "Block Pull started\n", "")
    assert info(conn).bandwidth == 1 << 20


def test_quiet_still_prints_started(sh, frozen):
    r = sh("-q", "blockpull", "test", "vda")
    assert (r.rc, r.out) == (0, "Block Pull started")


def test_positional_bandwidth(sh, frozen):
    conn, _ = frozen
    assert sh("blockpull", "test", "vda", "10").rc == 0
    assert info(conn, flags=0).bandwidth == 10


def test_domain_by_id_and_uuid(sh, frozen):
    assert sh("blockpull", "1", "vda").out == "Block Pull started\n"
    r = sh("blockpull", testdrv.TEST_DOMAIN_UUID, "/guest/diskimage1")
    assert (r.rc, r.err) == (1, BUSY)


@pytest.mark.parametrize(
    ("value", "flags", "expected"),
    [
        ("10M", [], 10 << 20),  # scaled: bytes, then MiB (10)
        ("1G", [], 1 << 30),
        ("10M", ["--bytes"], 10 << 20),
        ("1048576", ["--bytes"], 1 << 20),
        ("2MB", ["--bytes"], 2_000_000),
        ("3", [], 3 << 20),
    ],
)
def test_bandwidth_forms(sh, frozen, value, flags, expected):
    conn, _ = frozen
    r = sh("blockpull", "test", "vda", "--bandwidth", value, *flags)
    assert (r.rc, r.err) == (0, "")
    assert info(conn).bandwidth == expected


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("abc", ""),
        ("", ""),
        ("-5M", ""),
        ("99999999999999999999", ""),
        # virScaleInteger's own error follows virsh's line (libvirt 9.0)
        ("10Q", "error: invalid argument: unknown suffix 'Q'\n"),
        ("10MiBs", "error: invalid argument: unknown suffix 'MiBs'\n"),
        ("20000000E", "error: numerical overflow: value too large: 20000000E\n"),
    ],
)
def test_malformed_bandwidth(sh, frozen, value, detail):
    r = sh("blockpull", "test", "vda", "--bandwidth", value)
    assert (r.rc, r.out) == (1, "\n")
    assert r.err == (
        f"error: Scaled numeric value '{value}' for <--bandwidth> option is malformed "
        "or out of range\n" + detail
    )


def test_negative_plain_bandwidth_wraps_as_strtoul(sh, frozen):
    # virsh parses unscaled numbers with wrap-around; the driver then refuses the value
    r = sh("blockpull", "test", "vda", "--bandwidth", "-1")
    assert r.rc == 1 and r.err.startswith("error: numerical overflow: bandwidth must be less than")


def test_second_pull_on_busy_disk(sh, frozen):
    assert sh("blockpull", "test", "vda", "--bandwidth", "1").rc == 0
    r = sh("blockpull", "test", "vda")
    assert (r.rc, r.out, r.err) == (1, "\n", BUSY)


def test_unknown_disk(sh):
    r = sh("blockpull", "test", "vdz")
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        "error: invalid argument: disk 'vdz' not found in domain\n",
    )


def test_domain_shut_off(sh, host, domain_file):
    assert sh("define", domain_file("goldenoff")).rc == 0
    r = sh("blockpull", "goldenoff", "vda")
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        "error: Requested operation is not valid: domain is not running\n",
    )


def test_unknown_domain(sh):
    r = sh("blockpull", "nosuch", "vda")
    assert (r.rc, r.out, r.err) == (1, "\n", "error: failed to get domain 'nosuch'\n")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--verbose"], "Option --wait is required by option --verbose"),
        (["--async"], "Option --wait is required by option --async"),
    ],
)
def test_requires_wait(sh, extra, message):
    r = sh("blockpull", "test", "vda", *extra)
    assert (r.rc, r.out, r.err) == (1, "\n", f"error: {message}\n")


@pytest.mark.parametrize("value", ["0", "-1", "x", "2147484"])
def test_bad_timeout(sh, value):
    r = sh("blockpull", "test", "vda", "--wait", "--timeout", value)
    assert r.rc == 1
    assert r.err == (
        f"error: Numeric value '{value}' for <timeout> option is malformed or out of range\n"
    )


def test_empty_path(sh):
    r = sh("blockpull", "test", "")
    assert (r.rc, r.err) == (1, "error: Failed to get option 'path': Option argument is empty\n")


def test_keep_relative_needs_a_base(sh):
    r = sh("blockpull", "test", "vda", "--keep-relative")
    assert (r.rc, r.out) == (1, "\n")
    assert r.err == (
        "error: invalid argument: flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only "
        "with non-null base\n"
    )


@pytest.fixture
def calls(monkeypatch):
    """Record what minivirsh hands core's block_pull / block_rebase (then call through)."""
    from minivirt import core

    log = []
    for name in ("block_pull", "block_rebase"):
        original = getattr(core.Domain, name)

        def record(self, *args, _name=name, _original=original):
            log.append((_name, *args))
            return _original(self, *args)

        monkeypatch.setattr(core.Domain, name, record)
    return log


BASE = "/guest/base.qcow2"


@pytest.mark.parametrize(
    ("options", "call"),
    [
        ([], ("block_pull", "vda", 0, 0)),
        (["--bandwidth", "3"], ("block_pull", "vda", 3, 0)),
        (["--bandwidth", "2M", "--bytes"], ("block_pull", "vda", 2 << 20, 64)),
        (["--base", BASE], ("block_rebase", "vda", BASE, 0, 0)),
        (["--base", BASE, "--keep-relative"], ("block_rebase", "vda", BASE, 0, 16)),
        (
            ["--base", BASE, "--keep-relative", "--bandwidth", "1M", "--bytes"],
            ("block_rebase", "vda", BASE, 1 << 20, 16 | 64),
        ),
    ],
)
def test_options_reach_the_api(sh, frozen, calls, options, call):
    testdrv.shared_hypervisor().set_backing(
        "/guest/diskimage1", [("/guest/mid.qcow2", "qcow2"), (BASE, "qcow2")]
    )
    r = sh("blockpull", "test", "vda", *options)
    assert (r.rc, r.out, r.err) == (0, "Block Pull started\n", "")
    assert calls == [call]


def test_partial_pull_keeps_the_base(sh, host):
    hv = testdrv.shared_hypervisor()
    hv.set_backing("/guest/diskimage1", [("/guest/mid.qcow2", "qcow2"), (BASE, "qcow2")])
    r = sh("blockpull", "test", "vda", "--base", BASE, "--keep-relative", "--wait")
    assert (r.rc, r.out, r.err) == (0, "\nPull complete\n", "")
    assert hv.backing_chain("/guest/diskimage1") == [(BASE, "qcow2")]


def test_full_pull_drops_the_chain(sh, host):
    hv = testdrv.shared_hypervisor()
    hv.set_backing("/guest/diskimage1", [("/guest/mid.qcow2", "qcow2"), (BASE, "qcow2")])
    r = sh("blockpull", "test", "vda", "--wait")
    assert (r.rc, r.out, r.err) == (0, "\nPull complete\n", "")
    assert hv.backing_chain("/guest/diskimage1") == []


def test_wait_verbose_completes(sh):
    r = sh("blockpull", "test", "vda", "--wait", "--verbose")
    assert (r.rc, r.out) == (0, "\nPull complete\n")
    assert re.fullmatch(r"(\rBlock Pull: \[ {0,2}\d{1,3} %\])*\rBlock Pull: \[100 %\]", r.err)
    assert r.err.startswith("\rBlock Pull: [")


def test_wait_without_verbose_prints_no_progress(sh):
    r = sh("blockpull", "test", "vda", "--wait")
    assert (r.rc, r.out, r.err) == (0, "\nPull complete\n", "")


def test_wait_on_failing_disk(sh, host, domain_file):
    hv = testdrv.shared_hypervisor()
    hv.set_backing(f"/guest/{testdrv.FAILING_PREFIX}1.qcow2", [("/guest/t.qcow2", "qcow2")])
    assert sh("define", domain_file("flaky", f"/guest/{testdrv.FAILING_PREFIX}1.qcow2")).rc == 0
    assert sh("start", "flaky").rc == 0
    r = sh("blockpull", "flaky", "vda", "--wait")
    assert (r.rc, r.out, r.err) == (1, "\nPull failed\n", "")


def test_timeout_aborts(sh, frozen):
    # the clock is frozen: the job never progresses, the 1 s timeout aborts it
    conn, _ = frozen
    r = sh("blockpull", "test", "vda", "--wait", "--verbose", "--timeout", "1")
    assert (r.rc, r.out, r.err) == (1, "\nPull aborted\n", "\rBlock Pull: [  0 %]")
    assert info(conn) is None


def test_timeout_async_abort(sh, frozen):
    conn, clock = frozen
    r = sh("blockpull", "test", "vda", "--wait", "--timeout", "1", "--async")
    assert (r.rc, r.out, r.err) == (1, "\nPull aborted\n", "")
    assert info(conn) is not None  # an async abort lingers until the driver ends it
    clock.now += 1
    testdrv.shared_hypervisor().kick()


def test_ctrl_c_aborts_the_job():
    env_code = "import sys; from minivirt.shell.main import main; sys.exit(main())"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            env_code,
            "-c",
            URI,
            "blockpull",
            "test",
            "vda",
            "--bandwidth",
            "1",
            "--wait",
            "--verbose",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = proc.stderr.read(len("\rBlock Pull: [  0 %]"))
        assert first == b"\rBlock Pull: [  0 %]"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert (proc.returncode, out) == (1, b"\nPull aborted\n")
    assert b"error" not in err


def test_wait_falls_back_to_polling_without_events(sh, monkeypatch):
    from minivirt import core
    from minivirt.public import ErrorDomain, ErrorNumber, VirError

    def refuse(self, *args, **kwargs):
        raise VirError.report(ErrorNumber.NO_SUPPORT, ErrorDomain.DOMAIN, "events")

    monkeypatch.setattr(core.Connection, "domain_event_register_any", refuse)
    r = sh("blockpull", "test", "vda", "--wait", "--verbose")
    assert (r.rc, r.out) == (0, "\nPull complete\n")
    assert r.err.endswith("\rBlock Pull: [100 %]")
