"""`python -m kraken_tui.sandbox` runs the standalone sandbox server."""

import sys

from kraken_tui.sandbox.cli_sandbox import main

sys.exit(main())
