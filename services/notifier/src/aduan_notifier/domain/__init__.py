"""The notifier's pure part: who hears about what, in which words, on which channel."""

from aduan_notifier.domain.channels import (
    PUBLIC_CHANNELS,
    STAFF_CHANNELS,
    ChannelFamily,
    family_of,
)
from aduan_notifier.domain.policy import Reach, Template, reach, template_for
from aduan_notifier.domain.sms import is_gsm7, sms_segments
from aduan_notifier.domain.templates import (
    Language,
    Message,
    compose,
    normalize_language,
    render,
    tracking_url,
)

__all__ = [
    "PUBLIC_CHANNELS",
    "STAFF_CHANNELS",
    "ChannelFamily",
    "Language",
    "Message",
    "Reach",
    "Template",
    "compose",
    "family_of",
    "is_gsm7",
    "normalize_language",
    "reach",
    "render",
    "sms_segments",
    "template_for",
    "tracking_url",
]
