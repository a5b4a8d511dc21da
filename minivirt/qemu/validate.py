"""What the qemu driver refuses in a definition that conf accepts (libvirt's qemu_validate.c).

This module owns the checks a domain definition must pass before the qemu
driver stores or starts it, beyond the rules every driver shares
(``minivirt.conf.validate_domain``): today, the copy-on-read rules of
libvirt's ``qemuValidateDomainDeviceDefDisk``.  It must not touch files,
processes or QEMU.

Errors: ``CONFIG_UNSUPPORTED`` (67) in error domain ``ErrorDomain.QEMU``
(10), "unsupported configuration: copy_on_read is not compatible with
read-only disk '<target>'" (libvirt 9.0's text).
"""

from __future__ import annotations

from minivirt.conf import DomainDef
from minivirt.public import ErrorDomain, ErrorNumber, VirError

__all__ = ["validate_for_qemu"]


def validate_for_qemu(defn: DomainDef) -> DomainDef:
    """Mirrors qemuValidateDomainDeviceDefDisk's copy-on-read rules; returns ``defn``.

    Raises VirError CONFIG_UNSUPPORTED for copy_on_read='on' on a read-only
    disk (QEMU cannot copy into an image it opened read-only).
    """
    for disk in defn.disks:
        if disk.copy_on_read == "on" and disk.readonly:
            raise VirError.report(
                ErrorNumber.CONFIG_UNSUPPORTED,
                ErrorDomain.QEMU,
                f"copy_on_read is not compatible with read-only disk '{disk.target}'",
            )
    return defn
