"""Connection URIs: ``scheme[+transport]://[user@]host[:port]/path[?query]``.

Parsing only; which driver serves a URI is decided by the registry.
"""

from __future__ import annotations

import urllib.parse

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.public.values import FrozenValue, init_fields

__all__ = ["URI"]


class URI(FrozenValue):
    """A parsed connection URI (libvirt's virURI).

    ``qemu+tcp://host:1234/system?x=1`` gives scheme "qemu", transport "tcp",
    host "host", port 1234, path "/system", query {"x": "1"}.
    """

    __slots__ = ("host", "path", "port", "query", "scheme", "text", "transport", "user")
    _fields = __match_args__ = (
        "scheme",
        "transport",
        "host",
        "port",
        "path",
        "query",
        "user",
        "text",
    )
    scheme: str
    transport: str | None
    host: str
    port: int | None
    path: str
    query: dict[str, str]
    user: str | None
    text: str

    def __init__(
        self,
        scheme: str,
        transport: str | None,
        host: str,
        port: int | None,
        path: str,
        query: dict[str, str],
        user: str | None,
        text: str,
    ) -> None:
        init_fields(self, scheme, transport, host, port, path, query, user, text)

    @classmethod
    def parse(cls, text: str) -> URI:
        """Parse ``text``; VIR_ERR_INTERNAL_ERROR (from URI) when it is not a URI."""
        try:
            parts = urllib.parse.urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise cls._error(text) from exc
        if not parts.scheme or "://" not in text:
            raise cls._error(text)
        scheme, _, transport = parts.scheme.lower().partition("+")
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        return cls(
            scheme=scheme,
            transport=transport or None,
            host=parts.hostname or "",
            port=port,
            path=parts.path,
            query=query,
            user=parts.username,
            text=text,
        )

    @staticmethod
    def _error(text: str) -> VirError:
        return VirError.report(
            ErrorNumber.INTERNAL_ERROR, ErrorDomain.URI, f"Unable to parse URI {text}"
        )

    @property
    def is_local(self) -> bool:
        """True when the URI names no host and no transport (a driver in this process)."""
        return not self.host and self.transport is None

    def __str__(self) -> str:
        return self.text
