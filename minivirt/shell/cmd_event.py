"""The ``event`` command: wait for domain events and print virsh's event lines.

This module owns the event names (virshDomainEventCallbacks order = event
ids), the printers for lifecycle and block job events, and the wait (first
event, or ``--loop`` until ``--timeout`` / Ctrl-C) with the closing
"events received: N".  Callbacks run in the default event loop's thread,
started through ``minivirt.core``.
"""

from __future__ import annotations

import threading
import time

from minivirt.shell.cmd_blockjob import SigintCatch, job_label
from minivirt.shell.control import Control
from minivirt.shell.options import CommandDef, OptDef, OptType, ParsedCommand

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from minivirt.core import Connection, Domain

__all__ = ["EVENT", "EVENT_NAMES", "lifecycle_text"]

#: virsh's event names, indexed by virDomainEventID.
EVENT_NAMES: Final = (
    "lifecycle",
    "reboot",
    "rtc-change",
    "watchdog",
    "io-error",
    "graphics",
    "io-error-reason",
    "control-error",
    "block-job",
    "disk-change",
    "tray-change",
    "pm-wakeup",
    "pm-suspend",
    "balloon-change",
    "pm-suspend-disk",
    "device-removed",
    "block-job-2",
    "tunable",
    "agent-lifecycle",
    "device-added",
    "migration-iteration",
    "job-completed",
    "device-removal-failed",
    "metadata-change",
    "block-threshold",
    "memory-failure",
    "memory-device-size-change",
)
_EVENTS: Final = (
    "Defined",
    "Undefined",
    "Started",
    "Suspended",
    "Resumed",
    "Stopped",
    "Shutdown",
    "PMSuspended",
    "Crashed",
)
_DETAILS: Final[tuple[tuple[str, ...], ...]] = (
    ("Added", "Updated", "Renamed", "Snapshot"),
    ("Removed", "Renamed"),
    ("Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"),
    (
        "Paused",
        "Migrated",
        "I/O Error",
        "Watchdog",
        "Restored",
        "Snapshot",
        "API error",
        "Post-copy",
        "Post-copy Error",
    ),
    ("Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"),
    ("Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"),
    ("Finished", "Finished after guest request", "Finished after host request"),
    ("Memory", "Disk"),
    ("Panicked", "Crashloaded"),
)
_STATUS: Final = ("completed", "failed", "canceled", "ready")


def lifecycle_text(event: int, detail: int) -> str:
    """virshDomainEventToString + virshDomainEventDetailToString."""
    if not 0 <= event < len(_EVENTS):
        return "unknown unknown"
    details = _DETAILS[event]
    return f"{_EVENTS[event]} {details[detail] if 0 <= detail < len(details) else 'unknown'}"


def _timestamp() -> str:
    """virTimeStringNowRaw: UTC "YYYY-MM-DD HH:MM:SS.mmm+0000"."""
    now = time.time()
    tm = time.gmtime(now)
    return time.strftime("%Y-%m-%d %H:%M:%S", tm) + f".{int(now * 1000) % 1000:03d}+0000"


class _Listener:
    """virshDomEventData shared by every registration of one ``event`` command."""

    def __init__(self, ctl: Control, loop: bool, timestamp: bool) -> None:
        self.ctl = ctl
        self.loop = loop
        self.timestamp = timestamp
        self.count = 0
        self.closed = False
        self.done = threading.Event()
        self.lock = threading.Lock()

    def emit(self, text: str) -> None:
        with self.lock:
            if self.closed or (not self.loop and self.count):
                return
            prefix = f"{_timestamp()}: " if self.timestamp else ""
            self.ctl.print(prefix + text)
            self.count += 1
            if not self.loop:
                self.done.set()

    def callback(self, name: str) -> object:
        def lifecycle(conn: object, dom: Domain, event: int, detail: int, opaque: object) -> None:
            self.emit(
                f"event 'lifecycle' for domain '{dom.name}': {lifecycle_text(event, detail)}\n"
            )

        def block_job(
            conn: object, dom: Domain, disk: str, type_: int, status: int, opaque: object
        ) -> None:
            state = _STATUS[status] if 0 <= status < len(_STATUS) else "unknown"
            self.emit(
                f"event '{name}' for domain '{dom.name}': {job_label(type_)} for {disk} {state}\n"
            )

        def generic(conn: object, dom: Domain, *args: object) -> None:
            self.emit(f"event '{name}' for domain '{dom.name}'\n")

        if name == "lifecycle":
            return lifecycle
        if name in ("block-job", "block-job-2"):
            return block_job
        return generic


def _lost_reason(conn: Connection) -> str:
    """virsh's words for why a connection closed (its close callback's reason)."""
    from minivirt.public import VirError

    try:
        conn.get_type()
    except VirError as exc:
        if "keepalive" in exc.message:
            return "keepalive timeout"
        if "End of file" in exc.message:
            return "end of file"
        return "I/O error"
    return "end of file"


def cmd_event(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh event: --list, or wait for one event (or --loop) of --event TYPE or --all."""
    from minivirt import core
    from minivirt.public import VirError

    ctl.exclusive(cmd, "all", "event")
    ctl.exclusive(cmd, "list", "all")
    ctl.exclusive(cmd, "list", "event")
    if cmd.has("list"):
        ctl.print("".join(f"{n}\n" for n in EVENT_NAMES))
        return True
    name = ctl.string(cmd, "event")
    if name is None and not cmd.has("all"):
        raise ctl.fail(message="one of --list, --all, or --event <type> is required")
    ids = [i for i, n in enumerate(EVENT_NAMES) if name is None or n == name]
    if not ids:
        raise ctl.fail(message=f"unknown event type {name}")
    timeout_ms = ctl.timeout_ms(cmd)
    dom = ctl.domain(cmd) if cmd.has("domain") else None
    conn = ctl.require_conn()
    listener = _Listener(ctl, cmd.has("loop"), cmd.has("timestamp"))
    loop = core.EventLoopThread()
    loop.start()
    registered: list[int] = []
    ok = False
    try:
        with SigintCatch(ctl, listener.done):  # as vshEventStart: SIGINT caught before registering
            for index, event_id in enumerate(ids):
                try:
                    registered.append(
                        conn.domain_event_register_any(
                            dom,
                            event_id,
                            listener.callback(EVENT_NAMES[event_id]),  # type: ignore[arg-type]
                        )
                    )
                except VirError as exc:
                    if index == 0:
                        raise ctl.fail(exc) from exc
            deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None
            lost = False
            while not listener.done.is_set():
                wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if wait <= 0:
                    break
                listener.done.wait(wait)
                if not conn.is_alive():  # as virsh's close callback: the daemon is gone
                    lost = True
                    break
        with listener.lock:
            listener.closed = True
            if lost:
                ctl.error(f"Disconnected from {conn.get_uri()} due to {_lost_reason(conn)}")
                registered.clear()
            elif ctl.interrupted.is_set():
                ctl.print("event loop interrupted\n")
            elif not listener.done.is_set():
                ctl.print("event loop timed out\n")
            ctl.print(f"events received: {listener.count}\n")
            ok = listener.count > 0 and not lost
    finally:
        for callback_id in registered:
            try:
                conn.domain_event_deregister_any(callback_id)
            except VirError:
                ok = False
        loop.stop()
    return ok


EVENT: Final = CommandDef(
    "event",
    "Domain Events",
    "List event types, or wait for domain events to occur",
    (
        OptDef("domain", OptType.STRING, "filter by domain name, id or uuid"),
        OptDef("event", OptType.STRING, "which event type to wait for"),
        OptDef("all", OptType.BOOL, "wait for all events instead of just one type"),
        OptDef("loop", OptType.BOOL, "loop until timeout or interrupt, rather than one-shot"),
        OptDef("timeout", OptType.INT, "timeout seconds"),
        OptDef("list", OptType.BOOL, "list valid event types"),
        OptDef("timestamp", OptType.BOOL, "show timestamp for each printed event"),
    ),
    cmd_event,
)
