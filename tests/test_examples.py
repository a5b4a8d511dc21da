"""The example files the README walks a newcomer through stay valid.

``examples/domain.xml`` must be accepted by minivirt and by the real libvirt
(Debian's libvirt-python on its test driver), and its disk must be where the
README's walkthrough creates the image.
"""

from __future__ import annotations

import pathlib

import minivirt.wiring  # noqa: F401
from minivirt import core
from tests.reallibvirt import real

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "domain.xml"
IMAGE = "/tmp/minivirt-example/guest.qcow2"


def test_example_domain_defines_in_minivirt() -> None:
    conn = core.open("test:///default")
    try:
        dom = conn.define_xml(EXAMPLE.read_text())
        assert dom.name == "guest"
        xml = dom.get_xml_desc()
        assert f"<source file='{IMAGE}'/>" in xml
        assert "<target dev='vda' bus='virtio'/>" in xml
    finally:
        conn.close()


def test_example_domain_defines_in_real_libvirt() -> None:
    script = (
        "c = libvirt.open('test:///default')\n"
        f"d = c.defineXML(open({str(EXAMPLE)!r}).read())\n"
        "result = [d.name(), d.XMLDesc()]\n"
    )
    name, xml = real(script)
    assert name == "guest"
    assert f"<source file='{IMAGE}'/>" in xml


def test_readme_walkthrough_uses_the_example() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "define examples/domain.xml" in readme
    assert f"-F qcow2 \\\n    {IMAGE}" in readme
