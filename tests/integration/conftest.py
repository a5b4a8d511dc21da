"""Shared fixtures for end-to-end tests on real QEMU and real qcow2 images.

- ``qemu_root``: a private state root; ``qemu_uri`` is ``qemu:///embed?root=<it>``.
- ``images``: a factory of base images with known data and qcow2 overlays
  (``qemu-img`` / ``qemu-io``), plus ``info``/``compare`` helpers.
- ``event_loop``: minivirt's default event loop running in a thread.
- ``qemu_driver``: a qemu driver connection on ``qemu_root``; every QEMU started
  under that root is killed at teardown, even when the test failed.
- ``domain_yaml``: a minimal domain definition for a list of disks.
Every test gets its own directory; nothing listens on TCP.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest

MIB = 1 << 20


@dataclasses.dataclass(frozen=True)
class SimpleURI:
    """What a driver factory reads of a URI (stands in for core.URI)."""

    scheme: str
    transport: str | None
    host: str
    path: str
    query: Mapping[str, str]


def embed_uri(root: str) -> SimpleURI:
    return SimpleURI("qemu", None, "", "/embed", {"root": root})


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@dataclasses.dataclass(frozen=True)
class Chain:
    """A base image and a qcow2 overlay backed by it."""

    base: str
    top: str
    size: int


class Images:
    """Creates images under one directory with qemu-img and qemu-io."""

    def __init__(self, directory: str) -> None:
        self.dir = directory

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def base(
        self,
        name: str = "base.qcow2",
        size_mib: int = 64,
        fmt: str = "qcow2",
        pattern: int = 0xAB,
        data: Sequence[tuple[int, int]] | None = None,
        backing: str | None = None,
    ) -> str:
        """An image with ``pattern`` written at each (offset MiB, length MiB) of ``data``.

        By default the whole image is filled, so a pull has every byte to copy.
        """
        path = self.path(name)
        cmd = ["qemu-img", "create", "-q", "-f", fmt]
        if backing is not None:
            cmd += ["-b", backing, "-F", "qcow2"]
        run(*cmd, path, f"{size_mib}M")
        writes = [(0, size_mib)] if data is None else list(data)
        if writes:
            script = [
                arg
                for off, length in writes
                for arg in ("-c", f"write -q -P {pattern} {off}M {length}M")
            ]
            run("qemu-io", "-f", fmt, *script, path)
        return path

    def overlay(
        self,
        backing: str,
        name: str = "top.qcow2",
        backing_fmt: str = "qcow2",
        relative: bool = False,
        writes: Sequence[tuple[int, int, int]] = (),
        fmt: str = "qcow2",
    ) -> str:
        """A ``fmt`` overlay on ``backing``; ``writes`` are (pattern, offset MiB, length MiB)."""
        path = self.path(name)
        ref = os.path.relpath(backing, self.dir) if relative else backing
        run("qemu-img", "create", "-q", "-f", fmt, "-b", ref, "-F", backing_fmt, path)
        if writes:
            script = [
                arg
                for pat, off, length in writes
                for arg in ("-c", f"write -q -P {pat} {off}M {length}M")
            ]
            run("qemu-io", "-f", fmt, *script, path)
        return path

    def chain(self, size_mib: int = 64, prefix: str = "") -> Chain:
        base = self.base(f"{prefix}base.qcow2", size_mib)
        top = self.overlay(base, f"{prefix}top.qcow2", writes=[(0x11, 0, 1)])
        return Chain(base, top, size_mib * MIB)

    @staticmethod
    def info(path: str) -> list[dict[str, object]]:
        """``qemu-img info -U --backing-chain --output=json``: top first."""
        out = json.loads(run("qemu-img", "info", "-U", "--backing-chain", "--output=json", path))
        return out if isinstance(out, list) else [out]

    @staticmethod
    def backing_file(path: str) -> str | None:
        value = Images.info(path)[0].get("backing-filename")
        return value if isinstance(value, str) else None

    @staticmethod
    def same_data(a: str, b: str) -> bool:
        """``qemu-img compare``: True when both chains read identically."""
        result = subprocess.run(["qemu-img", "compare", "-U", a, b], capture_output=True)
        return result.returncode == 0

    def snapshot_of(self, path: str, name: str) -> str:
        """A flat copy of what ``path``'s chain reads now (for later comparison)."""
        copy = self.path(name)
        run("qemu-img", "convert", "-U", "-O", "raw", path, copy)
        return copy


@pytest.fixture
def qemu_root(tmp_path) -> Iterator[str]:
    root = str(tmp_path / "root")
    os.makedirs(root)
    yield root
    _kill_leftovers(root)


def _kill_leftovers(root: str) -> None:
    """Kill every QEMU whose status file is still under ``root`` (belt and braces)."""
    for status in glob.glob(os.path.join(root, "run", "qemu", "*.json")):
        with contextlib.suppress(OSError, ValueError):
            with open(status) as src:
                pid = int(json.load(src).get("pid", 0))
            if pid > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def qemu_uri(qemu_root) -> str:
    return f"qemu:///embed?root={qemu_root}"


@pytest.fixture
def images(tmp_path) -> Images:
    directory = tmp_path / "images"
    directory.mkdir()
    return Images(str(directory))


@pytest.fixture
def event_loop() -> Iterator[None]:
    from minivirt.events import EventLoopThread

    with EventLoopThread():
        yield


@pytest.fixture
def qemu_driver(qemu_root, event_loop):
    """A qemu driver connection; destroys every running domain at teardown."""
    from minivirt.public import VirError
    from minivirt.qemu import open_driver

    conn = open_driver(embed_uri(qemu_root), False)
    assert conn is not None
    yield conn
    for ref in conn.list_all_domains(1):
        with contextlib.suppress(VirError):
            conn.domain_destroy(ref, 0)
    conn.close()


@pytest.fixture
def domain_yaml() -> Callable[..., str]:
    def make(
        name: str = "guest",
        disks: Sequence[tuple[str, str]] = (),
        fmt: str = "qcow2",
        memory: int = 64,
    ) -> str:
        lines = [f"name: {name}", f"memory: {memory}", "disks:" if disks else "disks: []"]
        for target, source in disks:
            lines.append(f"  - {{target: {target}, source: '{source}', format: {fmt}}}")
        return "\n".join(lines) + "\n"

    return make


class EventRecorder:
    """Collects domain events delivered by the event loop; waits for them."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self._cond = threading.Condition()

    def __call__(self, event: object) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[object]], bool], timeout: float = 60.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.events), timeout)


@pytest.fixture
def recorder() -> EventRecorder:
    return EventRecorder()
