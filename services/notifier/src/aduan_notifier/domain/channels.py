"""Channels as the notifier sees them: how a reporter is answered on each."""

from __future__ import annotations

from enum import StrEnum

from aduan_contracts.enums import Channel

__all__ = ["PUBLIC_CHANNELS", "STAFF_CHANNELS", "ChannelFamily", "family_of"]


class ChannelFamily(StrEnum):
    """Message shapes: what a template must produce for a channel."""

    SMS = "sms"  # plain text that must fit GSM-7 parts
    EMAIL = "email"  # subject and a longer text
    CHAT = "chat"  # one short message (WhatsApp, social DMs, LAPOR! status note)
    PUSH = "push"  # one short line (the citizen app, third-party Open311 apps)


# Complaints filed in public (a mention, a comment) are answered only in a private direct
# message, and that message never repeats the report: a reply anyone can read would tie the
# reporter to the complaint (SPEC, "A notifier that knows each channel's rules").
PUBLIC_CHANNELS = frozenset({Channel.X, Channel.FACEBOOK, Channel.INSTAGRAM})

# Filed by staff for the reporter: they are answered only if they left a contact, which the
# notifier learns from intake's ReportSubmitted (a sealed identity present or not).
STAFF_CHANNELS = frozenset({Channel.WALK_IN, Channel.LETTER, Channel.CALL_CENTRE})

_FAMILY = {
    Channel.APP: ChannelFamily.PUSH,
    # The web form asks for an e-mail address; the real adapter will pick SMS instead when
    # the opened identity holds only a phone number.
    Channel.WEB: ChannelFamily.EMAIL,
    Channel.EMAIL: ChannelFamily.EMAIL,
    Channel.SMS: ChannelFamily.SMS,
    Channel.WHATSAPP: ChannelFamily.CHAT,
    Channel.X: ChannelFamily.CHAT,
    Channel.FACEBOOK: ChannelFamily.CHAT,
    Channel.INSTAGRAM: ChannelFamily.CHAT,
    Channel.LAPOR: ChannelFamily.CHAT,
    Channel.OPEN311: ChannelFamily.PUSH,
    # Staff-entered reports: a phone number is what counters and call centres usually take.
    Channel.CALL_CENTRE: ChannelFamily.SMS,
    Channel.WALK_IN: ChannelFamily.SMS,
    Channel.LETTER: ChannelFamily.SMS,
}


def family_of(channel: Channel) -> ChannelFamily:
    return _FAMILY[channel]
