"""minivirt.conf: parsing, formatting and every refusal (code, domain, message)."""

from __future__ import annotations

import dataclasses

import pytest

from minivirt.conf import (
    DiskDef,
    DomainDef,
    disk_alias,
    disk_index,
    format_xml,
    format_yaml,
    parse_domain,
    parse_xml,
    parse_yaml,
)
from minivirt.public import ErrorDomain, ErrorNumber, VirError

UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

FULL_XML = f"""<domain type='kvm'>
  <name>golden</name>
  <uuid>{UUID.upper()}</uuid>
  <memory unit='MiB'>64</memory>
  <currentMemory unit='KiB'>32768</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/images/golden.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/images/data.img'/>
      <target dev='sdb' bus='sata'/>
      <readonly/>
    </disk>
    <interface type='user'><model type='virtio'/></interface>
    <graphics type='vnc'/>
    <console type='pty'/>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""

EXPECTED = DomainDef(
    name="golden",
    uuid=UUID,
    memory_kib=65536,
    current_memory_kib=32768,
    vcpus=2,
    disks=(
        DiskDef("vda", "/images/golden.qcow2"),
        DiskDef("sdb", "/images/data.img", format="raw", bus="sata", readonly=True),
    ),
    emulator="/usr/bin/qemu-system-x86_64",
)


def xml_doc(body: str = "", *, name: str = "<name>d</name>", memory: str | None = None) -> str:
    mem = "<memory>1024</memory>" if memory is None else memory
    return f"<domain type='qemu'>{name}{mem}<devices>{body}</devices></domain>"


def disk_xml(
    target: str = "vda", source: str = "/i/a.qcow2", *, dtype="file", device="disk", extra=""
) -> str:
    src = "" if source is None else f"<source file='{source}'/>"
    tgt = "" if target is None else f"<target dev='{target}' bus='virtio'/>"
    return f"<disk type='{dtype}' device='{device}'>{src}{tgt}{extra}</disk>"


def test_parse_full_xml_ignores_unneeded_elements():
    assert parse_xml(FULL_XML) == EXPECTED


def test_parse_domain_dispatches_on_first_char():
    assert parse_domain("\n  " + FULL_XML) == EXPECTED
    assert parse_domain(format_yaml(EXPECTED)) == EXPECTED


def test_uuid_generated_when_absent_and_canonical():
    a = parse_xml(xml_doc())
    b = parse_xml(xml_doc())
    assert a.uuid != b.uuid
    assert a.uuid == a.uuid.lower() and len(a.uuid) == 36
    assert parse_yaml("name: x\nmemory: 1\n").uuid != a.uuid


def test_defaults():
    d = parse_xml(xml_doc())
    assert (d.memory_kib, d.current_memory_kib, d.vcpus, d.disks, d.emulator) == (
        1024,
        None,
        1,
        (),
        None,
    )
    assert d.current_kib == 1024


@pytest.mark.parametrize(
    ("unit", "value", "kib"),
    [
        (None, "1024", 1024),
        ("KiB", "1024", 1024),
        ("k", "7", 7),
        ("b", "1", 1),
        ("bytes", "2048", 2),
        ("KB", "1000", 977),
        ("M", "2", 2048),
        ("MiB", "64", 65536),
        ("MB", "1", 977),
        ("G", "1", 1048576),
        ("GiB", "8", 8388608),
        ("GB", "1", 976563),
        ("T", "1", 1024**3),
    ],
)
def test_memory_units(unit, value, kib):
    attr = "" if unit is None else f" unit='{unit}'"
    assert parse_xml(xml_doc(memory=f"<memory{attr}>{value}</memory>")).memory_kib == kib


def test_current_memory_clamped_like_libvirt():
    over = "<memory>1024</memory><currentMemory>4096</currentMemory>"
    assert parse_xml(xml_doc(memory=over)).current_memory_kib is None
    zero = "<memory>1024</memory><currentMemory>0</currentMemory>"
    assert parse_xml(xml_doc(memory=zero)).current_memory_kib is None


def _err(code, message, domain=ErrorDomain.DOMAIN):
    return (int(code), int(domain), message)


X = ErrorNumber.XML_ERROR
XML_REFUSALS = [
    ("not-xml", "<domain", _err(X, "XML error: (domain_definition):1: unclosed token")),
    (
        "wrong-root",
        "<network/>",
        _err(X, "XML error: unexpected root element <network>, expecting <domain>"),
    ),
    (
        "no-type",
        "<domain><name>d</name><memory>1</memory></domain>",
        _err(X, "XML error: missing domain type attribute"),
    ),
    (
        "bad-type",
        "<domain type='xen'><name>d</name></domain>",
        _err(
            ErrorNumber.CONFIG_UNSUPPORTED,
            "unsupported configuration: domain type 'xen' is not supported",
        ),
    ),
    (
        "doctype",
        "<!DOCTYPE domain><domain type='qemu'/>",
        _err(X, "XML error: DOCTYPE declarations are not allowed"),
    ),
    (
        "entity",
        "<!DOCTYPE d [<!ENTITY x 'y'>]><domain type='qemu'><name>&x;</name></domain>",
        _err(X, "XML error: DOCTYPE declarations are not allowed"),
    ),
    (
        "undefined-entity",
        "<domain type='qemu'><name>&x;</name></domain>",
        _err(X, "XML error: (domain_definition):1: undefined entity"),
    ),
    (
        "too-big",
        "<domain type='qemu'>" + " " * (1024 * 1024) + "</domain>",
        _err(X, "XML error: document is larger than 1048576 bytes"),
    ),
    (
        "no-name",
        xml_doc(name=""),
        (int(ErrorNumber.NO_NAME), int(ErrorDomain.DOMAIN), "missing name information"),
    ),
    (
        "empty-name",
        xml_doc(name="<name></name>"),
        (int(ErrorNumber.NO_NAME), int(ErrorDomain.DOMAIN), "missing name information"),
    ),
    (
        "slash-name",
        xml_doc(name="<name>a/b</name>"),
        _err(X, "XML error: domain name 'a/b' must not contain '/'"),
    ),
    (
        "dot-name",
        xml_doc(name="<name>.</name>"),
        _err(X, "XML error: domain name '.' is not allowed"),
    ),
    (
        "dotdot-name",
        xml_doc(name="<name>..</name>"),
        _err(X, "XML error: domain name '..' is not allowed"),
    ),
    (
        "dash-name",
        xml_doc(name="<name>-x</name>"),
        _err(X, "XML error: domain name '-x' must not start with '-'"),
    ),
    (
        "ctrl-name",
        xml_doc(name="<name>a&#9;b</name>"),
        _err(X, "XML error: domain name 'a\\tb' must not contain control characters"),
    ),
    (
        "long-name",
        xml_doc(name="<name>" + "é" * 128 + "</name>"),
        _err(X, "XML error: domain name is longer than 255 bytes"),
    ),
    (
        "bad-uuid",
        xml_doc(name="<name>d</name><uuid>1234</uuid>"),
        _err(ErrorNumber.INTERNAL_ERROR, "internal error: malformed uuid element"),
    ),
    (
        "no-memory",
        xml_doc(memory=""),
        _err(
            X,
            "XML error: Memory size must be specified via <memory> or in the <numa> configuration",
        ),
    ),
    (
        "zero-memory",
        xml_doc(memory="<memory>0</memory>"),
        _err(
            X,
            "XML error: Memory size must be specified via <memory> or in the <numa> configuration",
        ),
    ),
    (
        "bad-memory",
        xml_doc(memory="<memory>12x</memory>"),
        _err(X, "XML error: invalid value '12x' for element memory"),
    ),
    (
        "neg-memory",
        xml_doc(memory="<memory>-1</memory>"),
        _err(X, "XML error: invalid value '-1' for element memory"),
    ),
    (
        "bad-unit",
        xml_doc(memory="<memory unit='parsecs'>1</memory>"),
        _err(ErrorNumber.INVALID_ARG, "invalid argument: unknown suffix 'parsecs'"),
    ),
    (
        "bad-vcpu",
        xml_doc(memory="<memory>1</memory><vcpu>two</vcpu>"),
        _err(X, "XML error: invalid value 'two' for element vcpu"),
    ),
    (
        "zero-vcpu",
        xml_doc(memory="<memory>1</memory><vcpu>0</vcpu>"),
        _err(X, "XML error: invalid vcpu count 0: at least 1 vCPU is required"),
    ),
    (
        "rel-emulator",
        xml_doc("<emulator>qemu</emulator>"),
        _err(X, "XML error: emulator path 'qemu' must be absolute"),
    ),
    (
        "network-disk",
        xml_doc(disk_xml(dtype="network")),
        _err(
            ErrorNumber.CONFIG_UNSUPPORTED,
            "unsupported configuration: disk type 'network' is not supported",
        ),
    ),
    (
        "block-disk",
        xml_doc(disk_xml(dtype="block")),
        _err(
            ErrorNumber.CONFIG_UNSUPPORTED,
            "unsupported configuration: disk type 'block' is not supported",
        ),
    ),
    (
        "unknown-disk-type",
        xml_doc(disk_xml(dtype="floppy")),
        _err(X, "XML error: unknown disk type 'floppy'"),
    ),
    (
        "cdrom",
        xml_doc(disk_xml(device="cdrom")),
        _err(
            ErrorNumber.CONFIG_UNSUPPORTED,
            "unsupported configuration: disk device 'cdrom' is not supported",
        ),
    ),
    (
        "floppy",
        xml_doc(disk_xml(device="floppy")),
        _err(
            ErrorNumber.CONFIG_UNSUPPORTED,
            "unsupported configuration: disk device 'floppy' is not supported",
        ),
    ),
    (
        "no-target",
        xml_doc(disk_xml(target=None)),
        (
            int(ErrorNumber.NO_TARGET),
            int(ErrorDomain.DOMAIN),
            "missing target information for device /i/a.qcow2",
        ),
    ),
    (
        "no-source",
        xml_doc(disk_xml(source=None)),
        (
            int(ErrorNumber.NO_SOURCE),
            int(ErrorDomain.DOMAIN),
            "missing source information for device vda",
        ),
    ),
    (
        "bad-target",
        xml_doc(disk_xml(target="xvda")),
        _err(X, "XML error: invalid disk target name 'xvda'"),
    ),
    (
        "upper-target",
        xml_doc(disk_xml(target="vdA")),
        _err(X, "XML error: invalid disk target name 'vdA'"),
    ),
    (
        "rel-source",
        xml_doc(disk_xml(source="a.qcow2")),
        _err(X, "XML error: disk source path 'a.qcow2' must be absolute"),
    ),
    (
        "bad-format",
        xml_doc(disk_xml(extra="<driver name='qemu' type='vmdk'/>")),
        _err(X, "XML error: unknown driver format value 'vmdk'"),
    ),
    (
        "dup-target",
        xml_doc(disk_xml() + disk_xml(source="/i/b.qcow2")),
        _err(
            X, "XML error: target 'vda' duplicated for disk sources '/i/a.qcow2' and '/i/b.qcow2'"
        ),
    ),
]


@pytest.mark.parametrize(
    ("doc", "expected"), [r[1:] for r in XML_REFUSALS], ids=[r[0] for r in XML_REFUSALS]
)
def test_xml_refusals(doc, expected):
    with pytest.raises(VirError) as info:
        parse_xml(doc)
    err = info.value
    assert (err.code, err.domain, err.message) == expected
    assert err.level == 2


def test_bad_bus_refused():
    doc = xml_doc("<disk type='file'><source file='/a'/><target dev='vda' bus='pci'/></disk>")
    with pytest.raises(VirError) as info:
        parse_xml(doc)
    assert info.value.message == "XML error: unknown disk bus type 'pci'"


def test_error_chained_from_expat():
    with pytest.raises(VirError) as info:
        parse_xml("<domain type='qemu'>")
    assert info.value.__cause__ is not None


def test_billion_laughs_refused_without_expansion():
    doc = (
        "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
        + "".join(
            f"<!ENTITY lol{i} '{f'&lol{i - 1};' * 10 if i else '&lol;' * 10}'>" for i in range(9)
        )
        + "]><domain type='qemu'><name>&lol8;</name></domain>"
    )
    with pytest.raises(VirError) as info:
        parse_xml(doc)
    assert info.value.code == ErrorNumber.XML_ERROR


# --- formatting -----------------------------------------------------------------


def test_format_xml_inactive():
    text = format_xml(EXPECTED)
    assert (
        text
        == f"""<domain type='qemu'>
  <name>golden</name>
  <uuid>{UUID}</uuid>
  <memory unit='KiB'>65536</memory>
  <currentMemory unit='KiB'>32768</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/images/golden.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/images/data.img'/>
      <target dev='sdb' bus='sata'/>
      <readonly/>
    </disk>
  </devices>
</domain>
"""
    )


def test_format_xml_live_with_backing_chain():
    defn = DomainDef(
        "t", UUID, disks=(DiskDef("vda", "/g/top.qcow2"), DiskDef("vdb", "/g/b.qcow2"))
    )
    text = format_xml(
        defn,
        id=3,
        backing={"vda": [("/g/mid.qcow2", "qcow2"), ("/g/base.img", "raw")], "vdb": []},
    )
    assert "<domain type='qemu' id='3'>" in text
    assert (
        """      <source file='/g/top.qcow2'/>
      <backingStore type='file' index='1'>
        <format type='qcow2'/>
        <source file='/g/mid.qcow2'/>
        <backingStore type='file' index='2'>
          <format type='raw'/>
          <source file='/g/base.img'/>
          <backingStore/>
        </backingStore>
      </backingStore>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
"""
        in text
    )
    assert (
        """      <source file='/g/b.qcow2'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
      <alias name='virtio-disk1'/>
"""
        in text
    )
    # the live document parses back to the same definition
    assert parse_xml(text) == defn


def test_format_escapes():
    defn = DomainDef("a<b>&'\"", UUID, disks=(DiskDef("vda", "/x/it's&<.img"),))
    text = format_xml(defn)
    assert "<name>a&lt;b&gt;&amp;&apos;&quot;</name>" in text
    assert parse_xml(text) == defn


@pytest.mark.parametrize(
    ("target", "bus", "index", "alias"),
    [
        ("vda", "virtio", 0, "virtio-disk0"),
        ("vdz", "virtio", 25, "virtio-disk25"),
        ("vdaa", "virtio", 26, "virtio-disk26"),
        ("sdb", "sata", 1, "sata0-0-1"),
        ("sdc", "scsi", 2, "scsi0-0-0-2"),
        ("hdd", "ide", 3, "ide0-1-1"),
        ("sda", "usb", 0, "usb-disk0"),
    ],
)
def test_disk_alias(target, bus, index, alias):
    assert disk_index(target) == index
    assert disk_alias(DiskDef(target, "/a", bus=bus)) == alias


@pytest.mark.parametrize(
    "defn",
    [
        EXPECTED,
        DomainDef("m", UUID),
        DomainDef("odd", UUID, memory_kib=1000, current_memory_kib=999, vcpus=4),
        DomainDef("ünï", UUID, disks=(DiskDef("hda", "/a b/c", bus="ide", format="qed"),)),
    ],
)
def test_round_trips(defn):
    xml = format_xml(defn)
    assert parse_xml(xml) == defn
    assert format_xml(parse_xml(xml)) == xml
    live = format_xml(defn, id=7, backing={d.target: [("/b", "raw")] for d in defn.disks})
    assert parse_xml(live) == defn
    yml = format_yaml(defn)
    assert parse_yaml(yml) == defn
    assert format_yaml(parse_yaml(yml)) == yml
    assert parse_domain(yml) == parse_domain(xml) == defn


def test_xml_to_yaml_to_xml():
    d = parse_xml(FULL_XML)
    assert format_xml(parse_yaml(format_yaml(d))) == format_xml(d)


# --- YAML -----------------------------------------------------------------------


def test_yaml_full_form():
    doc = f"""
name: golden
uuid: {UUID}
memory: 64MiB
current_memory: 32768KiB
vcpus: 2
emulator: /usr/bin/qemu-system-x86_64
disks:
  - target: vda
    source: /images/golden.qcow2
  - {{target: sdb, source: /images/data.img, format: raw, bus: sata, readonly: true}}
"""
    assert parse_yaml(doc) == EXPECTED
    assert (
        format_yaml(EXPECTED)
        == f"""name: golden
uuid: {UUID}
memory: 64
current_memory: 32
vcpus: 2
emulator: /usr/bin/qemu-system-x86_64
disks:
- target: vda
  source: /images/golden.qcow2
  format: qcow2
  bus: virtio
  readonly: false
- target: sdb
  source: /images/data.img
  format: raw
  bus: sata
  readonly: true
"""
    )


@pytest.mark.parametrize(
    ("value", "kib"),
    [
        ("64", 65536),
        ("64 MiB", 65536),
        ("'1G'", 1048576),
        ("'1000KiB'", 1000),
        ("'1k'", 1),
        ("2", 2048),
    ],
)
def test_yaml_memory_forms(value, kib):
    assert parse_yaml(f"name: x\nmemory: {value}\n").memory_kib == kib


def test_yaml_non_mib_memory_round_trips():
    d = parse_yaml("name: x\nmemory: 1000KiB\n")
    assert "memory: 1000KiB" in format_yaml(d)
    assert parse_yaml(format_yaml(d)) == d


Y = "name: d\nmemory: 1\n"
YAML_REFUSALS = [
    ("syntax", "name: [", X, None),
    ("scalar", "just a string", X, "XML error: a YAML domain definition must be a mapping"),
    ("list", "- a\n- b\n", X, "XML error: a YAML domain definition must be a mapping"),
    ("empty", "", X, "XML error: a YAML domain definition must be a mapping"),
    (
        "too-big",
        "name: d\n#" + "x" * (1024 * 1024),
        X,
        "XML error: document is larger than 1048576 bytes",
    ),
    ("unknown-key", Y + "colour: red\n", X, "XML error: unknown key 'colour' in domain definition"),
    ("int-key", Y + "1: red\n", X, "XML error: unknown key '1' in domain definition"),
    ("no-name", "memory: 1\n", ErrorNumber.NO_NAME, "missing name information"),
    ("empty-name", "name: ''\nmemory: 1\n", ErrorNumber.NO_NAME, "missing name information"),
    (
        "int-name",
        "name: 5\nmemory: 1\n",
        X,
        "XML error: 'name' in domain definition must be a string",
    ),
    (
        "slash-name",
        "name: a/b\nmemory: 1\n",
        X,
        "XML error: domain name 'a/b' must not contain '/'",
    ),
    ("dotdot-name", "name: '..'\nmemory: 1\n", X, "XML error: domain name '..' is not allowed"),
    (
        "ctrl-name",
        'name: "a\\x01"\nmemory: 1\n',
        X,
        "XML error: domain name 'a\\x01' must not contain control characters",
    ),
    (
        "dash-name",
        "name: -x\nmemory: 1\n",
        X,
        "XML error: domain name '-x' must not start with '-'",
    ),
    (
        "long-name",
        "name: " + "a" * 256 + "\nmemory: 1\n",
        X,
        "XML error: domain name is longer than 255 bytes",
    ),
    (
        "bad-uuid",
        Y + "uuid: nope\n",
        ErrorNumber.INTERNAL_ERROR,
        "internal error: malformed uuid element",
    ),
    ("int-uuid", Y + "uuid: 12\n", X, "XML error: 'uuid' in domain definition must be a string"),
    (
        "no-memory",
        "name: d\n",
        X,
        "XML error: Memory size must be specified via <memory> or in the <numa> configuration",
    ),
    (
        "zero-memory",
        "name: d\nmemory: 0\n",
        X,
        "XML error: Memory size must be specified via <memory> or in the <numa> configuration",
    ),
    ("neg-memory", "name: d\nmemory: -4\n", X, "XML error: invalid memory value '-4'"),
    (
        "bool-memory",
        "name: d\nmemory: true\n",
        X,
        "XML error: 'memory' in domain definition must be an integer or a size string",
    ),
    (
        "list-memory",
        "name: d\nmemory: [1]\n",
        X,
        "XML error: 'memory' in domain definition must be an integer or a size string",
    ),
    ("garbage-memory", "name: d\nmemory: lots\n", X, "XML error: invalid memory value 'lots'"),
    (
        "unit-memory",
        "name: d\nmemory: 5parsecs\n",
        ErrorNumber.INVALID_ARG,
        "invalid argument: unknown suffix 'parsecs'",
    ),
    ("bad-current", Y + "current_memory: x\n", X, "XML error: invalid current_memory value 'x'"),
    (
        "str-vcpus",
        Y + "vcpus: '2'\n",
        X,
        "XML error: 'vcpus' in domain definition must be an integer",
    ),
    (
        "bool-vcpus",
        Y + "vcpus: true\n",
        X,
        "XML error: 'vcpus' in domain definition must be an integer",
    ),
    (
        "zero-vcpus",
        Y + "vcpus: 0\n",
        X,
        "XML error: invalid vcpu count 0: at least 1 vCPU is required",
    ),
    (
        "int-emulator",
        Y + "emulator: 3\n",
        X,
        "XML error: 'emulator' in domain definition must be a string",
    ),
    (
        "disks-map",
        Y + "disks: {a: 1}\n",
        X,
        "XML error: 'disks' in domain definition must be a list",
    ),
    ("disk-scalar", Y + "disks: [vda]\n", X, "XML error: disk 0 must be a mapping"),
    (
        "disk-unknown",
        Y + "disks: [{target: vda, source: /a, cache: none}]\n",
        X,
        "XML error: unknown key 'cache' in disk 0",
    ),
    (
        "disk-no-target",
        Y + "disks: [{source: /a}]\n",
        ErrorNumber.NO_TARGET,
        "missing target information for device /a",
    ),
    (
        "disk-no-source",
        Y + "disks: [{target: vda}]\n",
        ErrorNumber.NO_SOURCE,
        "missing source information for device vda",
    ),
    (
        "disk-nothing",
        Y + "disks: [{}]\n",
        ErrorNumber.NO_TARGET,
        "missing target information for device",
    ),
    (
        "disk-int-source",
        Y + "disks: [{target: vda, source: 5}]\n",
        X,
        "XML error: 'source' in disk 0 must be a string",
    ),
    (
        "disk-rel",
        Y + "disks: [{target: vda, source: a.img}]\n",
        X,
        "XML error: disk source path 'a.img' must be absolute",
    ),
    (
        "disk-target",
        Y + "disks: [{target: xvda, source: /a}]\n",
        X,
        "XML error: invalid disk target name 'xvda'",
    ),
    (
        "disk-format",
        Y + "disks: [{target: vda, source: /a, format: vmdk}]\n",
        X,
        "XML error: unknown driver format value 'vmdk'",
    ),
    (
        "disk-bus",
        Y + "disks: [{target: vda, source: /a, bus: pci}]\n",
        X,
        "XML error: unknown disk bus type 'pci'",
    ),
    (
        "disk-ro",
        Y + "disks: [{target: vda, source: /a, readonly: 'yes'}]\n",
        X,
        "XML error: 'readonly' in disk 0 must be a boolean",
    ),
    (
        "disk-cdrom",
        Y + "disks: [{target: hdc, source: /a, device: cdrom}]\n",
        ErrorNumber.CONFIG_UNSUPPORTED,
        "unsupported configuration: disk device 'cdrom' is not supported",
    ),
    (
        "disk-dup",
        Y + "disks: [{target: vda, source: /a}, {target: vda, source: /b}]\n",
        X,
        "XML error: target 'vda' duplicated for disk sources '/a' and '/b'",
    ),
    ("python-tag", "!!python/object:os.system {}", X, None),
    (
        "deep-list",
        "[" * 5000 + "]" * 5000,
        X,
        "XML error: malformed YAML document: nested too deeply",
    ),
    (
        "deep-map",
        "a: " + "{b: " * 5000 + "1" + "}" * 5000,
        X,
        "XML error: malformed YAML document: nested too deeply",
    ),
    ("self-alias", Y + "disks: &d [*d]\n", X, "XML error: disk 0 must be a mapping"),
]


@pytest.mark.parametrize(
    ("doc", "code", "message"), [r[1:] for r in YAML_REFUSALS], ids=[r[0] for r in YAML_REFUSALS]
)
def test_yaml_refusals(doc, code, message):
    with pytest.raises(VirError) as info:
        parse_yaml(doc)
    err = info.value
    assert (err.code, err.domain) == (int(code), int(ErrorDomain.DOMAIN))
    if message is None:
        assert err.message.startswith("XML error: malformed YAML document: ")
        assert isinstance(err.__cause__, Exception)
    else:
        assert err.message == message


def test_values_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EXPECTED.name = "x"  # type: ignore[misc]
    assert not hasattr(EXPECTED, "__dict__")


def test_disk_lookup_by_target_or_source():
    assert EXPECTED.disk("vda") is EXPECTED.disks[0]
    assert EXPECTED.disk("/images/data.img") is EXPECTED.disks[1]
    assert EXPECTED.disk("vdq") is None
