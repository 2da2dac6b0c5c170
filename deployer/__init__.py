"""deployer: trigger a Coolify or Dokploy deploy, follow it to its end, and tell the truth."""

__version__ = "0.1.0"
