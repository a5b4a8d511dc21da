"""virsh dumpxml golden tests: the document, --inactive, and virsh 9.0's --xpath/--wrap output."""

from __future__ import annotations

from minivirt.shell.xpath import XPathError, dump_node, select

DOC = """<domain type='qemu' id='1'>
  <name>golden</name>
  <devices>
    <disk type='file' device='disk'>
      <source file='/i/top.qcow2' index='1'/>
      <backingStore type='file' index='2'>
        <format type='qcow2'/>
        <source file='/i/base.qcow2'/>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


def test_dumpxml_prints_the_driver_document(sh):
    r = sh("dumpxml", "test")
    assert r.rc == 0 and r.err == ""
    assert r.out.startswith("<domain type='qemu' id='1'>\n") and r.out.endswith("</domain>\n\n")


def test_dumpxml_xpath_one_node_per_line(sh):
    r = sh("dumpxml", "test", "--xpath", "//disk/target/@dev")
    assert (r.rc, r.out, r.err) == (0, ' dev="vda"\n\n', "")


def test_dumpxml_xpath_that_is_not_a_node_set(sh):
    r = sh("dumpxml", "test", "--xpath", "count(//disk)")
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        "error: internal error: Incorrect xpath 'count(//disk)'\n",
    )


def test_dumpxml_unknown_domain(sh):
    r = sh("dumpxml", "nosuch")
    assert r.rc == 1
    assert r.err == "error: failed to get domain 'nosuch'\n"


def test_elements_are_reindented_with_double_quotes():
    (node,) = select(DOC, "//disk/backingStore")
    assert dump_node(node) == (
        '<backingStore type="file" index="2">\n'
        '  <format type="qcow2"/>\n'
        '  <source file="/i/base.qcow2"/>\n'
        "  <backingStore/>\n"
        "</backingStore>"
    )


def test_attributes_texts_predicates_and_nothing():
    assert [dump_node(n) for n in select(DOC, "//source/@file")] == [
        ' file="/i/top.qcow2"',
        ' file="/i/base.qcow2"',
    ]
    assert [dump_node(n) for n in select(DOC, "//name/text()")] == ["golden"]
    assert [dump_node(n) for n in select(DOC, "//backingStore[@index='2']/format")] == [
        '<format type="qcow2"/>'
    ]
    assert select(DOC, "/domain/devices/disk/target") != []
    assert select(DOC, "//nothing") == []


def test_function_expressions_are_refused():
    for expr in ("count(//disk)", "string(//name)", "name"):
        try:
            select(DOC, expr)
        except XPathError:
            continue
        raise AssertionError(expr)
