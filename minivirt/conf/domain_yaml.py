"""minivirt's YAML form of a domain definition (read with ``yaml.safe_load``).

The form, one mapping::

    name: demo                       # required
    uuid: 6695eb01-f6a4-8304-79aa-97f2502e193f   # optional, generated when absent
    memory: 64                       # MiB as an integer, or a string "64MiB", "65536KiB", "1G"
    current_memory: 32               # optional, same syntax; defaults to memory
    vcpus: 1                         # optional, default 1
    emulator: /usr/bin/qemu-system-x86_64   # optional
    disks:                           # optional
      - {target: vda, source: /images/demo.qcow2, format: qcow2, bus: virtio, readonly: false,
         copy_on_read: on}           # copy_on_read optional: on/off (YAML booleans or strings)

Memory strings take libvirt's unit suffixes (b, k/KiB, KB, M/MiB, MB, G/GiB,
GB, T…, case-insensitive); a bare number, or a number string without unit,
is MiB.  ``memory`` is required (libvirt refuses a domain without memory).
Values are typed strictly: YAML 1.1 reads ``off``, ``no``, ``1.0`` as a
boolean or a number, so such a name must be quoted (``name: 'off'``).

This module owns that form: reading it strictly (unknown keys and wrong
types are refused, never ignored) and writing it.  It must not validate
semantics itself (``model.validate_domain`` does) nor touch files.

Errors (error domain ``ErrorDomain.DOMAIN``): ``XML_ERROR`` "XML error: …"
for malformed YAML, a document over 1 MiB, unknown keys, wrong types; plus
the errors of ``model.validate_domain`` (NO_NAME, NO_TARGET, NO_SOURCE,
INTERNAL_ERROR "malformed uuid element", INVALID_ARG unknown memory unit,
CONFIG_UNSUPPORTED).
"""

from __future__ import annotations

import re
from typing import Final

import yaml

from minivirt.conf.model import (
    MAX_DOCUMENT_BYTES,
    DiskDef,
    DomainDef,
    new_uuid,
    no_name,
    normalize_uuid,
    scale_to_kib,
    validate_domain,
    xml_error,
)

__all__ = ["format_yaml", "parse_yaml"]

_DOMAIN_KEYS: Final[frozenset[str]] = frozenset(
    {"name", "uuid", "memory", "current_memory", "vcpus", "emulator", "disks"}
)
_DISK_KEYS: Final[frozenset[str]] = frozenset(
    {"target", "source", "format", "bus", "device", "readonly", "copy_on_read"}
)
_MEMORY_RE: Final[re.Pattern[str]] = re.compile(r"\s*([0-9]+)\s*([A-Za-z]*)\s*")


def _check_keys(mapping: dict[object, object], allowed: frozenset[str], where: str) -> None:
    for key in mapping:
        if not isinstance(key, str) or key not in allowed:
            raise xml_error(f"unknown key '{key}' in {where}")


def _str(value: object, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise xml_error(f"'{key}' in {where} must be a string")
    return value


def _int(value: object, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise xml_error(f"'{key}' in {where} must be an integer")
    return value


def _memory_kib(value: object, key: str) -> int:
    if isinstance(value, bool):
        raise xml_error(f"'{key}' in domain definition must be an integer or a size string")
    if isinstance(value, int):
        if value < 0:
            raise xml_error(f"invalid {key} value '{value}'")
        return scale_to_kib(value, "MiB")
    if isinstance(value, str):
        match = _MEMORY_RE.fullmatch(value)
        if match is None:
            raise xml_error(f"invalid {key} value '{value}'")
        return scale_to_kib(int(match.group(1)), match.group(2) or "MiB")
    raise xml_error(f"'{key}' in domain definition must be an integer or a size string")


def _disk(item: object, index: int) -> DiskDef:
    where = f"disk {index}"
    if not isinstance(item, dict):
        raise xml_error(f"{where} must be a mapping")
    _check_keys(item, _DISK_KEYS, where)
    readonly = item.get("readonly", False)
    if not isinstance(readonly, bool):
        raise xml_error(f"'readonly' in {where} must be a boolean")
    cor = item.get("copy_on_read")
    if isinstance(cor, bool):  # YAML 1.1 reads a bare on/off as a boolean
        cor = "on" if cor else "off"
    return DiskDef(
        target=_str(item.get("target", ""), "target", where),
        source=_str(item.get("source", ""), "source", where),
        format=_str(item.get("format", "qcow2"), "format", where),
        bus=_str(item.get("bus", "virtio"), "bus", where),
        device=_str(item.get("device", "disk"), "device", where),
        readonly=readonly,
        copy_on_read=None if cor is None else _str(cor, "copy_on_read", where),
    )


def parse_yaml(text: str) -> DomainDef:
    """Read minivirt's YAML domain form (the YAML twin of virDomainDefParseString).

    Returns a validated :class:`DomainDef`.  Raises VirError XML_ERROR and the
    errors of ``validate_domain`` (see the module docstring).
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise xml_error(f"document is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise xml_error(f"malformed YAML document: {exc}") from exc
    except RecursionError as exc:
        raise xml_error("malformed YAML document: nested too deeply") from exc
    where = "domain definition"
    if not isinstance(doc, dict):
        raise xml_error("a YAML domain definition must be a mapping")
    _check_keys(doc, _DOMAIN_KEYS, where)
    name = doc.get("name")
    if name is None or name == "":
        raise no_name()
    name = _str(name, "name", where)
    uuid_value = doc.get("uuid")
    uuid = new_uuid() if uuid_value is None else normalize_uuid(_str(uuid_value, "uuid", where))
    if "memory" not in doc:
        raise xml_error("Memory size must be specified via <memory> or in the <numa> configuration")
    memory = _memory_kib(doc["memory"], "memory")
    current = doc.get("current_memory")
    current_kib = None if current is None else _memory_kib(current, "current_memory")
    vcpus = _int(doc.get("vcpus", 1), "vcpus", where)
    emulator_value = doc.get("emulator")
    emulator = None if emulator_value is None else _str(emulator_value, "emulator", where)
    disks_value = doc.get("disks", [])
    if disks_value is None:
        disks_value = []
    if not isinstance(disks_value, list):
        raise xml_error("'disks' in domain definition must be a list")
    disks = tuple(_disk(item, i) for i, item in enumerate(disks_value))
    return validate_domain(
        DomainDef(
            name=name,
            uuid=uuid,
            memory_kib=memory,
            current_memory_kib=current_kib,
            vcpus=vcpus,
            disks=disks,
            emulator=emulator,
        )
    )


def _memory_text(kib: int) -> int | str:
    return kib // 1024 if kib % 1024 == 0 else f"{kib}KiB"


def _disk_doc(disk: DiskDef) -> dict[str, object]:
    doc: dict[str, object] = {
        "target": disk.target,
        "source": disk.source,
        "format": disk.format,
        "bus": disk.bus,
        "readonly": disk.readonly,
    }
    if disk.copy_on_read is not None:
        doc["copy_on_read"] = disk.copy_on_read
    return doc


def format_yaml(defn: DomainDef) -> str:
    """Write ``defn`` in minivirt's YAML form (memory in MiB when whole).  Raises nothing."""
    doc: dict[str, object] = {
        "name": defn.name,
        "uuid": defn.uuid,
        "memory": _memory_text(defn.memory_kib),
    }
    if defn.current_memory_kib is not None:
        doc["current_memory"] = _memory_text(defn.current_memory_kib)
    doc["vcpus"] = defn.vcpus
    if defn.emulator is not None:
        doc["emulator"] = defn.emulator
    doc["disks"] = [_disk_doc(d) for d in defn.disks]
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)
