"""The domain definition model: ``DiskDef``, ``DomainDef`` and their validation.

This module owns the values a definition is made of, the rules every
definition must satisfy whatever its source form (XML or YAML), memory-unit
arithmetic, and the construction of the configuration errors libvirt reports.
It must not parse or format documents (see ``domain_xml`` / ``domain_yaml``)
and must not know about drivers, connections or files on disk.

Error codes raised here (all with error domain ``ErrorDomain.DOMAIN``, 20):

* ``XML_ERROR`` (27) "XML error: …" for invalid values (bad name, bad target,
  relative source path, duplicate target, memory missing, …);
* ``NO_NAME`` (21) "missing name information" (libvirt's text);
* ``NO_TARGET`` (20) "missing target information for device <source>";
* ``NO_SOURCE`` (19) "missing source information for device <target>";
* ``INTERNAL_ERROR`` (1) "internal error: malformed uuid element" (libvirt's
  code and text for a bad ``<uuid>``);
* ``INVALID_ARG`` (8) "invalid argument: unknown suffix '<unit>'" for a
  memory unit libvirt does not know (libvirt's ``virScaleInteger``);
* ``CONFIG_UNSUPPORTED`` (67) "unsupported configuration: …" for valid
  libvirt configuration minivirt cannot honour (non-file disks, cdrom, …).
"""

from __future__ import annotations

import dataclasses
import re
import uuid as uuidlib
from collections.abc import Sequence
from typing import Final

from minivirt.public import ErrorDomain, ErrorLevel, ErrorNumber, VirError

__all__ = [
    "DISK_BUSES",
    "DISK_FORMATS",
    "MAX_DOCUMENT_BYTES",
    "TRISTATE_SWITCH",
    "DiskDef",
    "DomainDef",
    "config_unsupported",
    "disk_alias",
    "disk_index",
    "new_uuid",
    "no_name",
    "no_source",
    "no_target",
    "normalize_uuid",
    "scale_to_kib",
    "validate_domain",
    "xml_error",
]

#: Largest document (in UTF-8 bytes) the parsers accept.
MAX_DOCUMENT_BYTES: Final[int] = 1024 * 1024

#: Image formats a disk may declare in ``<driver type=…>``.
DISK_FORMATS: Final[frozenset[str]] = frozenset({"qcow2", "raw", "qed"})

#: libvirt's virTristateSwitch values a ``copy_on_read`` attribute may take.
TRISTATE_SWITCH: Final[frozenset[str]] = frozenset({"on", "off"})

#: Disk buses minivirt knows (libvirt's names).
DISK_BUSES: Final[frozenset[str]] = frozenset({"virtio", "sata", "scsi", "ide", "usb"})

#: ``<target dev=…>``: vd*/sd*/hd* followed by lower-case letters.
_TARGET_RE: Final[re.Pattern[str]] = re.compile(r"(vd|sd|hd)[a-z]+")

_MAX_NAME_BYTES: Final[int] = 255

#: libvirt's virScaleInteger suffixes, as multipliers of one byte.
_UNITS: Final[dict[str, int]] = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
    "t": 1024**4,
    "tib": 1024**4,
    "tb": 1000**4,
    "p": 1024**5,
    "pib": 1024**5,
    "pb": 1000**5,
    "e": 1024**6,
    "eib": 1024**6,
    "eb": 1000**6,
}

#: libvirt caps memory at what fits an unsigned long long of bytes, in KiB.
_MAX_MEMORY_KIB: Final[int] = (2**64 - 1) // 1024


@dataclasses.dataclass(frozen=True, slots=True)
class DiskDef:
    """One ``<disk type='file' device='disk'>``: target name, host path, format, bus."""

    target: str
    source: str
    format: str = "qcow2"
    bus: str = "virtio"
    device: str = "disk"
    readonly: bool = False
    #: ``<driver copy_on_read=…>``: "on", "off", or None when absent (QEMU's default, off).
    copy_on_read: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class DomainDef:
    """A domain definition: identity, memory (KiB), vCPUs, disks and emulator path.

    ``current_memory_kib`` None means "equal to ``memory_kib``" (libvirt's
    default balloon size).  ``uuid`` is the canonical lower-case string.
    """

    name: str
    uuid: str
    memory_kib: int = 65536
    current_memory_kib: int | None = None
    vcpus: int = 1
    disks: tuple[DiskDef, ...] = ()
    emulator: str | None = None

    @property
    def current_kib(self) -> int:
        """The current (balloon) memory in KiB, defaulting to the maximum."""
        return self.memory_kib if self.current_memory_kib is None else self.current_memory_kib

    def disk(self, name: str) -> DiskDef | None:
        """The disk whose target (or, for a name starting with '/', source) is ``name``."""
        for d in self.disks:
            if (d.source if name.startswith("/") else d.target) == name:
                return d
        return None


def _raw_error(code: ErrorNumber, bare: str, template: str, info: str | None) -> VirError:
    """A VirError for codes whose libvirt templates ``ERROR_TEMPLATES`` does not carry."""
    if info is None:
        return VirError(code, ErrorDomain.DOMAIN, bare, ErrorLevel.ERROR, bare, None)
    message = template.replace("%s", info)
    return VirError(code, ErrorDomain.DOMAIN, message, ErrorLevel.ERROR, template, info)


def xml_error(detail: str) -> VirError:
    """VIR_ERR_XML_ERROR / VIR_FROM_DOMAIN: "XML error: <detail>"."""
    return VirError.report(ErrorNumber.XML_ERROR, ErrorDomain.DOMAIN, detail)


def config_unsupported(detail: str) -> VirError:
    """VIR_ERR_CONFIG_UNSUPPORTED / VIR_FROM_DOMAIN: "unsupported configuration: <detail>"."""
    return VirError.report(ErrorNumber.CONFIG_UNSUPPORTED, ErrorDomain.DOMAIN, detail)


def no_name() -> VirError:
    """VIR_ERR_NO_NAME as libvirt's domain parser reports it: "missing name information"."""
    return _raw_error(
        ErrorNumber.NO_NAME, "missing name information", "missing name information in %s", None
    )


def no_target(source: str | None) -> VirError:
    """VIR_ERR_NO_TARGET: "missing target information for device <source>"."""
    return _raw_error(
        ErrorNumber.NO_TARGET,
        "missing target information for device",
        "missing target information for device %s",
        source or None,
    )


def no_source(target: str | None) -> VirError:
    """VIR_ERR_NO_SOURCE: "missing source information for device <target>"."""
    return _raw_error(
        ErrorNumber.NO_SOURCE,
        "missing source information for device",
        "missing source information for device %s",
        target or None,
    )


def new_uuid() -> str:
    """A fresh random UUID in canonical form (libvirt generates one when absent)."""
    return str(uuidlib.uuid4())


def normalize_uuid(text: str) -> str:
    """Canonical lower-case form of ``text``; INTERNAL_ERROR "malformed uuid element" if bad.

    Accepts what libvirt's virUUIDParse accepts: 32 hex digits, optionally
    with dashes anywhere, surrounded by blanks.
    """
    digits = text.strip().replace("-", "")
    if len(digits) != 32 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise VirError.report(
            ErrorNumber.INTERNAL_ERROR, ErrorDomain.DOMAIN, "malformed uuid element"
        )
    return str(uuidlib.UUID(hex=digits))


def scale_to_kib(value: int, unit: str | None, default_unit: str = "KiB") -> int:
    """``value`` in ``unit`` as KiB, rounded up (libvirt's virDomainParseMemory).

    INVALID_ARG "unknown suffix '<unit>'" for an unknown unit; XML_ERROR when
    the result exceeds what libvirt can represent.
    """
    name = default_unit if unit is None or unit == "" else unit
    scale = _UNITS.get(name.lower())
    if scale is None:
        raise VirError.report(
            ErrorNumber.INVALID_ARG, ErrorDomain.DOMAIN, f"unknown suffix '{name}'"
        )
    kib = (value * scale + 1023) // 1024
    if kib > _MAX_MEMORY_KIB:
        raise xml_error(f"memory size {value}{name} is too large")
    return kib


def disk_index(target: str) -> int:
    """libvirt's virDiskNameToIndex: 'vda' -> 0, 'vdz' -> 25, 'vdaa' -> 26."""
    idx = 0
    for ch in target[2:]:
        idx = idx * 26 + (ord(ch) - ord("a") + 1)
    return idx - 1


def disk_alias(disk: DiskDef) -> str:
    """The device alias libvirt's qemu driver gives the disk (``virtio-disk0`` for vda)."""
    idx = disk_index(disk.target)
    if disk.bus == "virtio":
        return f"virtio-disk{idx}"
    if disk.bus == "sata":
        return f"sata0-0-{idx}"
    if disk.bus == "scsi":
        return f"scsi0-0-0-{idx}"
    if disk.bus == "ide":
        return f"ide0-{idx // 2}-{idx % 2}"
    return f"usb-disk{idx}"


def _validate_name(name: str) -> None:
    if not name:
        raise no_name()
    if "/" in name:
        raise xml_error(f"domain name '{name}' must not contain '/'")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise xml_error(f"domain name {name!r} must not contain control characters")
    if name in (".", ".."):
        raise xml_error(f"domain name '{name}' is not allowed")
    if name.startswith("-"):
        raise xml_error(f"domain name '{name}' must not start with '-'")
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        raise xml_error(f"domain name is longer than {_MAX_NAME_BYTES} bytes")


def _validate_disk(disk: DiskDef) -> None:
    if disk.device != "disk":
        raise config_unsupported(f"disk device '{disk.device}' is not supported")
    if not disk.target:
        raise no_target(disk.source)
    if not _TARGET_RE.fullmatch(disk.target):
        raise xml_error(f"invalid disk target name '{disk.target}'")
    if not disk.source:
        raise no_source(disk.target)
    if not disk.source.startswith("/"):
        raise xml_error(f"disk source path '{disk.source}' must be absolute")
    if disk.format not in DISK_FORMATS:
        raise xml_error(f"unknown driver format value '{disk.format}'")
    if disk.bus not in DISK_BUSES:
        raise xml_error(f"unknown disk bus type '{disk.bus}'")
    if disk.copy_on_read is not None and disk.copy_on_read not in TRISTATE_SWITCH:
        raise xml_error(
            f"Invalid value for attribute 'copy_on_read' in element 'driver': "
            f"'{disk.copy_on_read}'."
        )


def _check_duplicates(disks: Sequence[DiskDef]) -> None:
    seen: dict[str, DiskDef] = {}
    for d in disks:
        other = seen.get(d.target)
        if other is not None:
            raise xml_error(
                f"target '{d.target}' duplicated for disk sources '{other.source}' and '{d.source}'"
            )
        seen[d.target] = d


def validate_domain(defn: DomainDef) -> DomainDef:
    """Check every rule of a definition; return it (with currentMemory clamped as libvirt).

    Raises the errors listed in the module docstring.  A ``current_memory_kib``
    of 0 or above ``memory_kib`` is reset to None (= the maximum), as libvirt
    does silently.
    """
    _validate_name(defn.name)
    normalize_uuid(defn.uuid)
    if defn.memory_kib <= 0:
        raise xml_error("Memory size must be specified via <memory> or in the <numa> configuration")
    if defn.memory_kib > _MAX_MEMORY_KIB:
        raise xml_error("memory size is too large")
    if defn.vcpus < 1:
        raise xml_error(f"invalid vcpu count {defn.vcpus}: at least 1 vCPU is required")
    if defn.emulator is not None and not defn.emulator.startswith("/"):
        raise xml_error(f"emulator path '{defn.emulator}' must be absolute")
    for d in defn.disks:
        _validate_disk(d)
    _check_duplicates(defn.disks)
    cur = defn.current_memory_kib
    if cur is not None and (cur <= 0 or cur >= defn.memory_kib):
        defn = dataclasses.replace(defn, current_memory_kib=None)
    return defn
