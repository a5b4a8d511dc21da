"""The domain commands around block jobs: list, define, undefine, start, destroy,
domstate, dominfo, domblklist (virsh-domain.c / virsh-domain-monitor.c twins).

This module owns their option tables and virsh's output layouts (the
vshTable column layout of ``list`` and ``domblklist``, the ``%-15s`` fields
of ``dominfo``, state and reason names).  Domain XML is read with
xml.etree; every hypervisor call goes through ``minivirt.core`` handles.
"""

from __future__ import annotations

from collections.abc import Sequence

from minivirt.shell.control import Control
from minivirt.shell.options import CommandDef, OptDef, OptType, ParsedCommand

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "DEFINE",
    "DESTROY",
    "DOMBLKLIST",
    "DOMINFO",
    "DOMSTATE",
    "LIST",
    "START",
    "STATE_NAMES",
    "UNDEFINE",
    "format_table",
    "state_name",
]

#: virshDomainState names, by virDomainState value.
STATE_NAMES: Final = (
    "no state",
    "running",
    "idle",
    "paused",
    "in shutdown",
    "shut off",
    "crashed",
    "pmsuspended",
)
_REASONS: Final[dict[int, tuple[str, ...]]] = {
    0: ("unknown",),
    1: (
        "unknown",
        "booted",
        "migrated",
        "restored",
        "from snapshot",
        "unpaused",
        "migration canceled",
        "save canceled",
        "event wakeup",
        "crashed",
        "post-copy",
    ),
    2: ("unknown",),
    3: (
        "unknown",
        "user",
        "migrating",
        "saving",
        "dumping",
        "I/O error",
        "watchdog",
        "from snapshot",
        "shutting down",
        "creating snapshot",
        "crashed",
        "starting up",
        "post-copy",
        "post-copy failed",
    ),
    4: ("unknown", "user"),
    5: (
        "unknown",
        "shutdown",
        "destroyed",
        "crashed",
        "migrated",
        "saved",
        "failed",
        "from snapshot",
        "daemon",
    ),
    6: ("unknown", "panicked"),
    7: ("unknown",),
}
_SHUTOFF: Final = 5
_LIST_ACTIVE, _LIST_INACTIVE = 1, 2

DOMAIN_OPT: Final = OptDef("domain", OptType.DATA, "domain name, id or uuid", required=True)


def state_name(state: int) -> str:
    """virshDomainStateToString."""
    return STATE_NAMES[state] if 0 <= state < len(STATE_NAMES) else "no state"


def reason_name(state: int, reason: int) -> str:
    """virshDomainStateReasonToString."""
    names = _REASONS.get(state, ("unknown",))
    return names[reason] if 0 <= reason < len(names) else "unknown"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, show_header: bool) -> str:
    """vshTablePrint: cells led by one space, columns padded to width + 2, a dashes line.

    Column widths count the header only when it is shown (quiet mode hides it).
    """
    table = [list(header), *[list(r) for r in rows]]
    widths = [0] * len(header)
    for row in table if show_header else table[1:]:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(row: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - len(cell) + 2) if i < len(row) - 1 else ""
            parts.append(f" {cell}{pad}")
        return "".join(parts) + "\n"

    out = []
    if show_header:
        out.append(line(table[0]))
        out.append("-" * sum(w + 3 for w in widths) + "\n")
    out += [line(r) for r in table[1:]]
    return "".join(out)


# -- list -----------------------------------------------------------------


def cmd_list(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh list: the table of domains (running ones by id, then inactive ones by name)."""
    conn = ctl.require_conn()
    flags = _LIST_ACTIVE
    if cmd.has("inactive"):
        flags = _LIST_INACTIVE
    if cmd.has("all"):
        flags = _LIST_ACTIVE | _LIST_INACTIVE
    ctl.exclusive(cmd, "table", "name")
    ctl.exclusive(cmd, "table", "uuid")
    ctl.exclusive(cmd, "table", "id")
    opt_uuid, opt_name, opt_id = cmd.has("uuid"), cmd.has("name"), cmd.has("id")
    table = cmd.has("table") or not (opt_uuid or opt_name or opt_id)
    domains = conn.list_all_domains(flags)
    domains.sort(key=lambda d: (d.id < 0, d.id if d.id >= 0 else 0, d.name.lower()))
    rows: list[list[str]] = []
    from minivirt.public import VirError

    for dom in domains:
        ident = "-" if dom.id < 0 else str(dom.id)
        if table:
            try:
                state = dom.get_state()[0]
            except VirError:
                continue  # removed in the meantime
            rows.append([ident, dom.name, state_name(state)])
            continue
        fields = []
        if opt_uuid:
            fields.append(dom.uuid_string())
        if opt_id:
            if dom.id < 0 and not opt_uuid and not opt_name:
                continue
            fields.append(ident)
        if opt_name:
            fields.append(dom.name)
        ctl.print(" ".join(fields) + "\n")
    if table:
        ctl.print(format_table(("Id", "Name", "State"), rows, show_header=not ctl.quiet))
    return True


LIST: Final = CommandDef(
    "list",
    "list domains",
    "Returns list of domains.",
    (
        OptDef("inactive", OptType.BOOL, "list inactive domains"),
        OptDef("all", OptType.BOOL, "list inactive & active domains"),
        OptDef("uuid", OptType.BOOL, "list uuid's only"),
        OptDef("name", OptType.BOOL, "list domain names only"),
        OptDef("id", OptType.BOOL, "list domain IDs only"),
        OptDef("table", OptType.BOOL, "list table (default)"),
    ),
    cmd_list,
)


# -- define / undefine / start / destroy ----------------------------------


def cmd_define(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh define FILE: the file holds libvirt XML or minivirt YAML."""
    from minivirt.public import ErrorDomain, ErrorNumber, VirError

    path = ctl.required_string(cmd, "file")
    try:
        with open(path, encoding="utf-8") as f:
            document = f.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        err = VirError.report(
            ErrorNumber.SYSTEM_ERROR, ErrorDomain.NONE, f"Failed to open file '{path}': {reason}"
        )
        raise ctl.fail(err) from exc
    try:
        dom = ctl.require_conn().define_xml(document)
    except VirError as exc:
        raise ctl.fail(exc, f"Failed to define domain from {path}") from exc
    ctl.print_extra(f"Domain '{dom.name}' defined from {path}\n")
    return True


DEFINE: Final = CommandDef(
    "define",
    "define (but don't start) a domain from an XML file",
    "Define a domain.",
    (OptDef("file", OptType.DATA, "file containing an XML domain description", required=True),),
    cmd_define,
)


def cmd_undefine(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh undefine."""
    from minivirt.public import VirError

    dom = ctl.domain(cmd)
    try:
        dom.undefine()
    except VirError as exc:
        raise ctl.fail(exc, f"Failed to undefine domain '{dom.name}'") from exc
    ctl.print_extra(f"Domain '{dom.name}' has been undefined\n")
    return True


UNDEFINE: Final = CommandDef(
    "undefine",
    "undefine a domain",
    "Undefine an inactive domain, or convert persistent to transient.",
    (OptDef("domain", OptType.DATA, "domain name or uuid", required=True),),
    cmd_undefine,
)


def cmd_start(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh start: inactive domains are looked up by name or UUID only."""
    from minivirt.public import VirError

    dom = ctl.domain(cmd, by_id=False)
    if dom.id >= 0:
        raise ctl.fail(message="Domain is already active")
    try:
        dom.create()
    except VirError as exc:
        raise ctl.fail(exc, f"Failed to start domain '{dom.name}'") from exc
    ctl.print_extra(f"Domain '{dom.name}' started\n")
    return True


START: Final = CommandDef(
    "start",
    "start a (previously defined) inactive domain",
    "Start a domain, either from the last managedsave\n    state, or via a fresh boot if no"
    " managedsave state\n    is present.",
    (OptDef("domain", OptType.DATA, "name of the inactive domain", required=True),),
    cmd_start,
)


def cmd_destroy(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh destroy."""
    from minivirt.public import VirError

    dom = ctl.domain(cmd)
    try:
        dom.destroy()
    except VirError as exc:
        raise ctl.fail(exc, f"Failed to destroy domain '{dom.name}'") from exc
    ctl.print_extra(f"Domain '{dom.name}' destroyed\n")
    return True


DESTROY: Final = CommandDef(
    "destroy",
    "destroy (stop) a domain",
    "Forcefully stop a given domain, but leave its resources intact.",
    (DOMAIN_OPT,),
    cmd_destroy,
)


# -- domstate / dominfo / domblklist --------------------------------------


def cmd_domstate(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh domstate [--reason]."""
    dom = ctl.domain(cmd)
    state, reason = dom.get_state()
    if cmd.has("reason"):
        ctl.print(f"{state_name(state)} ({reason_name(state, reason)})\n")
    else:
        ctl.print(f"{state_name(state)}\n")
    return True


DOMSTATE: Final = CommandDef(
    "domstate",
    "domain state",
    "Returns state about a domain.",
    (DOMAIN_OPT, OptDef("reason", OptType.BOOL, "also print reason for the state")),
    cmd_domstate,
)


def _os_type(xml: str) -> str | None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    node = root.find("./os/type")
    return node.text.strip() if node is not None and node.text else None


def cmd_dominfo(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh dominfo: the fields minivirt can know, in virsh's layout."""
    from minivirt.public import VirError

    dom = ctl.domain(cmd)
    conn = ctl.require_conn()
    out = [f"{'Id:':<15} {'-' if dom.id < 0 else dom.id}", f"{'Name:':<15} {dom.name}"]
    out.append(f"{'UUID:':<15} {dom.uuid_string()}")
    try:
        ostype = _os_type(dom.get_xml_desc())
    except VirError:
        ostype = None
    out.append(f"{'OS Type:':<15} {ostype or 'hvm'}")
    ok = True
    try:
        info = dom.get_info()
    except VirError as exc:
        ctl.last_error = exc
        ok = False
    else:
        out.append(f"{'State:':<15} {state_name(info.state)}")
        out.append(f"{'CPU(s):':<15} {info.nr_virt_cpu}")
        if info.cpu_time:
            out.append(f"{'CPU time:':<15} {info.cpu_time / 1e9:.1f}s")
        out.append(f"{'Max memory:':<15} {info.max_mem} KiB")
        out.append(f"{'Used memory:':<15} {info.memory} KiB")
    out.append(f"{'Persistent:':<15} yes")
    out.append(f"{'Autostart:':<15} disable")
    out.append(f"{'Managed save:':<15} no")
    if conn.get_type() == "QEMU":
        out.append(f"{'Security model:':<15} none")
        out.append(f"{'Security DOI:':<15} 0")
    ctl.print("".join(line + "\n" for line in out))
    return ok


DOMINFO: Final = CommandDef(
    "dominfo",
    "domain information",
    "Returns basic information about the domain.",
    (DOMAIN_OPT,),
    cmd_dominfo,
)


def cmd_domblklist(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh domblklist [--details]: targets and sources from the domain XML."""
    import xml.etree.ElementTree as ET

    dom = ctl.domain(cmd)
    flags = 2 if cmd.has("inactive") else 0  # VIR_DOMAIN_XML_INACTIVE
    root = ET.fromstring(dom.get_xml_desc(flags))
    details = cmd.has("details")
    rows: list[list[str]] = []
    for disk in root.findall("./devices/disk"):
        target = disk.find("./target")
        dev = target.get("dev") if target is not None else None
        if dev is None:
            raise ctl.fail(message="unable to query block list")
        source_node = disk.find("./source")
        source = None
        if source_node is not None:
            for attr in ("file", "dev", "dir", "name", "volume", "path"):
                source = source_node.get(attr)
                if source is not None:
                    break
        row = [dev, source or "-"]
        if details:
            row = [disk.get("type", ""), disk.get("device", ""), *row]
        rows.append(row)
    header = ("Type", "Device", "Target", "Source") if details else ("Target", "Source")
    ctl.print(format_table(header, rows, show_header=not ctl.quiet))
    return True


DOMBLKLIST: Final = CommandDef(
    "domblklist",
    "list all domain blocks",
    "Get the summary of block devices for a domain.",
    (
        DOMAIN_OPT,
        OptDef("inactive", OptType.BOOL, "get inactive rather than running configuration"),
        OptDef("details", OptType.BOOL, "additionally display the type and device value"),
    ),
    cmd_domblklist,
)
