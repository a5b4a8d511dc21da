"""minivirsh (patch 5): a virsh-like shell for the series' commands, faithful to virsh's bytes.

The shell reaches hypervisors only through ``minivirt.core`` (and reads
constants from ``minivirt.public``); it never imports a driver, conf, remote
or the wiring.  Start-up is kept lean: core is imported when the first
connection is opened, the event loop only by commands that wait for events.
"""

from minivirt.shell.main import main

__all__ = ["main"]
