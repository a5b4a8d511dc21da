"""qemu-monitor-command: options, virsh's QMP wrapping, output forms, errors (no QEMU)."""

from __future__ import annotations

import json

import pytest

from minivirt.shell.cmd_qemu import pretty_json, wrap_qmp
from minivirt.shell.commands import REGISTRY
from minivirt.shell.options import ParseError, parse_tokens


def test_help_matches_virsh(sh):
    out = sh("help", "qemu-monitor-command").out
    assert (
        "qemu-monitor-command <domain> [--hmp] [--pretty] [--return-value] {[--cmd] <string>}..."
        in out
    )
    assert "    [--cmd] <string>  command\n" in out


def test_argv_collects_every_word():
    cmd = parse_tokens(REGISTRY, ["qemu-monitor-command", "dom", "--hmp", "info", "--cmd", "block"])
    assert cmd.get("domain") == "dom" and cmd.has("hmp")
    assert cmd.argv("cmd") == ["info", "block"]
    with pytest.raises(ParseError) as exc:
        parse_tokens(REGISTRY, ["qemu-monitor-command", "dom"])
    assert exc.value.messages == ("command 'qemu-monitor-command' requires <cmd> option",)


@pytest.mark.parametrize(
    ("words", "wrapped"),
    [
        (['{"execute":"query-status"}'], '{"execute":"query-status"}'),
        (["query-status"], '{"execute":"query-status"}'),
        (["foo bar"], '{"execute":"foo bar"}'),
        (["[1]"], '{"execute":"[1]"}'),
        (
            ["block-job-set-speed", "device=drive-virtio-disk0", "speed=1048576"],
            '{"execute":"block-job-set-speed","arguments":'
            '{"device":"drive-virtio-disk0","speed":1048576}}',
        ),
    ],
)
def test_wrap_like_virsh(words, wrapped):
    assert wrap_qmp(words) == wrapped


def test_wrap_refuses_words_without_a_key():
    with pytest.raises(ValueError):
        wrap_qmp(["query-status", "oops"])


def test_pretty_is_libvirts_layout():
    value = json.loads('{"return":{"a":[1,{"b":null}],"e":{},"l":[]},"id":"libvirt-2"}')
    assert pretty_json(value) == (
        "{\n"
        '  "return": {\n'
        '    "a": [\n'
        "      1,\n"
        "      {\n"
        '        "b": null\n'
        "      }\n"
        "    ],\n"
        '    "e": {\n\n    },\n'
        '    "l": [\n\n    ]\n'
        "  },\n"
        '  "id": "libvirt-2"\n'
        "}"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--hmp", "--pretty"), "Options --hmp and --pretty are mutually exclusive"),
        (("--hmp", "--return-value"), "Options --hmp and --return-value are mutually exclusive"),
    ],
)
def test_exclusive_options(sh, options, message):
    r = sh("qemu-monitor-command", "test", *options, "info", "status")
    assert (r.rc, r.out, r.err) == (1, "\n", f"error: {message}\n")


def test_not_a_qemu_connection(sh):
    r = sh("qemu-monitor-command", "test", "--hmp", "info", "status")
    assert r.rc == 1 and r.out == "\n"
    assert r.err == (
        "error: this function is not supported by the connection driver: "
        "virDomainQemuMonitorCommand\n"
    )


def test_unwrappable_words(sh):
    r = sh("qemu-monitor-command", "test", "query-status", "oops")
    assert (r.rc, r.err) == (
        1,
        "error: failed to wrap arguments 'oops' into a QMP command wrapper\n",
    )
