"""Host and shell commands: ``uri``, ``version``, ``connect``, ``help``, ``quit``/``exit``.

This module owns their option tables and output (virsh-host.c and vsh.c's
generic commands).  ``help`` needs no connection; the listing groups
commands as virsh does.  The registry of all commands is passed in by
``minivirt.shell.commands``, so this module imports no other command module.
"""

from __future__ import annotations

from minivirt.shell.control import Control
from minivirt.shell.options import (
    CommandDef,
    OptDef,
    OptType,
    ParsedCommand,
    Registry,
    command_help,
    group_help,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["CONNECT", "EXIT", "HELP", "QUIT", "URI", "VERSION", "set_registry", "version_text"]

_registry: Registry | None = None


def set_registry(registry: Registry) -> None:
    """Give ``help`` the command table it describes."""
    global _registry
    _registry = registry


def version_text(version: int) -> str:
    """major*1000000 + minor*1000 + micro as "major.minor.micro"."""
    return f"{version // 1_000_000}.{version // 1000 % 1000}.{version % 1000}"


def cmd_uri(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh uri: the connection's canonical URI."""
    ctl.print(ctl.require_conn().get_uri() + "\n")
    return True


URI: Final = CommandDef(
    "uri",
    "print the hypervisor canonical URI",
    "Prints the hypervisor canonical URI.",
    (),
    cmd_uri,
)


def cmd_version(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh version: library, API and hypervisor versions."""
    from minivirt import core

    conn = ctl.require_conn()
    lib = version_text(core.LIB_VERSION)
    ctl.print(f"Compiled against library: libvirt {lib}\n")
    ctl.print(f"Using library: libvirt {version_text(conn.get_lib_version())}\n")
    hv_type = conn.get_type()
    ctl.print(f"Using API: {hv_type} {lib}\n")
    hv_version = conn.get_version()
    if hv_version == 0:
        ctl.print(f"Cannot extract running {hv_type} hypervisor version\n")
    else:
        ctl.print(f"Running hypervisor: {hv_type} {version_text(hv_version)}\n")
    return True


VERSION: Final = CommandDef(
    "version",
    "show version",
    "Display the system version information.",
    (),
    cmd_version,
)


def cmd_connect(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh connect [URI] [--readonly]: replace the connection."""
    uri = cmd.get("name") or None  # an empty name is allowed: the current URI
    if not ctl.connect(uri, cmd.has("readonly")):
        return False
    return True


CONNECT: Final = CommandDef(
    "connect",
    "(re)connect to hypervisor",
    "Connect to local hypervisor. This is built-in command after shell start up.",
    (
        OptDef("name", OptType.STRING, "hypervisor connection URI"),
        OptDef("readonly", OptType.BOOL, "read-only connection"),
    ),
    cmd_connect,
    needs_connection=False,
)


def cmd_help(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh help [COMMAND|GROUP]."""
    registry = _registry
    assert registry is not None
    name = cmd.get("command")
    if not name:
        text = "Grouped commands:\n\n"
        text += "".join(group_help(g) + "\n" for g in registry.groups)
        ctl.print(text)
        return True
    command = registry.command(name)
    if command is not None:
        ctl.print(command_help(command))
        return True
    group = registry.group(name)
    if group is not None:
        ctl.print(group_help(group))
        return True
    raise ctl.fail(message=f"command or command group '{name}' doesn't exist")


HELP: Final = CommandDef(
    "help",
    "print help",
    "Prints global help, command specific help, or help for a\n    group of related commands",
    (
        OptDef(
            "command",
            OptType.STRING,
            "Prints global help, command specific help, or help for a group of related commands",
        ),
    ),
    cmd_help,
    needs_connection=False,
)


def cmd_quit(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh quit / exit: leave the interactive shell."""
    ctl.interactive = False
    return True


QUIT: Final = CommandDef(
    "quit", "quit this interactive terminal", "", (), cmd_quit, needs_connection=False
)
EXIT: Final = CommandDef(
    "exit", "quit this interactive terminal", "", (), cmd_quit, needs_connection=False
)
