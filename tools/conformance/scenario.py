"""Scenario files: the rows of ``tests/conformance/*.yaml`` as values.

Owns reading a scenario file and checking its shape.  A file holds::

    scenario: NAME
    images: {broken: false}          # optional: damage the template (a pull FAILS)
    domains: {golden: golden.xml}    # XML files under tests/conformance/domains/
    rows:
      - id: ROW                      # unique in the file
        virsh: "blockpull golden vda --wait"      # or
        python: [[dom = conn.lookupByName, golden], [dom.blockPull, vda, 0, 0]]
        readonly: false              # python rows: libvirt.openReadOnly
    intended:                        # differences minivirt means to have
      ROW: "reason"

Must not: run anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Row", "Scenario", "load", "load_all"]

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "tests" / "conformance"


@dataclass(frozen=True)
class Row:
    """One step of a scenario, run on both sides and compared."""

    id: str
    virsh: str | None = None
    python: tuple[tuple[Any, ...], ...] | None = None
    readonly: bool = False

    @property
    def what(self) -> str:
        """What was run, as one line for the report."""
        if self.virsh is not None:
            return "virsh " + self.virsh
        assert self.python is not None
        calls = "; ".join(" ".join(str(a) for a in call) for call in self.python)
        return ("python(ro): " if self.readonly else "python: ") + calls


@dataclass(frozen=True)
class Scenario:
    """A sequence of rows run against one fresh set of images and domains."""

    name: str
    rows: tuple[Row, ...]
    domains: dict[str, str] = field(default_factory=dict)
    broken: bool = False
    intended: dict[str, str] = field(default_factory=dict)


def _row(raw: dict[str, Any], where: str) -> Row:
    unknown = set(raw) - {"id", "virsh", "python", "readonly"}
    if unknown or "id" not in raw or (("virsh" in raw) == ("python" in raw)):
        raise ValueError(f"{where}: a row has an id and exactly one of virsh/python: {raw}")
    python = None
    if "python" in raw:
        python = tuple(tuple(call) for call in raw["python"])
    return Row(str(raw["id"]), raw.get("virsh"), python, bool(raw.get("readonly", False)))


def load(path: Path) -> Scenario:
    """Read and check one scenario file (ValueError on a malformed one)."""
    raw = yaml.safe_load(path.read_text())
    rows = tuple(_row(r, path.name) for r in raw["rows"])
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path.name}: duplicate row ids")
    domains = {}
    for name, xml_file in (raw.get("domains") or {}).items():
        domains[name] = (SCENARIO_DIR / "domains" / xml_file).read_text()
    intended = {str(k): str(v) for k, v in (raw.get("intended") or {}).items()}
    stale = set(intended) - set(ids)
    if stale:
        raise ValueError(f"{path.name}: intended differences for unknown rows {sorted(stale)}")
    images = raw.get("images") or {}
    return Scenario(str(raw["scenario"]), rows, domains, bool(images.get("broken")), intended)


def load_all(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    """Every scenario file of the directory, in file name order."""
    return [load(p) for p in sorted(directory.glob("*.yaml"))]
