"""``python -m minivirt.shell``: the same program as the ``minivirsh`` script."""

import sys

from minivirt.shell.main import main

__all__: list[str] = []

sys.exit(main())
