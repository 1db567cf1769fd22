"""``python -m mecsim``: see :mod:`mecsim.cli`."""

from mecsim.cli import main

raise SystemExit(main())
