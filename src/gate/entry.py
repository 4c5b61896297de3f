"""The package's entry points: `command` is the `gate` console script and `python -m gate`;
`program` is the Pulumi program that a configuration repository's two-line `__main__.py` runs (this
repository's own, and the one `gate init` writes).

Each imports what it runs with the cyclic collector held off, since those modules live until the
process exits (gate/collector.py), and nothing heavy at this module's top, so that the imports all
happen inside.
"""

from __future__ import annotations

from gate.collector import long_lived_imports


def command() -> int:
    with long_lived_imports():
        from gate.cli.main import main  # noqa: PLC0415 - imported under long_lived_imports

    return main()


def program() -> None:
    with long_lived_imports():
        from gate.program import main  # noqa: PLC0415 - imported under long_lived_imports

    main()
