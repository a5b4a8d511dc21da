"""minivirt.shell.entry: the process ends at once after a one-shot, and only when it may.

Each case runs a real interpreter (the process's end is what is under test)
and reads what it wrote and its exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

PRELUDE = "import atexit, os, sys, threading, time\nfrom minivirt.shell.entry import leave\n"
#: Streams buffered as a user's are (the test environment may set PYTHONUNBUFFERED).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def run_python(body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )


def test_buffered_output_is_flushed_and_the_status_kept():
    result = run_python(
        """
        sys.stdout.write("out")  # a pipe: block-buffered, not yet written
        sys.stderr.write("err")
        leave(3)
        """
    )
    assert (result.stdout, result.stderr, result.returncode) == ("out", "err", 3)


def test_the_interpreter_teardown_is_skipped():
    # A module-level object's finaliser runs at teardown; leaving at once skips it.
    result = run_python(
        """
        class Witness:
            def __del__(self):
                os.write(1, b"teardown")

        witness = Witness()
        leave(0)
        """
    )
    assert (result.stdout, result.returncode) == ("", 0)


def test_a_running_thread_is_waited_for():
    result = run_python(
        """
        def late():
            time.sleep(0.2)
            print("late", flush=True)

        threading.Thread(target=late).start()
        leave(4)
        """
    )
    assert (result.stdout, result.returncode) == ("late\n", 4)


def test_atexit_functions_still_run():
    result = run_python(
        """
        atexit.register(lambda: print("bye"))
        leave(0)
        """
    )
    assert (result.stdout, result.returncode) == ("bye\n", 0)


def test_a_stream_that_cannot_be_flushed_takes_the_ordinary_way_out():
    # The reader of stdout has gone when the child leaves: the flush fails and the
    # interpreter reports it as it would without ``leave`` (status 120).
    proc = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + "sys.stdout.write('x')\nsys.stdin.read()\nleave(0)\n"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    proc.stdin.close()  # now the child leaves
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 120
    assert "Exception ignored" in err and "BrokenPipeError" in err, err
    assert "Traceback" not in err, err  # no error of its own on top


def test_start_up_runs_no_garbage_collection():
    # A one-shot through the program's entry: count the collector's runs up to the
    # end (an atexit function reports them, and makes ``leave`` take the ordinary way).
    result = run_python(
        """
        import gc
        runs = []
        gc.callbacks.append(lambda phase, info: runs.append(phase))
        atexit.register(lambda: print("collections", runs.count("start")))
        sys.argv = ["minivirsh", "-c", "test:///default", "list", "--all"]
        from minivirt.shell.entry import run
        run()
        """
    )
    assert result.returncode == 0, result.stderr
    assert " 1    test   running" in result.stdout
    assert result.stdout.endswith("collections 0\n")
