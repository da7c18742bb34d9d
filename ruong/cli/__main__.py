"""`python -m ruong.cli ...`: the `ruong` command without its console script (the demo and the
tests start their children this way, with the interpreter they run under)."""

import sys

from ruong.cli import main

sys.exit(main())
