"""``minivirsh``: virsh's invocation, one-shot commands and the command runner.

This module owns the command line of the program (``-c URI``, ``-r``,
``-q``, ``-h``, ``-v``, as virsh's getopt), the eager connection when a URI
is given (virsh connects at start-up then; otherwise lazily, on the first
command that needs it), running parsed commands with virsh's reporting
(errors on stderr as ``error: <message>``, one newline on stdout after each
command unless quiet) and the exit status.  Running and parsing one command
line is ``minivirt.shell.runner``'s (shared with the interactive loop of
``minivirt.shell.interactive``).  Nothing heavy is imported here: core is
imported when the first connection is opened.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from minivirt.shell.control import Control
from minivirt.shell.options import ParseError, split_commands
from minivirt.shell.runner import PROGRAM, parse_line, run_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["PROGRAM", "main", "parse_line", "run_command"]

_USAGE = """
{p} [options]... [<command_string>]
{p} [options]... <command> [args...]

  options:
    -c | --connect=URI      hypervisor connection URI
    -h | --help             this help
    -k | --keepalive-interval=NUM
                            keepalive interval in seconds, 0 for disable
    -K | --keepalive-count=NUM
                            number of possible missed keepalive messages
    -q | --quiet            quiet mode
    -r | --readonly         connect readonly
    -v                      short version
    -V                      long version
         --version[=TYPE]   version, TYPE is short or long (default short)
  commands (non interactive mode):

"""

_LONG = {
    "connect": "c",
    "help": "h",
    "keepalive-interval": "k",
    "keepalive-count": "K",
    "quiet": "q",
    "readonly": "r",
    "version": "v",
}
#: Options that take an argument (virsh's getopt string "+c:hk:K:qrvV").
_WITH_ARG = "ckK"


class _Options:
    def __init__(self) -> None:
        self.uri: str | None = None
        self.readonly = False
        self.quiet = False
        self.action: str | None = None  # "help", "version", "long-version"
        self.rest: list[str] = []
        self.keepalive_interval: int | None = None
        self.keepalive_count: int | None = None


def _keepalive(opts: _Options, short: str, value: str, name: str, err: TextIO) -> bool:
    """virsh's -k/-K: an integer >= 0, else its error."""
    try:
        number = int(value, 0)
    except ValueError:
        err.write(f"error: Invalid value for option {name}\n")
        return False
    if number < 0:
        err.write(f"error: option {name} requires a positive integer argument\n")
        return False
    if short == "k":
        opts.keepalive_interval = number
    else:
        opts.keepalive_count = number
    return True


def _usage_error(err: TextIO, getopt_msg: str, option: str) -> int:
    err.write(f"{PROGRAM}: {getopt_msg}\n")
    err.write(f"error: unsupported option '{option}'. See --help.\n")
    return 1


def _parse_argv(argv: Sequence[str], err: TextIO) -> _Options | int:
    """virsh's getopt_long("+c:hqrvV"): options stop at the first command word."""
    opts = _Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            matches = [k for k in _LONG if k.startswith(name)] if name else []
            if name in _LONG:
                matches = [name]
            if len(matches) != 1:
                return _usage_error(err, f"unrecognized option '{arg}'", arg)
            short = _LONG[matches[0]]
            if short in _WITH_ARG:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        msg = f"option '--{matches[0]}' requires an argument"
                        return _usage_error(err, msg, f"-{short}")
                    value = argv[i]
                if short == "c":
                    opts.uri = value
                elif not _keepalive(opts, short, value, f"--{matches[0]}", err):
                    return 1
            elif short == "v":
                if eq and value not in ("short", "long"):
                    err.write(f"error: unknown option --version={value}\n")
                    return 1
                opts.action = "long-version" if value == "long" else "version"
            elif eq:
                msg = f"option '--{matches[0]}' doesn't allow an argument"
                return _usage_error(err, msg, f"-{short}")
            else:
                _apply_flag(opts, short)
            i += 1
            continue
        if arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                ch = arg[j]
                if ch in _WITH_ARG:
                    value = arg[j + 1 :]
                    if not value:
                        i += 1
                        if i >= len(argv):
                            msg = f"option requires an argument -- '{ch}'"
                            return _usage_error(err, msg, f"-{ch}")
                        value = argv[i]
                    if ch == "c":
                        opts.uri = value
                    elif not _keepalive(opts, ch, value, f"-{ch}", err):
                        return 1
                    break
                if ch not in "hqrvV":
                    return _usage_error(err, f"invalid option -- '{ch}'", f"-{ch}")
                _apply_flag(opts, ch)
                j += 1
            i += 1
            continue
        break
    opts.rest = list(argv[i:])
    return opts


def _apply_flag(opts: _Options, short: str) -> None:
    if short == "h":
        opts.action = opts.action or "help"
    elif short == "q":
        opts.quiet = True
    elif short == "r":
        opts.readonly = True
    elif short == "v":
        opts.action = opts.action or "version"
    elif short == "V":
        opts.action = opts.action or "long-version"


def _lib_version() -> str:
    from minivirt import core
    from minivirt.shell.cmd_host import version_text

    return version_text(core.LIB_VERSION)


# minivirsh's own addition after virsh's usage text (virsh's error lines stay byte-exact).
_CONNECT_HINT = """\
  Which hypervisor: -c URI, else $MINIVIRT_DEFAULT_URI, else qemu:///system as root
  (minivirtd's socket /run/minivirt/minivirt-sock) and qemu:///session otherwise.
  For example: -c qemu+tcp://127.0.0.1/system, -c 'qemu:///embed?root=DIR',
  -c qemu:///session, -c test:///default.

"""


def _print_usage(out: TextIO) -> None:
    from minivirt.shell.commands import REGISTRY
    from minivirt.shell.options import group_help

    text = _USAGE.format(p=PROGRAM)
    text += "".join(group_help(g) + "\n" for g in REGISTRY.groups)
    text += "\n  (specify help <group> for details about the commands in the group)\n"
    text += "\n  (specify help <command> for details about the command)\n\n"
    text += _CONNECT_HINT
    out.write(text)


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run minivirsh with ``argv`` (without the program name); returns the exit status.

    The streams default to the process's; tests pass their own to run in-process.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    parsed_argv = _parse_argv(args, err)
    if isinstance(parsed_argv, int):
        return parsed_argv
    if parsed_argv.action == "help":
        _print_usage(out)
        return 0
    if parsed_argv.action == "version":
        out.write(_lib_version() + "\n")
        return 0
    if parsed_argv.action == "long-version":
        out.write(f"{PROGRAM} command line tool of minivirt, following libvirt {_lib_version()}\n")
        return 0
    ctl = Control(
        out, err, uri=parsed_argv.uri, readonly=parsed_argv.readonly, quiet=parsed_argv.quiet
    )
    ctl.set_keepalive(parsed_argv.keepalive_interval, parsed_argv.keepalive_count)
    try:
        if parsed_argv.uri is not None and not ctl.connect(parsed_argv.uri, ctl.readonly):
            ctl.report_error()
            return 1
        if parsed_argv.rest:
            return _one_shot(ctl, parsed_argv.rest)
        from minivirt.shell.interactive import run_interactive

        return run_interactive(ctl, sys.stdin if stdin is None else stdin)
    except KeyboardInterrupt:
        return 130
    finally:
        ctl.disconnect()


def _one_shot(ctl: Control, rest: Sequence[str]) -> int:
    try:
        commands = split_commands(rest[0]) if len(rest) == 1 else [list(rest)]
    except ParseError as exc:
        for message in exc.messages:
            ctl.error(message)
        return 1
    parsed = parse_line(ctl, commands)
    if parsed is None:
        return 1
    ok = True
    for command in parsed:
        ok = run_command(ctl, command)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
