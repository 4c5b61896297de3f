"""A stand-in for the delivery-gate checkout of gate workflows (.delivery-gate): see gate/__main__.py."""
