"""The remote protocol: spec, grammar, generator and the generated modules.

Owns ``remote_protocol.x`` (the wire contract), ``remote_protocol.lark`` (its
grammar), the generator (``spec``, ``emit``, ``__main__``; they alone import
lark) and the generated ``messages``, ``procedures``, ``client_stubs`` and
``server_stubs`` modules with their run-time support (``runtime``).  Importing
this package imports nothing: take what you need from the submodules.
"""

__all__: list[str] = []
