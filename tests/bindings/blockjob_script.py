"""The series' test script (patch 8), as a libvirt-python user would write it.

Everything here talks to ``minivirt.bindings`` imported as ``libvirt`` and
nothing else of minivirt, so the same steps run on ``test:///default``, on
``qemu:///embed?root=DIR`` and over ``qemu+tcp://``.  The scenario follows
the series' description: a backing image and a qcow2 overlay made with
qemu-img, a domain defined from XML with the overlay as ``vda``, a BLOCK_JOB
callback, blockPull, blockJobInfo polled until cur == end, the COMPLETED
event; and the same with blockJobSetSpeed and blockJobAbort (CANCELED).

The event loop is the application's: ``virEventRunDefaultImpl`` runs in the
test's own thread, woken by a ``virEventAddTimeout`` timer, as libvirt's docs
advise.  Loops are bounded by iteration counts, never by wall-clock asserts.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import minivirt.bindings as libvirt

__all__ = [
    "DOMAIN_XML",
    "Events",
    "backing_file_of",
    "make_images",
    "pull_and_wait",
    "run_loop_until",
    "set_speed_then_abort",
]

#: The domain the script defines: the libvirt XML subset a user writes.
DOMAIN_XML = """\
<domain type='kvm'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{overlay}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


def make_images(directory: Path, size_mib: int = 8, data_mib: int = 0) -> tuple[Path, Path]:
    """A raw backing image of ``size_mib`` (its first ``data_mib`` MiB random) and a
    qcow2 overlay on it, both made with qemu-img as the series' script did."""
    backing = directory / "backing.img"
    overlay = directory / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "raw", str(backing), f"{size_mib}M"], check=True
    )
    if data_mib:
        with backing.open("r+b") as f:
            for _ in range(data_mib):
                f.write(os.urandom(1 << 20))
    subprocess.run(
        [
            "qemu-img",
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            str(backing),
            "-F",
            "raw",
            str(overlay),
        ],
        check=True,
    )
    return backing, overlay


def backing_file_of(image: Path) -> str | None:
    """The backing file qemu-img reports for ``image`` (None when it stands alone)."""
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(image)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    value = json.loads(out).get("backing-filename")
    return None if value is None else str(value)


class Events:
    """A BLOCK_JOB callback in libvirt-python's shape that records what it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[object, ...]] = []

    def __call__(
        self,
        conn: libvirt.virConnect,
        dom: libvirt.virDomain,
        disk: str,
        type: int,
        status: int,
        opaque: object,
    ) -> None:
        self.received.append((conn, dom.name(), disk, type, status, opaque))

    def statuses(self) -> list[object]:
        return [e[4] for e in self.received]


def run_loop_until(condition: Callable[[], bool], max_iterations: int = 20000) -> None:
    """Run the default event loop until ``condition()`` holds (bounded by iterations).

    A 10 ms timer keeps each iteration short, so ``condition`` may also poll.
    """
    timer = libvirt.virEventAddTimeout(10, lambda _timer, _opaque: None, None)
    try:
        for _ in range(max_iterations):
            if condition():
                return
            libvirt.virEventRunDefaultImpl()
        raise AssertionError("the event loop never reached the expected state")
    finally:
        libvirt.virEventRemoveTimeout(timer)


def pull_and_wait(
    conn: libvirt.virConnect, dom: libvirt.virDomain, disk: str, max_iterations: int = 20000
) -> tuple[Events, list[dict[str, int]]]:
    """blockPull ``disk``, poll blockJobInfo until cur == end, wait for the event.

    Returns the callback's record and every non-empty info seen.  Checks the
    invariants a user relies on: type PULL, 0 <= cur <= end, info {} at the end.
    """
    events = Events()
    cid = conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, events, "pull")
    infos: list[dict[str, int]] = []
    try:
        assert dom.blockPull(disk, 0, 0) == 0

        def done() -> bool:
            info = dom.blockJobInfo(disk, 0)
            if info:
                assert info["type"] == libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL
                assert 0 <= info["cur"] <= info["end"]
                infos.append(info)
            finished = not info or info["cur"] == info["end"]
            return finished and bool(events.received)

        run_loop_until(done, max_iterations)
        run_loop_until(lambda: dom.blockJobInfo(disk) == {}, max_iterations)
    finally:
        conn.domainEventDeregisterAny(cid)
    return events, infos


def set_speed_then_abort(
    conn: libvirt.virConnect, dom: libvirt.virDomain, disk: str, max_iterations: int = 20000
) -> tuple[Events, dict[str, int]]:
    """blockPull at 1 MiB/s, raise the limit to 2 MiB/s, read it back, abort; wait for CANCELED.

    Returns the callback's record and the info read after blockJobSetSpeed.
    """
    events = Events()
    cid = conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, events, "abort")
    try:
        assert dom.blockPull(disk, bandwidth=1) == 0
        assert dom.blockJobSetSpeed(disk, 2) == 0
        info = dom.blockJobInfo(disk)
        assert dom.blockJobAbort(disk) == 0
        run_loop_until(lambda: bool(events.received), max_iterations)
        run_loop_until(lambda: dom.blockJobInfo(disk) == {}, max_iterations)
    finally:
        conn.domainEventDeregisterAny(cid)
    return events, info
