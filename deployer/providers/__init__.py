"""The deploy servers deployer knows, one module each, on the common base in providers.base.

To add one: a module with a `Provider` and `Follower` subclass (see CONTRIBUTING.md), and a line in
`PROVIDERS`. Modules are imported only when used: a Coolify run never loads Dokploy's code.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from deployer.config.settings import Settings
    from deployer.providers.base import Provider

#: provider name -> "module:class"
PROVIDERS = {
    "coolify": "deployer.providers.coolify:CoolifyProvider",
    "dokploy": "deployer.providers.dokploy:DokployProvider",
}


def make_provider(settings: Settings, *, transport: httpx.BaseTransport | None = None) -> Provider:
    """The provider the settings name, talking to their server (through `transport`, if given)."""
    module, _, name = PROVIDERS[settings.provider].partition(":")
    cls: type[Provider] = getattr(import_module(module), name)
    return cls(settings, transport=transport)
