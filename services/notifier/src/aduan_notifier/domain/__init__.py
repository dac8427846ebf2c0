"""The notifier's pure part: who hears about what, in which words, on which channel."""

from aduan_notifier.domain.channels import (
    PUBLIC_CHANNELS,
    STAFF_CHANNELS,
    ChannelFamily,
    family_of,
)
from aduan_notifier.domain.policy import Reach, Template, reach, template_for, template_for_event
from aduan_notifier.domain.routing import (
    DM_TRANSPORTS,
    Contact,
    Route,
    Transport,
    backoff_seconds,
    family_of_transport,
    plan_routes,
    window_open,
)
from aduan_notifier.domain.sms import is_gsm7, sms_segments
from aduan_notifier.domain.templates import (
    Language,
    Message,
    compose,
    email_html,
    normalize_language,
    render,
    tracking_url,
)

__all__ = [
    "DM_TRANSPORTS",
    "PUBLIC_CHANNELS",
    "STAFF_CHANNELS",
    "ChannelFamily",
    "Contact",
    "Language",
    "Message",
    "Reach",
    "Route",
    "Template",
    "Transport",
    "backoff_seconds",
    "compose",
    "email_html",
    "family_of",
    "family_of_transport",
    "is_gsm7",
    "normalize_language",
    "plan_routes",
    "reach",
    "render",
    "sms_segments",
    "template_for",
    "template_for_event",
    "tracking_url",
    "window_open",
]
