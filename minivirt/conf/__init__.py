"""Domain definitions (libvirt's ``src/conf/domain_conf.c`` for minivirt's subset).

Owns the :class:`DomainDef` / :class:`DiskDef` values, reading them from
libvirt domain XML or minivirt YAML, and writing both forms.  Imports only
``minivirt.public``, the stdlib and PyYAML; knows nothing of drivers,
connections, processes or files on disk.

Every refusal is a :class:`~minivirt.public.VirError` in error domain
``ErrorDomain.DOMAIN`` (20); see ``minivirt.conf.model`` for the codes.
"""

from __future__ import annotations

from minivirt.conf.domain_xml import format_xml, parse_xml
from minivirt.conf.model import (
    DISK_BUSES,
    DISK_FORMATS,
    MAX_DOCUMENT_BYTES,
    DiskDef,
    DomainDef,
    disk_alias,
    disk_index,
    new_uuid,
    normalize_uuid,
    validate_domain,
)
from minivirt.conf.qemu_xml import format_qemu_xml, top_storage_index

__all__ = [
    "DISK_BUSES",
    "DISK_FORMATS",
    "MAX_DOCUMENT_BYTES",
    "DiskDef",
    "DomainDef",
    "disk_alias",
    "disk_index",
    "format_qemu_xml",
    "top_storage_index",
    "format_xml",
    "format_yaml",
    "new_uuid",
    "normalize_uuid",
    "parse_domain",
    "parse_xml",
    "parse_yaml",
    "validate_domain",
]


def parse_yaml(text: str) -> DomainDef:
    """Read minivirt's YAML domain form; see :func:`minivirt.conf.domain_yaml.parse_yaml`.

    PyYAML is imported on the first YAML document, not with this package: a
    one-shot client of ``test:///default`` or a daemon reading XML never pays
    for it.
    """
    from minivirt.conf import domain_yaml

    return domain_yaml.parse_yaml(text)


def format_yaml(defn: DomainDef) -> str:
    """Write ``defn`` in minivirt's YAML form; see :func:`minivirt.conf.domain_yaml.format_yaml`."""
    from minivirt.conf import domain_yaml

    return domain_yaml.format_yaml(defn)


def parse_domain(document: str) -> DomainDef:
    """Mirrors virDomainDefParseString: XML when the first non-blank char is '<', else YAML.

    Raises VirError as :func:`parse_xml` / :func:`parse_yaml`.
    """
    if document.lstrip().startswith("<"):
        return parse_xml(document)
    return parse_yaml(document)
