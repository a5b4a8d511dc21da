"""A logger that costs nothing until somebody logs: minivirt's modules log through it.

Owns one small shim over the standard ``logging`` module, so that importing
minivirt (a one-shot ``minivirsh`` above all) does not import ``logging``.
Debug and info records are dropped while no one has imported ``logging``: then
no handler or level can exist that would show them, so nothing is lost.
Warnings and errors always reach ``logging`` (importing it then), as they
would reach its last-resort handler.  It must not configure logging.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

__all__ = ["LazyLogger", "get_logger"]


class LazyLogger:
    """The calls minivirt makes on a ``logging.Logger``, resolved on first real use."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _logger(self) -> logging.Logger:
        import logging

        return logging.getLogger(self.name)

    def _configured(self) -> bool:
        return "logging" in sys.modules

    def debug(self, msg: str, *args: object) -> None:
        """Logger.debug, dropped while ``logging`` is not imported."""
        if self._configured():
            self._logger().debug(msg, *args)

    def info(self, msg: str, *args: object) -> None:
        """Logger.info, dropped while ``logging`` is not imported."""
        if self._configured():
            self._logger().info(msg, *args)

    def warning(self, msg: str, *args: object) -> None:
        """Logger.warning."""
        self._logger().warning(msg, *args)

    def error(self, msg: str, *args: object) -> None:
        """Logger.error."""
        self._logger().error(msg, *args)

    def exception(self, msg: str, *args: object) -> None:
        """Logger.exception (call it from an ``except`` block)."""
        self._logger().exception(msg, *args)

    def isEnabledFor(self, level: int) -> bool:
        """Logger.isEnabledFor; False for anything while ``logging`` is not imported."""
        return self._configured() and self._logger().isEnabledFor(level)


def get_logger(name: str) -> LazyLogger:
    """The lazy twin of ``logging.getLogger(name)``."""
    return LazyLogger(name)
