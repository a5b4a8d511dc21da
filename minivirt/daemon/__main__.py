"""``python -m minivirt.daemon``: run minivirtd (the ``minivirtd`` console script's twin)."""

import sys

from minivirt.daemon.server import main

__all__: list[str] = []

sys.exit(main())
