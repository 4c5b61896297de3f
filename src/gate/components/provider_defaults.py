"""What a provider SDK's resource class merges into its options before registering: the SDK's version
and plugin download URL (they decide the plugin `pulumi up` downloads). Shared by the resources
registered without their classes (components/declare.py, components/kubernetes.py), which also do
without importing the SDK packages: pulumi-github's `__init__` imports all its modules (0.16 s), and
both SDKs' `_utilities` import a PEP 440 parser for the version (0.01 s)."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import re

import pulumi

# Neither pulumi-github nor pulumi-kubernetes sets a plugin download URL: their generated
# `get_plugin_download_url` returns None (tests/test_declare.py and test_kubernetes_classes.py pin it).
PLUGIN_DOWNLOAD_URL = None


@functools.cache
def sdk_version(package: str) -> str:
    """The version the provider SDK `package` (`pulumi_github`) sends with every resource and call:
    its distribution's, which for a release (`6.15.0`) is already the semver the engine expects. A
    pre-release's PEP 440 version is converted by the SDK's own code (imported for that case only)."""
    version = importlib.metadata.version(package)
    if re.fullmatch(r"\d+\.\d+\.\d+", version):
        return version
    utilities = importlib.import_module(f"{package}._utilities")
    return str(utilities.get_version())


@functools.cache
def resource_defaults(package: str) -> pulumi.ResourceOptions:
    """`<package>._utilities.get_resource_opts_defaults()`, without importing it."""
    return pulumi.ResourceOptions(version=sdk_version(package), plugin_download_url=PLUGIN_DOWNLOAD_URL)


def apply_provider_defaults(options: pulumi.ResourceOptions, defaults: pulumi.ResourceOptions) -> None:
    """Set `defaults`' version and plugin download URL on `options` where the caller gave none, as
    `ResourceOptions.merge(defaults, options)` in the class would (the caller's own value wins)."""
    if options.version is None:
        options.version = defaults.version
    if options.plugin_download_url is None:
        options.plugin_download_url = defaults.plugin_download_url
