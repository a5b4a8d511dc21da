"""The daemon's side of TLS (libvirt's ``virNetTLSContextNewServer``).

Owns where minivirtd's certificates live (libvirt's paths, or ``--pki DIR``),
its ``ssl.SSLContext``, which requires a client certificate signed by the
CA, :class:`ServerSession` (TLS in memory, ``ssl.MemoryBIO``, so the daemon
sees every handshake failure and logs it with the peer), and
``tls_allowed_dn_list``: a peer certificate's distinguished name as
libvirt writes it (the certificate's order, ``C=GB,O=…,CN=…``) and libvirt's
wildcard match of it (``*`` and ``?``).  Loading and libvirt's error texts are
``minivirt.remote.tls``'s.  Must not: do I/O beyond reading the certificate
files; the session is sans-I/O (bytes in, bytes out).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from typing import Any, Final

from minivirt.remote.tls import pki_files, x509_context

__all__ = ["SERVER_FILES", "ServerSession", "dn_allowed", "peer_dn", "server_context", "ssl_text"]

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


#: OpenSSL's long attribute names (``getpeercert``) -> the short ones in a DN.
_SHORT: Final = {
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "commonName": "CN",
    "emailAddress": "EMAIL",
    "domainComponent": "DC",
    "userId": "UID",
}


def _escape(value: str) -> str:
    return re.sub(r'([,+"\\<>;])', r"\\\1", value)


def peer_dn(peercert: dict[str, Any] | None) -> str:
    """The subject of ``ssl.getpeercert()`` as libvirt logs and matches it."""
    if not peercert:
        return ""
    parts = []
    for rdn in peercert.get("subject", ()):
        parts.append("+".join(f"{_SHORT.get(k, k)}={_escape(v)}" for k, v in rdn))
    return ",".join(parts)


def _pattern(glob: str) -> re.Pattern[str]:
    out = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(out, re.DOTALL)


def dn_allowed(dn: str, allowed: Iterable[str] | None) -> bool:
    """Whether ``dn`` matches ``tls_allowed_dn_list`` (None: no list, every name)."""
    if allowed is None:
        return True
    return any(_pattern(glob).fullmatch(dn) for glob in allowed)


class ServerSession:
    """One client's TLS session, sans-I/O: ciphertext in, plaintext out, and back.

    :meth:`receive` takes ciphertext and returns (plaintext, ciphertext to
    send); :attr:`done` says the handshake is over; :meth:`send` encrypts.
    A failed handshake or a broken record raises ``ssl.SSLError``.  Not
    thread-safe: the daemon uses it on its loop only.
    """

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_side=True)
        self.done = False

    def receive(self, data: bytes) -> tuple[bytes, bytes]:
        """Feed ciphertext; return the plaintext it completes and the ciphertext to send."""
        self._in.write(data)
        if not self.done:
            try:
                self._obj.do_handshake()
            except ssl.SSLWantReadError:
                return b"", self._out.read()
            self.done = True
        chunks = []
        while True:
            try:
                chunk = self._obj.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), self._out.read()

    def send(self, data: bytes) -> bytes:
        """Encrypt ``data``; the ciphertext to write."""
        self._obj.write(data)
        return self._out.read()

    def peercert(self) -> dict[str, Any] | None:
        """The client's certificate (verified against the CA), once the handshake is done."""
        cert = self._obj.getpeercert()
        return cert if cert else None


def ssl_text(exc: ssl.SSLError) -> str:
    """The most precise words of an SSL failure (the certificate check's, when it is one)."""
    verify = getattr(exc, "verify_message", None)
    return str(verify or exc.reason or exc)
