"""The argument checks every entry point runs, with libvirt's codes, domains and texts.

One helper per libvirt check macro (virCheckDomainReturn, virCheckReadOnlyGoto,
virCheckNonNullArgGoto, virReportUnsupportedError, …).  :func:`supported` is
the last check before dispatch: it hands back the driver table, typed, unless
the driver declares the slot in ``unsupported_slots``.  No I/O, no driver call.
"""

from __future__ import annotations

from minivirt.public import (
    DriverSlot,
    ErrorDomain,
    ErrorLevel,
    ErrorNumber,
    HypervisorDriver,
    VirError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "UINT_MASK",
    "ULONG_MASK",
    "invalid_arg",
    "invalid_conn",
    "invalid_domain",
    "non_negative",
    "non_null",
    "read_only_denied",
    "supported",
    "uint_arg",
    "ulong_arg",
    "unsupported",
]

#: C ``unsigned int`` / ``unsigned long`` (LP64): Python ints wrap as C would.
UINT_MASK: Final = (1 << 32) - 1
ULONG_MASK: Final = (1 << 64) - 1


def invalid_domain(function: str) -> VirError:
    """virCheckDomainReturn: VIR_ERR_INVALID_DOMAIN from VIR_FROM_DOM."""
    return VirError.report(ErrorNumber.INVALID_DOMAIN, ErrorDomain.DOM, function)


def invalid_conn(function: str, domain: ErrorDomain = ErrorDomain.DOMAIN) -> VirError:
    """virCheckConnectReturn: VIR_ERR_INVALID_CONN."""
    return VirError.report(ErrorNumber.INVALID_CONN, domain, function)


def read_only_denied(function: str, domain: ErrorDomain = ErrorDomain.DOMAIN) -> VirError:
    """virCheckReadOnlyGoto: "operation forbidden: read only access prevents <function>"."""
    return VirError.report(
        ErrorNumber.OPERATION_DENIED, domain, f"read only access prevents {function}"
    )


def unsupported(function: str, domain: ErrorDomain = ErrorDomain.DOMAIN) -> VirError:
    """virReportUnsupportedError: the driver left the slot empty."""
    return VirError.report(ErrorNumber.NO_SUPPORT, domain, function)


def supported(
    driver: HypervisorDriver,
    slot: DriverSlot,
    function: str,
    domain: ErrorDomain = ErrorDomain.DOMAIN,
) -> HypervisorDriver:
    """The driver table, for a typed call of ``slot``; NO_SUPPORT naming ``function`` when
    the driver declares ``slot`` in ``unsupported_slots`` (libvirt's NULL slot)."""
    if slot in driver.unsupported_slots:
        raise unsupported(function, domain)
    return driver


def invalid_arg(
    argname: str, function: str, detail: str, domain: ErrorDomain = ErrorDomain.DOMAIN
) -> VirError:
    """virReportInvalidArg: INVALID_ARG with str1 = function, str2 = argument name.

    The message is the detail alone: virReportInvalidArg formats it without
    the "invalid argument: " prefix virReportError would add (libvirt 9.0).
    """
    return VirError(
        ErrorNumber.INVALID_ARG,
        domain,
        detail,
        ErrorLevel.ERROR,
        function,
        argname,
        None,
        0,
        0,
    )


def non_null(
    value: object, argname: str, function: str, domain: ErrorDomain = ErrorDomain.DOMAIN
) -> None:
    """virCheckNonNullArgGoto: "<arg> in <function> must not be NULL"; non-strings refused."""
    if value is None:
        raise invalid_arg(argname, function, f"{argname} in {function} must not be NULL", domain)
    if not isinstance(value, str):
        raise invalid_arg(argname, function, f"{argname} in {function} must be a string", domain)


def non_negative(
    value: int, argname: str, function: str, domain: ErrorDomain = ErrorDomain.DOMAIN
) -> None:
    """virCheckNonNegativeArgGoto: "<arg> in <function> must be zero or greater"."""
    if value < 0:
        raise invalid_arg(
            argname, function, f"{argname} in {function} must be zero or greater", domain
        )


def _integer(value: object, argname: str, function: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_arg(argname, function, f"{argname} in {function} must be an integer")
    return value


def ulong_arg(value: object, argname: str, function: str) -> int:
    """An ``unsigned long`` argument: an integer, wrapped to 64 bits as C would."""
    return _integer(value, argname, function) & ULONG_MASK


def uint_arg(value: object, argname: str, function: str) -> int:
    """An ``unsigned int`` argument (flags): an integer, wrapped to 32 bits as C would."""
    return _integer(value, argname, function) & UINT_MASK
