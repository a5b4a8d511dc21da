"""Option parsing and help, golden against virsh's bytes (vsh.c's parser and help layout)."""

from __future__ import annotations

import pytest

from minivirt.shell.commands import REGISTRY
from minivirt.shell.options import ParseError, parse_tokens, split_commands

HELP_BLOCKPULL = (
    "  NAME\n    blockpull - Populate a disk from its backing image.\n\n  SYNOPSIS\n"
    "    blockpull <domain> <path> [--bandwidth <number>] [--base <string>] [--wait] "
    "[--verbose] [--timeout <number>] [--async] [--keep-relative] [--bytes]\n\n"
    "  DESCRIPTION\n    Populate a disk from its backing image.\n\n  OPTIONS\n"
    "    [--domain] <string>  domain name, id or uuid\n"
    "    [--path] <string>  fully-qualified path of disk\n"
    "    --bandwidth <number>  bandwidth limit in MiB/s\n"
    "    --base <string>  path of backing file in chain for a partial pull\n"
    "    --wait           wait for job to finish\n"
    "    --verbose        with --wait, display the progress\n"
    "    --timeout <number>  with --wait, abort if pull exceeds timeout (in seconds)\n"
    "    --async          with --wait, don't wait for cancel to finish\n"
    "    --keep-relative  keep the backing chain relatively referenced\n"
    "    --bytes          the bandwidth limit is in bytes/s rather than MiB/s\n\n\n"
)
HELP_BLOCKJOB = (
    "  NAME\n    blockjob - Manage active block operations\n\n  SYNOPSIS\n"
    "    blockjob <domain> <path> [--abort] [--async] [--pivot] [--info] [--bytes] [--raw] "
    "[--bandwidth <number>]\n\n"
    "  DESCRIPTION\n    Query, adjust speed, or cancel active block operations.\n\n  OPTIONS\n"
    "    [--domain] <string>  domain name, id or uuid\n"
    "    [--path] <string>  fully-qualified path of disk\n"
    "    --abort          abort the active job on the specified disk\n"
    "    --async          implies --abort; request but don't wait for job end\n"
    "    --pivot          implies --abort; conclude and pivot a copy or commit job\n"
    "    --info           get active job information for the specified disk\n"
    "    --bytes          get/set bandwidth in bytes rather than MiB/s\n"
    "    --raw            implies --info; output details rather than human summary\n"
    "    --bandwidth <number>  set the bandwidth limit in MiB/s\n\n\n"
)


def test_help_blockpull_is_virsh_bytes(run):
    r = run("help", "blockpull")
    assert (r.rc, r.out, r.err) == (0, HELP_BLOCKPULL, "")


def test_help_blockjob_is_virsh_bytes(run):
    r = run("help", "blockjob")
    assert (r.rc, r.out, r.err) == (0, HELP_BLOCKJOB, "")


def test_help_needs_no_connection(run, monkeypatch):
    monkeypatch.setenv("MINIVIRT_DEFAULT_URI", "nosuch:///x")
    assert run("help", "blockjob").out == HELP_BLOCKJOB


def test_command_help_option_is_help_command(run):
    r = run("blockpull", "--help")
    assert (r.rc, r.out) == (0, HELP_BLOCKPULL)


def test_help_lists_groups(run):
    r = run("help")
    assert r.rc == 0 and r.err == ""
    assert r.out.startswith("Grouped commands:\n\n Domain Management (help keyword 'domain'):\n")
    assert "    blockpull                      Populate a disk from its backing image.\n" in r.out
    assert " Domain Monitoring (help keyword 'monitor'):\n" in r.out
    assert "    list                           list domains\n" in r.out
    assert r.out.endswith("\n\n\n")


def test_help_group_keyword(run):
    r = run("help", "host")
    assert r.out == (
        " Host and Hypervisor (help keyword 'host'):\n"
        "    uri                            print the hypervisor canonical URI\n"
        "    version                        show version\n\n"
    )


def test_help_unknown(run):
    r = run("help", "nosuch")
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        "error: command or command group 'nosuch' doesn't exist\n",
    )


@pytest.mark.parametrize(
    ("argv", "errors"),
    [
        (["foo"], ["unknown command: 'foo'"]),
        (["blockpull", "d", "vda", "--foo"], ["command 'blockpull' doesn't support option --foo"]),
        (
            ["blockpull"],
            [
                "command 'blockpull' requires <domain> option",
                "command 'blockpull' requires <path> option",
            ],
        ),
        (["blockjob", "d"], ["command 'blockjob' requires <path> option"]),
        (["blockjob", "d", "vda", "5", "extra"], ["unexpected data 'extra'"]),
        (["blockpull", "d", "vda", "--bandwidth"], ["expected syntax: --bandwidth <number>"]),
        (["blockpull", "d", "vda", "--base"], ["expected syntax: --base <string>"]),
        (["blockpull", "d", "vda", "--wait", "--wait"], ["option --wait already seen"]),
        (["blockpull", "d", "vda", "--wait=1"], ["invalid '=' after option --wait"]),
        (["list", "x"], ["unexpected data 'x'"]),
    ],
)
def test_parse_errors_are_virsh_texts(sh, argv, errors):
    r = sh(*argv)
    assert (r.rc, r.out, r.err) == (1, "", "".join(f"error: {e}\n" for e in errors))


def parse(*tokens):
    return parse_tokens(REGISTRY, list(tokens)).opts


def test_positional_equals_named():
    named = parse("blockpull", "--domain", "dom", "--path", "vda", "--bandwidth", "10")
    assert parse("blockpull", "dom", "vda", "10") == named
    assert parse("blockpull", "--path=vda", "dom", "--bandwidth=10") == named
    assert parse("blockpull", "--bandwidth", "10", "dom", "vda") == named


def test_positional_fills_declared_order():
    assert parse("blockpull", "dom", "vda", "10", "/base") == {
        "domain": "dom",
        "path": "vda",
        "bandwidth": "10",
        "base": "/base",
    }
    assert parse("blockjob", "dom", "vda", "5") == {
        "domain": "dom",
        "path": "vda",
        "bandwidth": "5",
    }


def test_double_dash_makes_data():
    assert parse("blockjob", "--", "--odd", "vda") == {"domain": "--odd", "path": "vda"}


def test_value_may_look_like_an_option():
    assert parse("blockpull", "d", "vda", "--base", "--wait") == {
        "domain": "d",
        "path": "vda",
        "base": "--wait",
    }


def test_split_commands_quotes_and_semicolons():
    assert split_commands('list --all; help \'block pull\' "a\\"b" c\\ d') == [
        ["list", "--all"],
        ["help", "block pull", 'a"b', "c d"],
    ]
    assert split_commands("  ;; ") == []


@pytest.mark.parametrize(
    ("line", "message"), [("help a\\", "dangling \\"), ('help "a', 'missing "')]
)
def test_split_commands_errors(line, message):
    with pytest.raises(ParseError) as info:
        split_commands(line)
    assert info.value.messages == (message,)


def test_single_argument_is_a_command_string(run):
    r = run("help host; help nosuch")
    assert r.rc == 1
    assert r.out.startswith(" Host and Hypervisor (help keyword 'host'):\n")
    assert r.out.endswith("\n\n\n")
    assert r.err == "error: command or command group 'nosuch' doesn't exist\n"


def test_a_parse_error_anywhere_runs_nothing(run):
    r = run("help host; nosuch")
    assert (r.rc, r.out, r.err) == (1, "", "error: unknown command: 'nosuch'\n")
