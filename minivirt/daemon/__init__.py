"""minivirtd (libvirt's ``src/remote/remote_daemon*.c``, ``rpc/virnetserver*.c``).

The daemon serves core's drivers to remote clients over the remote protocol:
``server`` owns the I/O loop, the worker pool, listeners and shutdown;
``dispatch`` runs one client's calls against the public API (``minivirt.core``)
and relays its events; ``tls`` builds the server's x509 context; ``limits``
holds the numbers it enforces.  The protocol, the codec and the client driver
stay in ``minivirt.remote``; this package is their only server-side user.
Dependency direction: daemon -> core, remote, wiring (never imported by them).
"""

from minivirt.daemon.limits import Limits
from minivirt.daemon.server import Daemon, main

__all__ = ["Daemon", "Limits", "main"]
