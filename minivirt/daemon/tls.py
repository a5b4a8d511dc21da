"""The daemon's side of TLS (libvirt's ``virNetTLSContextNewServer``).

Owns where minivirtd's certificates live (libvirt's paths, or ``--pki DIR``)
and its ``ssl.SSLContext``, which requires a client certificate signed by the
CA.  Loading and libvirt's error texts are ``minivirt.remote.tls``'s.  Must
not: do I/O beyond reading the certificate files (asyncio does the handshake).
"""

from __future__ import annotations

import ssl
from typing import Final

from minivirt.remote.tls import pki_files, x509_context

__all__ = ["SERVER_FILES", "server_context"]

#: libvirt's default locations for the server: (CA, certificate, key).
SERVER_FILES: Final = (
    "/etc/pki/CA/cacert.pem",
    "/etc/pki/libvirt/servercert.pem",
    "/etc/pki/libvirt/private/serverkey.pem",
)


def server_context(pkipath: str | None = None) -> ssl.SSLContext:
    """The daemon's context: clients must present a certificate signed by the CA.

    Raises SYSTEM_ERROR (RPC) when a file cannot be read or loaded.
    """
    ctx = x509_context(ssl.Purpose.CLIENT_AUTH, pki_files(pkipath, SERVER_FILES, "server"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
