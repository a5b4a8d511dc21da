"""``libvirt_qemu``'s surface over minivirt: ``import minivirt.bindings.qemu as libvirt_qemu``.

This module owns libvirt-python's libvirt-qemu function and constants that
minivirt implements: ``qemuMonitorCommand(domain, cmd, flags)`` (QEMU's reply
text, libvirtError on failure) and ``VIR_DOMAIN_QEMU_MONITOR_COMMAND_*``.
It goes through ``minivirt.core`` like the rest of the bindings and must not
check arguments itself (core does) nor reach a driver.
"""

from __future__ import annotations

from typing import Final

from minivirt import core
from minivirt.bindings.connection import virDomain
from minivirt.bindings.errors import ApiCall
from minivirt.public import DomainQemuMonitorCommandFlags

__all__ = [
    "VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT",
    "VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP",
    "qemuMonitorCommand",
]

VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT: Final = int(DomainQemuMonitorCommandFlags.DEFAULT)
VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP: Final = int(DomainQemuMonitorCommandFlags.HMP)


def qemuMonitorCommand(domain: virDomain, cmd: str, flags: int) -> str:
    """Mirrors libvirt_qemu.qemuMonitorCommand (virDomainQemuMonitorCommand).

    Returns QEMU's reply: the whole QMP reply as JSON text, or with
    ``VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP`` the human monitor's output.
    Raises libvirtError: INVALID_DOMAIN, OPERATION_DENIED (read-only
    connection), NO_SUPPORT (not a QEMU connection), OPERATION_INVALID
    (domain not running), INTERNAL_ERROR (a command that is not JSON), and
    the driver's errors.
    """
    with ApiCall("virDomainQemuMonitorCommand"):
        target = domain._o if isinstance(domain, virDomain) else domain
        return core.domain_qemu_monitor_command(target, cmd, flags)
