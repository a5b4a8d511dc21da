"""Run-time support for the generated protocol modules: checks and errors.

Owns: the protocol error types (``LocalProtocolError``: this side misused the
codec or a message class; ``RemoteProtocolError``: the peer sent something
the protocol does not allow), the per-type encode/decode checks the
generated message classes call, the procedure table's row type and the stub
base classes.  Must not: import lark, touch sockets, threads or clocks.
"""

from __future__ import annotations

from collections.abc import Sequence

from minivirt.public.errors import ErrorDomain, ErrorLevel, ErrorNumber, VirError
from minivirt.public.values import FrozenValue, init_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final, Protocol, Self, TypeVar

    R = TypeVar("R")
else:
    Protocol = object  # a static type only: mypy checks it, run time never does

__all__ = [
    "ClientStubBase",
    "LocalProtocolError",
    "ProcedureInfo",
    "ProtocolError",
    "RemoteProtocolError",
    "ServerStubBase",
    "WireStruct",
    "WireValue",
    "dec_bool",
    "dec_bytes",
    "dec_int",
    "dec_list",
    "dec_str",
    "dec_struct",
    "enc_bool",
    "enc_bytes",
    "enc_int",
    "enc_list",
    "enc_str",
    "uuid_from_bytes",
    "uuid_to_bytes",
]

INT_RANGES: Final[dict[str, tuple[int, int]]] = {
    "char": (-(2**7), 2**7 - 1),
    "uchar": (0, 2**8 - 1),
    "short": (-(2**15), 2**15 - 1),
    "ushort": (0, 2**16 - 1),
    "int": (-(2**31), 2**31 - 1),
    "uint": (0, 2**32 - 1),
    "hyper": (-(2**63), 2**63 - 1),
    "uhyper": (0, 2**64 - 1),
}


class ProtocolError(VirError):
    """A protocol violation, as VIR_ERR_RPC in VIR_FROM_RPC."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            ErrorNumber.RPC, ErrorDomain.RPC, detail, ErrorLevel.ERROR, "%s", detail, None
        )

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        return (type(self), (self.message,))


class LocalProtocolError(ProtocolError):
    """This side asked the codec for something the protocol cannot carry."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes the protocol does not allow."""


class WireStruct(Protocol):
    """What every generated message class provides."""

    def to_wire(self) -> list[object]: ...

    @classmethod
    def from_wire(cls, wire: object) -> Self: ...


class WireValue:
    """Base of the generated message classes: frozen, slotted values.

    (Plain classes rather than dataclasses: fifty dataclass decorators cost
    about 25 ms at import, which every one-shot minivirsh would pay.)
    """

    __slots__: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field '{name}'")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field '{name}'")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class ProcedureInfo(FrozenValue):
    """One row of the procedure table."""

    __slots__ = (
        "api",
        "args",
        "generate",
        "msg",
        "name",
        "number",
        "priority_high",
        "readonly_allowed",
        "ret",
    )
    _fields = __match_args__ = (
        "number",
        "name",
        "api",
        "args",
        "ret",
        "msg",
        "readonly_allowed",
        "priority_high",
        "generate",
    )
    number: int
    name: str
    api: str
    args: type[WireStruct] | None
    ret: type[WireStruct] | None
    msg: type[WireStruct] | None
    readonly_allowed: bool
    priority_high: bool
    generate: str

    def __init__(
        self,
        number: int,
        name: str,
        api: str,
        args: type[WireStruct] | None,
        ret: type[WireStruct] | None,
        msg: type[WireStruct] | None,
        readonly_allowed: bool,
        priority_high: bool,
        generate: str,
    ) -> None:
        init_fields(
            self, number, name, api, args, ret, msg, readonly_allowed, priority_high, generate
        )


# -- encode side: misuse by this process -> LocalProtocolError ---------------


def enc_int(value: object, lo: int, hi: int, where: str) -> int:
    if type(value) is not int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = int(value)  # IntEnum members travel as plain ints
        else:
            raise LocalProtocolError(f"{where}: expected an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise LocalProtocolError(f"{where}: {value} out of range [{lo}, {hi}]")
    return value


def enc_bool(value: object, where: str) -> bool:
    if type(value) is not bool:
        raise LocalProtocolError(f"{where}: expected a bool, got {type(value).__name__}")
    return value


def enc_str(value: object, limit: int | None, where: str) -> str:
    if type(value) is not str:
        raise LocalProtocolError(f"{where}: expected a string, got {type(value).__name__}")
    if limit is not None and len(value) * 4 > limit and len(value.encode()) > limit:
        raise LocalProtocolError(f"{where}: string longer than {limit} bytes")
    return value


def enc_bytes(value: object, size: int | None, fixed: bool, where: str) -> bytes:
    if not isinstance(value, bytes):
        raise LocalProtocolError(f"{where}: expected bytes, got {type(value).__name__}")
    if fixed and len(value) != size:
        raise LocalProtocolError(f"{where}: expected exactly {size} bytes, got {len(value)}")
    if size is not None and len(value) > size:
        raise LocalProtocolError(f"{where}: more than {size} bytes")
    return value


def enc_list(value: object, size: int | None, fixed: bool, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise LocalProtocolError(f"{where}: expected a sequence, got {type(value).__name__}")
    if fixed and len(value) != size:
        raise LocalProtocolError(f"{where}: expected exactly {size} items, got {len(value)}")
    if size is not None and len(value) > size:
        raise LocalProtocolError(f"{where}: more than {size} items")
    return value


# -- decode side: the peer broke the protocol -> RemoteProtocolError ---------


def dec_int(value: object, lo: int, hi: int, where: str) -> int:
    if type(value) is not int:
        raise RemoteProtocolError(f"{where}: expected an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise RemoteProtocolError(f"{where}: {value} out of range [{lo}, {hi}]")
    return value


def dec_bool(value: object, where: str) -> bool:
    if type(value) is not bool:
        raise RemoteProtocolError(f"{where}: expected a bool, got {type(value).__name__}")
    return value


def dec_str(value: object, limit: int | None, where: str) -> str:
    if type(value) is not str:
        raise RemoteProtocolError(f"{where}: expected a string, got {type(value).__name__}")
    if limit is not None and len(value) * 4 > limit and len(value.encode()) > limit:
        raise RemoteProtocolError(f"{where}: string longer than {limit} bytes")
    return value


def dec_bytes(value: object, size: int | None, fixed: bool, where: str) -> bytes:
    if type(value) is not bytes:
        raise RemoteProtocolError(f"{where}: expected bytes, got {type(value).__name__}")
    if fixed and len(value) != size:
        raise RemoteProtocolError(f"{where}: expected exactly {size} bytes, got {len(value)}")
    if size is not None and len(value) > size:
        raise RemoteProtocolError(f"{where}: more than {size} bytes")
    return value


def dec_list(value: object, size: int | None, fixed: bool, where: str) -> list[Any]:
    if type(value) is not list:
        raise RemoteProtocolError(f"{where}: expected an array, got {type(value).__name__}")
    if fixed and len(value) != size:
        raise RemoteProtocolError(f"{where}: expected exactly {size} items, got {len(value)}")
    if size is not None and len(value) > size:
        raise RemoteProtocolError(f"{where}: more than {size} items")
    return value


def dec_struct(value: object, count: int, where: str) -> list[Any]:
    if type(value) is not list or len(value) != count:
        raise RemoteProtocolError(f"{where}: expected a struct of {count} fields")
    return value


def uuid_to_bytes(text: str) -> bytes:
    """A canonical UUID string as the 16 bytes of ``remote_uuid``."""
    raw = b""
    if type(text) is str and len(text) == 36:
        try:
            raw = bytes.fromhex(text.replace("-", ""))
        except ValueError:
            raw = b""
    if len(raw) != 16 or text[8] + text[13] + text[18] + text[23] != "----":
        import uuid  # rare: other spellings the uuid module accepts

        try:
            return uuid.UUID(text).bytes
        except (ValueError, TypeError, AttributeError) as exc:
            raise LocalProtocolError(f"invalid UUID '{text}'") from exc
    return raw


def uuid_from_bytes(raw: bytes) -> str:
    """The 16 bytes of ``remote_uuid`` as the canonical lower-case string."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class ClientStubBase:
    """What generated client stubs call: one round trip per procedure."""

    def _call(self, proc: int, args: WireStruct | None, ret: type[R]) -> R:
        raise NotImplementedError

    def _call_void(self, proc: int, args: WireStruct | None) -> None:
        raise NotImplementedError


class ServerStubBase:
    """What generated server dispatchers call: the client's public-API handles."""

    def _conn(self) -> Any:
        raise NotImplementedError

    def _domain(self, dom: Any) -> Any:
        raise NotImplementedError

    def _wire_domain(self, dom: Any) -> Any:
        raise NotImplementedError
