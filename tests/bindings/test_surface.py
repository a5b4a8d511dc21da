"""libvirt-python's surface: names, parameter names and defaults, constants.

The expected tables are typed out from libvirt's headers
(``include/libvirt/libvirt-domain.h``, ``virterror.h``) and libvirt-python's
generated module, not from minivirt's code; the constants are also compared
with the real libvirt-python (Debian's, run by /usr/bin/python3).
"""

from __future__ import annotations

import inspect

import pytest

import minivirt.bindings as libvirt
from minivirt.bindings.constants import CONSTANTS
from tests.reallibvirt import real

E = inspect.Parameter.empty

# method -> [(parameter, default)] after self, as libvirt-python spells them
DOMAIN_SIGNATURES = {
    "blockPull": [("disk", E), ("bandwidth", 0), ("flags", 0)],
    "blockRebase": [("disk", E), ("base", E), ("bandwidth", 0), ("flags", 0)],
    "blockJobAbort": [("disk", E), ("flags", 0)],
    "blockJobSetSpeed": [("disk", E), ("bandwidth", E), ("flags", 0)],
    "blockJobInfo": [("path", E), ("flags", 0)],
    "name": [],
    "ID": [],
    "UUID": [],
    "UUIDString": [],
    "isActive": [],
    "isPersistent": [],
    "info": [],
    "state": [("flags", 0)],
    "create": [],
    "createWithFlags": [("flags", 0)],
    "destroy": [],
    "undefine": [],
    "XMLDesc": [("flags", 0)],
    "connect": [],
}

CONNECT_SIGNATURES = {
    "lookupByName": [("name", E)],
    "lookupByID": [("id", E)],
    "lookupByUUIDString": [("uuidstr", E)],
    "lookupByUUID": [("uuid", E)],
    "listAllDomains": [("flags", 0)],
    "listDomainsID": [],
    "listDefinedDomains": [],
    "numOfDomains": [],
    "numOfDefinedDomains": [],
    "defineXML": [("xml", E)],
    "getURI": [],
    "getType": [],
    "getVersion": [],
    "getLibVersion": [],
    "getHostname": [],
    "close": [],
    "isAlive": [],
    "domainEventRegisterAny": [("dom", E), ("eventID", E), ("cb", E), ("opaque", E)],
    "domainEventDeregisterAny": [("callbackID", E)],
    "_dispatchDomainEventBlockJobCallback": [
        ("dom", E),
        ("disk", E),
        ("type", E),
        ("status", E),
        ("cbData", E),
    ],
    "_dispatchDomainEventLifecycleCallback": [
        ("dom", E),
        ("event", E),
        ("detail", E),
        ("cbData", E),
    ],
}

FUNCTION_SIGNATURES = {
    "open": [("name", None)],
    "getVersion": [("name", None)],
    "openReadOnly": [("name", None)],
    "virEventRegisterDefaultImpl": [],
    "virEventRunDefaultImpl": [],
    "virEventAddTimeout": [("timeout", E), ("cb", E), ("opaque", E)],
    "virEventUpdateTimeout": [("timer", E), ("timeout", E)],
    "virEventRemoveTimeout": [("timer", E)],
    "virEventAddHandle": [("fd", E), ("events", E), ("cb", E), ("opaque", E)],
    "virEventUpdateHandle": [("watch", E), ("events", E)],
    "virEventRemoveHandle": [("watch", E)],
    "virGetLastError": [],
    "virGetLastErrorCode": [],
    "virGetLastErrorDomain": [],
    "virGetLastErrorMessage": [],
    "virResetLastError": [],
    "registerErrorHandler": [("f", E), ("ctx", E)],
    "_dispatchEventTimeoutCallback": [("timer", E), ("cbData", E)],
    "_dispatchEventHandleCallback": [("watch", E), ("fd", E), ("events", E), ("cbData", E)],
}


def _params(func, drop_self: bool) -> list[tuple[str, object]]:
    params = list(inspect.signature(func).parameters.values())
    if drop_self:
        assert params[0].name == "self"
        params = params[1:]
    for p in params:
        assert p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, p
    return [(p.name, p.default) for p in params]


@pytest.mark.parametrize("method", sorted(DOMAIN_SIGNATURES))
def test_domain_method_signature(method: str) -> None:
    assert _params(getattr(libvirt.virDomain, method), True) == DOMAIN_SIGNATURES[method]


@pytest.mark.parametrize("method", sorted(CONNECT_SIGNATURES))
def test_connect_method_signature(method: str) -> None:
    assert _params(getattr(libvirt.virConnect, method), True) == CONNECT_SIGNATURES[method]


@pytest.mark.parametrize("function", sorted(FUNCTION_SIGNATURES))
def test_module_function_signature(function: str) -> None:
    assert _params(getattr(libvirt, function), False) == FUNCTION_SIGNATURES[function]


def test_libvirt_error_getters() -> None:
    assert issubclass(libvirt.libvirtError, Exception)
    assert _params(libvirt.libvirtError.__init__, True) == [("defmsg", E)]
    for getter in (
        "get_error_code",
        "get_error_domain",
        "get_error_message",
        "get_error_level",
        "get_str1",
        "get_str2",
        "get_str3",
        "get_int1",
        "get_int2",
    ):
        assert _params(getattr(libvirt.libvirtError, getter), True) == []


# (name, value) typed out from libvirt's headers (libvirt-domain.h, virterror.h)
CONSTANT_VALUES = [
    ("VIR_DOMAIN_BLOCK_JOB_TYPE_UNKNOWN", 0),
    ("VIR_DOMAIN_BLOCK_JOB_TYPE_PULL", 1),
    ("VIR_DOMAIN_BLOCK_JOB_TYPE_COPY", 2),
    ("VIR_DOMAIN_BLOCK_JOB_TYPE_COMMIT", 3),
    ("VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT", 4),
    ("VIR_DOMAIN_BLOCK_JOB_TYPE_BACKUP", 5),
    ("VIR_DOMAIN_BLOCK_JOB_COMPLETED", 0),
    ("VIR_DOMAIN_BLOCK_JOB_FAILED", 1),
    ("VIR_DOMAIN_BLOCK_JOB_CANCELED", 2),
    ("VIR_DOMAIN_BLOCK_JOB_READY", 3),
    ("VIR_DOMAIN_EVENT_ID_LIFECYCLE", 0),
    ("VIR_DOMAIN_EVENT_ID_CONTROL_ERROR", 7),
    ("VIR_DOMAIN_EVENT_ID_BLOCK_JOB", 8),
    ("VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2", 16),
    ("VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC", 1),
    ("VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT", 2),
    ("VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES", 1),
    ("VIR_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES", 1),
    ("VIR_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES", 64),
    ("VIR_DOMAIN_BLOCK_REBASE_SHALLOW", 1),
    ("VIR_DOMAIN_BLOCK_REBASE_REUSE_EXT", 2),
    ("VIR_DOMAIN_BLOCK_REBASE_COPY_RAW", 4),
    ("VIR_DOMAIN_BLOCK_REBASE_COPY", 8),
    ("VIR_DOMAIN_BLOCK_REBASE_RELATIVE", 16),
    ("VIR_DOMAIN_BLOCK_REBASE_COPY_DEV", 32),
    ("VIR_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES", 64),
    ("VIR_DOMAIN_BLOCK_COMMIT_SHALLOW", 1),
    ("VIR_DOMAIN_BLOCK_COMMIT_DELETE", 2),
    ("VIR_DOMAIN_BLOCK_COMMIT_ACTIVE", 4),
    ("VIR_DOMAIN_BLOCK_COMMIT_RELATIVE", 8),
    ("VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES", 16),
    ("VIR_DOMAIN_BLOCK_COPY_SHALLOW", 1),
    ("VIR_DOMAIN_BLOCK_COPY_REUSE_EXT", 2),
    ("VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB", 4),
    ("VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES", 8),
    ("VIR_DOMAIN_NOSTATE", 0),
    ("VIR_DOMAIN_RUNNING", 1),
    ("VIR_DOMAIN_PAUSED", 3),
    ("VIR_DOMAIN_SHUTOFF", 5),
    ("VIR_DOMAIN_RUNNING_BOOTED", 1),
    ("VIR_DOMAIN_SHUTOFF_DESTROYED", 2),
    ("VIR_DOMAIN_EVENT_DEFINED", 0),
    ("VIR_DOMAIN_EVENT_UNDEFINED", 1),
    ("VIR_DOMAIN_EVENT_STARTED", 2),
    ("VIR_DOMAIN_EVENT_STOPPED", 5),
    ("VIR_DOMAIN_EVENT_DEFINED_ADDED", 0),
    ("VIR_DOMAIN_EVENT_DEFINED_UPDATED", 1),
    ("VIR_DOMAIN_EVENT_UNDEFINED_REMOVED", 0),
    ("VIR_DOMAIN_EVENT_STARTED_BOOTED", 0),
    ("VIR_DOMAIN_EVENT_STOPPED_DESTROYED", 1),
    ("VIR_CONNECT_LIST_DOMAINS_ACTIVE", 1),
    ("VIR_CONNECT_LIST_DOMAINS_INACTIVE", 2),
    ("VIR_DOMAIN_XML_SECURE", 1),
    ("VIR_DOMAIN_XML_INACTIVE", 2),
    ("VIR_ERR_OK", 0),
    ("VIR_ERR_INTERNAL_ERROR", 1),
    ("VIR_ERR_NO_SUPPORT", 3),
    ("VIR_ERR_NO_CONNECT", 5),
    ("VIR_ERR_INVALID_CONN", 6),
    ("VIR_ERR_INVALID_DOMAIN", 7),
    ("VIR_ERR_INVALID_ARG", 8),
    ("VIR_ERR_OPERATION_FAILED", 9),
    ("VIR_ERR_XML_ERROR", 27),
    ("VIR_ERR_OPERATION_DENIED", 29),
    ("VIR_ERR_RPC", 39),
    ("VIR_WAR_NO_NETWORK", 41),
    ("VIR_ERR_NO_DOMAIN", 42),
    ("VIR_ERR_OPERATION_INVALID", 55),
    ("VIR_ERR_CONFIG_UNSUPPORTED", 67),
    ("VIR_ERR_ARGUMENT_UNSUPPORTED", 74),
    ("VIR_ERR_OVERFLOW", 82),
    ("VIR_ERR_BLOCK_COPY_ACTIVE", 83),
    ("VIR_ERR_OPERATION_UNSUPPORTED", 84),
    ("VIR_ERR_ACCESS_DENIED", 88),
    ("VIR_FROM_NONE", 0),
    ("VIR_FROM_DOM", 6),
    ("VIR_FROM_RPC", 7),
    ("VIR_FROM_QEMU", 10),
    ("VIR_FROM_TEST", 12),
    ("VIR_FROM_REMOTE", 13),
    ("VIR_FROM_DOMAIN", 20),
    ("VIR_ERR_NONE", 0),
    ("VIR_ERR_WARNING", 1),
    ("VIR_ERR_ERROR", 2),
    ("VIR_EVENT_HANDLE_READABLE", 1),
    ("VIR_EVENT_HANDLE_WRITABLE", 2),
    ("VIR_EVENT_HANDLE_ERROR", 4),
    ("VIR_EVENT_HANDLE_HANGUP", 8),
]


@pytest.mark.parametrize(("name", "value"), CONSTANT_VALUES)
def test_constant_value(name: str, value: int) -> None:
    constant = getattr(libvirt, name)
    assert type(constant) is int
    assert constant == value
    assert name in libvirt.__all__


@pytest.fixture(scope="module")
def real_libvirt() -> dict[str, object]:
    """Every public name of the real libvirt-python (Debian's, libvirt 9.0): ints as values."""
    names: dict[str, object] = real(
        "result = {n: (v if type(v) is int else None)"
        " for n, v in vars(libvirt).items() if not n.startswith('__')}"
    )
    return names


def test_constants_match_real_libvirt_python(real_libvirt: dict[str, object]) -> None:
    # Independent source: the values come from the real libvirt module, not from minivirt.public.
    assert len(CONSTANTS) > 200
    wrong = {
        name: (getattr(libvirt, name, None), real_libvirt.get(name, "missing"))
        for name in CONSTANTS
        if getattr(libvirt, name, None) != real_libvirt.get(name, "missing")
        or type(getattr(libvirt, name, None)) is not int
    }
    assert wrong == {}
    assert not [n for n in CONSTANTS if n.endswith("_LAST")]
    assert not hasattr(libvirt, "VIR_ERR_WAR_NO_NETWORK")


# The block-job flag and type families are exported whole (the error tables only in part).
COMPLETE_FAMILIES = (
    "VIR_DOMAIN_BLOCK_JOB_TYPE_",
    "VIR_DOMAIN_BLOCK_JOB_ABORT_",
    "VIR_DOMAIN_BLOCK_JOB_INFO_",
    "VIR_DOMAIN_BLOCK_JOB_SPEED_",
    "VIR_DOMAIN_BLOCK_PULL_",
    "VIR_DOMAIN_BLOCK_REBASE_",
    "VIR_DOMAIN_BLOCK_COMMIT_",
    "VIR_DOMAIN_BLOCK_COPY_",
)


@pytest.mark.parametrize("prefix", COMPLETE_FAMILIES)
def test_no_constant_of_a_family_is_missing(real_libvirt: dict[str, object], prefix: str) -> None:
    real = {n for n, v in real_libvirt.items() if n.startswith(prefix) and type(v) is int}
    real = {n for n in real if not n.endswith("_LAST")}
    assert real, prefix
    assert sorted(real - set(CONSTANTS)) == []


def test_every_exported_name_is_libvirt_python_s(real_libvirt: dict[str, object]) -> None:
    # minivirt invents no public name: each entry of __all__ is a name of the real module.
    invented = [name for name in libvirt.__all__ if name not in real_libvirt]
    assert invented == []
    assert [name for name in libvirt.__all__ if not hasattr(libvirt, name)] == []


def test_library_version() -> None:
    assert libvirt.getVersion() >= 9_000_000
    assert libvirt.getVersion("QEMU") == (libvirt.getVersion(), libvirt.getVersion())
