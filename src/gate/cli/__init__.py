"""The `gate` command (also `python -m gate`): argument parsing, exit codes and output formats.

`main` holds the parser and the commands over plans, stacks and the policy; `delivery` the commands
of the delivery path. The behaviour lives in the other subpackages; this one only parses, calls and
reports.
"""
