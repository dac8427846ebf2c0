"""Routing without I/O: which transport carries a message (WhatsApp's window and templates,
fallback order), what every transport's message looks like in both languages, how long the
SMS is, and how retries are spaced."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aduan_contracts.enums import Channel
from aduan_notifier.domain import (
    DM_TRANSPORTS,
    ChannelFamily,
    Contact,
    Route,
    Template,
    Transport,
    backoff_seconds,
    email_html,
    family_of_transport,
    is_gsm7,
    plan_routes,
    render,
    sms_segments,
    window_open,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ALL = frozenset(Transport)
CODE = "ADU-7K3M-9QXZ"
PORTAL = "https://aduan.jakarta.go.id"
REASON = "Pelapor Budi (081234567890) salah alamat"


def plan(
    channel: Channel,
    contact: Contact,
    configured: frozenset[Transport] = ALL,
    last_inbound: datetime | None = NOW - timedelta(hours=1),
    template: bool = False,
    tags: frozenset[Transport] = frozenset(),
) -> list[Route]:
    return plan_routes(channel, contact, configured, last_inbound, NOW, template, tags)


# --- contacts ---------------------------------------------------------------------------------


def test_contact_from_intakes_identity() -> None:
    assert Contact.from_identity({"name": "Siti", "contact": "0812-3456-7890", "handle": None}) == (
        Contact(phone="+6281234567890")
    )
    assert Contact.from_identity({"contact": "+62 21 3822 2222"}).phone == "+622138222222"
    assert Contact.from_identity({"contact": "siti@example.org"}).email == "siti@example.org"
    assert Contact.from_identity({"handle": "6281234567890"}).handle == "6281234567890"
    assert Contact.from_identity({"name": "Siti", "contact": "12"}).empty  # not a number
    assert Contact.from_identity({"name": "Siti"}).empty


# --- the 24-hour window and fallback ------------------------------------------------------------


def test_whatsapp_window() -> None:
    assert window_open(NOW - timedelta(hours=23, minutes=59), NOW)
    assert not window_open(NOW - timedelta(hours=24), NOW)
    assert not window_open(None, NOW)


def test_whatsapp_inside_window_is_free_form() -> None:
    [first, *rest] = plan(Channel.WHATSAPP, Contact(phone="+6281234567890", handle="6281234567890"))
    assert first == Route(Transport.WHATSAPP, "6281234567890", use_template=False)
    assert [r.transport for r in rest] == [Transport.SMS]


def test_whatsapp_outside_window_uses_the_template_or_falls_back_to_sms() -> None:
    contact = Contact(phone="+6281234567890", handle="6281234567890")
    old = NOW - timedelta(days=3)
    [first, *_] = plan(Channel.WHATSAPP, contact, last_inbound=old, template=True)
    assert first.transport is Transport.WHATSAPP and first.use_template
    [first, *_] = plan(Channel.WHATSAPP, contact, last_inbound=old, template=False)
    assert first == Route(Transport.SMS, "+6281234567890", window_open=False)
    # No phone left, no template: e-mail is the last resort; nothing at all means no route.
    assert plan(Channel.WHATSAPP, Contact(handle="62812"), last_inbound=old) == []


def test_whatsapp_number_without_handle() -> None:
    [first, *_] = plan(Channel.WHATSAPP, Contact(phone="+6281234567890"))
    assert first.address == "6281234567890"  # WhatsApp ids carry no '+'


def test_unconfigured_adapters_are_skipped() -> None:
    contact = Contact(email="a@example.org", phone="+6281234567890")
    routes = plan(Channel.WEB, contact, configured=frozenset({Transport.SMS}))
    assert [r.transport for r in routes] == [Transport.SMS]


@pytest.mark.parametrize(
    ("channel", "transport"),
    [(Channel.FACEBOOK, Transport.MESSENGER), (Channel.INSTAGRAM, Transport.INSTAGRAM)],
)
def test_meta_dms_outside_window_need_a_tag(channel: Channel, transport: Transport) -> None:
    contact = Contact(handle="scoped-id")
    old = NOW - timedelta(days=2)
    assert plan(channel, contact, last_inbound=old) == []
    [route] = plan(channel, contact, last_inbound=old, tags=frozenset({transport}))
    assert route.transport is transport and not route.window_open


@pytest.mark.parametrize(
    ("channel", "contact", "expected"),
    [
        (Channel.APP, Contact(handle="u1", email="a@x.org"), [Transport.PUSH, Transport.EMAIL]),
        (Channel.WEB, Contact(email="a@x.org", phone="+628111"), [Transport.EMAIL]),
        (Channel.WEB, Contact(phone="+6281234567890"), [Transport.SMS]),
        (Channel.EMAIL, Contact(email="a@x.org"), [Transport.EMAIL]),
        (Channel.SMS, Contact(phone="+6281234567890"), [Transport.SMS]),
        (Channel.WALK_IN, Contact(email="a@x.org"), [Transport.EMAIL]),
        (Channel.X, Contact(handle="2244994945"), [Transport.X_DM]),
        (Channel.FACEBOOK, Contact(handle="psid"), [Transport.MESSENGER]),
        (Channel.INSTAGRAM, Contact(handle="igsid"), [Transport.INSTAGRAM]),
        (Channel.LAPOR, Contact(handle="lapor-user"), []),
    ],
)
def test_first_choice_per_channel(
    channel: Channel, contact: Contact, expected: list[Transport]
) -> None:
    assert [r.transport for r in plan(channel, contact)][: len(expected) or None] == expected


def test_a_handle_is_never_used_on_another_channels_dm() -> None:
    # An app user id is not an X user id: X, Messenger and Instagram only for their own.
    routes = plan(Channel.APP, Contact(handle="12345"))
    assert {r.transport for r in routes} == {Transport.PUSH}


# --- messages per transport, both languages --------------------------------------------------


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("template", list(Template))
@pytest.mark.parametrize("transport", list(Transport))
def test_every_template_on_every_transport(
    language: str, template: Template, transport: Transport
) -> None:
    channel = {
        Transport.X_DM: Channel.X,
        Transport.MESSENGER: Channel.FACEBOOK,
        Transport.INSTAGRAM: Channel.INSTAGRAM,
        Transport.WHATSAPP: Channel.WHATSAPP,
        Transport.PUSH: Channel.APP,
        Transport.SMS: Channel.SMS,
        Transport.EMAIL: Channel.EMAIL,
    }[transport]
    msg = render(
        template,
        channel,
        "en" if language == "en" else "id",
        CODE,
        PORTAL,
        reason=REASON,
        family=family_of_transport(transport),
    )
    assert msg.language == language and CODE in msg.body
    family = family_of_transport(transport)
    assert msg.family is family
    if family is ChannelFamily.EMAIL:
        assert msg.subject and CODE in msg.subject
        # The tracking page in the message's language (Indonesian needs no parameter).
        track = f"{PORTAL}/track/{CODE}" + ("?lang=en" if language == "en" else "")
        assert track in msg.body
        html = email_html(msg)
        assert f'<a href="{track}">' in html and f'lang="{language}"' in html
    else:
        assert msg.subject is None
        assert "\n" not in msg.body
        assert REASON not in msg.body  # a short message never carries free text
    if family is ChannelFamily.SMS:
        assert msg.body.startswith("Aduan: ")
        assert is_gsm7(msg.body), "an SMS template left GSM-7 (it would cost UCS-2 parts)"
        # Every SMS, the first one with its tracking link included, fits one GSM-7 part.
        assert sms_segments(msg.body) == 1, len(msg.body)
    if transport in DM_TRANSPORTS:
        assert msg.direct_message
    # Free text (the rejection reason) reaches only the reporter's own mailbox, and only
    # for a rejection on a private channel; no template has a slot for the report's text.
    # (and the agency's outcome on completion, the officer's question: same rule)
    if family is ChannelFamily.EMAIL and template in (
        Template.REJECTED,
        Template.QUESTION,
        Template.COMPLETED,
    ):
        assert REASON in msg.body
    else:
        assert "Budi" not in msg.body and "081234567890" not in msg.body
    english = {"Report", "report", "We ", "received"}
    if language == "id":
        assert not any(w in msg.body for w in english if w != "received")


def test_email_html_escapes_what_it_shows() -> None:
    msg = render(
        Template.REJECTED, Channel.EMAIL, "id", CODE, PORTAL, reason="<script>x</script> & co"
    )
    html = email_html(msg)
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt; &amp; co" in html


# --- retries ------------------------------------------------------------------------------------


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(7)
    delays = [backoff_seconds(n, 2.0, 600.0, rng=rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        exp = min(600.0, 2.0 * 2 ** (n - 1))
        assert exp / 2 <= delay <= exp
    assert delays[-1] > delays[0] * 16
    spread = {round(backoff_seconds(3, 2.0, 600.0), 3) for _ in range(20)}
    assert len(spread) > 10  # jitter: many deliveries do not retry in lockstep
    assert backoff_seconds(1, 2.0, 600.0, retry_after_s=30.0) == 30.0
    assert backoff_seconds(20, 2.0, 600.0) <= 600.0


# --- configuration ------------------------------------------------------------------------------


def test_production_refuses_placeholder_tokens_of_enabled_adapters() -> None:
    from pydantic import ValidationError

    from aduan_notifier.config import Settings

    prod = {
        "environment": "production",
        "database_url": "postgresql+asyncpg://notifier:s3cret@db/aduan_notifier",
    }
    with pytest.raises(ValidationError, match="sms_api_key"):
        Settings.model_validate(prod)
    # Every HTTP adapter off: nothing to refuse.
    off = dict.fromkeys(
        ("sms_url", "whatsapp_base_url", "messenger_base_url", "instagram_base_url"), ""
    ) | {"x_base_url": "", "push_url": ""}
    assert Settings.model_validate(prod | off).environment == "production"
    with pytest.raises(ValidationError, match="x_token"):
        Settings.model_validate(prod | off | {"x_base_url": "https://api.x.com"})
    ok = Settings.model_validate(
        prod | off | {"x_base_url": "https://api.x.com", "x_token": "real-token"}
    )
    assert ok.x_token.get_secret_value() == "real-token"
