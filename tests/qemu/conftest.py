"""Fixtures for the qemu driver's unit tests: a monitor loop and scripted QMP peers."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator

import pytest

from minivirt.qemu.monitor import Monitor
from minivirt.qemu.monitorloop import MonitorLoop
from minivirt.qemu.qmpreply import QmpEvent
from tests.qemu.qmppeer import ScriptedPeer


@pytest.fixture
def sockdir() -> Iterator[str]:
    """A short private directory (unix socket paths are limited to 108 bytes)."""
    path = tempfile.mkdtemp(prefix="mvq-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def mloop() -> Iterator[MonitorLoop]:
    loop = MonitorLoop("test-qmp")
    yield loop
    loop.close()


class Harness:
    """A monitor connected to a scripted peer, recording events and EOF."""

    def __init__(self, mloop: MonitorLoop, sockdir: str) -> None:
        self.mloop = mloop
        self.sockdir = sockdir
        self.peers: list[ScriptedPeer] = []
        self.monitors: list[Monitor] = []
        self.events: list[QmpEvent] = []
        self.eof = threading.Event()

    def peer(self, commands=None, script=None) -> ScriptedPeer:
        peer = ScriptedPeer(f"{self.sockdir}/qmp{len(self.peers)}.sock", commands, script)
        self.peers.append(peer)
        return peer

    def connect(self, peer: ScriptedPeer, timeout: float = 10.0) -> Monitor:
        mon = Monitor.open(
            self.mloop,
            peer.path,
            on_event=self.events.append,
            on_eof=self.eof.set,
            timeout=timeout,
            name="test",
        )
        self.monitors.append(mon)
        return mon

    def close(self) -> None:
        for mon in self.monitors:
            mon.close()
        for peer in self.peers:
            peer.close()


@pytest.fixture
def harness(mloop: MonitorLoop, sockdir: str) -> Iterator[Harness]:
    h = Harness(mloop, sockdir)
    yield h
    h.close()
