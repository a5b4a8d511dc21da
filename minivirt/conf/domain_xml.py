"""libvirt domain XML: the subset minivirt reads, and the document it writes.

This module owns the translation between libvirt's ``<domain>`` XML and
:class:`~minivirt.conf.model.DomainDef`.  It reads what minivirt uses (name,
uuid, memory, currentMemory, vcpu, devices/emulator, file disks) and ignores
every other element the way libvirt ignores what a driver does not need.  It
parses with a plain expat parser that refuses DOCTYPE and entity declarations
(no entity expansion, no external fetches) and documents over 1 MiB.  It must
not validate semantics itself (``model.validate_domain`` does) nor touch files.

Errors (error domain ``ErrorDomain.DOMAIN``): ``XML_ERROR`` "XML error: …"
for malformed or oversized documents, DOCTYPE/ENTITY declarations, a wrong
root element, unparsable numbers; ``CONFIG_UNSUPPORTED`` for disk types other
than 'file' and devices other than 'disk' (cdrom, floppy, lun are refused
rather than dropped, so a definition never loses a device silently); plus the
errors of ``model.validate_domain``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Mapping, Sequence
from typing import Final

from minivirt.conf.model import (
    MAX_DOCUMENT_BYTES,
    DiskDef,
    DomainDef,
    config_unsupported,
    disk_alias,
    new_uuid,
    no_name,
    normalize_uuid,
    scale_to_kib,
    validate_domain,
    xml_error,
)

__all__ = ["driver_element", "format_backing", "format_xml", "parse_xml"]

#: Domain types accepted in ``<domain type=…>`` (the output always says 'qemu').
_DOMAIN_TYPES: Final[frozenset[str]] = frozenset({"qemu", "kvm", "test"})

#: libvirt disk types that are valid libvirt XML but cannot be honoured here.
_OTHER_DISK_TYPES: Final[frozenset[str]] = frozenset(
    {"block", "dir", "network", "volume", "nvme", "vhostuser", "vhostvdpa"}
)


class _Refused(Exception):
    """Raised inside expat handlers; turned into a VirError by ``_parse_tree``."""


def _parse_tree(text: str) -> ET.Element:
    """Parse ``text`` into an element tree, refusing DTDs, entities and huge input."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise xml_error(f"document is larger than {MAX_DOCUMENT_BYTES} bytes")
    builder = ET.TreeBuilder()
    parser = xml.parsers.expat.ParserCreate()

    def refuse_doctype(*_args: object) -> None:
        raise _Refused("DOCTYPE declarations are not allowed")

    def refuse_entity(*_args: object) -> None:
        raise _Refused("ENTITY declarations are not allowed")

    def start(tag: str, attrs: dict[str, str]) -> None:
        builder.start(tag, attrs)

    def end(tag: str) -> None:
        builder.end(tag)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise xml_error(str(exc)) from exc
    except xml.parsers.expat.ExpatError as exc:
        raise xml_error(
            f"(domain_definition):{exc.lineno}: {xml.parsers.expat.ErrorString(exc.code)}"
        ) from exc
    return builder.close()


def _text(elem: ET.Element | None) -> str | None:
    """The stripped text of ``elem``, None when absent or empty (libvirt's virXPathString)."""
    if elem is None or elem.text is None:
        return None
    value = elem.text.strip()
    return value or None


def _uint(text: str, what: str) -> int:
    value = text.strip()
    if not value.isdigit() or not value.isascii():
        raise xml_error(f"invalid value '{text}' for element {what}")
    return int(value)


def _memory(elem: ET.Element | None, what: str) -> int | None:
    raw = _text(elem)
    if elem is None or raw is None:
        return None
    return scale_to_kib(_uint(raw, what), elem.get("unit"))


def _parse_disk(elem: ET.Element) -> DiskDef:
    dtype = elem.get("type", "file")
    if dtype in _OTHER_DISK_TYPES:
        raise config_unsupported(f"disk type '{dtype}' is not supported")
    if dtype != "file":
        raise xml_error(f"unknown disk type '{dtype}'")
    device = elem.get("device", "disk")
    if device != "disk":
        raise config_unsupported(f"disk device '{device}' is not supported")
    source_el = elem.find("source")
    source = source_el.get("file", "") if source_el is not None else ""
    target_el = elem.find("target")
    target = target_el.get("dev", "") if target_el is not None else ""
    bus = target_el.get("bus") if target_el is not None else None
    driver = elem.find("driver")
    fmt = driver.get("type") if driver is not None else None
    copy_on_read = driver.get("copy_on_read") if driver is not None else None
    return DiskDef(
        target=target,
        source=source,
        format=fmt or "qcow2",
        bus=bus or "virtio",
        device=device,
        readonly=elem.find("readonly") is not None,
        copy_on_read=copy_on_read,
    )


def parse_xml(text: str) -> DomainDef:
    """Mirrors virDomainDefParseString for the subset minivirt uses.

    Returns a validated :class:`DomainDef` (UUID generated when absent).
    Raises VirError: XML_ERROR, NO_NAME, NO_TARGET, NO_SOURCE,
    INTERNAL_ERROR (malformed uuid), INVALID_ARG (unknown memory unit),
    CONFIG_UNSUPPORTED (non-file disk types, non-disk devices).
    """
    root = _parse_tree(text)
    if root.tag != "domain":
        raise xml_error(f"unexpected root element <{root.tag}>, expecting <domain>")
    dtype = root.get("type")
    if dtype is None:
        raise xml_error("missing domain type attribute")
    if dtype not in _DOMAIN_TYPES:
        raise config_unsupported(f"domain type '{dtype}' is not supported")
    name_el = root.find("name")
    name = name_el.text if name_el is not None else None
    if not name:
        raise no_name()
    uuid_text = _text(root.find("uuid"))
    uuid = new_uuid() if uuid_text is None else normalize_uuid(uuid_text)
    memory = _memory(root.find("memory"), "memory")
    current = _memory(root.find("currentMemory"), "currentMemory")
    vcpu_text = _text(root.find("vcpu"))
    vcpus = 1 if vcpu_text is None else _uint(vcpu_text, "vcpu")
    devices = root.find("devices")
    emulator: str | None = None
    disks: list[DiskDef] = []
    if devices is not None:
        emulator = _text(devices.find("emulator"))
        for disk_el in devices.findall("disk"):
            disks.append(_parse_disk(disk_el))
    defn = DomainDef(
        name=name,
        uuid=uuid,
        memory_kib=memory or 0,
        current_memory_kib=current,
        vcpus=vcpus,
        disks=tuple(disks),
        emulator=emulator,
    )
    return validate_domain(defn)


def _esc(value: str) -> str:
    """Escape text or a single-quoted attribute value as libvirt's formatter does."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&apos;")
        .replace('"', "&quot;")
    )


def format_backing(
    out: list[str], chain: Sequence[tuple[str, str]], indent: str = "      ", first: int = 1
) -> None:
    """A backing chain (path, format) as libvirt's nested ``<backingStore>`` elements,
    numbered from ``first``, ending with the empty ``<backingStore/>``."""
    for index, (path, fmt) in enumerate(chain, start=first):
        out.append(f"{indent}<backingStore type='file' index='{index}'>")
        out.append(f"{indent}  <format type='{_esc(fmt)}'/>")
        out.append(f"{indent}  <source file='{_esc(path)}'/>")
        indent += "  "
    out.append(f"{indent}<backingStore/>")
    for _ in chain:
        indent = indent[:-2]
        out.append(f"{indent}</backingStore>")


def driver_element(disk: DiskDef) -> str:
    """A disk's ``<driver>`` element, as libvirt prints it (format, copy-on-read)."""
    cor = "" if disk.copy_on_read is None else f" copy_on_read='{disk.copy_on_read}'"
    return f"<driver name='qemu' type='{_esc(disk.format)}'{cor}/>"


def format_xml(
    defn: DomainDef,
    *,
    id: int | None = None,
    backing: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> str:
    """Mirrors virDomainDefFormat: libvirt-style domain XML for ``defn``.

    ``id`` given means a live domain: ``<domain id='N'>`` and device aliases.
    ``backing`` maps a disk target to its backing chain below the active
    layer, as (path, format) pairs from the top down; a target mapped to an
    empty chain gets an empty ``<backingStore/>`` (no backing file), a target
    absent from the mapping gets no ``<backingStore>`` at all.  Raises nothing.
    """
    id_attr = "" if id is None else f" id='{id}'"
    out = [
        f"<domain type='qemu'{id_attr}>",
        f"  <name>{_esc(defn.name)}</name>",
        f"  <uuid>{defn.uuid}</uuid>",
        f"  <memory unit='KiB'>{defn.memory_kib}</memory>",
        f"  <currentMemory unit='KiB'>{defn.current_kib}</currentMemory>",
        f"  <vcpu placement='static'>{defn.vcpus}</vcpu>",
        "  <os>",
        "    <type arch='x86_64'>hvm</type>",
        "  </os>",
        "  <devices>",
    ]
    if defn.emulator is not None:
        out.append(f"    <emulator>{_esc(defn.emulator)}</emulator>")
    for disk in defn.disks:
        out.append(f"    <disk type='file' device='{_esc(disk.device)}'>")
        out.append(f"      {driver_element(disk)}")
        out.append(f"      <source file='{_esc(disk.source)}'/>")
        if backing is not None and disk.target in backing:
            format_backing(out, backing[disk.target])
        out.append(f"      <target dev='{_esc(disk.target)}' bus='{_esc(disk.bus)}'/>")
        if disk.readonly:
            out.append("      <readonly/>")
        if id is not None:
            out.append(f"      <alias name='{disk_alias(disk)}'/>")
        out.append("    </disk>")
    out.append("  </devices>")
    out.append("</domain>")
    return "\n".join(out) + "\n"
