"""deployer: trigger a Coolify or Dokploy deploy, follow it to its end, and tell the truth.

The library API (deployer.api) is re-exported here and imported on first use, so that the command
line's start stays fast:

    import deployer
    result = deployer.deploy(provider="coolify", url=URL, token=TOKEN, uuid=["abc123"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from deployer.api import DeployResult, cancel, deploy, follow, status
    from deployer.errors import DeployerError, InputError, ServerError
    from deployer.events import Event
    from deployer.exit_codes import ExitStatus
    from deployer.model import Deployment, Status

__all__ = [
    "DeployResult",
    "DeployerError",
    "Deployment",
    "Event",
    "ExitStatus",
    "InputError",
    "ServerError",
    "Status",
    "__version__",
    "cancel",
    "deploy",
    "follow",
    "status",
]

_HOMES = {
    "DeployResult": "deployer.api",
    "cancel": "deployer.api",
    "deploy": "deployer.api",
    "follow": "deployer.api",
    "status": "deployer.api",
    "DeployerError": "deployer.errors",
    "InputError": "deployer.errors",
    "ServerError": "deployer.errors",
    "Event": "deployer.events",
    "ExitStatus": "deployer.exit_codes",
    "Deployment": "deployer.model",
    "Status": "deployer.model",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'deployer' has no attribute {name!r}")
