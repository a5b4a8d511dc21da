"""Differential conformance: the same scenarios on real libvirt and on minivirt.

``python -m tools.conformance`` (``make conformance``) runs every row of
``tests/conformance/*.yaml`` with real ``virsh`` / libvirt-python against a
private libvirtd and with ``minivirsh`` / ``minivirt.bindings`` against
minivirtd, over TCP and the unix socket, compares them after normalising
only what legitimately varies, and writes ``docs/conformance.md`` and
``docs/conformance.json``.  Modules: ``scenario`` (the YAML rows),
``sides`` (daemons and how a row runs on each), ``images``, ``normalise``,
``run`` (order and comparison), ``report``.
"""

__all__: list[str] = []
