"""minivirtd's limits and its config file (libvirtd.conf's names and defaults).

Owns the numbers the daemon enforces (``max_clients``,
``max_anonymous_clients``, ``max_client_requests``, the frame size and the
deadline for a frame to arrive in full, the cap on unsent reply bytes,
``keepalive_interval``/``keepalive_count``, the anonymous-client deadline),
``tls_allowed_dn_list``, and the parser of the config file, which uses
libvirtd.conf's syntax (``key = value``; integers, "strings", ["lists"];
``#`` comments).  No I/O beyond reading that one file, no policy.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Final

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.remote.protocol.messages import REMOTE_MESSAGE_MAX

__all__ = ["CONFIG_KEYS", "Limits", "load_config", "parse_config"]


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """What one minivirtd enforces; the defaults are libvirtd's where it has the knob."""

    #: libvirtd's max_clients (its default is 5000; minivirtd, a single process, keeps 120).
    clients: int = 120
    #: libvirtd's max_client_requests: calls of one client being served at once.
    outstanding: int = 5
    #: the largest frame accepted (libvirt's VIR_NET_MESSAGE_MAX, 32 MiB).
    message: int = REMOTE_MESSAGE_MAX
    workers: int = 8
    #: libvirtd's max_anonymous_clients: clients that have not opened a connection yet.
    anonymous: int = 20
    #: reply bytes a client may leave unread before the daemon stops reading from it.
    unsent: int = 4 * 1024 * 1024
    #: seconds for a frame that has begun to arrive in full.
    frame_timeout: float = 30.0
    #: seconds a client may stay anonymous (connected, no CONNECT_OPEN).
    anonymous_timeout: float = 10.0
    #: libvirtd's keepalive_interval (seconds; <= 0 disables) and keepalive_count.
    keepalive_interval: int = 5
    keepalive_count: int = 5
    #: libvirtd's tls_allowed_dn_list (fnmatch wildcards); None allows any name.
    tls_allowed_dn: tuple[str, ...] | None = None


#: config key -> Limits field.
CONFIG_KEYS: Final[dict[str, str]] = {
    "max_clients": "clients",
    "max_client_requests": "outstanding",
    "max_message_size": "message",
    "max_workers": "workers",
    "max_anonymous_clients": "anonymous",
    "max_unsent_bytes": "unsent",
    "frame_timeout": "frame_timeout",
    "anonymous_timeout": "anonymous_timeout",
    "keepalive_interval": "keepalive_interval",
    "keepalive_count": "keepalive_count",
    "tls_allowed_dn_list": "tls_allowed_dn",
}

_LINE: Final = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_STRING: Final = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _config_error(path: str, lineno: int, text: str) -> VirError:
    return VirError.report(ErrorNumber.CONF_SYNTAX, ErrorDomain.CONF, f"{path}:{lineno}: {text}")


def _uncomment(line: str) -> str:
    """``line`` without a ``#`` comment (a ``#`` inside a "string" stays)."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:index]
    return line


def _value(text: str, path: str, lineno: int) -> int | str | tuple[str, ...]:
    if text.startswith("["):
        if not text.endswith("]"):
            raise _config_error(path, lineno, "expecting a ']'")
        inner = text[1:-1].strip()
        items = _STRING.findall(inner)
        if _STRING.sub("", inner).replace(",", "").strip():
            raise _config_error(path, lineno, "a list holds strings only")
        return tuple(items)
    string = _STRING.fullmatch(text)
    if string is not None:
        return string.group(1)
    try:
        return int(text, 0)
    except ValueError:
        raise _config_error(path, lineno, f"expecting a value, got '{text}'") from None


def parse_config(text: str, base: Limits | None = None, path: str = "<config>") -> Limits:
    """Limits from a libvirtd.conf-style document (unknown keys are ignored, as libvirtd).

    Raises CONF_SYNTAX (CONF) for a line that is not ``key = value`` or a value
    of the wrong type.
    """
    limits = base or Limits()
    changes: dict[str, object] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _uncomment(raw).strip()
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise _config_error(path, lineno, "expecting 'key = value'")
        key, value = match.group(1), _value(match.group(2), path, lineno)
        field = CONFIG_KEYS.get(key)
        if field is None:
            continue
        if field == "tls_allowed_dn":
            if not isinstance(value, tuple):
                raise _config_error(path, lineno, f"{key} must be a list of strings")
        elif not isinstance(value, int):
            raise _config_error(path, lineno, f"{key} must be an integer")
        changes[field] = value
    return dataclasses.replace(limits, **changes)  # type: ignore[arg-type]


def load_config(path: str, base: Limits | None = None) -> Limits:
    """:func:`parse_config` of the file ``path``; SYSTEM_ERROR (CONF) when unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise VirError.report(
            ErrorNumber.SYSTEM_ERROR, ErrorDomain.CONF, f"cannot read config file '{path}': {exc}"
        ) from exc
    return parse_config(text, base, path)
