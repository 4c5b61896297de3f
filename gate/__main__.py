"""`python -m gate`: see gate/cli.py."""

import sys

from gate.cli import main

sys.exit(main())
