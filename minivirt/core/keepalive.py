"""virConnectSetKeepAlive: the one connect entry point about the link to a server.

Owns the entry point's checks (handle, then the driver's slot) and nothing
else; the keepalive itself is the remote driver's.
"""

from __future__ import annotations

from minivirt.core import checks
from minivirt.core.connection import Connection
from minivirt.public import ErrorDomain, has_keep_alive

__all__ = ["connect_set_keep_alive"]


def connect_set_keep_alive(conn: Connection, interval: int, count: int) -> int:
    """Mirrors virConnectSetKeepAlive: PING the server after ``interval`` silent seconds.

    ``count`` unanswered PINGs close the connection; ``interval`` <= 0 stops
    keepalive.  Returns 0.  Raises INVALID_CONN, and NO_SUPPORT for a driver
    that is not remote (a local hypervisor has no peer to lose).
    """
    fn = "virConnectSetKeepAlive"
    conn._check(fn)
    driver = conn.driver
    if not has_keep_alive(driver):
        raise checks.unsupported(fn, ErrorDomain.NONE)
    return driver.connect_set_keep_alive(interval, count)
