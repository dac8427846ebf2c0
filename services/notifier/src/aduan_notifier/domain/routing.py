"""Where a message actually goes: the reporter's contact, the transports that can carry it,
and the fallback order when the first choice cannot be used (no I/O here)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import phonenumbers

from aduan_contracts.enums import Channel
from aduan_notifier.domain.channels import ChannelFamily

__all__ = [
    "DM_TRANSPORTS",
    "WHATSAPP_WINDOW",
    "Contact",
    "Route",
    "Transport",
    "backoff_seconds",
    "family_of_transport",
    "normalize_phone",
    "plan_routes",
    "window_open",
]

# WhatsApp's customer-service window: free-form messages only within 24 hours of the
# user's last message; outside it only an approved template may be sent. Messenger and
# Instagram have the same standard messaging window.
WHATSAPP_WINDOW = timedelta(hours=24)


class Transport(StrEnum):
    """A delivery adapter: how a message physically leaves the notifier."""

    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    X_DM = "x_dm"
    PUSH = "push"


_TRANSPORT_FAMILY = {
    Transport.EMAIL: ChannelFamily.EMAIL,
    Transport.SMS: ChannelFamily.SMS,
    Transport.WHATSAPP: ChannelFamily.CHAT,
    Transport.MESSENGER: ChannelFamily.CHAT,
    Transport.INSTAGRAM: ChannelFamily.CHAT,
    Transport.X_DM: ChannelFamily.CHAT,
    Transport.PUSH: ChannelFamily.PUSH,
}

# Private DMs on the channels where complaints are filed in public.
DM_TRANSPORTS = frozenset({Transport.MESSENGER, Transport.INSTAGRAM, Transport.X_DM})


def family_of_transport(transport: Transport) -> ChannelFamily:
    return _TRANSPORT_FAMILY[transport]


@dataclass(frozen=True, slots=True)
class Contact:
    """What the opened identity says about reaching the reporter. Personal data: lives only
    in memory while a delivery is being sent."""

    email: str | None = None
    phone: str | None = None  # E.164
    handle: str | None = None  # the reporter's id on the channel they used

    @classmethod
    def from_identity(cls, identity: dict[str, Any]) -> Contact:
        """Intake seals `{"name", "contact", "handle"}`; `contact` is an e-mail address or a
        phone number."""
        raw = identity.get("contact")
        handle = identity.get("handle") or None
        email = phone = None
        if isinstance(raw, str) and raw.strip():
            raw = raw.strip()
            if "@" in raw:
                email = raw
            else:
                phone = normalize_phone(raw)
        return cls(email=email, phone=phone, handle=str(handle) if handle else None)

    @property
    def empty(self) -> bool:
        return not (self.email or self.phone or self.handle)


def normalize_phone(raw: str) -> str | None:
    """E.164 for an Indonesian or international number, or None if it is not one."""
    try:
        number = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True, slots=True)
class Route:
    """One way to deliver: a transport, the address on it, and for WhatsApp whether the
    approved template must be used (the 24-hour window is closed)."""

    transport: Transport
    address: str
    use_template: bool = False
    window_open: bool = True


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    return last_inbound_at is not None and now - last_inbound_at < WHATSAPP_WINDOW


# The reporter's own channel first, then what their contact allows. Walk-in, letter and
# call-centre reporters left a phone number or an e-mail address at the counter.
_ORDER: dict[Channel, tuple[Transport, ...]] = {
    Channel.APP: (Transport.PUSH, Transport.EMAIL, Transport.SMS),
    Channel.OPEN311: (Transport.PUSH, Transport.EMAIL, Transport.SMS),
    Channel.WEB: (Transport.EMAIL, Transport.SMS),
    Channel.EMAIL: (Transport.EMAIL, Transport.SMS),
    Channel.SMS: (Transport.SMS, Transport.EMAIL),
    Channel.CALL_CENTRE: (Transport.SMS, Transport.EMAIL),
    Channel.WALK_IN: (Transport.SMS, Transport.EMAIL),
    Channel.LETTER: (Transport.SMS, Transport.EMAIL),
    Channel.WHATSAPP: (Transport.WHATSAPP, Transport.SMS, Transport.EMAIL),
    Channel.X: (Transport.X_DM, Transport.SMS, Transport.EMAIL),
    Channel.FACEBOOK: (Transport.MESSENGER, Transport.SMS, Transport.EMAIL),
    Channel.INSTAGRAM: (Transport.INSTAGRAM, Transport.SMS, Transport.EMAIL),
    # LAPOR! reporters hear from LAPOR! itself (its sync carries the status); a contact
    # they left with us is still used.
    Channel.LAPOR: (Transport.EMAIL, Transport.SMS),
}


def plan_routes(
    channel: Channel,
    contact: Contact,
    configured: frozenset[Transport],
    last_inbound_at: datetime | None,
    now: datetime,
    whatsapp_template_available: bool,
    meta_tag_available: frozenset[Transport] = frozenset(),
) -> list[Route]:
    """Every usable route, best first. A route is unusable when its adapter is not
    configured, the identity holds no address for it, or the channel's rules forbid a
    message now (WhatsApp window closed and no approved template; Messenger/Instagram
    window closed and no message tag configured)."""
    is_open = window_open(last_inbound_at, now)
    routes: list[Route] = []
    for transport in _ORDER[channel]:
        if transport not in configured:
            continue
        address: str | None
        use_template = False
        if transport is Transport.EMAIL:
            address = contact.email
        elif transport is Transport.SMS:
            address = contact.phone
        elif transport is Transport.WHATSAPP:
            # The WhatsApp id is the number without '+'; the channel handle is that id.
            address = contact.handle or (contact.phone.lstrip("+") if contact.phone else None)
            if not is_open:
                if not whatsapp_template_available:
                    continue
                use_template = True
        elif transport in (Transport.MESSENGER, Transport.INSTAGRAM):
            address = contact.handle if channel in (Channel.FACEBOOK, Channel.INSTAGRAM) else None
            if not is_open and transport not in meta_tag_available:
                continue
        elif transport is Transport.X_DM:
            address = contact.handle if channel is Channel.X else None
        else:  # PUSH: the app's user or device id
            address = contact.handle
        if address:
            routes.append(Route(transport, address, use_template, is_open))
    return routes


def backoff_seconds(
    attempt: int,
    base_s: float,
    cap_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with "equal jitter": half the exponential delay fixed, half
    random, so retries of many deliveries after one outage spread out instead of
    stampeding. A provider's Retry-After is a floor, never shortened."""
    exp: float = min(cap_s, base_s * 2.0 ** max(0, attempt - 1))
    delay: float = exp / 2 + (rng or random).uniform(0, exp / 2)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap_s * 4))
    return delay
