"""Ask the real libvirt-python (Debian's libvirt 9.0) for expected values.

Tests compare minivirt with the real library, run by ``/usr/bin/python3`` in
a subprocess, instead of with values derived from minivirt's own code.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

__all__ = ["REAL_PYTHON", "real"]

#: Debian's python3, which has the real ``libvirt`` module installed.
REAL_PYTHON = "/usr/bin/python3"


def real(script: str) -> Any:
    """Run ``script`` (it has ``libvirt`` imported and sets ``result``); its result, via JSON."""
    code = f"import json, libvirt\n{script}\nprint(json.dumps(result))\n"
    out = subprocess.run(
        [REAL_PYTHON, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(out.stdout)
