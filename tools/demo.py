"""`make demo`: minivirt's main job, end to end, on a real QEMU, over TCP.

Creates a template image with known data and an overlay on it, starts
minivirtd on loopback, defines and starts a domain over qemu+tcp://, pulls
the overlay's backing data in with `minivirsh blockpull --wait --verbose`
while `minivirsh event --loop` listens, then shows that the overlay stands
alone and holds exactly the data of the original chain.  Everything it
starts is stopped at the end, and its scratch directory (images, state,
logs) is removed, also on Ctrl-C or failure; ``MINIVIRT_DEMO_KEEP=1`` keeps
the directory for inspection.  It runs the console scripts ``minivirtd`` and
``minivirsh`` installed next to the interpreter, as a user would.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["main"]

PY = sys.executable
BIN = Path(sys.executable).parent
BANDWIDTH_MIB = 48
DATA_MIB = 160


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(
    argv: Sequence[str], *, check: bool = True, quiet: bool = False, merged: bool = False
) -> str:
    """Run and show a command; ``merged`` shows its stderr and stdout in the order written."""
    if not quiet:
        print("$ " + " ".join(_short(a) for a in argv), flush=True)
    proc = subprocess.run(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
        check=False,
    )
    # bytes, decoded by hand: text mode would turn the progress bar's \r into \n
    stdout = proc.stdout.decode(errors="replace")
    if not quiet:
        sys.stdout.write(stdout.replace("\r", "") if merged else stdout)
        sys.stdout.flush()
        err = (proc.stderr or b"").decode(errors="replace").replace("\r", "")
        sys.stderr.write(err if not err or err.endswith("\n") else err + "\n")
        sys.stderr.flush()
    if check and proc.returncode != 0:
        raise SystemExit(f"demo: command failed ({proc.returncode}): {' '.join(argv)}")
    return stdout


def _short(arg: str) -> str:
    if arg == PY:
        return "python"
    if arg.startswith(str(BIN) + "/"):
        return os.path.basename(arg)
    return arg.replace(str(Path.cwd()) + "/", "")


def tool(name: str, *modules: str) -> list[str]:
    """The console script ``name`` of this venv, else ``python -m`` the first module found."""
    script = BIN / name
    if os.access(script, os.X_OK):
        return [str(script)]
    found = next((m for m in modules if importlib.util.find_spec(m) is not None), modules[-1])
    return [PY, "-m", found]


class Relay:
    """Copies a client's merged output to ours; other output waits for a line boundary.

    minivirsh redraws its progress with ``\r`` and no newline; anything printed
    meanwhile by another client goes on a line of its own, never into the bar.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.lock = threading.Lock()
        self._source = proc.stdout
        self._mid_line = False
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        out = sys.stdout.buffer
        while chunk := self._source.read1(4096):  # type: ignore[attr-defined]
            with self.lock:
                out.write(chunk)
                out.flush()
                self._mid_line = not chunk.endswith(b"\n")

    @contextlib.contextmanager
    def interject(self) -> Iterator[None]:
        """Hold the client's output back and start on a fresh line."""
        with self.lock:
            if self._mid_line:
                sys.stdout.write("\n")
                sys.stdout.flush()
                self._mid_line = False
            yield

    def join(self) -> None:
        self._thread.join(10)


def free_port(preferred: int = 16509) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise SystemExit("demo: no free port")


def wait_port(port: int, proc: subprocess.Popen[bytes], limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("demo: minivirtd exited early; see its log")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("demo: minivirtd did not start listening")


@contextlib.contextmanager
def started(argv: Sequence[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def kill_leftover_qemus(state: Path) -> None:
    """Kill any QEMU still running under the demo's state dir (QEMU outlives its daemon)."""
    for status in state.glob("run/qemu/*.json"):
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            pid = int(json.loads(status.read_text()).get("pid", 0))
            if pid > 0:
                os.kill(pid, signal.SIGKILL)
                print(f"demo: stopped a QEMU left running (pid {pid})", file=sys.stderr)


def main() -> int:
    for tool in ("qemu-img", "qemu-io", "qemu-system-x86_64"):
        if shutil.which(tool) is None:
            raise SystemExit(f"demo: {tool} is missing (make deps installs QEMU)")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    scratch = Path(tempfile.mkdtemp(prefix="minivirt-demo-"))
    print(f"minivirt demo: working in {scratch}")
    try:
        return _demo(scratch)
    except KeyboardInterrupt:
        print("\ndemo: interrupted; stopping everything", file=sys.stderr)
        return 130
    finally:
        kill_leftover_qemus(scratch / "state")
        if os.environ.get("MINIVIRT_DEMO_KEEP"):
            print(f"\n(scratch directory kept for inspection: {scratch})")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
            print(f"\n(scratch directory {scratch} removed; MINIVIRT_DEMO_KEEP=1 keeps it)")


def _demo(scratch: Path) -> int:
    base = scratch / "template.qcow2"
    top = scratch / "overlay.qcow2"
    original = scratch / "original-overlay.qcow2"
    say(f"template image with {DATA_MIB} MiB of known data, and an overlay backed by it")
    run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "256M"])
    run(["qemu-io", "-f", "qcow2", "-c", f"write -q -P 0x5a 0 {DATA_MIB}M", str(base)])
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top)])
    run(["qemu-io", "-f", "qcow2", "-c", "write -q -P 0xa5 1M 1M", str(top)])
    shutil.copy(top, original)  # the original chain, to compare with at the end

    port = free_port()
    uri = f"qemu+tcp://127.0.0.1:{port}/system"
    state = scratch / "state"
    say(f"starting minivirtd on 127.0.0.1:{port} (state in {state})")
    daemon_argv = [
        *tool("minivirtd", "minivirt.daemon"),
        "--listen", f"127.0.0.1:{port}",
        "--uri", f"qemu:///embed?root={state}",
    ]  # fmt: skip
    print("$ " + " ".join(_short(a) for a in daemon_argv))
    with started(daemon_argv, scratch / "minivirtd.log") as daemon:
        wait_port(port, daemon)
        virsh = [*tool("minivirsh", "minivirt.shell"), "-c", uri]
        definition = scratch / "demo.yaml"
        definition.write_text(
            "name: demo\nmemory: 64\nvcpus: 1\n"
            f"disks:\n  - target: vda\n    source: {top}\n    format: qcow2\n"
        )
        say("define and start the domain over qemu+tcp://")
        run([*virsh, "define", str(definition)])
        run([*virsh, "start", "demo"])
        say("its disk is an overlay on the template")
        run([*virsh, "domblklist", "demo", "--details"])
        run(["qemu-img", "info", "-U", "--backing-chain", str(top)])

        say(f"block pull at {BANDWIDTH_MIB} MiB/s, with `minivirsh event --loop` listening")
        events_argv = [*virsh, "event", "--domain", "demo", "--event", "block-job", "--loop"]
        with started(events_argv, scratch / "events.log") as listener:
            time.sleep(1.0)
            pull_argv = [*virsh, "blockpull", "demo", "vda", "--bandwidth", str(BANDWIDTH_MIB),
                         "--wait", "--verbose"]  # fmt: skip
            print("$ " + " ".join(_short(a) for a in pull_argv), flush=True)
            pull = subprocess.Popen(
                pull_argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # one pipe keeps the bar and the verdict in order
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
            relay = Relay(pull)
            try:
                time.sleep(1.5)
                with relay.interject():
                    print("(while it runs, from another client:)")
                    run([*virsh, "blockjob", "demo", "vda", "--info"], merged=True)
                if pull.wait(timeout=120) != 0:
                    raise SystemExit("demo: blockpull failed")
            finally:
                if pull.poll() is None:
                    pull.send_signal(signal.SIGINT)  # virsh aborts the job on Ctrl-C
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        pull.wait(timeout=10)
                relay.join()
            time.sleep(0.5)
            listener.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                listener.wait(timeout=5)
        print("event listener printed:")
        sys.stdout.write((scratch / "events.log").read_text())

        say("the overlay now stands alone")
        run([*virsh, "domblklist", "demo", "--details"])
        run([*virsh, "destroy", "demo"])
        run(["qemu-img", "info", "--backing-chain", str(top)])
        say("and holds exactly the data of the original chain")
        run(["qemu-img", "compare", str(original), str(top)])
        run([*virsh, "undefine", "demo"])
    say("done: minivirtd stopped, QEMU stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
