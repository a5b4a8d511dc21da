"""A real minivirtd subprocess on a free loopback port (shared by the remote tests)."""

from __future__ import annotations

import os
import subprocess
import sys


class DaemonProcess:
    def __init__(self, tmp_path, *extra: str, uri: str = "test:///default", env=None) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.log_path = tmp_path / "minivirtd.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "minivirt.daemon",
                "--listen",
                "127.0.0.1:0",
                "--uri",
                uri,
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        self.tls_port = None
        line = self.proc.stdout.readline()
        if line.startswith("minivirtd listening (TLS) on"):
            self.tls_port = int(line.rsplit(":", 1)[1])
            line = self.proc.stdout.readline()
        if not line.startswith("minivirtd listening on"):
            self.stop()
            raise RuntimeError(
                f"daemon failed to start: {(tmp_path / 'minivirtd.log').read_text()}"
            )
        self.port = int(line.rsplit(":", 1)[1])

    def url(self, scheme: str = "test", path: str = "/default") -> str:
        return f"{scheme}+tcp://127.0.0.1:{self.port}{path}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode
