"""Normalisation of outcomes: only what legitimately varies between two runs.

Owns the three rules applied, the same way, to both sides' outcomes before
they are compared:

* **paths**: each side's scratch directory (images, domain XML files,
  sockets) becomes ``$SCRATCH``; nothing else of a path is touched;
* **progress**: a running job's progress percentage below 100
  (``Block Pull: [ 37 %]``) becomes ``[  ~ %]``, identical neighbouring
  updates collapse into one, and updates right before a ``[100 %]`` go,
  since the values and how many updates virsh prints before the end (none
  when the job ends before its first poll) depend on timing; 100 % stays
  exact, and so does a job that never reached it;
* **cursor**: a running job's ``cur`` below ``end`` (virsh ``--raw`` output,
  python ``blockJobInfo``) becomes ``<moving>``, 0 included (whether QEMU
  copied its first chunk before the query is timing); ``cur`` equal to
  ``end``, ``end``, ``type`` and ``bandwidth`` stay exact.

Nothing touches error codes, domains, messages, exit statuses, event
fields, ids or any other text: ``tests/conformance/test_normalise.py``
proves a changed code, message or status survives normalisation.

Must not: know about sides, scenarios or transports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["normalise_python", "normalise_text"]

_PROGRESS = re.compile(r"\r([A-Za-z ]+): \[ *(\d+) %\]")
_RAW_CUR = re.compile(r"^( cur=)(\d+)$", re.M)
_RAW_END = re.compile(r"^ end=(\d+)$", re.M)


def _paths(text: str, paths: Sequence[str]) -> str:
    for prefix in sorted(paths, key=len, reverse=True):
        text = text.replace(prefix, "$SCRATCH")
    return text


def _progress(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        value = int(match.group(2))
        shown = "100" if value == 100 else "  ~"
        return f"\r{match.group(1)}: [{shown} %]"

    text = _PROGRESS.sub(one, text)
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"(\r[A-Za-z ]+: \[  ~ %\])\1", r"\1", text)
    return re.sub(r"\r([A-Za-z ]+): \[  ~ %\](\r\1: \[100 %\])", r"\2", text)


def _cursor(text: str) -> str:
    ends = _RAW_END.findall(text)
    if len(ends) != 1:
        return text
    end = int(ends[0])

    def one(match: re.Match[str]) -> str:
        cur = int(match.group(2))
        return match.group(0) if cur >= end else f"{match.group(1)}<moving>"

    return _RAW_CUR.sub(one, text)


def normalise_text(text: str, paths: Sequence[str]) -> str:
    """virsh stdout or stderr with the three rules applied."""
    return _cursor(_progress(_paths(text, paths)))


def normalise_python(value: Any, paths: Sequence[str]) -> Any:
    """A python outcome (JSON-like) with the rules applied to its strings and job infos."""
    if isinstance(value, str):
        return _paths(value, paths)
    if isinstance(value, list):
        return [normalise_python(v, paths) for v in value]
    if isinstance(value, dict):
        out = {k: normalise_python(v, paths) for k, v in value.items()}
        if set(out) == {"type", "bandwidth", "cur", "end"}:
            cur, end = out["cur"], out["end"]
            if isinstance(cur, int) and isinstance(end, int) and cur < end:
                out["cur"] = "<moving>"
        return out
    return value
