"""Connection URIs: ``scheme[+transport]://[user@]host[:port]/path[?query]``.

Parsing only; which driver serves a URI is decided by the registry.  The
common plain forms (``qemu+tcp://host:port/system?a=b``) are split here
without ``urllib.parse`` (a one-shot client's start-up); anything with escapes,
brackets, a user, a fragment or odd characters goes through ``urllib.parse``,
and both give the same result (tests/core/test_uri.py checks it on random
text).
"""

from __future__ import annotations

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.public.values import FrozenValue, init_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

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
        plain = _split_plain(text)
        if plain is not None:
            return cls(*plain, text=text)
        return cls.parse_general(text)

    @classmethod
    def parse_general(cls, text: str) -> URI:
        """:meth:`parse` through ``urllib.parse``, for any URI (escapes, brackets, users)."""
        import urllib.parse

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


_ALNUM: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_SCHEME_CHARS: Final = frozenset(_ALNUM + "+-.")
_PLAIN_CHARS: Final = frozenset(_ALNUM + "-._~:/?&=,;!$'()*+")


def _split_plain(
    text: str,
) -> tuple[str, str | None, str, int | None, str, dict[str, str], None] | None:
    """The fields of a plain URI (see the module docstring), or None to use urllib."""
    if not _PLAIN_CHARS.issuperset(text):
        return None
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme or not scheme[0].isalpha() or not _SCHEME_CHARS.issuperset(scheme):
        return None
    netloc, slash, tail = rest.partition("/")
    if "?" in netloc:
        return None
    path, _, query = (slash + tail).partition("?")
    host, colon, port_text = netloc.partition(":")
    port = None
    if colon and port_text:
        if ":" in port_text or not port_text.isdigit() or int(port_text) > 65535:
            return None  # urllib's error (or its IPv6 rules) decide
        port = int(port_text)
    fields: dict[str, str] = {}
    if "+" in query:
        return None  # '+' is a space in a query: urllib unquotes it
    for piece in query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            fields[name] = value
    lowered = scheme.lower()
    name, _, transport = lowered.partition("+")
    return (name, transport or None, host.lower(), port, path, fields, None)
