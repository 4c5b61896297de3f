"""The only module that touches Pulumi SDK internals (pulumi is pinned exactly in requirements.txt).

tests/test_engine.py exercises each name used here, so an SDK upgrade that moves one fails loudly.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import config as _config


def all_config() -> dict[str, Any]:
    """Every `namespace:key` config value the engine handed to this program."""
    return {**_config.get_config_env(), **_config.CONFIG.get()}
