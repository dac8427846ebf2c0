"""Channel adapters: each turns one channel's real payload into a `NormalizedReport` and
hands it to the shared `Filer`; each keeps the channel's own message id (the dedupe key) and
how to answer the reporter there.

An adapter is a module with `router(ctx: ChannelContext) -> APIRouter` (webhooks, forms) or
a Kafka/poller loop (LAPOR! sync); `aduan_intake.entrypoints.api` mounts them. The web
form is the first.
"""

from aduan_intake.entrypoints.channels.common import ChannelContext

__all__ = ["ChannelContext"]
