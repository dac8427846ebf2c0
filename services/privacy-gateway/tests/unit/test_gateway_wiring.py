"""Composition without I/O: the AsyncAPI document and the token CLI."""

from __future__ import annotations

import json

import pytest
from faststream.specification import AsyncAPI

from aduan_contracts.enums import Role
from aduan_gateway.auth import decode_access_token
from aduan_gateway.bootstrap import build
from aduan_gateway.cli import main
from aduan_gateway.config import Settings


def test_asyncapi_documents_subscribers_and_public_projection() -> None:
    _, runtime = build(Settings(topic_namespace="docs"))
    doc = json.loads(AsyncAPI(runtime.broker, title="gateway").to_specification().to_json())
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {
        "docs.intake.report-submitted.v1",
        "docs.workflow.status-changed.v1",
        "docs.gateway.public-reports.v1",
        "docs.intake.reporter-keys.v1",
        "docs.gateway.erasure-requested.v1",
        "docs.workflow.commands.v1",
        "docs.gateway.reporter-questions.v1",
        "docs.gateway.categories.v1",
        # Issue 19: SLA reminders and breaches, flagged up the unit line.
        "docs.workflow.sla-events.v1",
    }
    schemas = doc["components"]["schemas"]
    assert {
        "PublicReportPublished",
        "PublicReportWithdrawn",
        "ReporterQuestionAsked",
        "CategoryPublished",
    } <= set(schemas)


def test_cli_prints_a_token_signed_with_the_settings_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        main(
            [
                "token",
                "--sub",
                "u1",
                "--role",
                "agency-officer",
                "--agency",
                "dbm",
                "--name",
                "Sari",
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.strip()
    principal = decode_access_token(Settings().jwt_secret, token)
    assert principal.role is Role.AGENCY_OFFICER
    assert principal.agency_id == "dbm"
    assert principal.subject == "u1"
