"""`python -m gate`: see gate/cli/main.py."""

import sys

from gate.entry import command

sys.exit(command())
