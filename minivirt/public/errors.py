"""The error model: libvirt's error numbers, domains, levels and ``VirError``.

``VirError`` carries exactly the fields of libvirt's ``remote_error`` so that an
error crosses the wire without loss.  ``VirError.report`` builds the message
the way libvirt's ``virReportError`` does (the per-code template, then the
detail).  This module owns no I/O and imports only the stdlib.
"""

from __future__ import annotations

import enum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "ERROR_TEMPLATES",
    "ErrorDomain",
    "ErrorLevel",
    "ErrorNumber",
    "VirError",
    "error_message",
]


class ErrorLevel(enum.IntEnum):
    """virErrorLevel."""

    NONE = 0
    WARNING = 1
    ERROR = 2


class ErrorDomain(enum.IntEnum):
    """virErrorDomain: which part of the library raised the error."""

    NONE = 0
    XEN = 1
    XEND = 2
    XENSTORE = 3
    SEXPR = 4
    XML = 5
    DOM = 6
    RPC = 7
    PROXY = 8
    CONF = 9
    QEMU = 10
    NET = 11
    TEST = 12
    REMOTE = 13
    OPENVZ = 14
    XENXM = 15
    STATS_LINUX = 16
    LXC = 17
    STORAGE = 18
    NETWORK = 19
    DOMAIN = 20
    UML = 21
    NODEDEV = 22
    XEN_INOTIFY = 23
    SECURITY = 24
    VBOX = 25
    INTERFACE = 26
    ONE = 27
    ESX = 28
    PHYP = 29
    SECRET = 30
    CPU = 31
    XENAPI = 32
    NWFILTER = 33
    HOOK = 34
    DOMAIN_SNAPSHOT = 35
    AUDIT = 36
    SYSINFO = 37
    STREAMS = 38
    VMWARE = 39
    EVENT = 40
    LIBXL = 41
    LOCKING = 42
    HYPERV = 43
    CAPABILITIES = 44
    URI = 45
    AUTH = 46
    DBUS = 47
    PARALLELS = 48
    DEVICE = 49
    SSH = 50


class ErrorNumber(enum.IntEnum):
    """virErrorNumber (frozen values; the subset up to OPERATION_UNSUPPORTED and a few after)."""

    OK = 0
    INTERNAL_ERROR = 1
    NO_MEMORY = 2
    NO_SUPPORT = 3
    UNKNOWN_HOST = 4
    NO_CONNECT = 5
    INVALID_CONN = 6
    INVALID_DOMAIN = 7
    INVALID_ARG = 8
    OPERATION_FAILED = 9
    GET_FAILED = 10
    POST_FAILED = 11
    HTTP_ERROR = 12
    SEXPR_SERIAL = 13
    NO_XEN = 14
    XEN_CALL = 15
    OS_TYPE = 16
    NO_KERNEL = 17
    NO_ROOT = 18
    NO_SOURCE = 19
    NO_TARGET = 20
    NO_NAME = 21
    NO_OS = 22
    NO_DEVICE = 23
    NO_XENSTORE = 24
    DRIVER_FULL = 25
    CALL_FAILED = 26
    XML_ERROR = 27
    DOM_EXIST = 28
    OPERATION_DENIED = 29
    OPEN_FAILED = 30
    READ_FAILED = 31
    PARSE_FAILED = 32
    CONF_SYNTAX = 33
    WRITE_FAILED = 34
    XML_DETAIL = 35
    INVALID_NETWORK = 36
    NETWORK_EXIST = 37
    SYSTEM_ERROR = 38
    RPC = 39
    GNUTLS_ERROR = 40
    WAR_NO_NETWORK = 41
    NO_DOMAIN = 42
    NO_NETWORK = 43
    INVALID_MAC = 44
    AUTH_FAILED = 45
    INVALID_STORAGE_POOL = 46
    INVALID_STORAGE_VOL = 47
    WAR_NO_STORAGE = 48
    NO_STORAGE_POOL = 49
    NO_STORAGE_VOL = 50
    WAR_NO_NODE = 51
    INVALID_NODE_DEVICE = 52
    NO_NODE_DEVICE = 53
    NO_SECURITY_MODEL = 54
    OPERATION_INVALID = 55
    WAR_NO_INTERFACE = 56
    NO_INTERFACE = 57
    INVALID_INTERFACE = 58
    MULTIPLE_INTERFACES = 59
    WAR_NO_NWFILTER = 60
    INVALID_NWFILTER = 61
    NO_NWFILTER = 62
    BUILD_FIREWALL = 63
    WAR_NO_SECRET = 64
    INVALID_SECRET = 65
    NO_SECRET = 66
    CONFIG_UNSUPPORTED = 67
    OPERATION_TIMEOUT = 68
    MIGRATE_PERSIST_FAILED = 69
    HOOK_SCRIPT_FAILED = 70
    INVALID_DOMAIN_SNAPSHOT = 71
    NO_DOMAIN_SNAPSHOT = 72
    INVALID_STREAM = 73
    ARGUMENT_UNSUPPORTED = 74
    STORAGE_PROBE_FAILED = 75
    STORAGE_POOL_BUILT = 76
    SNAPSHOT_REVERT_RISKY = 77
    OPERATION_ABORTED = 78
    AUTH_CANCELLED = 79
    NO_DOMAIN_METADATA = 80
    MIGRATE_UNSAFE = 81
    OVERFLOW = 82
    BLOCK_COPY_ACTIVE = 83
    OPERATION_UNSUPPORTED = 84
    SSH = 85
    AGENT_UNRESPONSIVE = 86
    RESOURCE_BUSY = 87
    ACCESS_DENIED = 88


#: Modern libvirt's message templates: (without detail, with detail ``{}``).
ERROR_TEMPLATES: Final[dict[ErrorNumber, tuple[str, str]]] = {
    ErrorNumber.INTERNAL_ERROR: ("internal error", "internal error: {}"),
    ErrorNumber.NO_MEMORY: ("out of memory", "out of memory: {}"),
    ErrorNumber.NO_SUPPORT: (
        "this function is not supported by the connection driver",
        "this function is not supported by the connection driver: {}",
    ),
    ErrorNumber.NO_CONNECT: (
        "no connection driver available",
        "no connection driver available for {}",
    ),
    ErrorNumber.INVALID_CONN: ("invalid connection pointer in", "invalid connection pointer in {}"),
    ErrorNumber.INVALID_DOMAIN: ("invalid domain pointer in", "invalid domain pointer in {}"),
    ErrorNumber.INVALID_ARG: ("invalid argument", "invalid argument: {}"),
    ErrorNumber.OPERATION_FAILED: ("operation failed", "operation failed: {}"),
    ErrorNumber.NO_SOURCE: (
        "missing source information for device",
        "missing source information for device {}",
    ),
    ErrorNumber.NO_TARGET: (
        "missing target information for device",
        "missing target information for device {}",
    ),
    ErrorNumber.NO_NAME: ("missing name information", "missing name information in {}"),
    ErrorNumber.XML_ERROR: ("XML description is invalid or not well formed", "XML error: {}"),
    ErrorNumber.DOM_EXIST: ("this domain exists already", "domain {} exists already"),
    ErrorNumber.OPERATION_DENIED: (
        "operation forbidden for read only access",
        "operation forbidden: {}",
    ),
    ErrorNumber.OPEN_FAILED: (
        "failed to open configuration file",
        "failed to open configuration file {}",
    ),
    ErrorNumber.READ_FAILED: (
        "failed to read configuration file",
        "failed to read configuration file {}",
    ),
    ErrorNumber.WRITE_FAILED: (
        "failed to write configuration file",
        "failed to write configuration file: {}",
    ),
    ErrorNumber.XML_DETAIL: ("parser error", "{}"),
    ErrorNumber.SYSTEM_ERROR: ("system call error", "{}"),
    ErrorNumber.RPC: ("RPC error", "{}"),
    ErrorNumber.NO_DOMAIN: ("Domain not found", "Domain not found: {}"),
    ErrorNumber.AUTH_FAILED: ("authentication failed", "authentication failed: {}"),
    ErrorNumber.OPERATION_INVALID: (
        "Requested operation is not valid",
        "Requested operation is not valid: {}",
    ),
    ErrorNumber.CONFIG_UNSUPPORTED: ("unsupported configuration", "unsupported configuration: {}"),
    ErrorNumber.OPERATION_TIMEOUT: ("Timed out during operation", "Timed out during operation: {}"),
    ErrorNumber.ARGUMENT_UNSUPPORTED: ("argument unsupported", "argument unsupported: {}"),
    ErrorNumber.OPERATION_ABORTED: ("operation aborted", "operation aborted: {}"),
    ErrorNumber.OVERFLOW: ("numerical overflow", "numerical overflow: {}"),
    ErrorNumber.BLOCK_COPY_ACTIVE: ("block copy still active", "block copy still active: {}"),
    ErrorNumber.OPERATION_UNSUPPORTED: ("Operation not supported", "Operation not supported: {}"),
    ErrorNumber.RESOURCE_BUSY: ("resource busy", "resource busy: {}"),
    ErrorNumber.ACCESS_DENIED: ("access denied", "access denied: {}"),
}


def error_message(code: int, detail: str | None = None) -> tuple[str, str]:
    """Return (message, template) for ``code`` and ``detail``, as virErrorMsg formats it.

    The template is what libvirt stores in ``str1``; unknown codes fall back to
    the bare detail (or a generic text), never to an exception.
    """
    try:
        bare, with_info = ERROR_TEMPLATES[ErrorNumber(code)]
    except (ValueError, KeyError):
        bare, with_info = "unknown error", "{}"
    if detail:
        return with_info.format(detail), with_info.replace("{}", "%s")
    return bare, bare


class VirError(Exception):
    """libvirt's virError as one exception type (the fields of ``remote_error``).

    ``code`` is a :class:`ErrorNumber` value, ``domain`` an :class:`ErrorDomain`
    value; both stay plain ints on the object so that a number unknown to this
    version still round-trips over the wire.
    """

    __slots__ = ("code", "domain", "int1", "int2", "level", "message", "str1", "str2", "str3")

    def __init__(
        self,
        code: int,
        domain: int,
        message: str,
        level: int = ErrorLevel.ERROR,
        str1: str | None = None,
        str2: str | None = None,
        str3: str | None = None,
        int1: int = -1,
        int2: int = -1,
    ) -> None:
        super().__init__(message)
        self.code = int(code)
        self.domain = int(domain)
        self.message = message
        self.level = int(level)
        self.str1 = str1
        self.str2 = str2
        self.str3 = str3
        self.int1 = int1
        self.int2 = int2

    @classmethod
    def report(cls, code: ErrorNumber, domain: ErrorDomain, detail: str | None = None) -> VirError:
        """Build the error as ``virReportError(domain, code, "%s", detail)`` would."""
        message, template = error_message(code, detail)
        return cls(code, domain, message, ErrorLevel.ERROR, template, detail or None, None, -1, -1)

    def fields(self) -> tuple[int, int, str, int, str | None, str | None, str | None, int, int]:
        """The fields in ``remote_error`` order: code, domain, message, level, str1..3, int1..2."""
        return (
            self.code,
            self.domain,
            self.message,
            self.level,
            self.str1,
            self.str2,
            self.str3,
            self.int1,
            self.int2,
        )

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"VirError(code={self.code}, domain={self.domain}, message={self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VirError) and self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(self.fields())

    def __reduce__(self) -> tuple[type[VirError], tuple[object, ...]]:
        return (type(self), self.fields())
