"""The domain XML libvirt's qemu driver shows for a definition, defaults included.

This module owns the document ``virsh dumpxml`` prints for a qemu domain:
the definition plus what libvirt 9.0's qemu driver fills in at define time
for an x86_64 TCG guest on QEMU 7.2 (machine ``pc-i440fx-7.2``, boot device,
the ``qemu64`` CPU model, clock, lifecycle actions, default emulator, PCI
addresses of virtio disks, the USB and PCI root controllers, PS/2 inputs, the
``none`` audio backend, the virtio memory balloon) and, for a running
domain, what it adds at start-up (``id``, resource partition, the CPU
features QEMU reported, source ``index`` numbers and the nested
``<backingStore>`` chain, device aliases, the DAC security label).

It must not read images or processes: the caller passes the backing chains
and the label.  Raises nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from minivirt.conf.domain_xml import _esc, driver_element, format_backing
from minivirt.conf.model import DiskDef, DomainDef, disk_alias

__all__ = ["DEFAULT_EMULATOR", "format_qemu_xml", "top_storage_index"]

#: The emulator libvirt picks for an x86_64 guest when the definition names none.
DEFAULT_EMULATOR: Final[str] = "/usr/bin/qemu-system-x86_64"

#: The first PCI slot given to devices (slot 1 is the PIIX3 south bridge).
_FIRST_SLOT: Final[int] = 2


def top_storage_index(
    disks: Sequence[DiskDef], target: str, depth: Callable[[DiskDef], int]
) -> int:
    """libvirt's storage index of the top image of disk ``target``.

    libvirt numbers the storage nodes of all disks in order, each chain top
    down, from 1: they are the ``index`` attributes of the live XML, the
    ``vda[N]`` names a base may be given by, and the ``libvirt-N-format``
    nodes its job names carry.  ``depth`` is the number of images in a disk's
    chain, top included (at least 1).
    """
    index = 1
    for disk in disks:
        if disk.target == target:
            break
        index += max(1, depth(disk))
    return index


def _address(slot: int, function: int = 0) -> str:
    return (
        f"<address type='pci' domain='0x0000' bus='0x00' slot='0x{slot:02x}'"
        f" function='0x{function:x}'/>"
    )


def _disk(
    out: list[str],
    disk: DiskDef,
    slot: int | None,
    live: bool,
    chain: Sequence[tuple[str, str]],
    index: int,
) -> None:
    out.append(f"    <disk type='file' device='{_esc(disk.device)}'>")
    out.append(f"      {driver_element(disk)}")
    if live:
        out.append(f"      <source file='{_esc(disk.source)}' index='{index}'/>")
        format_backing(out, chain, "      ", index + 1)
    else:
        out.append(f"      <source file='{_esc(disk.source)}'/>")
    out.append(f"      <target dev='{_esc(disk.target)}' bus='{_esc(disk.bus)}'/>")
    if disk.readonly:
        out.append("      <readonly/>")
    if live:
        out.append(f"      <alias name='{disk_alias(disk)}'/>")
    if slot is not None:
        out.append(f"      {_address(slot)}")
    out.append("    </disk>")


def _device(out: list[str], head: str, alias: str | None, address: str | None) -> None:
    """One device element, self-closed when it has neither alias nor address."""
    inner = ([f"      <alias name='{alias}'/>"] if alias else []) + (
        [f"      {address}"] if address else []
    )
    if not inner:
        out.append(f"    <{head}/>")
        return
    out.append(f"    <{head}>")
    out += inner
    out.append(f"    </{head.split()[0]}>")


def format_qemu_xml(
    defn: DomainDef,
    *,
    id: int | None = None,
    chains: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    seclabel: tuple[int, int] = (0, 0),
) -> str:
    """Mirrors qemuDomainFormatXML: the inactive document, or the live one when ``id`` is given.

    ``chains`` maps a disk target to its backing chain below the active
    layer, (path, format) pairs from the top down (live only; a target
    absent means no backing file).  ``seclabel`` is the (uid, gid) QEMU runs
    as, shown in the live DAC label.
    """
    live = id is not None
    chains = chains or {}
    out = [
        f"<domain type='qemu' id='{id}'>" if live else "<domain type='qemu'>",
        f"  <name>{_esc(defn.name)}</name>",
        f"  <uuid>{defn.uuid}</uuid>",
        f"  <memory unit='KiB'>{defn.memory_kib}</memory>",
        f"  <currentMemory unit='KiB'>{defn.current_kib}</currentMemory>",
        f"  <vcpu placement='static'>{defn.vcpus}</vcpu>",
    ]
    if live:
        out += ["  <resource>", "    <partition>/machine</partition>", "  </resource>"]
    out += [
        "  <os>",
        "    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>",
        "    <boot dev='hd'/>",
        "  </os>",
        f"  <cpu mode='custom' match='exact' check='{'full' if live else 'none'}'>",
        "    <model fallback='forbid'>qemu64</model>",
    ]
    if live:
        out.append("    <feature policy='require' name='hypervisor'/>")
        out.append("    <feature policy='require' name='lahf_lm'/>")
    out += [
        "  </cpu>",
        "  <clock offset='utc'/>",
        "  <on_poweroff>destroy</on_poweroff>",
        "  <on_reboot>restart</on_reboot>",
        "  <on_crash>destroy</on_crash>",
        "  <devices>",
        f"    <emulator>{_esc(defn.emulator or DEFAULT_EMULATOR)}</emulator>",
    ]
    slot = _FIRST_SLOT
    for disk in defn.disks:
        disk_slot = None
        if disk.bus == "virtio":
            disk_slot, slot = slot, slot + 1
        chain = chains.get(disk.target, ())
        index = top_storage_index(
            defn.disks, disk.target, lambda d: 1 + len(chains.get(d.target, ()))
        )
        _disk(out, disk, disk_slot, live, chain, index)
    _device(
        out,
        "controller type='usb' index='0' model='piix3-uhci'",
        "usb" if live else None,
        _address(1, 2),
    )
    _device(
        out, "controller type='pci' index='0' model='pci-root'", "pci.0" if live else None, None
    )
    _device(out, "input type='mouse' bus='ps2'", "input0" if live else None, None)
    _device(out, "input type='keyboard' bus='ps2'", "input1" if live else None, None)
    out.append("    <audio id='1' type='none'/>")
    _device(out, "memballoon model='virtio'", "balloon0" if live else None, _address(slot))
    out.append("  </devices>")
    if live:
        uid, gid = seclabel
        out += [
            "  <seclabel type='dynamic' model='dac' relabel='yes'>",
            f"    <label>+{uid}:+{gid}</label>",
            f"    <imagelabel>+{uid}:+{gid}</imagelabel>",
            "  </seclabel>",
        ]
    out.append("</domain>")
    return "\n".join(out) + "\n"
