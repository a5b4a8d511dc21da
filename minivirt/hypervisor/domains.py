"""Rules about the set of defined domains that every driver shares (libvirt's
``virdomainobjlist.c``, which both its qemu and its test driver call).

Owns :func:`check_define`: whether a new definition clashes with a domain
already known by its UUID or by its name, with libvirt 9.0's codes, error
domain (VIR_FROM_DOMAIN: shared conf code, whatever the driver) and texts.
Pure: no locks, no I/O; the caller passes what it holds under its lock.
"""

from __future__ import annotations

from collections.abc import Iterable

from minivirt.conf import DomainDef
from minivirt.public import ErrorDomain, ErrorNumber, VirError

__all__ = ["check_define"]


def check_define(defn: DomainDef, same_uuid: DomainDef | None, known: Iterable[DomainDef]) -> None:
    """virDomainObjListAddLocked's checks for defining ``defn``.

    ``same_uuid`` is the definition already known under ``defn``'s UUID (or
    None); ``known`` every known definition.  Raises OPERATION_FAILED "domain
    '%s' is already defined with uuid %s" when that UUID belongs to another
    name (checked first), else "domain '%s' already exists with uuid %s" when
    the name belongs to another UUID.
    """
    if same_uuid is not None:
        if same_uuid.name != defn.name:
            raise VirError.report(
                ErrorNumber.OPERATION_FAILED,
                ErrorDomain.DOMAIN,
                f"domain '{same_uuid.name}' is already defined with uuid {defn.uuid}",
            )
        return
    for other in known:
        if other.name == defn.name:
            raise VirError.report(
                ErrorNumber.OPERATION_FAILED,
                ErrorDomain.DOMAIN,
                f"domain '{defn.name}' already exists with uuid {other.uuid}",
            )
