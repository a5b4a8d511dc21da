"""minivirt: a small, real libvirt reimplementing the BlockPull / BlockJob API.

The packages follow the layers of the libvirt 0.9.4 patch series; see
``docs/`` and the README.  Import ``minivirt.core`` to open a connection,
``minivirt.bindings`` for the libvirt-python surface.
"""

__all__: list[str] = []
__version__ = "0.1.0"
