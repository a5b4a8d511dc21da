"""The sans-I/O RPC codec: bytes in, messages out; messages in, bytes out.

Owns the stream framing (a 4-byte big-endian length that counts itself, the
24-byte header ``[program, version, procedure, type, serial, status]``, the
msgpack body), the programs it speaks (libvirt's remote program and its qemu
program; a procedure *key* is the procedure number for the remote program and
``program << 32 | number`` for the qemu one, as in the generated tables),
libvirt's keepalive program (``KEEPALIVE_PROGRAM``, PING and PONG, MESSAGE
frames with no body, either side), the size limit (checked on the length
word, before anything is buffered for the frame) and the mapping of bodies
to the generated message classes of the procedure table.  Peer mistakes raise
:class:`RemoteProtocolError`, this side's mistakes
:class:`LocalProtocolError`; both are VirError (VIR_ERR_RPC, VIR_FROM_RPC) and
nothing else ever escapes.  Must not: touch sockets, threads, clocks or the
event loop; it is not thread-safe (one reader per codec).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping

import msgpack

from minivirt.public.errors import VirError
from minivirt.public.values import FrozenValue, init_fields
from minivirt.remote.protocol.messages import (
    QEMU_PROGRAM,
    QEMU_PROTOCOL_VERSION,
    REMOTE_MESSAGE_MAX,
    REMOTE_PROGRAM,
    REMOTE_PROTOCOL_VERSION,
    RemoteError,
)
from minivirt.remote.protocol.procedures import PROCEDURES
from minivirt.remote.protocol.runtime import (
    LocalProtocolError,
    ProcedureInfo,
    ProtocolError,
    RemoteProtocolError,
    WireStruct,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "EVENT_SERIAL",
    "HEADER_SIZE",
    "KEEPALIVE_PING",
    "KEEPALIVE_PONG",
    "KEEPALIVE_PROGRAM",
    "KEEPALIVE_VERSION",
    "Codec",
    "Header",
    "LocalProtocolError",
    "Message",
    "MessageStatus",
    "MessageType",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "error_from_wire",
    "error_to_wire",
]

_PREFIX: Final = struct.Struct(">IIIiIII")  # length, then the header
_LENGTH: Final = struct.Struct(">I")
HEADER_SIZE: Final = 24
#: libvirt sends every event with serial 1.
EVENT_SERIAL: Final = 1
#: Program number -> protocol version, for every program this codec speaks.
_PROGRAMS: Final[Mapping[int, int]] = {
    REMOTE_PROGRAM: REMOTE_PROTOCOL_VERSION,
    QEMU_PROGRAM: QEMU_PROTOCOL_VERSION,
}


def _split(key: int) -> tuple[int, int, int]:
    """A procedure key as (program, version, procedure number) for the header."""
    if key <= 0xFFFFFFFF:  # the remote program's numbers (and a peer's negative ones)
        return REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, key
    program = key >> 32
    return program, _PROGRAMS.get(program, 1), key & 0xFFFFFFFF


def _key(program: int, procedure: int) -> int:
    """The procedure key of a (known) program's procedure number."""
    return procedure if program == REMOTE_PROGRAM else program << 32 | procedure


#: libvirt's keepalive program (``virkeepaliveprotocol.x``): "keep", version 1.
KEEPALIVE_PROGRAM: Final = 0x6B656570
KEEPALIVE_VERSION: Final = 1
KEEPALIVE_PING: Final = 1
KEEPALIVE_PONG: Final = 2


class MessageType(enum.IntEnum):
    """virNetMessageType."""

    CALL = 0
    REPLY = 1
    MESSAGE = 2


class MessageStatus(enum.IntEnum):
    """virNetMessageStatus."""

    OK = 0
    ERROR = 1


class Role(enum.Enum):
    """Which end of the connection a codec serves."""

    CLIENT = "client"
    SERVER = "server"


class Header(FrozenValue):
    """virNetMessageHeader."""

    __slots__ = ("procedure", "program", "serial", "status", "type", "version")
    _fields = __match_args__ = ("program", "version", "procedure", "type", "serial", "status")
    program: int
    version: int
    procedure: int
    type: int
    serial: int
    status: int

    def __init__(
        self, program: int, version: int, procedure: int, type: int, serial: int, status: int
    ) -> None:
        init_fields(self, program, version, procedure, type, serial, status)


class Message(FrozenValue):
    """One decoded frame: its header fields and its typed body.

    ``body`` is the procedure's args (CALL), ret (REPLY OK) or msg (MESSAGE)
    instance, None for a void body, or the :class:`VirError` of an error reply.
    ``program`` is KEEPALIVE_PROGRAM for a PING or PONG (``procedure``), whose
    body is None.
    """

    __slots__ = ("body", "procedure", "program", "serial", "status", "type")
    _fields = __match_args__ = ("procedure", "type", "serial", "status", "body", "program")
    procedure: int
    type: int
    serial: int
    status: int
    body: WireStruct | VirError | None
    program: int

    def __init__(
        self,
        procedure: int,
        type: int,
        serial: int,
        status: int,
        body: WireStruct | VirError | None,
        program: int = REMOTE_PROGRAM,
    ) -> None:
        init_fields(self, procedure, type, serial, status, body, program)


def error_to_wire(err: VirError) -> RemoteError:
    """A VirError as ``remote_error`` (out-of-range ints become -1)."""

    def clamp(value: int) -> int:
        return value if -(2**31) <= value < 2**31 else -1

    return RemoteError(
        clamp(err.code),
        clamp(err.domain),
        err.message,
        clamp(err.level),
        None,
        err.str1,
        err.str2,
        err.str3,
        clamp(err.int1),
        clamp(err.int2),
        None,
    )


def error_from_wire(wire: RemoteError) -> VirError:
    """``remote_error`` back as the same VirError."""
    return VirError(
        wire.code,
        wire.domain,
        wire.message if wire.message is not None else "",
        wire.level,
        wire.str1,
        wire.str2,
        wire.str3,
        wire.int1,
        wire.int2,
    )


def _peer_error(detail: str, header: Header | None = None) -> RemoteProtocolError:
    err = RemoteProtocolError(detail)
    err.header = header  # type: ignore[attr-defined]
    return err


class Codec:
    """One connection's protocol engine (h11 style: no I/O of its own).

    Feed received bytes with :meth:`receive_data`, then call
    :meth:`next_message` until it returns None.  A framing error (bad length)
    is fatal: the codec stays broken and raises again.  A well-framed message
    with a bad header or body raises :class:`RemoteProtocolError` whose
    ``header`` attribute holds the header (or None) so the caller can answer
    that serial; the stream stays usable.
    """

    def __init__(
        self,
        role: Role,
        max_message: int = REMOTE_MESSAGE_MAX,
        procedures: Mapping[int, ProcedureInfo] = PROCEDURES,
    ) -> None:
        self.role = role
        self.max_message = max_message
        self.procedures = procedures
        self._buffer = bytearray()
        self._broken: RemoteProtocolError | None = None

    # -- outgoing -----------------------------------------------------------

    def _frame(
        self, proc: int, mtype: int, serial: int, status: int, body: WireStruct | None
    ) -> bytes:
        try:
            payload: bytes = msgpack.packb(
                None if body is None else body.to_wire(), use_bin_type=True
            )
        except ProtocolError:
            raise
        except Exception as exc:  # msgpack refuses the value
            raise LocalProtocolError(f"Unable to encode message payload: {exc}") from exc
        total = _PREFIX.size + len(payload)
        if total > self.max_message:
            raise LocalProtocolError(f"message length {total} exceeds maximum {self.max_message}")
        program, version, number = _split(proc)
        prefix = _PREFIX.pack(total, program, version, number, mtype, serial, status)
        return prefix + payload

    def _info(self, proc: int) -> ProcedureInfo:
        info = self.procedures.get(proc)
        if info is None:
            raise LocalProtocolError(f"unknown procedure: {proc}")
        return info

    def _check_body(self, body: object, expected: type[WireStruct] | None, proc: int) -> None:
        if expected is None:
            if body is not None:
                raise LocalProtocolError(f"procedure {proc} takes no body")
        elif type(body) is not expected:
            raise LocalProtocolError(f"procedure {proc} needs {expected.__name__}")

    def call(self, proc: int, serial: int, args: WireStruct | None) -> bytes:
        """A CALL frame (client side)."""
        if self.role is not Role.CLIENT:
            raise LocalProtocolError("only a client sends calls")
        info = self._info(proc)
        if info.msg is not None:
            raise LocalProtocolError(f"procedure {proc} is an event, not a call")
        self._check_body(args, info.args, proc)
        return self._frame(proc, MessageType.CALL, serial, MessageStatus.OK, args)

    def reply(self, proc: int, serial: int, ret: WireStruct | None) -> bytes:
        """A successful REPLY frame (server side)."""
        if self.role is not Role.SERVER:
            raise LocalProtocolError("only a server sends replies")
        self._check_body(ret, self._info(proc).ret, proc)
        return self._frame(proc, MessageType.REPLY, serial, MessageStatus.OK, ret)

    def error_reply(self, proc: int, serial: int, err: VirError) -> bytes:
        """An error REPLY frame carrying ``err`` as ``remote_error`` (server side)."""
        if self.role is not Role.SERVER:
            raise LocalProtocolError("only a server sends replies")
        try:
            return self._frame(
                proc, MessageType.REPLY, serial, MessageStatus.ERROR, error_to_wire(err)
            )
        except LocalProtocolError:  # e.g. an oversized message: send a short one instead
            short = VirError(err.code, err.domain, err.message[:1024], err.level)
            body = error_to_wire(short)
            return self._frame(proc, MessageType.REPLY, serial, MessageStatus.ERROR, body)

    def event(self, proc: int, msg: WireStruct) -> bytes:
        """A MESSAGE frame (server side), serial fixed at 1 as libvirt."""
        if self.role is not Role.SERVER:
            raise LocalProtocolError("only a server sends events")
        self._check_body(msg, self._info(proc).msg, proc)
        return self._frame(proc, MessageType.MESSAGE, EVENT_SERIAL, MessageStatus.OK, msg)

    def keepalive(self, proc: int) -> bytes:
        """A keepalive PING or PONG frame (either side): MESSAGE, serial 0, no body."""
        if proc not in (KEEPALIVE_PING, KEEPALIVE_PONG):
            raise LocalProtocolError(f"unknown keepalive procedure: {proc}")
        payload: bytes = msgpack.packb(None)
        total = _PREFIX.size + len(payload)
        return (
            _PREFIX.pack(
                total, KEEPALIVE_PROGRAM, KEEPALIVE_VERSION, proc, MessageType.MESSAGE, 0, 0
            )
            + payload
        )

    # -- incoming -----------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Append received bytes; call :meth:`next_message` afterwards."""
        self._buffer += data

    @property
    def broken(self) -> bool:
        """True once a framing error made the stream unusable."""
        return self._broken is not None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as messages."""
        return len(self._buffer)

    def next_message(self) -> Message | None:
        """The next complete message, or None when more bytes are needed."""
        if self._broken is not None:
            raise self._broken
        buf = self._buffer
        if len(buf) < 4:
            return None
        (length,) = _LENGTH.unpack_from(buf)
        if length < _PREFIX.size or length > self.max_message:
            header = None
            if len(buf) >= _PREFIX.size:  # enough to tell the peer which call failed
                header = Header(*_PREFIX.unpack_from(buf)[1:])
            self._broken = _peer_error(
                f"packet {length} bytes received from server too large, want {self.max_message}"
                if length > self.max_message
                else f"packet length {length} too small",
                header,
            )
            raise self._broken
        if len(buf) < length:
            return None
        _, prog, vers, proc, mtype, serial, status = _PREFIX.unpack_from(buf)
        body = bytes(buf[_PREFIX.size : length])
        del buf[:length]
        if prog == REMOTE_PROGRAM and vers == REMOTE_PROTOCOL_VERSION and status == 0:
            # the common cases (a server's CALL, a client's OK REPLY) without a Header
            server = self.role is Role.SERVER
            if mtype == (MessageType.CALL if server else MessageType.REPLY):
                info = self.procedures.get(proc)
                if info is not None and info.msg is None:
                    expected = info.args if server else info.ret
                    value = self._body(expected, body, proc, serial, mtype)
                    return Message(proc, mtype, serial, status, value)
        header = Header(prog, vers, proc, mtype, serial, status)
        if prog == KEEPALIVE_PROGRAM:
            return self._keepalive(header, body)
        body_value = self._decode(header, body)
        return Message(_key(prog, proc), mtype, serial, status, body_value)

    def _body(
        self, expected: type[WireStruct] | None, body: bytes, proc: int, serial: int, mtype: int
    ) -> WireStruct | None:
        try:
            wire = msgpack.unpackb(body, raw=False, use_list=True, strict_map_key=True)
            if expected is None:
                if wire is None:
                    return None
            else:
                return expected.from_wire(wire)
        except Exception:  # rebuilt with the header and the precise error below
            pass
        program, version, number = _split(proc)
        header = Header(program, version, number, mtype, serial, 0)
        result = self._decode(header, body)
        assert not isinstance(result, VirError)
        return result

    def _keepalive(self, h: Header, body: bytes) -> Message:
        if h.version != KEEPALIVE_VERSION:
            raise _peer_error(f"cannot find program {h.program:#x} version {h.version}", h)
        if h.procedure not in (KEEPALIVE_PING, KEEPALIVE_PONG):
            raise _peer_error(f"unknown procedure: {h.procedure}", h)
        if h.type != MessageType.MESSAGE or h.status != MessageStatus.OK:
            raise _peer_error(f"unexpected message type {h.type} status {h.status}", h)
        try:
            wire = msgpack.unpackb(body, raw=False)
        except Exception as exc:  # any malformed msgpack
            raise _peer_error(f"Unable to decode message payload: {exc}", h) from exc
        if wire is not None:
            raise _peer_error(f"procedure {h.procedure}: unexpected payload", h)
        return Message(h.procedure, h.type, h.serial, h.status, None, KEEPALIVE_PROGRAM)

    def _decode(self, h: Header, body: bytes) -> WireStruct | VirError | None:
        if _PROGRAMS.get(h.program) != h.version:
            raise _peer_error(f"cannot find program {h.program:#x} version {h.version}", h)
        info = self.procedures.get(_key(h.program, h.procedure))
        if info is None:
            raise _peer_error(f"unknown procedure: {h.procedure}", h)
        expected: type[WireStruct] | None
        if self.role is Role.SERVER:
            if h.type != MessageType.CALL or info.msg is not None:
                raise _peer_error(
                    f"unexpected message type {h.type} for procedure {h.procedure}", h
                )
            if h.status != MessageStatus.OK:
                raise _peer_error(f"unexpected message status {h.status}", h)
            expected = info.args
        elif h.type == MessageType.REPLY and h.status == MessageStatus.OK:
            expected = info.ret
        elif h.type == MessageType.REPLY and h.status == MessageStatus.ERROR:
            expected = RemoteError
        elif h.type == MessageType.MESSAGE and h.status == MessageStatus.OK and info.msg:
            expected = info.msg
        else:
            raise _peer_error(f"unexpected message type {h.type} status {h.status}", h)
        try:
            wire = msgpack.unpackb(body, raw=False, use_list=True, strict_map_key=True)
        except Exception as exc:  # any malformed msgpack
            raise _peer_error(f"Unable to decode message payload: {exc}", h) from exc
        if expected is None:
            if wire is not None:
                raise _peer_error(f"procedure {h.procedure}: unexpected payload", h)
            return None
        try:
            value = expected.from_wire(wire)
        except RemoteProtocolError as exc:
            raise _peer_error(f"Unable to decode message payload: {exc.message}", h) from exc
        except Exception as exc:  # defensive: no foreign exception escapes
            raise _peer_error(f"Unable to decode message payload: {exc!r}", h) from exc
        if isinstance(value, RemoteError):
            return error_from_wire(value)
        return value
