"""libvirt-qemu's entry points (libvirt's ``libvirt-qemu.c``): QEMU-specific calls.

Owns :func:`domain_qemu_monitor_command`, the monitor passthrough, with
libvirt's checks in libvirt's order.  libvirt-qemu.c reports from error
domain VIR_FROM_NONE, so its read-only and unsupported errors carry domain
NONE (0), while an invalid domain handle is VIR_FROM_DOM as everywhere.
Must not: import a driver or know QMP/HMP syntax (the driver does).
"""

from __future__ import annotations

from minivirt.core import checks
from minivirt.core.domain import DomainHandle, check_domain
from minivirt.public import DomainQemuMonitorCommandFlags, ErrorDomain
from minivirt.public.logger import get_logger

__all__ = ["DomainQemuMonitorCommandFlags", "domain_qemu_monitor_command"]

log = get_logger("minivirt.core")


def domain_qemu_monitor_command(dom: DomainHandle, cmd: str, flags: int = 0) -> str:
    """Mirrors virDomainQemuMonitorCommand: send ``cmd`` to the domain's QEMU monitor.

    ``cmd`` is one QMP command as a JSON object, or with
    ``DomainQemuMonitorCommandFlags.HMP`` a human-monitor command line.
    Returns QEMU's reply text (the whole QMP reply, or HMP's output).
    Raises INVALID_DOMAIN (from DOM), OPERATION_DENIED (read-only connection,
    domain NONE), INVALID_ARG (cmd not a string), NO_SUPPORT (domain NONE),
    and whatever the driver reports.
    """
    fn = "virDomainQemuMonitorCommand"
    log.debug("%s dom=%r cmd=%r flags=%r", fn, dom, cmd, flags)
    dom = check_domain(dom, fn)
    if dom.conn.is_read_only():
        raise checks.read_only_denied(fn, ErrorDomain.NONE)
    checks.non_null(cmd, "cmd", fn, ErrorDomain.NONE)
    flags = checks.uint_arg(flags, "flags", fn)
    driver = checks.supported(dom.conn.driver, "domain_qemu_monitor_command", fn, ErrorDomain.NONE)
    return driver.domain_qemu_monitor_command(dom.ref, cmd, flags)
