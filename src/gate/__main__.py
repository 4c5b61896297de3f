"""`python -m gate`: see gate/cli/main.py."""

import sys

from gate.cli.main import main

sys.exit(main())
