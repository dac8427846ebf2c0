"""Contract rules every event and command must keep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from aduan_contracts import commands, decode, encode, events
from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.envelope import Envelope
from aduan_contracts.topics import ALL_TOPICS, REPORT_INTAKE, WORKFLOW_COMMANDS
from aduan_contracts.values import Actor, normalize_receipt_code


def all_messages() -> list[type[Envelope]]:
    found = []
    for module in (events, commands):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, Envelope):
                found.append(obj)
    return found


@pytest.mark.parametrize("model", all_messages(), ids=lambda m: m.__name__)
def test_every_message_is_frozen_and_refuses_unknown_fields(model: type[BaseModel]) -> None:
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"


def test_topic_names_follow_service_event_version() -> None:
    owners = {"intake", "workflow", "gateway", "notifier"}
    for spec in ALL_TOPICS:
        service, _, version = spec.name.split(".")
        assert service in owners, spec.name
        assert version.startswith("v") and version[1:].isdigit(), spec.name
    assert len({s.name for s in ALL_TOPICS}) == len(ALL_TOPICS)


def test_round_trip_through_the_topic_payload_type() -> None:
    event = events.ReportSubmitted(
        report_id=uuid.uuid4(),
        receipt_code="ADU-7K3F-9QXM",
        channel=Channel.WEB,
        channel_message_id="m-1",
        text="Lampu jalan mati",
        received_at=datetime.now(UTC),
    )
    back = decode(REPORT_INTAKE, encode(event))
    assert back == event
    assert back.privacy is Privacy.PRIVATE  # private unless the reporter chose public


def test_command_union_is_discriminated() -> None:
    cmd = commands.ReturnReport(
        report_id=uuid.uuid4(),
        actor=Actor(id="o-1", role=Role.AGENCY_OFFICER, agency_id="dbm"),
        reason="bukan wewenang kami",
    )
    assert isinstance(decode(WORKFLOW_COMMANDS, encode(cmd)), commands.ReturnReport)


def test_bad_receipt_code_and_naive_time_are_refused() -> None:
    with pytest.raises(ValidationError):
        events.ReportSubmitted(
            report_id=uuid.uuid4(),
            receipt_code="123",
            channel=Channel.SMS,
            channel_message_id="x",
            text="t",
            received_at=datetime.now(UTC),
        )
    with pytest.raises(ValidationError, match="timezone"):
        events.CommandAccepted(
            command_id=uuid.uuid4(),
            report_id=uuid.uuid4(),
            status=ReportStatus.RECEIVED,
            version=1,
            occurred_at=datetime(2026, 1, 1),
        )


def test_every_status_has_the_indonesian_label_officers_see() -> None:
    assert ReportStatus.FOLLOWUP_REJECTED.label_id == "TL Ditolak"
    assert ReportStatus.FIELD_VERIFICATION.label_id == "Verifikasi Lapangan"
    assert all(s.label_id and s.label_en for s in ReportStatus)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("ADU-7K2M-9X10", "ADU-7K2M-9X10"),
        ("adu-7k2m-9x10", "ADU-7K2M-9X10"),
        ("adu 7k2m 9x1o", "ADU-7K2M-9X10"),  # read out: "o" for zero
        ("7K2M9XI0", "ADU-7K2M-9X10"),  # without the prefix, "I" for one
        ("ADU-7K2M-9X1", None),
        ("ADU-UUUU-0000", None),  # U is not Crockford base32
        ("d3b07384-d9a0-4c1f-8a1e-1f2e3d4c5b6a", None),
        ("", None),
    ],
)
def test_receipt_codes_typed_or_read_aloud_are_recognised(typed: str, code: str | None) -> None:
    assert normalize_receipt_code(typed) == code
