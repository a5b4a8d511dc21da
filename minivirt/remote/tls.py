"""TLS for ``qemu+tls://`` (libvirt's ``virnettlscontext.c``), x509 certificates.

Owns where the certificates live (libvirt's paths, or ``pkipath=DIR`` from
the URI), loading a certificate set into an ``ssl.SSLContext``
(:func:`x509_context`, shared with the daemon's ``minivirt.daemon.tls``), the
client's context, and :class:`TLSSocket`: TLS done in memory
(``ssl.MemoryBIO``) over a plain blocking socket, so that one thread may read
while others write (an ``ssl.SSLSocket`` does not allow that).  Foreign errors
(``ssl``, ``OSError``) become VirError here.  Must not: import asyncio.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from typing import Final

from minivirt.public import ErrorDomain, ErrorNumber, VirError

__all__ = [
    "CLIENT_FILES",
    "TLSSocket",
    "client_context",
    "pki_files",
    "x509_context",
]

#: libvirt's default locations: (CA, certificate, key).
CLIENT_FILES: Final = (
    "/etc/pki/CA/cacert.pem",
    "/etc/pki/libvirt/clientcert.pem",
    "/etc/pki/libvirt/private/clientkey.pem",
)


def pki_files(
    pkipath: str | None, defaults: tuple[str, str, str], role: str
) -> tuple[str, str, str]:
    """(CA, certificate, key): ``cacert.pem``, ``<role>cert.pem``, ``<role>key.pem`` under
    ``pkipath``, else ``defaults``."""
    if pkipath:
        names = ("cacert.pem", f"{role}cert.pem", f"{role}key.pem")
        ca, cert, key = (os.path.join(pkipath, name) for name in names)
        return ca, cert, key
    return defaults


def _check_readable(path: str, what: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise VirError.report(
            ErrorNumber.SYSTEM_ERROR,
            ErrorDomain.RPC,
            f"Cannot read {what} '{path}': {os.strerror(exc.errno or 0)}",
        ) from exc


def x509_context(purpose: ssl.Purpose, files: tuple[str, str, str]) -> ssl.SSLContext:
    """A context with ``files`` (CA, certificate, key) loaded; SYSTEM_ERROR (RPC) when one
    cannot be read or loaded, with libvirt's text."""
    ca, cert, key = files
    for path, what in ((ca, "CA certificate"), (cert, "certificate"), (key, "private key")):
        _check_readable(path, what)
    try:
        ctx = ssl.create_default_context(purpose, cafile=ca)
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise VirError.report(
            ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC, f"Unable to load x509 credentials: {exc}"
        ) from exc
    return ctx


def client_context(pkipath: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """The client's context: its certificate, and the CA that signs the server's."""
    ctx = x509_context(ssl.Purpose.SERVER_AUTH, pki_files(pkipath, CLIENT_FILES, "client"))
    if not verify:  # the URI's no_verify=1
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _handshake_error(detail: object) -> VirError:
    return VirError.report(
        ErrorNumber.AUTH_FAILED, ErrorDomain.RPC, f"TLS handshake failed: {detail}"
    )


class TLSSocket:
    """A TLS session over a connected blocking socket; recv and sendall as a socket's."""

    def __init__(self, sock: socket.socket, ctx: ssl.SSLContext, host: str) -> None:
        self._sock = sock
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_hostname=host)
        self._lock = threading.Lock()  # the SSL object
        self._send_lock = threading.Lock()  # ciphertext order on the wire
        self._handshake()

    def _flush(self) -> None:
        with self._send_lock:
            with self._lock:
                data = self._out.read()
            if data:
                self._sock.sendall(data)

    def _handshake(self) -> None:
        while True:
            try:
                with self._lock:
                    self._obj.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                data = self._sock.recv(65536)
                if not data:
                    raise _handshake_error("connection closed by the server") from None
                with self._lock:
                    self._in.write(data)
            except ssl.SSLError as exc:
                raise _handshake_error(exc.reason or exc) from exc
            except OSError as exc:
                raise _handshake_error(os.strerror(exc.errno or 0)) from exc

    def sendall(self, data: bytes) -> None:
        with self._send_lock:
            with self._lock:
                try:
                    self._obj.write(data)
                except ssl.SSLError as exc:
                    raise OSError(f"TLS write failed: {exc}") from exc
                out = self._out.read()
            self._sock.sendall(out)

    def recv(self, size: int, flags: int = 0) -> bytes:
        """Plaintext, at least one byte, or b"" at the end of the stream.

        Every whole record already received is returned at once: what stays
        behind is only a record still arriving, so a readable socket is the
        only sign that more is to come (the client's event loop watches it).
        ``flags`` go to the socket's recv: with MSG_DONTWAIT, BlockingIOError
        when no whole record has come yet (a part stays buffered).
        """
        while True:
            chunks: list[bytes] = []
            with self._lock:
                while True:
                    try:
                        data = self._obj.read(size)
                    except ssl.SSLWantReadError:
                        break
                    except ssl.SSLZeroReturnError:
                        if chunks:
                            break  # the end comes with the next call
                        return b""
                    except ssl.SSLError as exc:
                        raise OSError(f"TLS read failed: {exc}") from exc
                    if not data:
                        break
                    chunks.append(data)
            if chunks:
                return b"".join(chunks)
            self._flush()  # post-handshake records the peer may need
            raw = self._sock.recv(size, flags)
            if not raw:
                return b""
            with self._lock:
                self._in.write(raw)

    def fileno(self) -> int:
        return self._sock.fileno()

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)

    def close(self) -> None:
        self._sock.close()
