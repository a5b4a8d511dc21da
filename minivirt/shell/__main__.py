"""``python -m minivirt.shell``: the same program as the ``minivirsh`` script."""

from minivirt.shell.entry import run

__all__: list[str] = []

run()
