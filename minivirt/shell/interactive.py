"""The interactive shell: prompt, readline history and completion, the read-run loop.

This module owns virsh's interactive mode: the greeting, the prompt
(``minivirsh # ``, or ``minivirsh > `` when read-only), tab completion of
command names (first word) and option names (``--opt`` of that command),
the history file under ``$XDG_CACHE_HOME/minivirsh/history`` (500 entries),
and a loop that keeps going after a failed command until ``quit``, ``exit``
or end of input.  readline is used only when stdin is a terminal.
"""

from __future__ import annotations

import os
from typing import TextIO

from minivirt.shell.control import Control
from minivirt.shell.options import OptType, ParseError, split_commands
from minivirt.shell.runner import PROGRAM, parse_line, run_command

__all__ = ["complete", "history_file", "run_interactive"]

_HISTORY_SIZE = 500


def history_file() -> str:
    """``$XDG_CACHE_HOME/minivirsh/history`` (``~/.cache`` by default), as virsh's."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, PROGRAM, "history")


def complete(line: str, text: str, begidx: int) -> list[str]:
    """Candidates for ``text``: command names at the start of the line, else ``--options``."""
    from minivirt.shell.commands import REGISTRY

    if begidx == 0 or not line[:begidx].strip():
        return [n for n in REGISTRY.names() if n.startswith(text)]
    cmd = REGISTRY.command(line.split()[0])
    if cmd is None:
        return []
    names = [f"--{o.name}" for o in cmd.opts if o.type is not OptType.DATA]
    return [n for n in names if n.startswith(text)] if text.startswith("-") or not text else []


def _setup_readline() -> object | None:
    try:
        import readline
    except ImportError:  # pragma: no cover - readline is part of CPython on Linux
        return None

    matches: list[str] = []

    def completer(text: str, state: int) -> str | None:
        if state == 0:
            line = readline.get_line_buffer()
            matches[:] = complete(line, text, readline.get_begidx())
            if len(matches) == 1:  # CPython turns off readline's appended space: restore it
                matches[0] += " "
        return matches[state] if state < len(matches) else None

    readline.set_completer_delims(" \t")
    readline.set_completer(completer)
    readline.parse_and_bind("tab: complete")
    readline.set_history_length(_HISTORY_SIZE)
    try:
        readline.read_history_file(history_file())
    except OSError:
        pass
    return readline


def _save_history(readline: object) -> None:
    path = history_file()
    try:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        readline.write_history_file(path)  # type: ignore[attr-defined]
    except OSError:
        pass


def _read_line(ctl: Control, stdin: TextIO, prompt: str, use_readline: bool) -> str | None:
    if use_readline:
        try:
            return input(prompt)
        except EOFError:
            return None
    ctl.print(prompt)
    line = stdin.readline()
    if not line:
        return None
    return line[:-1] if line.endswith("\n") else line


def run_interactive(ctl: Control, stdin: TextIO) -> int:
    """virsh's interactive loop; returns 0 (as virsh does, whatever the commands did)."""
    ctl.interactive = True
    use_readline = stdin.isatty() and ctl.out.isatty()
    readline = _setup_readline() if use_readline else None
    use_readline = readline is not None
    ctl.print_extra(
        f"Welcome to {PROGRAM}, the virtualization interactive terminal.\n\n"
        "Type:  'help' for help with commands\n"
        "       'quit' to quit\n\n"
    )
    line: str | None = ""
    try:
        while ctl.interactive:
            prompt = f"{PROGRAM} > " if ctl.readonly else f"{PROGRAM} # "
            try:
                line = _read_line(ctl, stdin, prompt, use_readline)
            except KeyboardInterrupt:
                ctl.print("\n")
                continue
            if line is None:
                break
            if not line.strip():
                continue
            try:
                commands = split_commands(line)
            except ParseError as exc:
                for message in exc.messages:
                    ctl.error(message)
                continue
            parsed = parse_line(ctl, commands)
            if parsed is None:
                continue
            for command in parsed:
                try:
                    run_command(ctl, command)
                except KeyboardInterrupt:
                    ctl.print("\n")
                if not ctl.interactive:
                    break
    finally:
        if readline is not None:
            _save_history(readline)
    if line is None:
        ctl.print("\n")
    return 0
