"""Runtime plumbing shared by Aduan's services (not a place for domain logic)."""

from aduan_kit.runtime import ServiceRuntime, serve
from aduan_kit.settings import ServiceSettings

__all__ = ["ServiceRuntime", "ServiceSettings", "serve"]
