"""Run one libvirt-python call sequence and print its outcome as JSON (both sides).

This file is executed as a script, by ``/usr/bin/python3`` with Debian's
``libvirt`` module and by the project's venv with ``minivirt.bindings as
libvirt``; it therefore imports nothing of the project.  It reads a JSON
request on stdin: ``module``, ``uri``, ``readonly`` and ``calls``, a list of
``[target, arg...]`` where target is ``[NAME =] OBJECT.METHOD`` (OBJECT is
``libvirt``, ``conn`` or a name bound by an earlier call) or one of the pseudo
calls ``events`` (register BLOCK_JOB callbacks for the ids given),
``wait_events N`` (run the default event loop until N events arrived) and
``wait_no_job OBJECT DISK`` (poll ``blockJobInfo`` until the disk has no job).
An argument ``"@NAME|@NAME"`` is the OR of libvirt constants.  It prints one
JSON object: the outcome of each call (value, or the exception's class, code,
domain and message) and the events received, in order.

Must not: normalise anything (the runner does), or hide an exception.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from typing import Any

__all__ = ["main"]


def _arg(lv: Any, env: dict[str, Any], value: Any) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        total = 0
        for part in value.split("|"):
            total |= int(getattr(lv, part.strip().lstrip("@")))
        return total
    if isinstance(value, str) and value.startswith("$") and value[1:] in env:
        return env[value[1:]]
    return value


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return "<" + type(value).__name__ + ">"


def main() -> int:
    req = json.load(sys.stdin)
    lv = importlib.import_module(req["module"])
    events: list[list[Any]] = []
    lv.virEventRegisterDefaultImpl()
    env: dict[str, Any] = {"libvirt": lv}
    out: list[dict[str, Any]] = []
    try:
        env["conn"] = (lv.openReadOnly if req.get("readonly") else lv.open)(req["uri"])
    except lv.libvirtError as exc:
        out.append({"call": "open", "error": _error(exc)})
        print(json.dumps({"calls": out, "events": events}))
        return 0

    def on_event(conn: Any, dom: Any, disk: str, jtype: int, status: int, opaque: Any) -> None:
        events.append([opaque, dom.name(), disk, jtype, status])

    for call in req["calls"]:
        head, args = call[0], call[1:]
        record: dict[str, Any] = {"call": " ".join(str(c) for c in call)}
        try:
            if head == "events":
                for event_id in args:
                    env["conn"].domainEventRegisterAny(None, int(event_id), on_event, int(event_id))
                continue
            if head == "wait_events":
                deadline = time.monotonic() + float(args[1] if len(args) > 1 else 60)
                while len(events) < int(args[0]) and time.monotonic() < deadline:
                    lv.virEventRunDefaultImpl()
                record["value"] = len(events)
            elif head == "wait_no_job":
                deadline = time.monotonic() + 60
                while env[args[0]].blockJobInfo(args[1], 0) and time.monotonic() < deadline:
                    time.sleep(0.02)
                continue
            else:
                name, _, target = head.rpartition("=")
                obj_name, _, method = target.strip().rpartition(".")
                fn = getattr(env[obj_name], method)
                value = fn(*[_arg(lv, env, a) for a in args])
                if name.strip():
                    env[name.strip()] = value
                record["value"] = _plain(value)
        except lv.libvirtError as exc:
            record["error"] = _error(exc)
        except Exception as exc:  # a Python-level error is an outcome too
            record["error"] = {"class": type(exc).__name__, "message": str(exc)}
        out.append(record)
    print(json.dumps({"calls": out, "events": events}))
    return 0


def _error(exc: Any) -> dict[str, Any]:
    return {
        "class": type(exc).__name__,
        "code": exc.get_error_code(),
        "domain": exc.get_error_domain(),
        "message": exc.get_error_message(),
    }


if __name__ == "__main__":
    sys.exit(main())
