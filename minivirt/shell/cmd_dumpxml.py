"""virsh dumpxml (virsh-domain.c / virsh-util.c twins): the domain XML, or XPath extracts.

This module owns the command's options and the flags they map to; an
expression whose value is not a node set (``count(…)``, ``string(…)``) gets
virsh's "Incorrect xpath" error.  The selection and its output are
:mod:`minivirt.shell.xpath`'s, imported only with ``--xpath``.  The XML
itself comes from the hypervisor through ``minivirt.core``.
"""

from __future__ import annotations

from minivirt.shell.control import Control
from minivirt.shell.options import CommandDef, OptDef, OptType, ParsedCommand

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["DUMPXML"]

#: virDomainXMLFlags by option name.
_FLAGS: Final = (("security-info", 1), ("inactive", 2), ("update-cpu", 4), ("migratable", 8))


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
    from minivirt.shell.xpath import XPathError, dump_node, select, wrap

    try:
        nodes = select(document, xpath)
    except XPathError as exc:
        err = VirError.report(
            ErrorNumber.INTERNAL_ERROR, ErrorDomain.NONE, f"Incorrect xpath '{xpath}'"
        )
        raise ctl.fail(err) from exc
    if cmd.has("wrap"):
        ctl.print(wrap(nodes))
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
