"""The command table of minivirsh, grouped as virsh groups its commands.

This module only assembles the groups from the command modules and hands
the registry to ``help``; it owns no behaviour.
"""

from __future__ import annotations

from minivirt.shell import cmd_blockjob, cmd_domain, cmd_dumpxml, cmd_event, cmd_host, cmd_qemu
from minivirt.shell.options import Group, Registry

__all__ = ["REGISTRY"]

REGISTRY = Registry(
    [
        Group(
            "Domain Management",
            "domain",
            (
                cmd_blockjob.BLOCKJOB,
                cmd_blockjob.BLOCKPULL,
                cmd_domain.DEFINE,
                cmd_domain.DESTROY,
                cmd_dumpxml.DUMPXML,
                cmd_event.EVENT,
                cmd_qemu.QEMU_MONITOR_COMMAND,
                cmd_domain.START,
                cmd_domain.UNDEFINE,
            ),
        ),
        Group(
            "Domain Monitoring",
            "monitor",
            (cmd_domain.DOMBLKLIST, cmd_domain.DOMINFO, cmd_domain.DOMSTATE, cmd_domain.LIST),
        ),
        Group("Host and Hypervisor", "host", (cmd_host.URI, cmd_host.VERSION)),
        Group(
            "Virsh itself",
            "virsh",
            (cmd_host.CONNECT, cmd_host.EXIT, cmd_host.HELP, cmd_host.QUIT),
        ),
    ]
)
cmd_host.set_registry(REGISTRY)
