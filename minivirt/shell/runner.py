"""Running command lines, shared by one-shot ``minivirsh`` and its interactive loop.

This module owns the program's name, parsing a whole line before running any
of it (vshCommandParse) and running one parsed command with virsh's
reporting: connect first when the command needs it, ``error: <message>`` on
failure, one newline on stdout after each command unless quiet.  It imports
neither ``main`` nor ``interactive`` (both import it); core is imported only
when a connection is opened.
"""

from __future__ import annotations

from collections.abc import Sequence

from minivirt.shell.control import CommandFailed, Control
from minivirt.shell.options import ParsedCommand, ParseError, parse_tokens

__all__ = ["PROGRAM", "parse_line", "run_command"]

PROGRAM = "minivirsh"


def run_command(ctl: Control, parsed: ParsedCommand) -> bool:
    """vshCommandRun for one command: connect if needed, run, report, print the newline."""
    cmd = parsed.cmd
    ok = False
    if not cmd.needs_connection or ctl.connection() is not None:
        try:
            ok = cmd.handler(ctl, parsed)
        except CommandFailed:
            ok = False
        except Exception as exc:
            from minivirt.public import VirError  # imported only when something failed

            if not isinstance(exc, VirError):
                raise
            ctl.last_error = exc
            ok = False
    if not ok:
        ctl.report_error()
    ctl.last_error = None
    if cmd.name in ("quit", "exit"):
        return ok
    ctl.print_extra("\n")
    return ok


def parse_line(ctl: Control, commands: Sequence[Sequence[str]]) -> list[ParsedCommand] | None:
    """Parse every command of a line first (as vshCommandParse); None after printing errors."""
    from minivirt.shell.commands import REGISTRY

    parsed = []
    try:
        for tokens in commands:
            parsed.append(parse_tokens(REGISTRY, tokens))
    except ParseError as exc:
        for message in exc.messages:
            ctl.error(message)
        return None
    return parsed
