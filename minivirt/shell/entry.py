"""The ``minivirsh`` process: run the shell, then leave without the interpreter's teardown.

This module owns how the program's process ends (the ``minivirsh`` script and
``python -m minivirt.shell`` both start here).  A one-shot command has done
all its work when ``main`` returns: its connection is closed and its threads
have ended.  What normally follows, the interpreter tearing down every module
and collecting every object one by one, costs a one-shot ``minivirsh`` about
as much as its whole connection does (issue 14), for nothing the user sees.
So once the standard streams are flushed, the process exits at once
(``os._exit``), as a C program returning from ``main`` would.  It takes the
ordinary way out whenever something could still need the interpreter: another
thread still running, an ``atexit`` function registered, or a stream that
could not be flushed (the interpreter then reports it as usual).

Start-up creates some tens of thousands of objects that all live until the
end (modules, classes, functions, enum members); with the default threshold
(700 allocations) the cyclic collector runs over them about twenty times
before the first command.  The program raises the first generation's
threshold so that start-up runs no collection; later garbage is still
collected, in larger batches.

Must not: run commands or parse arguments (``minivirt.shell.main``'s).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, NoReturn

__all__ = ["GEN0_THRESHOLD", "leave", "run"]

#: The cyclic collector's first-generation threshold for the program's process.
GEN0_THRESHOLD: Final = 50_000


def leave(status: int) -> NoReturn:
    """End the process with ``status``: at once when nothing is left to finish."""
    threading = sys.modules.get("threading")
    if (threading is not None and threading.active_count() > 1) or atexit._ncallbacks():
        sys.exit(status)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        sys.exit(status)
    os._exit(status)


def run() -> NoReturn:
    """The ``minivirsh`` entry point: :func:`minivirt.shell.main.main` on ``sys.argv``."""
    gc.set_threshold(GEN0_THRESHOLD, *gc.get_threshold()[1:])
    from minivirt.shell.main import main

    leave(main())
