"""The notifier's rules without I/O: who hears about what, in which words, how long an SMS
is, and what a public channel's message must never contain."""

from __future__ import annotations

import uuid

import pytest

from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged
from aduan_contracts.values import Actor, FollowUp
from aduan_notifier.domain import (
    PUBLIC_CHANNELS,
    ChannelFamily,
    Reach,
    Template,
    compose,
    email_html,
    family_of,
    is_gsm7,
    reach,
    render,
    sms_segments,
    template_for,
)

S = ReportStatus
CODE = "ADU-7K3M-9QXZ"
BASE = "http://127.0.0.1:8080"
OFFICER = Actor(id="off-1", role=Role.AGENCY_OFFICER, agency_id="bina-marga")


def status_event(
    from_status: ReportStatus | None,
    to_status: ReportStatus,
    channel: Channel = Channel.SMS,
    **kw: object,
) -> ReportStatusChanged:
    return ReportStatusChanged.model_validate(
        {
            "report_id": uuid.uuid4(),
            "receipt_code": CODE,
            "channel": channel,
            "version": 2,
            "from_status": from_status,
            "to_status": to_status,
            "actor": OFFICER,
            **kw,
        }
    )


# --- which changes notify ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_status", "to_status", "expected"),
    [
        (None, S.RECEIVED, Template.RECEIVED),
        (S.RECEIVED, S.DISPATCHED, Template.DISPATCHED),
        (S.COORDINATION, S.DISPATCHED, Template.DISPATCHED),
        (S.DISPATCHED, S.IN_PROGRESS, Template.IN_PROGRESS),
        (S.AWAITING_VALIDATION, S.COMPLETED, Template.COMPLETED),
        (S.FIELD_VERIFICATION, S.COMPLETED, Template.COMPLETED),
        (S.AWAITING_VALIDATION, S.FOLLOWUP_REJECTED, Template.FOLLOWUP_REJECTED),
        (S.RECEIVED, S.REJECTED, Template.REJECTED),
        (S.COORDINATION, S.MERGED, Template.MERGED),
        (S.COMPLETED, S.IN_PROGRESS, Template.REOPENED),
        # internal steps stay internal
        (S.RECEIVED, S.COORDINATION, None),
        (S.DISPATCHED, S.COORDINATION, None),
        (S.IN_PROGRESS, S.AWAITING_VALIDATION, None),
        (S.AWAITING_VALIDATION, S.FIELD_VERIFICATION, None),
        # the agency resuming after a rejected follow-up: the reporter was just told
        (S.FOLLOWUP_REJECTED, S.IN_PROGRESS, None),
    ],
)
def test_which_changes_notify(
    from_status: ReportStatus | None, to_status: ReportStatus, expected: Template | None
) -> None:
    assert template_for(from_status, to_status) == expected


def test_staff_entered_reports_need_a_contact_and_erased_reporters_get_nothing() -> None:
    assert reach(False, False, False, False) is Reach.DELIVER  # status before intake: fine
    assert reach(True, False, False, False) is Reach.WAIT_FOR_INTAKE
    assert reach(True, True, False, False) is Reach.UNREACHABLE  # walk-in, no contact left
    assert reach(True, True, True, False) is Reach.DELIVER
    assert reach(False, True, False, True) is Reach.UNREACHABLE
    assert reach(True, True, True, True) is Reach.UNREACHABLE


# --- templates in both languages ----------------------------------------------------------------


@pytest.mark.parametrize("template", list(Template))
@pytest.mark.parametrize("channel", list(Channel))
def test_every_template_renders_in_both_languages(template: Template, channel: Channel) -> None:
    id_msg = render(template, channel, "id", CODE, BASE)
    en_msg = render(template, channel, "en", CODE, BASE)
    assert CODE in id_msg.body and CODE in en_msg.body
    assert id_msg.body != en_msg.body
    assert (id_msg.language, en_msg.language) == ("id", "en")
    family = family_of(channel)
    if family is ChannelFamily.EMAIL:
        assert id_msg.subject and en_msg.subject and CODE in id_msg.subject
    else:
        assert id_msg.subject is None
        assert len(id_msg.body) <= 200 and len(en_msg.body) <= 200  # short forms stay short
    if family is ChannelFamily.SMS:
        for msg in (id_msg, en_msg):
            assert is_gsm7(msg.body), msg.body
            assert sms_segments(msg.body) == 1, msg.body


def test_received_carries_receipt_code_and_tracking_link() -> None:
    url = f"https://aduan.example.go.id/track/{CODE}"
    for channel in Channel:
        msg = render(Template.RECEIVED, channel, "id", CODE, "https://aduan.example.go.id/")
        assert url in msg.body
    sms = render(Template.RECEIVED, Channel.SMS, "id", CODE, BASE)
    assert sms.body.startswith("Aduan: Laporan Anda sudah kami terima")
    assert "Pantau" in sms.body
    assert "Track" in render(Template.RECEIVED, Channel.SMS, "en", CODE, BASE).body


def test_language_defaults_to_indonesian() -> None:
    event = status_event(None, S.RECEIVED)
    for asked in (None, "id", "fr", ""):
        msg = compose(event, asked, BASE)
        assert msg is not None and msg.language == "id"
    msg = compose(event, "en", BASE)
    assert msg is not None and msg.language == "en"
    assert compose(status_event(S.RECEIVED, S.COORDINATION), "id", BASE) is None


# --- SMS length ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters count twice: 160 septets
        ("€" * 81, 2),
        ("a" * 152 + "€", 1),  # 154 septets: still a single 160-septet message
        ("Pembayaran: Rp 50.000 @ loket", 1),
        ("ü" * 160, 1),  # in the GSM-7 basic table
        ("é" * 70 + "ā", 2),  # ā is not GSM-7: UCS-2, 71 units
        ("Jalan rusak 🚧", 1),  # UCS-2, emoji = two units
        ("ā" * 70, 1),
        ("ā" * 71, 2),
        ("ā" * 134, 2),
        ("ā" * 135, 3),
        ("🚧" * 35, 1),  # 70 units
        ("🚧" * 36, 2),  # 72 units; pairs are not split across 67-unit parts
    ],
)
def test_sms_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def test_sms_extension_character_is_not_split_across_parts() -> None:
    # 152 plain septets then "€" (2 septets) would straddle the 153-septet boundary.
    assert sms_segments("a" * 152 + "€" + "a" * 10) == 2
    assert sms_segments("a" * 152 + "€" + "a" * 152) == 3
    assert sms_segments("a" * 153 + "a" * 153) == 2


def test_gsm7_detection() -> None:
    assert is_gsm7("Laporan ADU-7K3M-9QXZ: http://x/track_1 {ok} €")
    assert not is_gsm7("Laporan “selesai”")  # curly quotes are not GSM-7
    assert not is_gsm7("—")


# --- public channels ----------------------------------------------------------------------------

REPORT_TEXT = "Lubang besar di depan rumah Bu Siti, Jl. Kebon Sirih No. 12"
REASON = "Bukan wewenang: dilaporkan ulang oleh Pak Budi 081234567890"
NOTE = "Sudah ditambal oleh petugas Andi pada pukul 10.00"


@pytest.mark.parametrize("channel", sorted(PUBLIC_CHANNELS))
@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [
        (None, S.RECEIVED),
        (S.RECEIVED, S.REJECTED),
        (S.AWAITING_VALIDATION, S.COMPLETED),
        (S.AWAITING_VALIDATION, S.FOLLOWUP_REJECTED),
        (S.FIELD_VERIFICATION, S.COMPLETED),
    ],
)
def test_public_channels_get_a_private_dm_without_report_text(
    channel: Channel, from_status: ReportStatus | None, to_status: ReportStatus
) -> None:
    follow_up = FollowUp(follow_up_id=uuid.uuid4(), note=NOTE, officer=OFFICER)
    event = status_event(
        from_status, to_status, channel, reason=REASON, follow_up=follow_up, field_result=NOTE
    )
    for language in ("id", "en"):
        msg = compose(event, language, BASE)
        assert msg is not None
        assert msg.direct_message is True
        assert msg.family is ChannelFamily.CHAT
        for secret in (REPORT_TEXT, REASON, NOTE, "Siti", "Budi", "081234567890", "Andi"):
            assert secret not in msg.body
        assert CODE in msg.body


def test_only_email_explains_a_rejection_and_only_private_channels_are_not_dms() -> None:
    event = status_event(S.RECEIVED, S.REJECTED, Channel.EMAIL, reason="Di luar wilayah DKI")
    email = compose(event, "id", BASE)
    assert email is not None and "Alasan: Di luar wilayah DKI" in email.body
    assert email.direct_message is False
    for channel in (Channel.SMS, Channel.WHATSAPP, Channel.APP):
        msg = compose(status_event(S.RECEIVED, S.REJECTED, channel, reason="Di luar"), "id", BASE)
        assert msg is not None and "Di luar" not in msg.body
        assert msg.direct_message is False


def test_merged_reporters_follow_their_primary() -> None:
    from aduan_contracts.enums import ReportStatus as S
    from aduan_notifier.domain.policy import Template as T
    from aduan_notifier.domain.policy import template_for_event

    assert template_for_event(S.RECEIVED, S.MERGED) is T.MERGED
    assert template_for_event(S.MERGED, S.MERGED, S.COMPLETED) is T.COMPLETED
    assert template_for_event(S.MERGED, S.MERGED, S.IN_PROGRESS) is T.IN_PROGRESS
    assert template_for_event(S.MERGED, S.MERGED, S.AWAITING_VALIDATION) is None
    assert template_for_event(S.MERGED, S.MERGED, None) is None


# --- ask the reporter -----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("channel", list(Channel))
def test_a_question_links_to_where_it_is_answered(channel: Channel, language: str) -> None:
    """The e-mail carries the question and the answer link; every short form carries only
    the link (never the officer's text on an SMS or a public channel's DM) and stays one
    GSM-7 part with a production-length portal address."""
    question_id = uuid.UUID("6f1c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f")
    base = "https://aduan.jakarta.go.id"
    question = "Apakah lubangnya di lajur kiri atau kanan, dekat halte?"
    msg = render(
        Template.QUESTION,
        channel,
        "en" if language == "en" else "id",
        CODE,
        base,
        reason=question,
        question_id=question_id,
    )
    # The page in the message's language (Indonesian needs no parameter).
    link = f"{base}/q/{question_id.hex}" + ("?lang=en" if language == "en" else "")
    assert link in msg.body and CODE in msg.body
    if msg.family is ChannelFamily.EMAIL:
        assert question in msg.body and msg.subject and CODE in msg.subject
        assert f'<a href="{link}">' in email_html(msg)
    else:
        assert question not in msg.body
    if msg.family is ChannelFamily.SMS:
        assert is_gsm7(msg.body) and sms_segments(msg.body) == 1, msg.body
