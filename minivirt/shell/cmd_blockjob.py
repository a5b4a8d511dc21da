"""The block job commands: ``blockpull`` and ``blockjob`` (virsh-domain.c's twins).

This module owns their option tables, their checks in virsh's order, the
wait loop of ``blockpull --wait`` (BLOCK_JOB / BLOCK_JOB_2 events through the
default event loop running in a thread, with virsh's polling fallback,
``--timeout`` and Ctrl-C aborting the job) and the info / set-speed / abort
modes of ``blockjob`` with virsh's output bytes.  It reaches hypervisors only
through ``minivirt.core`` handles given by the Control.
"""

from __future__ import annotations

import threading
import time

from minivirt.shell.control import Control
from minivirt.shell.options import CommandDef, OptDef, OptType, ParsedCommand

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from minivirt.core import Domain
    from minivirt.public import BlockJobInfo

__all__ = ["BLOCKJOB", "BLOCKPULL", "JOB_LABELS", "SigintCatch", "job_label", "pretty_capacity"]

#: virshDomainBlockJob enum: the job type as virsh names it.
JOB_LABELS: Final = (
    "Unknown job",
    "Block Pull",
    "Block Copy",
    "Block Commit",
    "Active Block Commit",
    "Backup",
)

DOMAIN_OPT: Final = OptDef("domain", OptType.DATA, "domain name, id or uuid", required=True)
PATH_OPT: Final = OptDef("path", OptType.DATA, "fully-qualified path of disk", required=True)
#: virsh polls the job every 500 ms while it waits.
POLL_INTERVAL: Final = 0.5

# virConnectDomainEventBlockJobStatus / flag values (as in minivirt.public, kept local
# so that importing the shell does not import the public package's enums).
_COMPLETED, _FAILED, _CANCELED, _READY = 0, 1, 2, 3
_EVENT_BLOCK_JOB, _EVENT_BLOCK_JOB_2 = 8, 16
_ABORT_ASYNC, _ABORT_PIVOT = 1, 2
_INFO_BYTES = _SPEED_BYTES = 1
_PULL_BYTES = _REBASE_BYTES = 1 << 6
_REBASE_RELATIVE = 1 << 4
_ERR_INVALID_ARG, _ERR_OVERFLOW = 8, 82


def job_label(job_type: int) -> str:
    """virshDomainBlockJobToString."""
    return JOB_LABELS[job_type] if 0 <= job_type < len(JOB_LABELS) else "Unknown job"


def pretty_capacity(value: int) -> tuple[float, str]:
    """vshPrettyCapacity: (value, unit) with B, KiB, MiB, … EiB."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    limit = 1024
    for power, unit in enumerate(units[:-1]):
        if value < limit:
            return (float(value) if power == 0 else value / (limit / 1024)), unit
        limit *= 1024
    return value / (limit / 1024), units[-1]


# -- blockjob -------------------------------------------------------------


def _job_info(ctl: Control, dom: Domain, path: str, raw: bool, in_bytes: bool) -> bool:
    """virshBlockJobInfo: human or raw output of the job on ``path``."""
    from minivirt.public import VirError

    info: BlockJobInfo | None = None
    asked_bytes = False
    speed = 0
    if in_bytes or not raw:
        try:
            info = dom.get_block_job_info(path, _INFO_BYTES)
            asked_bytes = True
        except VirError as exc:
            if in_bytes or raw or exc.code not in (_ERR_INVALID_ARG, _ERR_OVERFLOW):
                raise
        if info is not None:
            speed = info.bandwidth
    if not asked_bytes:
        info = dom.get_block_job_info(path, 0)
        if info is not None:
            speed = info.bandwidth if raw else info.bandwidth << 20
    if info is None:
        if not raw:
            ctl.print(f"No current block job for {path}")
        return True
    if raw:
        name = JOB_LABELS[info.type] if 0 <= info.type < len(JOB_LABELS) else "(null)"
        ctl.print(f" type={name}\n bandwidth={info.bandwidth}\n cur={info.cur}\n end={info.end}\n")
        return True
    ctl.progress(job_label(info.type), (info.end - info.cur) & ((1 << 64) - 1), info.end)
    if speed:
        value, unit = pretty_capacity(speed)
        ctl.print(f"    Bandwidth limit: {speed} bytes/s ({value:.3f} {unit}/s)")
    ctl.print("\n")
    return True


def cmd_blockjob(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh blockjob: info (default), --bandwidth (set speed) or --abort/--async/--pivot."""
    for mode in ("raw", "info"):
        for other in ("abort", "pivot", "async", "bandwidth"):
            ctl.exclusive(cmd, mode, other)
    for other in ("abort", "pivot", "async"):
        ctl.exclusive(cmd, "bytes", other)
    dom = ctl.domain(cmd)
    path = ctl.required_string(cmd, "path")
    in_bytes = cmd.has("bytes")
    if cmd.has("bandwidth"):
        bandwidth = ctl.bandwidth(cmd, in_bytes)
        dom.block_job_set_speed(path, bandwidth, _SPEED_BYTES if in_bytes else 0)
        return True
    if cmd.has("abort") or cmd.has("pivot") or cmd.has("async"):
        flags = (_ABORT_ASYNC if cmd.has("async") else 0) | (
            _ABORT_PIVOT if cmd.has("pivot") else 0
        )
        dom.block_job_abort(path, flags)
        return True
    return _job_info(ctl, dom, path, cmd.has("raw"), in_bytes)


BLOCKJOB: Final = CommandDef(
    "blockjob",
    "Manage active block operations",
    "Query, adjust speed, or cancel active block operations.",
    (
        DOMAIN_OPT,
        PATH_OPT,
        OptDef("abort", OptType.BOOL, "abort the active job on the specified disk"),
        OptDef("async", OptType.BOOL, "implies --abort; request but don't wait for job end"),
        OptDef("pivot", OptType.BOOL, "implies --abort; conclude and pivot a copy or commit job"),
        OptDef("info", OptType.BOOL, "get active job information for the specified disk"),
        OptDef("bytes", OptType.BOOL, "get/set bandwidth in bytes rather than MiB/s"),
        OptDef("raw", OptType.BOOL, "implies --info; output details rather than human summary"),
        OptDef("bandwidth", OptType.INT, "set the bandwidth limit in MiB/s"),
    ),
    cmd_blockjob,
)


# -- blockpull ------------------------------------------------------------


class _JobWait:
    """virshBlockJobWaitData: the callbacks' view of the job's end, and the wake-up."""

    def __init__(self, ctl: Control, dom: Domain, path: str, label: str) -> None:
        self.ctl = ctl
        self.dom = dom
        self.path = path
        self.label = label
        self.status = -1
        self.wake = threading.Event()
        self.callback_ids: list[int] = []
        self.registered = {_EVENT_BLOCK_JOB: False, _EVENT_BLOCK_JOB_2: False}

    def on_event(
        self, conn: object, dom: object, disk: str, type_: int, status: int, opaque: object
    ) -> None:
        # BLOCK_JOB names the source path, BLOCK_JOB_2 the target: match what the user named.
        if disk == self.path:
            self.status = status
            self.wake.set()

    def register(self) -> None:
        from minivirt.public import VirError

        conn = self.dom.conn
        for event_id in (_EVENT_BLOCK_JOB, _EVENT_BLOCK_JOB_2):
            try:
                self.callback_ids.append(
                    conn.domain_event_register_any(self.dom, event_id, self.on_event)
                )
                self.registered[event_id] = True
            except VirError:
                pass

    def deregister(self) -> None:
        from minivirt.public import VirError

        for callback_id in self.callback_ids:
            try:
                self.dom.conn.domain_event_deregister_any(callback_id)
            except VirError:
                pass


class SigintCatch:
    """While waiting, Ctrl-C sets ``ctl.interrupted`` (virsh's intCaught) instead of raising.

    A class rather than a ``contextlib.contextmanager`` generator, which would
    import ``contextlib`` at every one-shot command's start (issue 14).
    """

    __slots__ = ("_ctl", "_previous", "_wake")

    def __init__(self, ctl: Control, wake: threading.Event) -> None:
        self._ctl = ctl
        self._wake = wake
        self._previous: list[Any] = []  # the handler to put back, once installed

    def _handler(self, signum: int, frame: object) -> None:
        self._ctl.interrupted.set()
        self._wake.set()

    def __enter__(self) -> None:
        import signal  # here: building its enums costs every one-shot command a millisecond

        self._ctl.interrupted.clear()
        try:
            self._previous.append(signal.signal(signal.SIGINT, self._handler))
        except ValueError:  # not the main thread (in-process callers): no signal handling
            pass

    def __exit__(self, *exc_info: object) -> None:
        if self._previous:
            import signal

            signal.signal(signal.SIGINT, self._previous.pop())


def _wait(job: _JobWait, verbose: bool, timeout_ms: int, async_abort: bool) -> int:
    """virshBlockJobWait: returns the final status (COMPLETED, READY, FAILED, CANCELED)."""
    from minivirt.public import VirError

    ctl, dom, path = job.ctl, job.dom, job.path
    by_event = job.registered[_EVENT_BLOCK_JOB] or job.registered[_EVENT_BLOCK_JOB_2]
    fallback = not all(job.registered.values())
    retries = 5
    start = time.monotonic()
    last = (0, 0)
    result = -1
    with SigintCatch(ctl, job.wake):
        while True:
            try:
                info = dom.get_block_job_info(path, 0)
            except VirError as exc:
                raise ctl.fail(exc, f"failed to query job for disk {path}") from exc
            if by_event and job.status != -1:
                result = job.status
                break
            if fallback:
                if info is None:
                    result = _COMPLETED
                    break
                if info.end == info.cur:
                    retries -= 1
                    if not by_event or retries == 0:
                        result = _READY
                        break
            if info is not None:
                if verbose and (info.cur, info.end) != last:
                    ctl.progress(job.label, (info.end - info.cur) & ((1 << 64) - 1), info.end)
                last = (info.cur, info.end)
            elapsed_ms = (time.monotonic() - start) * 1000
            if ctl.interrupted.is_set() or (timeout_ms and elapsed_ms > timeout_ms):
                try:
                    dom.block_job_abort(path, _ABORT_ASYNC if async_abort else 0)
                except VirError as exc:
                    raise ctl.fail(exc, f"failed to abort job for disk '{path}'") from exc
                result = _CANCELED
                break
            wait = POLL_INTERVAL
            if timeout_ms:
                wait = max(0.0, min(wait, timeout_ms / 1000 - elapsed_ms / 1000 + 0.001))
            job.wake.wait(wait)
            job.wake.clear()
    if verbose and result in (_COMPLETED, _READY):
        ctl.progress(job.label, 0, 1)
    return result


def cmd_blockpull(ctl: Control, cmd: ParsedCommand) -> bool:
    """virsh blockpull: start a pull (BlockPull, or BlockRebase with --base / --keep-relative)."""
    ctl.requires(cmd, "verbose", "wait")
    ctl.requires(cmd, "async", "wait")
    path = ctl.required_string(cmd, "path")
    base = ctl.string(cmd, "base")
    in_bytes = cmd.has("bytes")
    bandwidth = ctl.bandwidth(cmd, in_bytes)
    timeout_ms = ctl.timeout_ms(cmd)
    flags = _REBASE_RELATIVE if cmd.has("keep-relative") else 0
    dom = ctl.domain(cmd)
    blocking = cmd.has("wait")
    job: _JobWait | None = None
    loop = None
    try:
        if blocking:
            from minivirt import core

            loop = core.EventLoopThread()
            loop.start()
            job = _JobWait(ctl, dom, path, "Block Pull")
            job.register()
        if base is not None or flags:
            dom.block_rebase(path, base, bandwidth, flags | (_REBASE_BYTES if in_bytes else 0))
        else:
            dom.block_pull(path, bandwidth, _PULL_BYTES if in_bytes else 0)
        if job is None:
            ctl.print("Block Pull started")
            return True
        status = _wait(job, cmd.has("verbose"), timeout_ms, cmd.has("async"))
    finally:
        if job is not None:
            job.deregister()
        if loop is not None:
            loop.stop()
    if status == _CANCELED:
        ctl.print("\nPull aborted")
        return False
    if status == _FAILED:
        ctl.print("\nPull failed")
        return False
    ctl.print("\nPull complete")
    return True


BLOCKPULL: Final = CommandDef(
    "blockpull",
    "Populate a disk from its backing image.",
    "Populate a disk from its backing image.",
    (
        DOMAIN_OPT,
        PATH_OPT,
        OptDef("bandwidth", OptType.INT, "bandwidth limit in MiB/s"),
        OptDef("base", OptType.STRING, "path of backing file in chain for a partial pull"),
        OptDef("wait", OptType.BOOL, "wait for job to finish"),
        OptDef("verbose", OptType.BOOL, "with --wait, display the progress"),
        OptDef("timeout", OptType.INT, "with --wait, abort if pull exceeds timeout (in seconds)"),
        OptDef("async", OptType.BOOL, "with --wait, don't wait for cancel to finish"),
        OptDef("keep-relative", OptType.BOOL, "keep the backing chain relatively referenced"),
        OptDef("bytes", OptType.BOOL, "the bandwidth limit is in bytes/s rather than MiB/s"),
    ),
    cmd_blockpull,
)
