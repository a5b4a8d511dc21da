"""`make demo`: the series' own use case, end to end, on a real QEMU, over TCP.

Template provisioning with copy-on-read, in this order: a template with
known data; a new disk as an overlay on it, opened with copy-on-read; a read
inside the guest (HMP ``qemu-io`` through ``qemu-monitor-command``) and the
overlay's ``qemu-img map`` growing before any pull; the pull with progress
(`minivirsh blockpull --wait --verbose`) while `minivirsh event --loop`
listens; the COMPLETED event; the chain without its template; the template's
owner restored (run as root, minivirtd serves the system driver and QEMU runs
as the unprivileged ``minivirt-qemu``); ``qemu-img compare`` equal.
Everything it starts is stopped at the end, also on Ctrl-C or failure.
Its scratch directory (images, state, logs) is removed at the end, also on
Ctrl-C or failure; ``MINIVIRT_DEMO_KEEP=1`` keeps it for inspection.  It runs
the console scripts ``minivirtd`` and ``minivirsh`` installed next to the
interpreter, as a user would.
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
QEMU_USER = "minivirt-qemu"


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


def owners(*paths: Path) -> None:
    """`ls -ln` of the images: who owns them now."""
    run(["ls", "-ln", *map(str, paths)])


def as_qemu_user(path: Path, user: str) -> None:
    """Try to read ``path`` as the QEMU user, as QEMU would (prints cat's refusal)."""
    argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "head", "-c0",
            str(path)]  # fmt: skip
    print("$ " + " ".join(argv), flush=True)
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    print(done.stderr.strip() or f"(the QEMU user can read {path.name})")


def _demo(scratch: Path) -> int:
    scratch.chmod(0o755)  # QEMU's user must reach the images (libvirt never changes dirs)
    system = os.geteuid() == 0 and shutil.which("setpriv") is not None
    base = scratch / "template.qcow2"
    top = scratch / "overlay.qcow2"
    original = scratch / "original-overlay.qcow2"
    say(f"1. a template image with {DATA_MIB} MiB of known data, readable by its owner only")
    run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "256M"])
    run(["qemu-io", "-f", "qcow2", "-c", f"write -q -P 0x5a 0 {DATA_MIB}M", str(base)])
    base.chmod(0o600)
    say("2. a new disk: an overlay on the template, to be opened with copy-on-read")
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top)])
    run(["qemu-io", "-f", "qcow2", "-c", "write -q -P 0xa5 1M 1M", str(top)])
    top.chmod(0o640)
    shutil.copy(top, original)  # the original chain, to compare with at the end
    owners(base, top)

    port = free_port()
    uri = f"qemu+tcp://127.0.0.1:{port}/system"
    state = scratch / "state"
    if system:
        (state / "etc").mkdir(parents=True)
        (state / "etc" / "qemu.conf").write_text(f'user = "{QEMU_USER}"\ngroup = "{QEMU_USER}"\n')
        local = f"qemu:///system?root={state}"
        say(f"minivirtd on 127.0.0.1:{port}: the system driver, QEMU runs as '{QEMU_USER}'")
    else:
        local = f"qemu:///embed?root={state}"
        say(f"minivirtd on 127.0.0.1:{port} (not root: QEMU runs as you, no DAC)")
    daemon_argv = [*tool("minivirtd", "minivirt.daemon"), "--listen", f"127.0.0.1:{port}",
                   "--uri", local]  # fmt: skip
    print("$ " + " ".join(_short(a) for a in daemon_argv))
    with started(daemon_argv, scratch / "minivirtd.log") as daemon:
        wait_port(port, daemon)
        virsh = [*tool("minivirsh", "minivirt.shell"), "-c", uri]
        definition = scratch / "demo.yaml"
        definition.write_text(
            "name: demo\nmemory: 64\nvcpus: 1\n"
            f"disks:\n  - target: vda\n    source: {top}\n    format: qcow2\n"
            "    copy_on_read: 'on'\n"
        )
        print(f"$ cat {definition.name}\n{definition.read_text()}", end="")
        run([*virsh, "define", str(definition)])
        run([*virsh, "start", "demo"])
        if system:
            print("the images are lent to QEMU's user while the domain runs:")
            owners(base, top)
        run([*virsh, "domblklist", "demo", "--details"])

        say("3. the guest reads 32 MiB of its disk: copy-on-read copies them into the overlay")
        print("overlay map before (what the overlay itself holds):")
        run(["qemu-img", "map", "-U", str(top)])
        run([*virsh, "qemu-monitor-command", "demo", "--hmp",
             'qemu-io drive-virtio-disk0 "read 64M 32M"'])  # fmt: skip
        print("(and a flush, so that qcow2's cached tables reach the file for qemu-img)")
        run([*virsh, "qemu-monitor-command", "demo", "--hmp", "qemu-io drive-virtio-disk0 flush"])
        print("overlay map after, before any pull:")
        run(["qemu-img", "map", "-U", str(top)])

        say(f"4. block pull at {BANDWIDTH_MIB} MiB/s, with `minivirsh event --loop` listening")
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
        say("5. the COMPLETED event, as the listener printed it")
        sys.stdout.write((scratch / "events.log").read_text())

        say("6. the chain without its template")
        run([*virsh, "domblklist", "demo", "--details"])
        run(["qemu-img", "info", "-U", "--backing-chain", str(top)])
        if system:
            say("7. the template went back to its owner at once: QEMU's user cannot open it")
            owners(base, top)
            as_qemu_user(base, QEMU_USER)
        run([*virsh, "destroy", "demo"])
        if system:
            print("and the overlay went back to its owner when the domain stopped:")
            owners(base, top)
        say("8. the overlay holds exactly the data of the original chain")
        run(["qemu-img", "compare", str(original), str(top)])
        run([*virsh, "undefine", "demo"])
    say("done: minivirtd stopped, QEMU stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
