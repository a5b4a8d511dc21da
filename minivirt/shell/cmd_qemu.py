"""``qemu-monitor-command``: virsh's libvirt-qemu command (virsh-domain.c's twin).

This module owns the command's options, virsh's wrapping of a bare QMP
command name and ``key=value`` words into a JSON object, and virsh's output
forms: the reply as QEMU gave it, ``--pretty`` (libvirt's JSON beautifier:
two-space indent, ``"key": value``, an empty object or array printed open on
two lines) and ``--return-value`` (only the ``return`` member); as virsh, a
reply is followed by a newline and a formatted value is not (the newline
after every command then ends it).  The
monitor call itself goes through ``minivirt.core``.  ``json`` is imported by
the functions that use it: every one-shot ``minivirsh`` loads this module to
register the command, and only this command needs JSON (issue 14).
"""

from __future__ import annotations

from minivirt.shell.control import Control
from minivirt.shell.options import CommandDef, OptDef, OptType, ParsedCommand

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["QEMU_MONITOR_COMMAND", "pretty_json", "wrap_qmp"]


def pretty_json(value: object, indent: str = "") -> str:
    """libvirt's pretty JSON text of ``value`` (virJSONValueToString(pretty=true))."""
    import json

    inner = indent + "  "
    if isinstance(value, dict):
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {pretty_json(v, inner)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        items = [inner + pretty_json(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def wrap_qmp(words: list[str]) -> str:
    """virsh's cmdQemuMonitorCommandQMPWrap: a JSON object as is, else a wrapped command.

    The joined words pass through when they form a JSON object; otherwise
    the first word is the command name and every further ``key=value`` word
    an argument (the value read as JSON when it parses, else as a string).
    """
    import json

    joined = " ".join(words)
    try:
        if isinstance(json.loads(joined), dict):
            return joined
    except ValueError:
        pass
    command: dict[str, object] = {"execute": words[0]}
    arguments: dict[str, object] = {}
    for word in words[1:]:
        key, sep, raw = word.partition("=")
        if not sep or not key:
            raise ValueError(word)
        try:
            arguments[key] = json.loads(raw)
        except ValueError:
            arguments[key] = raw
    if arguments:
        command["arguments"] = arguments
    return json.dumps(command, separators=(",", ":"), ensure_ascii=False)


def cmd_qemu_monitor_command(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh qemu-monitor-command DOMAIN [--hmp] [--pretty] [--return-value] CMD..."""
    import json

    from minivirt.public import DomainQemuMonitorCommandFlags, VirError

    ctl.exclusive(cmd, "hmp", "pretty")
    ctl.exclusive(cmd, "hmp", "return-value")
    dom = ctl.domain(cmd)
    words = cmd.argv("cmd")
    flags = 0
    if cmd.has("hmp"):
        flags |= DomainQemuMonitorCommandFlags.HMP
        text = " ".join(words)
    else:
        try:
            text = wrap_qmp(words)
        except ValueError as exc:
            raise ctl.fail(
                message=f"failed to wrap arguments '{' '.join(words[1:])}' "
                "into a QMP command wrapper"
            ) from exc
    try:
        result = dom.qemu_monitor_command(text, flags)
    except VirError as exc:
        raise ctl.fail(exc) from exc
    pretty, return_value = cmd.has("pretty"), cmd.has("return-value")
    if not (pretty or return_value):
        ctl.print(result + "\n")
        return True
    try:
        reply = json.loads(result)
    except ValueError as exc:
        raise ctl.fail(message="failed to parse JSON reply from QEMU") from exc
    if return_value:
        if not isinstance(reply, dict) or "return" not in reply:
            raise ctl.fail(message="'return' member missing")
        reply = reply["return"]
    if pretty:
        ctl.print(pretty_json(reply))
    else:
        ctl.print(json.dumps(reply, separators=(",", ":"), ensure_ascii=False))
    return True


QEMU_MONITOR_COMMAND: Final = CommandDef(
    "qemu-monitor-command",
    "QEMU Monitor Command",
    "QEMU Monitor Command",
    (
        OptDef("domain", OptType.DATA, "domain name, id or uuid", required=True),
        OptDef("hmp", OptType.BOOL, "command is in human monitor protocol"),
        OptDef("pretty", OptType.BOOL, "pretty-print any qemu monitor protocol output"),
        OptDef(
            "return-value",
            OptType.BOOL,
            "extract the value of the 'return' key from the returned string",
        ),
        OptDef("cmd", OptType.ARGV, "command", required=True),
    ),
    cmd_qemu_monitor_command,
)
