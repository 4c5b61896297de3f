"""What a provider SDK's resource class merges into its options before registering: the SDK's version
and plugin download URL (they decide the plugin `pulumi up` downloads). Shared by the resources
registered without their classes (components/declare.py, components/kubernetes.py)."""

from __future__ import annotations

import pulumi


def apply_provider_defaults(options: pulumi.ResourceOptions, defaults: pulumi.ResourceOptions) -> None:
    """Set `defaults`' version and plugin download URL on `options` where the caller gave none, as
    `ResourceOptions.merge(defaults, options)` in the class would (the caller's own value wins)."""
    if options.version is None:
        options.version = defaults.version
    if options.plugin_download_url is None:
        options.plugin_download_url = defaults.plugin_download_url
