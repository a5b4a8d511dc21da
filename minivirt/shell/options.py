"""Command and option definitions, the command-line parser and ``help`` text, as virsh's vsh.

This module owns the vshCmdDef / vshCmdOptDef model (DATA, STRING, INT and
BOOL options; required flags; positional order), the tokenizer of command
strings (quotes, backslashes, ``;``), the parser that turns tokens into a
:class:`ParsedCommand` with virsh's error texts, and the NAME / SYNOPSIS /
DESCRIPTION / OPTIONS help layout.  It knows nothing of connections or
commands' behaviour and imports nothing of minivirt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final, TypeAlias

__all__ = [
    "HELP_OPTION",
    "CommandDef",
    "Group",
    "OptDef",
    "OptType",
    "ParseError",
    "ParsedCommand",
    "Registry",
    "command_help",
    "group_help",
    "parse_tokens",
    "split_commands",
]


class OptType:
    """vshCmdOptType: the kinds of option a command takes (plain strings: no enum at start-up)."""

    BOOL: Final = "bool"
    STRING: Final = "string"
    INT: Final = "int"
    DATA: Final = "data"
    #: VSH_OT_ARGV: every remaining word (and each ``--NAME WORD``), in order.
    ARGV: Final = "argv"


class OptDef:
    """vshCmdOptDef: name, type, whether required, help text.

    Every non-boolean option may also be given positionally, in declared
    order, unless ``positional`` is False (virsh's VSH_OFLAG_REQ_OPT).
    Plain slotted classes rather than dataclasses keep the shell's import lean.
    """

    __slots__ = ("help", "name", "positional", "required", "type")

    def __init__(
        self, name: str, type: str, help: str, required: bool = False, positional: bool = True
    ) -> None:
        self.name = name
        self.type = type
        self.help = help
        self.required = required
        self.positional = positional

    def __repr__(self) -> str:
        return f"OptDef({self.name!r}, {self.type!r})"


#: A command's handler: ``handler(ctl, cmd)`` returns True on success (virsh's bool
#: handlers).  ``ctl`` is the session, ``minivirt.shell.control.Control``, which imports
#: this module: naming it here would close an import circle, hence ``Any``.
Handler: TypeAlias = "Callable[[Any, ParsedCommand], bool]"


class CommandDef:
    """vshCmdDef: name, one-line help, description, options, handler.

    ``needs_connection`` is False for virsh's VSH_CMD_FLAG_NOCONNECT commands.
    """

    __slots__ = ("desc", "handler", "help", "name", "needs_connection", "opts")

    def __init__(
        self,
        name: str,
        help: str,
        desc: str,
        opts: tuple[OptDef, ...],
        handler: Handler,
        needs_connection: bool = True,
    ) -> None:
        self.name = name
        self.help = help
        self.desc = desc
        self.opts = opts
        self.handler = handler
        self.needs_connection = needs_connection

    def option(self, name: str) -> OptDef | None:
        for opt in self.opts:
            if opt.name == name:
                return opt
        return None

    def __repr__(self) -> str:
        return f"CommandDef({self.name!r})"


class Group:
    """vshCmdGrp: a named group of commands with its help keyword."""

    __slots__ = ("commands", "keyword", "name")

    def __init__(self, name: str, keyword: str, commands: tuple[CommandDef, ...]) -> None:
        self.name = name
        self.keyword = keyword
        self.commands = commands


class Registry:
    """The command groups, searchable by command name or group keyword."""

    def __init__(self, groups: Sequence[Group]) -> None:
        self.groups = tuple(groups)
        self._by_name = {c.name: c for g in self.groups for c in g.commands}

    def command(self, name: str) -> CommandDef | None:
        return self._by_name.get(name)

    def group(self, name: str) -> Group | None:
        for group in self.groups:
            if name in (group.name, group.keyword):
                return group
        return None

    def names(self) -> list[str]:
        return [c.name for g in self.groups for c in g.commands]


#: virsh's implicit ``--help`` accepted by every command.
HELP_OPTION = OptDef("help", OptType.BOOL, "print help for this function")


class ParsedCommand:
    """vshCmd: the command and its options (name -> value, booleans map to "")."""

    __slots__ = ("cmd", "opts")

    def __init__(self, cmd: CommandDef, opts: dict[str, str]) -> None:
        self.cmd = cmd
        self.opts = opts

    def has(self, name: str) -> bool:
        """vshCommandOptBool: whether the option was given (any type)."""
        return name in self.opts

    def get(self, name: str) -> str | None:
        return self.opts.get(name)

    def argv(self, name: str) -> list[str]:
        """vshCommandOptArgv: the words of an ARGV option, in order (empty when absent)."""
        value = self.opts.get(name)
        return [] if value is None else value.split(ARGV_SEPARATOR)


class ParseError(Exception):
    """A command line virsh refuses before running anything; args are the error lines."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = messages


#: How the words of an ARGV option are kept in one ``opts`` value (no argv word holds NUL).
ARGV_SEPARATOR: Final = "\0"


def _add(opts: dict[str, str], opt: OptDef, value: str) -> None:
    """Record ``value`` for ``opt``; an ARGV option collects every value."""
    if opt.type == OptType.ARGV and opt.name in opts:
        opts[opt.name] += ARGV_SEPARATOR + value
    else:
        opts[opt.name] = value


# -- tokenizing -----------------------------------------------------------


def split_commands(line: str) -> list[list[str]]:
    """Split a command string into commands of tokens, as vshCommandStringGetArg.

    Single quotes keep everything literally, double quotes allow backslash
    escapes, a backslash outside single quotes escapes the next character,
    and an unquoted ``;`` ends a command.  Raises ParseError for a dangling
    backslash or an unclosed double quote.
    """
    commands: list[list[str]] = []
    tokens: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        if line[i] == ";":
            commands.append(tokens)
            tokens = []
            i += 1
            continue
        single = double = False
        buf: list[str] = []
        while i < n:
            ch = line[i]
            if not single and not double and ch in " \t;":
                break
            if not double and ch == "'":
                single = not single
                i += 1
                continue
            if not single and ch == "\\":
                i += 1
                if i >= n:
                    raise ParseError("dangling \\")
                buf.append(line[i])
                i += 1
                continue
            if not single and ch == '"':
                double = not double
                i += 1
                continue
            buf.append(ch)
            i += 1
        if double:
            raise ParseError('missing "')
        tokens.append("".join(buf))
    commands.append(tokens)
    return [c for c in commands if c]


# -- parsing --------------------------------------------------------------


def _option_by_name(cmd: CommandDef, name: str, seen: set[str]) -> OptDef:
    if name == HELP_OPTION.name:
        return HELP_OPTION
    opt = cmd.option(name)
    if opt is None:
        raise ParseError(f"command '{cmd.name}' doesn't support option --{name}")
    if name in seen and opt.type != OptType.ARGV:
        raise ParseError(f"option --{name} already seen")
    return opt


def parse_tokens(registry: Registry, tokens: Sequence[str]) -> ParsedCommand:
    """Parse one command's tokens as vshCommandParse does; raises ParseError with virsh's text."""
    name = tokens[0]
    cmd = registry.command(name)
    if cmd is None:
        raise ParseError(f"unknown command: '{name}'")
    is_help = cmd.name == "help"
    opts: dict[str, str] = {}
    seen: set[str] = set()
    need_arg = [o for o in cmd.opts if o.type != OptType.BOOL and o.positional]
    data_only = False
    it: Iterator[str] = iter(tokens[1:])
    for tok in it:
        if not data_only and tok.startswith("--") and len(tok) > 2 and tok[2].isalnum():
            optname, eq, value = tok[2:].partition("=")
            try:
                opt = _option_by_name(cmd, optname, seen)
            except ParseError:
                if is_help:
                    continue
                raise
            seen.add(opt.name)
            if opt.type == OptType.BOOL:
                if eq:
                    raise ParseError(f"invalid '=' after option --{opt.name}")
                opts[opt.name] = ""
                continue
            if not eq:
                nxt = next(it, None)
                if nxt is None:
                    kind = "number" if opt.type == OptType.INT else "string"
                    raise ParseError(f"expected syntax: --{opt.name} <{kind}>")
                value = nxt
            _add(opts, opt, value)
            if opt in need_arg and opt.type != OptType.ARGV:
                need_arg.remove(opt)
            continue
        if not data_only and tok == "--":
            data_only = True
            continue
        if not need_arg:
            if is_help:
                continue
            raise ParseError(f"unexpected data '{tok}'")
        opt = need_arg[0] if need_arg[0].type == OptType.ARGV else need_arg.pop(0)
        seen.add(opt.name)
        _add(opts, opt, tok)
    if HELP_OPTION.name in opts:
        help_cmd = registry.command("help")
        if help_cmd is not None:
            return ParsedCommand(help_cmd, {"command": cmd.name})
    missing = [o for o in cmd.opts if o.required and o.name not in seen]
    if missing:
        raise ParseError(
            *(
                f"command '{cmd.name}' requires <{o.name}> option"
                if o.type in (OptType.DATA, OptType.ARGV)
                else f"command '{cmd.name}' requires --{o.name} option"
                for o in missing
            )
        )
    return ParsedCommand(cmd, opts)


# -- help -----------------------------------------------------------------


def _synopsis_item(opt: OptDef) -> str:
    if opt.type == OptType.BOOL:
        return f"[--{opt.name}]"
    if opt.type == OptType.INT:
        return f"<{opt.name}>" if opt.required else f"[--{opt.name} <number>]"
    if opt.type == OptType.STRING:
        return f"[--{opt.name} <string>]"
    if opt.type == OptType.ARGV:
        return f"{{[--{opt.name}] <string>}}..." if opt.required else f"[<{opt.name}>]..."
    return f"<{opt.name}>" if opt.required else f"[<{opt.name}>]"


def _option_label(opt: OptDef) -> str:
    if opt.type == OptType.BOOL:
        return f"--{opt.name}"
    if opt.type == OptType.INT:
        return f"[--{opt.name}] <number>" if opt.required else f"--{opt.name} <number>"
    if opt.type == OptType.STRING:
        return f"--{opt.name} <string>"
    return f"[--{opt.name}] <string>"


def command_help(cmd: CommandDef) -> str:
    """The text of ``help CMD`` (vshCmddefHelp), ending with one blank line."""
    lines = ["  NAME", f"    {cmd.name} - {cmd.help}", "", "  SYNOPSIS"]
    lines.append("    " + " ".join([cmd.name, *(_synopsis_item(o) for o in cmd.opts)]))
    if cmd.desc:
        lines += ["", "  DESCRIPTION", f"    {cmd.desc}"]
    if cmd.opts:
        lines += ["", "  OPTIONS"]
        lines += [f"    {_option_label(o):<15}  {o.help}" for o in cmd.opts]
    return "\n".join(lines) + "\n\n"


def group_help(group: Group) -> str:
    """One group's block of the command listing (vshCmdGrpHelp)."""
    head = f" {group.name} (help keyword '{group.keyword}'):\n"
    return head + "".join(f"    {c.name:<30} {c.help}\n" for c in group.commands)
