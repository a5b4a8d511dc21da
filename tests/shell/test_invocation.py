"""Invocation as virsh's: options, versions, connection opening and its failures, exit status."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from tests.shell.conftest import URI, subprocess_run


def test_short_version(run):
    assert run("-v") == run("--version")
    r = run("-v")
    assert (r.rc, r.out, r.err) == (0, "9.0.0\n", "")


def test_usage(run):
    r = run("-h")
    assert r.rc == 0 and r.err == ""
    assert "    -c | --connect=URI      hypervisor connection URI\n" in r.out
    assert " Domain Management (help keyword 'domain'):\n" in r.out
    assert run("--help").out == r.out


def test_usage_says_how_to_choose_the_hypervisor(run):
    # virsh's text first, unchanged; then where a connection goes without -c
    out = run("--help").out
    virsh_end = "\n  (specify help <command> for details about the command)\n\n"
    assert virsh_end in out
    hint = out.split(virsh_end, 1)[1]
    for needle in ("-c URI", "$MINIVIRT_DEFAULT_URI", "/run/minivirt/minivirt-sock", "qemu+tcp://"):
        assert needle in hint


def test_no_connection_keeps_virsh_s_two_error_lines():
    # as root the default is qemu:///system, i.e. minivirtd's socket (nothing listens there);
    # other users default to qemu:///session, so they get qemu:///system by the variable
    env = {} if os.geteuid() == 0 else {"MINIVIRT_DEFAULT_URI": "qemu:///system"}
    p = subprocess_run("list", env=env)
    assert (p.returncode, p.stdout) == (1, b"\n")
    assert p.stderr == (
        b"error: failed to connect to the hypervisor\n"
        b"error: Failed to connect socket to '/run/minivirt/minivirt-sock': "
        b"No such file or directory\n"
    )


@pytest.mark.parametrize(
    ("argv", "err"),
    [
        (["-x"], "minivirsh: invalid option -- 'x'\nerror: unsupported option '-x'. See --help.\n"),
        (
            ["--bogus"],
            "minivirsh: unrecognized option '--bogus'\n"
            "error: unsupported option '--bogus'. See --help.\n",
        ),
        (
            ["-c"],
            "minivirsh: option requires an argument -- 'c'\n"
            "error: unsupported option '-c'. See --help.\n",
        ),
    ],
)
def test_bad_program_options(run, argv, err):
    r = run(*argv)
    assert (r.rc, r.out, r.err) == (1, "", err)


def test_connect_forms_are_equivalent(run):
    expected = run("-c", URI, "uri")
    assert expected.out == "test:///default\n\n"
    assert run(f"-c{URI}", "uri") == expected
    assert run("--connect", URI, "uri") == expected
    assert run(f"--connect={URI}", "uri") == expected


def test_default_uri_from_environment(run, monkeypatch):
    monkeypatch.setenv("MINIVIRT_DEFAULT_URI", URI)
    assert run("uri").out == "test:///default\n\n"


def test_quiet_drops_the_trailing_newline(run):
    r = run("-q", "-c", URI, "uri")
    assert (r.rc, r.out) == (0, "test:///default\n")
    r = run("-c", URI, "-q", "list")
    assert r.out == " 1   test   running\n"


def test_options_stop_at_the_command(run):
    # "-q" after the command word belongs to the command (which has no such option)
    r = run("-c", URI, "uri", "-q")
    assert (r.rc, r.err) == (1, "error: unexpected data '-q'\n")


def test_failed_connection_at_start_up(run):
    r = run("-c", "nosuch:///x", "help")
    assert (r.rc, r.out) == (1, "")
    first, second, rest = r.err.split("\n")
    assert first == "error: failed to connect to the hypervisor"
    assert second.startswith("error: no connection driver available for ")
    assert second.endswith("nosuch:///x") and rest == ""


def test_failed_lazy_connection(run, monkeypatch):
    monkeypatch.setenv("MINIVIRT_DEFAULT_URI", "nosuch:///x")
    r = run("list")
    assert (r.rc, r.out) == (1, "\n")
    first, second, rest = r.err.split("\n")
    assert first == "error: failed to connect to the hypervisor"
    assert second.startswith("error: no connection driver available for ")
    assert second.endswith("nosuch:///x") and rest == ""


def test_read_only_connection(run):
    r = run("-r", "-c", URI, "blockpull", "test", "vda")
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        "error: operation forbidden: read only access prevents virDomainBlockPull\n",
    )
    assert run("--readonly", "-c", URI, "blockjob", "test", "vda").out == (
        "No current block job for vda\n"
    )


def test_subprocess_help_bytes():
    p = subprocess_run("help", "blockjob")
    assert p.returncode == 0 and p.stderr == b""
    assert p.stdout.startswith(b"  NAME\n    blockjob - Manage active block operations\n")
    assert p.stdout.endswith(b"    --bandwidth <number>  set the bandwidth limit in MiB/s\n\n\n")


def test_subprocess_error_path():
    p = subprocess_run("-c", URI, "blockjob", "test", "vda", "--abort")
    assert (p.returncode, p.stdout, p.stderr) == (
        1,
        b"\n",
        b"error: invalid argument: disk vda does not have an active block job\n",
    )


def test_subprocess_console_script():
    # `make venv` installs the console scripts next to the interpreter; missing is a failure
    script = shutil.which("minivirsh", path=os.path.dirname(sys.executable))
    assert script is not None, "the minivirsh console script is not installed in this venv"
    import subprocess

    p = subprocess.run([script, "-c", URI, "domstate", "1"], capture_output=True, check=False)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"running\n\n", b"")


def test_connect_command_in_a_command_string(run):
    r = run("connect test:///default --readonly; uri; blockpull test vda; connect; uri")
    assert r.rc == 0
    assert r.out == "\ntest:///default\n\n\n\ntest:///default\n\n"
    assert r.err == "error: operation forbidden: read only access prevents virDomainBlockPull\n"


def test_failed_connect_command_keeps_the_old_uri(run):
    r = run("-c", URI, "connect nosuch:///x; uri")
    assert r.out == "\ntest:///default\n\n"
    assert r.err.startswith("error: failed to connect to the hypervisor\nerror: ")
