"""Running scenarios on both sides, side by side, and comparing the rows.

Owns the order of a run: for each scenario and transport (``tcp``, then
``unix``), fresh images and domain XML files for each side, the rows run in
order on both sides in parallel (two threads, one per side), then every
domain destroyed and the images inspected (a final ``images`` row), then the
domains undefined.  A row's outcomes are normalised and compared field by
field.

Must not: start or stop daemons (``__main__`` does) or write reports.
"""

from __future__ import annotations

import os
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.conformance.images import inspect, make_images
from tools.conformance.normalise import normalise_python, normalise_text
from tools.conformance.scenario import Row, Scenario
from tools.conformance.sides import Outcome, Side

__all__ = ["Result", "compare", "run_scenario"]

TRANSPORTS = tuple(os.environ.get("CONFORMANCE_TRANSPORTS", "tcp unix").split())


@dataclass
class Result:
    """One row on one transport: what ran, and each field that differed."""

    scenario: str
    row: str
    transport: str
    what: str
    differences: dict[str, list[Any]] = field(default_factory=dict)
    intended: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.scenario}/{self.row}@{self.transport}"

    @property
    def verdict(self) -> str:
        if not self.differences:
            return "match"
        return "intended" if self.intended else "DIFFERS"


def _normal(out: Outcome, paths: list[str]) -> dict[str, Any]:
    if out.python is not None:
        return {"python": normalise_python(out.python, paths)}
    return {
        "status": out.status,
        "stdout": normalise_text(out.stdout, paths),
        "stderr": normalise_text(out.stderr, paths),
    }


def _flat(outcome: dict[str, Any]) -> dict[str, Any]:
    """A python outcome as one field per call (``call 2 dom.blockPull vda 0 0``) and events."""
    python = outcome.get("python")
    if not isinstance(python, dict) or "calls" not in python:
        return outcome
    flat: dict[str, Any] = {"events": python.get("events")}
    for i, call in enumerate(python["calls"]):
        result = {k: v for k, v in call.items() if k != "call"}
        flat[f"call {i} {call.get('call')}"] = result
    return flat


def compare(ref: dict[str, Any], got: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields whose normalised values differ: {field: [libvirt, minivirt]}.

    A python outcome is compared call by call, then its events.
    """
    ref, got = _flat(ref), _flat(got)
    diffs: dict[str, list[Any]] = {}
    for key in sorted(set(ref) | set(got)):
        if ref.get(key) != got.get(key):
            diffs[key] = [ref.get(key), got.get(key)]
    return diffs


class _SideRun:
    """One side's pass over one scenario on one transport."""

    def __init__(self, side: Side, scenario: Scenario, transport: str, root: Path) -> None:
        self.side, self.scenario, self.transport = side, scenario, transport
        # Both sides' directories have names of the same length, so that
        # column widths computed from paths (domblklist) compare equal.
        self.dir = root / side.tag / f"{scenario.name}-{transport}"
        self.paths = [str(self.dir), str(root / side.tag)]
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.error: BaseException | None = None

    def _subst(self, text: str) -> str:
        return text.replace("$SCRATCH", str(self.dir))

    def _one(self, row: Row) -> Outcome:
        if row.virsh is not None:
            return self.side.run_virsh(self.transport, self._subst(row.virsh), self.dir)
        assert row.python is not None
        calls = [[self._subst(a) if isinstance(a, str) else a for a in c] for c in row.python]
        return self.side.run_python(self.transport, calls, row.readonly, self.dir)

    def __call__(self) -> None:
        try:
            make_images(self.dir, self.scenario.broken)
            for name, xml in self.scenario.domains.items():
                (self.dir / f"{name}.xml").write_text(self._subst(xml))
            for row in self.scenario.rows:
                self.outcomes[row.id] = _normal(self._one(row), self.paths)
            for name in self.scenario.domains:
                self.side.run_virsh(self.transport, f"destroy {shlex.quote(name)}", self.dir)
            self.outcomes["images"] = {"images": normalise_python(inspect(self.dir), self.paths)}
        except BaseException as exc:
            self.error = exc
        finally:
            for name in self.scenario.domains:
                try:
                    self.side.run_virsh(self.transport, f"destroy {shlex.quote(name)}", self.dir)
                    self.side.run_virsh(self.transport, f"undefine {shlex.quote(name)}", self.dir)
                except Exception:
                    continue


def run_scenario(scenario: Scenario, sides: tuple[Side, Side], root: Path) -> list[Result]:
    """Run ``scenario`` over every transport on both sides; one Result per row and transport."""
    results: list[Result] = []
    for transport in TRANSPORTS:
        runs = [_SideRun(side, scenario, transport, root) for side in sides]
        threads = [
            threading.Thread(target=r, name=f"{r.side.name}-{transport}", daemon=True) for r in runs
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in runs:
            if r.error is not None:
                raise RuntimeError(f"{r.side.name} failed in {scenario.name}") from r.error
        ref, got = runs[0].outcomes, runs[1].outcomes
        rows = [(row.id, row.what) for row in scenario.rows]
        rows.append(("images", "qemu-img info --backing-chain; qemu-img compare (domain stopped)"))
        for row_id, what in rows:
            diffs = compare(ref[row_id], got[row_id])
            results.append(
                Result(
                    scenario.name,
                    row_id,
                    transport,
                    what,
                    diffs,
                    scenario.intended.get(row_id),
                    ref[row_id],
                )
            )
    return results
