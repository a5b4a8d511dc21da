"""``python -m minivirt.remote.protocol [--check]``: regenerate the protocol modules.

Owns: reading ``remote_protocol.x``, running the emitters and writing their
output (or, with ``--check``, comparing it byte for byte with the committed
files and exiting 1 on drift).  The emitters' text is the committed text: no
formatter runs, so the check does not depend on any tool's version (ruff's
formatter skips these files, see pyproject.toml).  Must not: be imported at
run time.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from minivirt.remote.protocol.emit import emit_all
from minivirt.remote.protocol.spec import SpecError, parse

__all__ = ["generate", "main"]

HERE = pathlib.Path(__file__).parent
SPEC = HERE / "remote_protocol.x"


def generate(spec_path: pathlib.Path = SPEC) -> dict[str, str]:
    """The text of every generated module, by file name."""
    text = spec_path.read_text()
    return emit_all(parse(text, str(spec_path)), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minivirt.remote.protocol")
    parser.add_argument("--check", action="store_true", help="fail when committed output drifts")
    parser.add_argument("--spec", type=pathlib.Path, default=SPEC)
    parser.add_argument("--out", type=pathlib.Path, default=HERE)
    opts = parser.parse_args(argv)
    try:
        outputs = generate(opts.spec)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    drift = []
    for name, text in outputs.items():
        path = opts.out / name
        if opts.check:
            if not path.exists() or path.read_text() != text:
                drift.append(name)
        elif not path.exists() or path.read_text() != text:
            path.write_text(text)
    if drift:
        print(
            "generated protocol modules out of date: "
            + ", ".join(drift)
            + " (run python -m minivirt.remote.protocol)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
