"""The monitor passthrough of libvirt-qemu (libvirt's qemuDomainQemuMonitorCommand).

This module owns what the qemu driver does with ``virDomainQemuMonitorCommand``:
the flag check, the running-domain check, tainting the domain
(``custom-monitor``, noted once per run in the domain's log), HMP command
lines sent through ``human-monitor-command``, and QMP commands sent as the
user wrote them with libvirt's ``libvirt-N`` id, the reply given back as
compact JSON in QEMU's member order (``{"return":…,"id":…}``,
``{"id":…,"error":…}``).  It must not keep domain state beyond a per-monitor
id counter, nor format output for a shell (virsh's ``--pretty`` is minivirsh's).

Where QEMU answers a malformed command *without* an id (a member other than
``execute``/``arguments``, ``execute`` missing or not a string, ``arguments``
not an object), qemu.qmp would drop the connection, so this module gives the
reply QEMU gives, with QEMU's text, without sending the command.

Errors (domain QEMU unless said): INVALID_ARG "unsupported flags (0x%x) in
function qemuDomainQemuMonitorCommandWithFiles"; NO_DOMAIN; OPERATION_INVALID
"domain is not running" (domain DOMAIN, as virDomainObjCheckActive);
INTERNAL_ERROR "cannot parse json <cmd>: <why>" (domain NONE, as libvirt's
virjson; <why> is Python's JSON error, not yajl's multi-line text), "Unable to append command
'id' string" (not an object, or an id already given), "unable to execute
QEMU command 'human-monitor-command': …", "human monitor command was not
successful"; the monitor's OPERATION_FAILED / OPERATION_TIMEOUT.
"""

from __future__ import annotations

import datetime
import itertools
import json
import threading
import weakref
from typing import TYPE_CHECKING

from minivirt.hypervisor.blockjob import check_flags
from minivirt.public import DomainQemuMonitorCommandFlags, ErrorDomain, ErrorNumber, VirError
from minivirt.qemu.monitor import Monitor
from minivirt.qemu.qmpreply import internal_error

if TYPE_CHECKING:
    from minivirt.public import DomainRef
    from minivirt.qemu.state import QemuDriverState

__all__ = ["monitor_command", "qmp_input_error"]

#: libvirt 9 implements the call through its WithFiles twin and names that in flag errors.
_FUNCTION = "qemuDomainQemuMonitorCommandWithFiles"
_serials: weakref.WeakKeyDictionary[Monitor, itertools.count[int]] = weakref.WeakKeyDictionary()
_tainted: weakref.WeakKeyDictionary[Monitor, bool] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def qmp_input_error(msg: dict[str, object]) -> str | None:
    """QEMU's text for a command its dispatcher refuses before reading the id, or None."""
    for key in msg:
        if key not in ("execute", "arguments", "exec-oob", "control"):
            return f"QMP input member '{key}' is unexpected"
    if "execute" not in msg and "exec-oob" not in msg:
        return "QMP input lacks member 'execute'"
    for key in ("execute", "exec-oob"):
        if key in msg and not isinstance(msg[key], str):
            return f"QMP input member '{key}' must be a string"
    if "arguments" in msg and not isinstance(msg["arguments"], dict):
        return "QMP input member 'arguments' must be an object"
    return None


def _parse(cmd: str) -> dict[str, object]:
    try:
        value = json.loads(cmd)
    except ValueError as exc:
        raise VirError.report(
            ErrorNumber.INTERNAL_ERROR, ErrorDomain.NONE, f"cannot parse json {cmd}: {exc}"
        ) from exc
    if not isinstance(value, dict) or "id" in value:
        raise internal_error("Unable to append command 'id' string")
    return value


def _next_id(monitor: Monitor) -> str:
    with _lock:
        counter = _serials.setdefault(monitor, itertools.count(1))
        return f"libvirt-{next(counter)}"


def _taint(monitor: Monitor, dom_id: int, log_path: str) -> None:
    """qemuDomainObjTaint(CUSTOM_MONITOR): noted once per QEMU run in the domain log."""
    with _lock:
        if _tainted.get(monitor):
            return
        _tainted[monitor] = True
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{stamp}+0000: Domain id={dom_id} is tainted: custom-monitor\n")
    except OSError:
        pass


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def monitor_command(state: QemuDriverState, ref: DomainRef, cmd: str, flags: int) -> str:
    """Mirrors qemuDomainQemuMonitorCommand: QEMU's answer to ``cmd`` (see the module doc)."""
    check_flags(flags, DomainQemuMonitorCommandFlags.HMP, _FUNCTION, ErrorDomain.QEMU)
    obj = state.get(ref)
    with obj.cond:
        if not obj.active or obj.monitor is None:
            # virDomainObjCheckActive reports from the domain-config error domain
            raise VirError.report(
                ErrorNumber.OPERATION_INVALID, ErrorDomain.DOMAIN, "domain is not running"
            )
        monitor, dom_id, log_path = obj.monitor, obj.id, obj.log_path
    _taint(monitor, dom_id, log_path)
    if flags & DomainQemuMonitorCommandFlags.HMP:
        out = monitor.execute("human-monitor-command", {"command-line": cmd})
        if not isinstance(out, str):
            raise internal_error("human monitor command was not successful")
        return out
    msg = _parse(cmd)
    refusal = qmp_input_error(msg)
    if refusal is not None:
        return _compact({"error": {"class": "GenericError", "desc": refusal}})
    reply = monitor.passthrough(msg)
    serial = _next_id(monitor)
    if "error" in reply:
        return _compact({"id": serial, **reply})
    return _compact({**reply, "id": serial})
