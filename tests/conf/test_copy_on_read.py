"""``<driver copy_on_read=…>``: read, kept, printed back (XML and YAML), bad values refused."""

from __future__ import annotations

import pytest

from minivirt.conf import format_xml, format_yaml, parse_xml, parse_yaml
from minivirt.public import ErrorDomain, ErrorNumber, VirError

UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


def _xml(driver_attrs: str, readonly: bool = False) -> str:
    ro = "<readonly/>" if readonly else ""
    return (
        f"<domain type='qemu'><name>cor</name><uuid>{UUID}</uuid><memory>65536</memory>"
        "<devices><disk type='file' device='disk'>"
        f"<driver name='qemu' type='qed'{driver_attrs}/>"
        f"<source file='/images/cor.qed'/><target dev='vda' bus='virtio'/>{ro}"
        "</disk></devices></domain>"
    )


@pytest.mark.parametrize("value", ["on", "off"])
def test_xml_round_trip(value):
    defn = parse_xml(_xml(f" copy_on_read='{value}'"))
    assert defn.disks[0].copy_on_read == value
    assert defn.disks[0].format == "qed"
    text = format_xml(defn)
    assert f"<driver name='qemu' type='qed' copy_on_read='{value}'/>" in text
    assert parse_xml(text) == defn


def test_absent_attribute_stays_absent():
    defn = parse_xml(_xml(""))
    assert defn.disks[0].copy_on_read is None
    assert "copy_on_read" not in format_xml(defn)
    assert "copy_on_read" not in format_yaml(defn)


@pytest.mark.parametrize("value", ["default", "xyz", "", "ON", "yes"])
def test_xml_bad_value(value):
    with pytest.raises(VirError) as exc:
        parse_xml(_xml(f" copy_on_read='{value}'"))
    err = exc.value
    assert (err.code, err.domain) == (ErrorNumber.XML_ERROR, ErrorDomain.DOMAIN)
    assert err.message == (
        f"XML error: Invalid value for attribute 'copy_on_read' in element 'driver': '{value}'."
    )


def test_readonly_is_accepted_by_conf():
    # libvirt's generic parser (and its test driver) accept it; the qemu driver refuses it.
    defn = parse_xml(_xml(" copy_on_read='on'", readonly=True))
    assert defn.disks[0].readonly and defn.disks[0].copy_on_read == "on"


YAML = (
    "name: cor\nuuid: " + UUID + "\nmemory: 64\n"
    "disks:\n  - {{target: vda, source: /images/cor.qed, format: qed, copy_on_read: {v}}}\n"
)


@pytest.mark.parametrize(("written", "read"), [("on", "on"), ("off", "off"), ("'on'", "on")])
def test_yaml_round_trip(written, read):
    defn = parse_yaml(YAML.format(v=written))
    assert defn.disks[0].copy_on_read == read
    again = parse_yaml(format_yaml(defn))
    assert again == defn
    assert parse_xml(format_xml(defn)) == defn


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "'xyz'",
            "XML error: Invalid value for attribute 'copy_on_read' in element 'driver': 'xyz'.",
        ),
        ("3", "XML error: 'copy_on_read' in disk 0 must be a string"),
    ],
)
def test_yaml_bad_value(written, message):
    with pytest.raises(VirError) as exc:
        parse_yaml(YAML.format(v=written))
    assert exc.value.code == ErrorNumber.XML_ERROR
    assert exc.value.message == message
