"""``blockjob`` golden tests on test:///default: info (human, raw), set speed, abort, conflicts."""

from __future__ import annotations

import pytest

from minivirt import testdrv


def start(sh, *extra):
    r = sh("blockpull", "test", "vda", *extra)
    assert r.rc == 0, r.err


def test_info_no_job(sh):
    for argv in (["test", "vda"], ["test", "vda", "--info"], ["1", "/guest/diskimage1"]):
        r = sh("blockjob", *argv)
        assert (r.rc, r.out, r.err) == (0, f"No current block job for {argv[1]}\n", "")


def test_raw_no_job_prints_nothing(sh):
    r = sh("blockjob", "test", "vda", "--raw")
    assert (r.rc, r.out, r.err) == (0, "\n", "")


def test_info_while_running(sh, frozen):
    start(sh, "--bandwidth", "1")
    r = sh("blockjob", "test", "vda", "--info")
    assert (r.rc, r.out, r.err) == (
        0,
        "    Bandwidth limit: 1048576 bytes/s (1.000 MiB/s)\n\n",
        "\rBlock Pull: [  0 %]",
    )


def test_info_progress_and_units(sh, frozen):
    _, clock = frozen
    start(sh, "--bandwidth", "512k", "--bytes")
    clock.now += 1024  # 512 KiB/s * 1024 s = half of the 1 GiB disk
    r = sh("blockjob", "test", "vda")
    assert (r.out, r.err) == (
        "    Bandwidth limit: 524288 bytes/s (512.000 KiB/s)\n\n",
        "\rBlock Pull: [ 50 %]",
    )


def test_info_unlimited_prints_no_bandwidth(sh, frozen):
    start(sh)
    r = sh("blockjob", "test", "vda")
    assert (r.rc, r.out, r.err) == (0, "\n\n", "\rBlock Pull: [  0 %]")


def test_raw_info_while_running(sh, frozen):
    _, clock = frozen
    start(sh, "--bandwidth", "1")
    clock.now += 2
    r = sh("blockjob", "test", "vda", "--info", "--raw")
    assert (r.rc, r.out, r.err) == (
        0,
        " type=Block Pull\n bandwidth=1\n cur=2097152\n end=1073741824\n\n",
        "",
    )
    r = sh("blockjob", "test", "vda", "--raw", "--bytes")
    assert r.out == " type=Block Pull\n bandwidth=1048576\n cur=2097152\n end=1073741824\n\n"


def test_set_speed(sh, frozen):
    start(sh)
    r = sh("blockjob", "test", "vda", "--bandwidth", "20")
    assert (r.rc, r.out, r.err) == (0, "\n", "")
    assert sh("blockjob", "test", "vda", "--raw").out.split("\n")[1] == " bandwidth=20"
    assert sh("blockjob", "test", "vda", "3").rc == 0  # positional bandwidth
    assert sh("blockjob", "test", "vda", "--raw").out.split("\n")[1] == " bandwidth=3"
    assert sh("blockjob", "test", "vda", "--bandwidth", "1M", "--bytes").rc == 0
    assert sh("blockjob", "test", "vda", "--raw", "--bytes").out.split("\n")[1] == (
        " bandwidth=1048576"
    )


def test_set_speed_without_job(sh):
    r = sh("blockjob", "test", "vda", "--bandwidth", "5")
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        "error: invalid argument: disk vda does not have an active block job\n",
    )


def test_abort(sh, frozen):
    start(sh)
    r = sh("blockjob", "test", "vda", "--abort")
    assert (r.rc, r.out, r.err) == (0, "\n", "")
    assert sh("blockjob", "test", "vda").out == "No current block job for vda\n"


def test_async_abort(sh, frozen):
    _, clock = frozen
    start(sh)
    assert sh("blockjob", "test", "vda", "--async").out == "\n"
    r = sh("blockjob", "test", "vda", "--abort")
    assert (r.rc, r.err) == (
        1,
        "error: Requested operation is not valid: block job on disk 'vda' is still being ended\n",
    )
    clock.now += 1
    testdrv.shared_hypervisor().kick()


def test_abort_with_no_job(sh):
    r = sh("blockjob", "test", "vda", "--abort")
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        "error: invalid argument: disk vda does not have an active block job\n",
    )


def test_pivot_on_a_pull_job_fails(sh, frozen):
    start(sh)
    r = sh("blockjob", "test", "vda", "--pivot")
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        "error: block copy still active: block job 'pull-vda-libvirt-1-format' not ready for pivot yet\n",
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("raw", "abort"),
        ("raw", "pivot"),
        ("raw", "async"),
        ("raw", "bandwidth"),
        ("info", "abort"),
        ("info", "pivot"),
        ("info", "async"),
        ("info", "bandwidth"),
        ("bytes", "abort"),
        ("bytes", "pivot"),
        ("bytes", "async"),
    ],
)
def test_exclusive_options(sh, a, b):
    extra = [f"--{a}", f"--{b}"] if b != "bandwidth" else [f"--{a}", "--bandwidth", "1"]
    r = sh("blockjob", "test", "vda", *extra)
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        f"error: Options --{a} and --{b} are mutually exclusive\n",
    )


def test_malformed_bandwidth(sh, frozen):
    start(sh)
    r = sh("blockjob", "test", "vda", "--bandwidth", "fast")
    assert (r.rc, r.err) == (
        1,
        "error: Scaled numeric value 'fast' for <--bandwidth> option is malformed or out of range\n",
    )


def test_unknown_disk_and_domain(sh):
    assert sh("blockjob", "test", "vdz").err == (
        "error: invalid argument: disk 'vdz' not found in domain\n"
    )
    assert sh("blockjob", "99", "vda").err == "error: failed to get domain '99'\n"
