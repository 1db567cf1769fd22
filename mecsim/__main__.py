"""``python -m mecsim``: see :mod:`mecsim.cli`."""

from mecsim.cli import console_main

raise SystemExit(console_main())
