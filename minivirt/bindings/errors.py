"""libvirt-python's error surface: ``libvirtError``, the thread-local last error, handlers.

This module owns the one place where minivirt's ``VirError`` becomes a
``libvirtError`` (:class:`ApiCall`), the per-thread "last error" that
libvirt-python's ``libvirtError`` reads when it is built, and the
``virGetLastError*`` / ``virResetLastError`` / ``registerErrorHandler``
functions.  It must not know about connections or domains.

As in libvirt-python, ``libvirtError(defmsg)`` takes the last error of the
calling thread: ``str(exc)`` and ``get_error_message()`` are then libvirt's
message, and ``defmsg`` ("virDomainBlockPull() failed") is only shown when
no error was recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Final

from minivirt.public import VirError

__all__ = [
    "ErrorTuple",
    "ApiCall",
    "libvirtError",
    "registerErrorHandler",
    "virGetLastError",
    "virGetLastErrorCode",
    "virGetLastErrorDomain",
    "virGetLastErrorMessage",
    "virResetLastError",
]

#: libvirt-python's error tuple: code, domain, message, level, str1, str2, str3, int1, int2.
ErrorTuple = tuple[int, int, str, int, str | None, str | None, str | None, int, int]

#: libvirt's virGetLastErrorMessage text when no error is set.
_NO_ERROR: Final = "no error"

_state = threading.local()
_handler_lock = threading.Lock()
_handler: tuple[Callable[[object, ErrorTuple], object], object] | None = None


def _last() -> ErrorTuple | None:
    err: ErrorTuple | None = getattr(_state, "last", None)
    return err


def _record(exc: VirError) -> ErrorTuple:
    """Store ``exc`` as this thread's last error and tell the registered handler."""
    err: ErrorTuple = exc.fields()
    _state.last = err
    with _handler_lock:
        handler = _handler
    if handler is not None:
        func, ctx = handler
        func(ctx, err)
    return err


class libvirtError(Exception):
    """Mirrors libvirt-python's libvirtError: built from the thread's last libvirt error.

    ``err`` is the 9-tuple (code, domain, message, level, str1, str2, str3,
    int1, int2), or None when no libvirt error was recorded; then every getter
    returns None and the message is ``defmsg``.
    """

    def __init__(self, defmsg: str) -> None:
        err = _last()
        super().__init__(defmsg if err is None else err[2])
        self.err: ErrorTuple | None = err

    def get_error_code(self) -> int | None:
        return None if self.err is None else self.err[0]

    def get_error_domain(self) -> int | None:
        return None if self.err is None else self.err[1]

    def get_error_message(self) -> str | None:
        return None if self.err is None else self.err[2]

    def get_error_level(self) -> int | None:
        return None if self.err is None else self.err[3]

    def get_str1(self) -> str | None:
        return None if self.err is None else self.err[4]

    def get_str2(self) -> str | None:
        return None if self.err is None else self.err[5]

    def get_str3(self) -> str | None:
        return None if self.err is None else self.err[6]

    def get_int1(self) -> int | None:
        return None if self.err is None else self.err[7]

    def get_int2(self) -> int | None:
        return None if self.err is None else self.err[8]

    def __str__(self) -> str:
        message = self.get_error_message()
        return super().__str__() if message is None else message


class ApiCall:
    """``with ApiCall("virDomainBlockPull"):`` — one libvirt API call seen from Python.

    On entry the thread's last error is reset (libvirt's virResetLastError at
    every entry point).  A :class:`VirError` leaving the block is recorded as
    the last error and re-raised as ``libvirtError("<function>() failed")``,
    chained with ``from``.  Other exceptions pass untouched.
    """

    __slots__ = ("_function",)

    def __init__(self, function: str) -> None:
        self._function = function

    def __enter__(self) -> None:
        _state.last = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, VirError):
            _record(exc)
            raise libvirtError(f"{self._function}() failed") from exc

    def fail(self) -> libvirtError:
        """The error libvirt-python raises when a call failed without a libvirt error."""
        return libvirtError(f"{self._function}() failed")


def virGetLastError() -> ErrorTuple | None:
    """Mirrors virGetLastError: this thread's last error tuple, or None."""
    return _last()


def virGetLastErrorCode() -> int:
    """Mirrors virGetLastErrorCode: VIR_ERR_OK (0) when there is no error."""
    err = _last()
    return 0 if err is None else err[0]


def virGetLastErrorDomain() -> int:
    """Mirrors virGetLastErrorDomain: VIR_FROM_NONE (0) when there is no error."""
    err = _last()
    return 0 if err is None else err[1]


def virGetLastErrorMessage() -> str:
    """Mirrors virGetLastErrorMessage: "no error" when there is no error."""
    err = _last()
    return _NO_ERROR if err is None else err[2]


def virResetLastError() -> None:
    """Mirrors virResetLastError (this thread only)."""
    _state.last = None


def registerErrorHandler(f: Callable[[object, ErrorTuple], object] | None, ctx: object) -> int:
    """Mirrors libvirt-python's registerErrorHandler: ``f(ctx, err)`` for every error; 1.

    ``f`` None restores the default (minivirt's default prints nothing).
    """
    global _handler
    with _handler_lock:
        _handler = None if f is None else (f, ctx)
    return 1
