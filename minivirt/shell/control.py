"""The shell's state (virsh's vshControl): streams, connection, errors, option accessors.

This module owns what every command shares: where output goes (stdout,
stderr, quiet mode), the connection (opened lazily, or at start-up when a
URI was given, with virsh's "failed to connect to the hypervisor" report),
the last libvirt error to report when a command fails, domain lookup by id,
UUID or name, and the typed option accessors with virsh's error texts
(scaled bandwidth, timeouts, exclusive and required options).  It imports
``minivirt.core`` and ``minivirt.wiring`` (which registers the drivers with
core) only when a connection is needed, never a driver.
"""

from __future__ import annotations

import threading

from minivirt.shell.options import ParsedCommand

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, TextIO

    from minivirt.core import Connection, Domain
    from minivirt.public import VirError

__all__ = ["CommandFailed", "Control", "ULONG_MAX"]

#: virsh's keepalive defaults (-k, -K): a PING after 5 silent seconds, dead after 5 more.
KEEPALIVE_INTERVAL: Final = 5
KEEPALIVE_COUNT: Final = 5
ULONG_MAX: Final = (1 << 64) - 1
UINT_MAX: Final = (1 << 32) - 1
INT_MAX: Final = (1 << 31) - 1

_UUID_LEN: Final = 36


class CommandFailed(Exception):
    """Raised inside a command after its error lines were printed; the command returns False."""


class Control:
    """One shell session: output streams, options, connection and error state."""

    def __init__(
        self,
        stdout: TextIO,
        stderr: TextIO,
        *,
        uri: str | None = None,
        readonly: bool = False,
        quiet: bool = False,
    ) -> None:
        self.out = stdout
        self.err = stderr
        self.uri = uri
        self.readonly = readonly
        self.quiet = quiet
        self.interactive = False
        self.conn: Connection | None = None
        self.last_error: VirError | None = None
        self.lock = threading.RLock()
        self.interrupted = threading.Event()
        self.keepalive_interval = KEEPALIVE_INTERVAL
        self.keepalive_count = KEEPALIVE_COUNT
        self.keepalive_forced = False

    def set_keepalive(self, interval: int | None, count: int | None) -> None:
        """virsh's -k/-K: explicit values make a failure to start keepalive an error."""
        if interval is not None:
            self.keepalive_interval = interval
        if count is not None:
            self.keepalive_count = count
        self.keepalive_forced = interval is not None or count is not None

    # -- output ------------------------------------------------------------
    def print(self, text: str) -> None:
        """vshPrint: stdout, always."""
        with self.lock:
            self.out.write(text)
            self.out.flush()

    def print_extra(self, text: str) -> None:
        """vshPrintExtra: stdout unless quiet."""
        if not self.quiet:
            self.print(text)

    def error(self, message: str) -> None:
        """vshError: ``error: <message>`` on stderr (stdout flushed first)."""
        with self.lock:
            self.out.flush()
            self.err.write(f"error: {message}\n")
            self.err.flush()

    def progress(self, label: str, remaining: int, total: int) -> None:
        """virshPrintJobProgress: ``\\r<label>: [ NN %]`` on stderr, no newline."""
        if remaining == 0:
            percent = 100
        elif total == 0:
            percent = 0
        else:
            percent = min(int(100.0 - remaining * 100.0 / total), 99)
        with self.lock:
            self.out.flush()
            self.err.write(f"\r{label}: [{percent:3d} %]")
            self.err.flush()

    def report_error(self) -> None:
        """vshReportError: print and clear the saved libvirt error, if any."""
        err, self.last_error = self.last_error, None
        if err is not None:
            self.error(err.message or "unknown error")

    def fail(self, exc: VirError | None = None, message: str | None = None) -> CommandFailed:
        """Keep ``exc`` for the final report, print ``message`` now; return what to raise."""
        if exc is not None:
            self.last_error = exc
        if message is not None:
            self.error(message)
        return CommandFailed(message or "")

    # -- connection --------------------------------------------------------
    def connect(self, uri: str | None, readonly: bool) -> bool:
        """virshReconnect: (re)open the connection; on failure print virsh's first line.

        ``uri`` None keeps the current URI (None itself meaning the default one).
        """
        import minivirt.wiring  # noqa: F401  (registers the drivers with core)
        from minivirt import core
        from minivirt.public import VirError

        if uri is None:
            uri = self.uri
        self.disconnect()
        try:
            self.conn = core.open_read_only(uri) if readonly else core.open(uri)
        except VirError as exc:
            self.last_error = exc
            self.error("failed to connect to the hypervisor")
            return False
        if self.keepalive_interval > 0:
            try:
                core.connect_set_keep_alive(
                    self.conn, self.keepalive_interval, self.keepalive_count
                )
            except VirError as exc:
                if self.keepalive_forced:  # as virsh: asked for, so required
                    self.last_error = exc
                    self.error("Cannot setup keepalive on connection as requested, disconnecting")
                    self.disconnect()
                    return False
        self.uri = uri
        self.readonly = readonly
        return True

    def disconnect(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and not conn.closed:
            try:
                conn.close()
            except Exception:
                pass

    def connection(self) -> Connection | None:
        """virshConnectionHandler: the open connection, connecting lazily if needed."""
        if self.conn is None or self.conn.closed:
            self.conn = None
            if not self.connect(self.uri, self.readonly):
                return None
        return self.conn

    def require_conn(self) -> Connection:
        conn = self.conn
        if conn is None:
            raise CommandFailed("no connection")
        return conn

    # -- option accessors ---------------------------------------------------
    def string(self, cmd: ParsedCommand, name: str) -> str | None:
        """vshCommandOptStringReq: the value, None when absent; an empty value is an error."""
        value = cmd.get(name)
        if value is not None and value == "":
            raise self.fail(message=f"Failed to get option '{name}': Option argument is empty")
        return value

    def required_string(self, cmd: ParsedCommand, name: str) -> str:
        value = self.string(cmd, name)
        if value is None:
            raise self.fail(message=f"Failed to get option '{name}': Mandatory option not present")
        return value

    def uint(self, cmd: ParsedCommand, name: str) -> int | None:
        """vshCommandOptUInt: non-negative, fits an unsigned int."""
        value = cmd.get(name)
        if value is None:
            return None
        number = _leading_integer(value, "+")
        if number is None or number[2] or int(number[1]) > UINT_MAX:
            raise self.fail(
                message=f"Numeric value '{value}' for <{name}> option is malformed or out of range"
            )
        return int(number[1])

    def timeout_ms(self, cmd: ParsedCommand) -> int:
        """vshCommandOptTimeoutToMs: --timeout seconds as milliseconds, 0 when absent."""
        seconds = self.uint(cmd, "timeout")
        if seconds is None:
            return 0
        if seconds == 0 or seconds > INT_MAX // 1000:
            raise self.fail(
                message=f"Numeric value '{seconds}' for <timeout> option "
                "is malformed or out of range"
            )
        return seconds * 1000

    def bandwidth(self, cmd: ParsedCommand, in_bytes: bool) -> int:
        """vshBlockJobOptionBandwidth: plain numbers wrap as strtoul, scaled ones ("10M") don't."""
        value = cmd.get("bandwidth")
        if value is None:
            return 0
        from minivirt.public import ErrorDomain, ErrorNumber, VirError

        plain = _leading_integer(value, "+-")
        if plain is not None and not plain[2] and int(plain[1]) <= ULONG_MAX:
            number = int(plain[1])
            return (-number) & ULONG_MAX if plain[0] == "-" else number
        scaled = _scaled(value, ULONG_MAX) if value else None
        if not isinstance(scaled, int):
            if scaled is not None:  # virScaleInteger's own error, reported after virsh's
                code, detail = scaled
                self.last_error = VirError.report(ErrorNumber(code), ErrorDomain.NONE, detail)
            raise self.fail(
                message=f"Scaled numeric value '{value}' for <--bandwidth> option "
                "is malformed or out of range"
            )
        return scaled if in_bytes else scaled >> 20

    def exclusive(self, cmd: ParsedCommand, first: str, second: str) -> None:
        """VSH_EXCLUSIVE_OPTIONS: "Options --A and --B are mutually exclusive"."""
        if cmd.has(first) and cmd.has(second):
            raise self.fail(message=f"Options --{first} and --{second} are mutually exclusive")

    def requires(self, cmd: ParsedCommand, option: str, required: str) -> None:
        """VSH_REQUIRE_OPTION: "Option --REQUIRED is required by option --OPTION"."""
        if cmd.has(option) and not cmd.has(required):
            raise self.fail(message=f"Option --{required} is required by option --{option}")

    # -- domains -----------------------------------------------------------
    def domain(self, cmd: ParsedCommand, *, by_id: bool = True, name: str = "domain") -> Domain:
        """virshCommandOptDomainBy: id if numeric, then UUID, then name; virsh's error otherwise."""
        text = self.required_string(cmd, name)
        return self.lookup_domain(text, by_id=by_id)

    def lookup_domain(self, text: str, *, by_id: bool = True) -> Domain:
        from minivirt.public import VirError

        conn = self.require_conn()
        if by_id:
            number = _leading_integer(text, "+-")
            if number is not None and not number[2] and number[0] != "-":
                id = int(number[1])
                if id <= INT_MAX:
                    try:
                        return conn.lookup_by_id(id)
                    except VirError:
                        pass
        if len(text) == _UUID_LEN:
            try:
                return conn.lookup_by_uuid_string(text)
            except VirError:
                pass
        try:
            return conn.lookup_by_name(text)
        except VirError:
            pass
        self.last_error = None
        raise self.fail(message=f"failed to get domain '{text}'")


def _leading_integer(text: str, signs: str) -> tuple[str, str, str] | None:
    """``text`` read as ``re.match(r"\\s*([SIGNS]?)(\\d+)")``: (sign, digits, the rest).

    None without digits.  Whitespace and digits are Unicode's, as ``\\s`` and
    ``\\d`` take them; written without ``re``, which a one-shot command would
    otherwise import at every start (issue 14).
    """
    body = text.lstrip()
    sign = body[:1] if body[:1] and body[:1] in signs else ""
    body = body[len(sign) :]
    end = 0
    while end < len(body) and body[end].isdecimal():
        end += 1
    return (sign, body[:end], body[end:]) if end else None


_POWERS: Final = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def _scaled(text: str, limit: int) -> int | tuple[int, str] | None:
    """virStrToLong_ullp + virScaleInteger(scale=1): "10M" -> 10485760.

    None when the number itself is malformed; (ErrorNumber, detail) of the
    error virScaleInteger reports for an unknown suffix (INVALID_ARG) or a
    result that does not fit (OVERFLOW).
    """
    number = _leading_integer(text, "+")
    if number is None:
        return None
    value = int(number[1])
    if value > ULONG_MAX:
        return None
    suffix = number[2]
    unknown = (8, f"unknown suffix '{suffix}'")  # VIR_ERR_INVALID_ARG
    if not suffix or suffix.lower() in ("b", "byte", "bytes"):
        scale = 1
    else:
        rest = suffix[1:]
        if not rest or rest.lower() == "ib":
            base = 1024
        elif rest.lower() == "b":
            base = 1000
        else:
            return unknown
        power = _POWERS.get(suffix[0].lower())
        if power is None:
            return unknown
        scale = base**power
    if value and value > limit // scale:
        return (82, f"value too large: {value}{suffix}")  # VIR_ERR_OVERFLOW
    return value * scale
