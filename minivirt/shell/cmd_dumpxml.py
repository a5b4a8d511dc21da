"""virsh dumpxml (virsh-domain.c / virsh-util.c twins): the domain XML, or XPath extracts.

This module owns the command's options, the flags they map to, and virsh
9.0's ``--xpath`` output: each selected node printed on its own (elements
re-indented by two spaces with double-quoted attributes, as libxml2 dumps
them; attributes as `` name="value"``; text as is), or all of them under one
``<nodes>`` root with ``--wrap``.  XPath is the subset ElementTree answers
(location paths from the document root or anywhere, with predicates) plus a
final ``/@name`` or ``/text()`` step; an expression whose value is not a node
set (``count(…)``, ``string(…)``) gets virsh's "Incorrect xpath" error.
The XML itself comes from the hypervisor through ``minivirt.core``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Final

from minivirt.shell.control import Control
from minivirt.shell.options import CommandDef, OptDef, OptType, ParsedCommand

__all__ = ["DUMPXML", "dump_node", "select"]

#: virDomainXMLFlags by option name.
_FLAGS: Final = (("security-info", 1), ("inactive", 2), ("update-cpu", 4), ("migratable", 8))

#: A node selected by an XPath: an element, an attribute (name, value) or a text.
Node = ET.Element | tuple[str, str] | str


class XPathError(Exception):
    """The expression is not a node-set expression this shell can evaluate."""


def _escape_attr(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _escape_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _element(elem: ET.Element, indent: str, out: list[str]) -> None:
    attrs = "".join(f' {k}="{_escape_attr(v)}"' for k, v in elem.attrib.items())
    children = list(elem)
    text = (elem.text or "").strip() if children else (elem.text or "")
    if not children and not text:
        out.append(f"{indent}<{elem.tag}{attrs}/>")
    elif not children:
        out.append(f"{indent}<{elem.tag}{attrs}>{_escape_text(text)}</{elem.tag}>")
    else:
        out.append(f"{indent}<{elem.tag}{attrs}>")
        for child in children:
            _element(child, indent + "  ", out)
        out.append(f"{indent}</{elem.tag}>")


def dump_node(node: Node) -> str:
    """One node as libxml2's formatted xmlNodeDump shows it (no trailing newline)."""
    if isinstance(node, ET.Element):
        out: list[str] = []
        _element(node, "", out)
        return "\n".join(out)
    if isinstance(node, tuple):
        return f' {node[0]}="{_escape_attr(node[1])}"'
    return _escape_text(node)


_LAST_STEP = re.compile(r"^(.*)/(@[\w:.-]+|text\(\))$")


def select(document: str, xpath: str) -> list[Node]:
    """The nodes ``xpath`` selects in ``document``; XPathError when it is not a node set."""
    root = ET.fromstring(document)
    top = ET.Element("#document")
    top.append(root)
    expr, last = xpath.strip(), None
    match = _LAST_STEP.match(expr)
    if match:
        expr, last = match.group(1), match.group(2)
    if not expr.startswith("/") or "(" in expr:
        raise XPathError(xpath)
    try:
        elements = top.findall("." + expr)
    except (SyntaxError, KeyError) as exc:
        raise XPathError(xpath) from exc
    if last is None:
        return list(elements)
    nodes: list[Node] = []
    for elem in elements:
        if last == "text()":
            if elem.text:
                nodes.append(elem.text)
        elif last[1:] in elem.attrib:
            nodes.append((last[1:], elem.attrib[last[1:]]))
    return nodes


def _wrap(nodes: list[Node]) -> str:
    wrapper = ET.Element("nodes")
    for node in nodes:
        if isinstance(node, ET.Element):
            wrapper.append(node)
        elif isinstance(node, tuple):
            wrapper.set(node[0], node[1])
        elif len(wrapper):
            wrapper[-1].tail = (wrapper[-1].tail or "") + node
        else:
            wrapper.text = (wrapper.text or "") + node
    return dump_node(wrapper) + "\n"


def cmd_dumpxml(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh dumpxml [--inactive] [--security-info] [--update-cpu] [--migratable] [--xpath X]."""
    from minivirt.public import ErrorDomain, ErrorNumber, VirError

    dom = ctl.domain(cmd)
    flags = sum(value for name, value in _FLAGS if cmd.has(name))
    xpath = ctl.string(cmd, "xpath")
    document = dom.get_xml_desc(flags)
    if xpath is None:
        ctl.print(document)
        return True
    try:
        nodes = select(document, xpath)
    except XPathError as exc:
        err = VirError.report(
            ErrorNumber.INTERNAL_ERROR, ErrorDomain.NONE, f"Incorrect xpath '{xpath}'"
        )
        raise ctl.fail(err) from exc
    if cmd.has("wrap"):
        ctl.print(_wrap(nodes))
    else:
        ctl.print("".join(dump_node(n) + "\n" for n in nodes))
    return True


DUMPXML: Final = CommandDef(
    "dumpxml",
    "domain information in XML",
    "Output the domain information as an XML dump to stdout.",
    (
        OptDef("domain", OptType.DATA, "domain name, id or uuid", required=True),
        OptDef("inactive", OptType.BOOL, "show inactive defined XML"),
        OptDef("security-info", OptType.BOOL, "include security sensitive information in XML dump"),
        OptDef("update-cpu", OptType.BOOL, "update guest CPU according to host CPU"),
        OptDef("migratable", OptType.BOOL, "provide XML suitable for migrations"),
        OptDef("xpath", OptType.STRING, "xpath expression to filter the XML document"),
        OptDef("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
    ),
    cmd_dumpxml,
)
