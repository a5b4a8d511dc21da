"""minivirtd's limits (libvirtd.conf's ``max_clients``, ``max_client_requests``, …).

Owns the numbers the daemon enforces and their defaults; no I/O, no policy.
"""

from __future__ import annotations

import dataclasses

from minivirt.remote.protocol.messages import REMOTE_MESSAGE_MAX

__all__ = ["Limits"]


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """libvirtd's max_clients and max_client_requests, the frame size, the workers."""

    clients: int = 120
    outstanding: int = 64
    message: int = REMOTE_MESSAGE_MAX
    workers: int = 8
