"""The aos service's Pulumi program (Pulumi runs __main__.py)."""
