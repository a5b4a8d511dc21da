"""virsh 9.0's ``--xpath`` for ``dumpxml``: select nodes, print them as libxml2 dumps them.

This module owns the XPath subset ElementTree answers (location paths from
the document root or anywhere, with predicates) plus a final ``/@name`` or
``/text()`` step, and the output: each selected node printed on its own
(elements re-indented by two spaces with double-quoted attributes, as
libxml2 dumps them; attributes as `` name="value"``; text as is), or all of
them under one ``<nodes>`` root with ``--wrap``.  It is imported only when
``--xpath`` is given, so a one-shot shell never loads an XML parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

__all__ = ["Node", "XPathError", "dump_node", "select", "wrap"]

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


def wrap(nodes: list[Node]) -> str:
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
