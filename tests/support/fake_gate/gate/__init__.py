"""The fake delivery-gate CLI: `python -m gate ...` from a checkout of tests/support/fake_gate."""
