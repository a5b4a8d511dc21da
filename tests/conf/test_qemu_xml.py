"""format_qemu_xml: the document libvirt 9.0's qemu driver shows (captured from libvirtd 9.0)."""

from __future__ import annotations

from minivirt.conf import DiskDef, DomainDef, format_qemu_xml

UUID = "c7a5fdbd-cdaf-9455-926a-d65c16db1809"
DEFN = DomainDef("golden", UUID, 65536, None, 1, (DiskDef("vda", "/i/top.qcow2"),))

# `virsh dumpxml golden` of a defined, shut off domain on libvirtd 9.0 / QEMU 7.2
INACTIVE = """<domain type='qemu'>
  <name>golden</name>
  <uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>65536</memory>
  <currentMemory unit='KiB'>65536</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/i/top.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </disk>
    <controller type='usb' index='0' model='piix3-uhci'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pci-root'/>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <audio id='1' type='none'/>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </memballoon>
  </devices>
</domain>
"""


def test_inactive_document_is_libvirts():
    assert format_qemu_xml(DEFN) == INACTIVE


def test_live_document_has_id_chain_aliases_and_label():
    xml = format_qemu_xml(DEFN, id=3, chains={"vda": [("/i/base.qcow2", "qcow2")]}, seclabel=(0, 0))
    assert xml.startswith("<domain type='qemu' id='3'>\n")
    assert (
        "      <source file='/i/top.qcow2' index='1'/>\n"
        "      <backingStore type='file' index='2'>\n"
        "        <format type='qcow2'/>\n"
        "        <source file='/i/base.qcow2'/>\n"
        "        <backingStore/>\n"
        "      </backingStore>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "      <alias name='virtio-disk0'/>\n"
    ) in xml
    assert "  <cpu mode='custom' match='exact' check='full'>\n" in xml
    assert "    <label>+0:+0</label>\n" in xml
    assert (
        "    <controller type='pci' index='0' model='pci-root'>\n      <alias name='pci.0'/>\n"
        in xml
    )


def test_a_pulled_disk_shows_an_empty_backing_store():
    xml = format_qemu_xml(DEFN, id=1, chains={})
    assert "      <source file='/i/top.qcow2' index='1'/>\n      <backingStore/>\n" in xml


def test_storage_indexes_and_pci_slots_run_across_disks():
    two = DomainDef(
        "two", UUID, 65536, None, 1, (DiskDef("vda", "/i/a.qcow2"), DiskDef("vdb", "/i/b.qcow2"))
    )
    xml = format_qemu_xml(two, id=1, chains={"vda": [("/i/base.qcow2", "qcow2")]})
    assert "<source file='/i/b.qcow2' index='3'/>" in xml
    assert "slot='0x03' function='0x0'/>\n    </disk>" in xml
    assert "<memballoon model='virtio'>\n      <alias name='balloon0'/>\n" in xml
    assert "slot='0x04'" in xml
