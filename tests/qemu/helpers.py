"""Small helpers for driver tests on the scripted QMP peer: the embed URI, an event recorder."""

from __future__ import annotations

import threading

from minivirt.public import BlockJobEvent

__all__ = ["URI", "Recorder", "query_block"]


class URI:
    """The attributes of core.URI the qemu driver factory reads, for ``qemu:///embed?root=``."""

    def __init__(self, root: str) -> None:
        self.scheme, self.transport, self.host, self.path = "qemu", None, "", "/embed"
        self.query = {"root": root}


class Recorder:
    """Domain events as they are delivered; block-job ones as (disk, type, status, id)."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.cond = threading.Condition()

    def __call__(self, event: object) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def block(self) -> list[tuple[str, int, int, int]]:
        with self.cond:
            return [
                (e.disk, e.type, e.status, e.id)
                for e in self.events
                if isinstance(e, BlockJobEvent)
            ]

    def wait(self, n: int) -> list[tuple[str, int, int, int]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.block()) >= n, 10), self.events
        return self.block()


def query_block(device: str, top: str, base: str, backing_name: str) -> list[dict[str, object]]:
    """A ``query-block`` return value: ``device`` holds qcow2 ``top`` backed by ``base``."""
    image = {
        "filename": top,
        "format": "qcow2",
        "backing-filename": backing_name,
        "backing-image": {"filename": base, "format": "qcow2"},
    }
    return [{"device": device, "inserted": {"image": image}}]
