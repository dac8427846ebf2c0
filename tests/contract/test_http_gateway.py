"""The gateway's shared HTTP responses (aduan_contracts.http_gateway): the gateway answers
with them and the portal parses with them; readers are tolerant, the document is strict."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from aduan_contracts.http_gateway import AreaRouteView, GrantView, UnitView
from aduan_gateway.bootstrap import build as build_gateway
from aduan_gateway.config import Settings as GatewaySettings
from aduan_portal import gateway_client

GRANT = {
    "grant_id": str(uuid.uuid4()),
    "report_id": str(uuid.uuid4()),
    "grantee": "u-budi",
    "granted_by": "validator-id",
    "reason": None,
    "created_at": "2026-11-20T03:00:00Z",
    "expires_at": "2026-11-21T03:00:00Z",
    "revoked_at": None,
    "revoked_by": None,
    "active": True,
}


def test_the_portal_parses_with_the_contract_models() -> None:
    assert gateway_client.Grant is GrantView
    assert gateway_client.Unit is UnitView


def test_a_reader_ignores_fields_the_gateway_adds_later() -> None:
    grant = GrantView.model_validate(GRANT | {"added_later": "x"})
    assert "added_later" not in grant.model_dump()


def test_a_reader_may_build_without_the_always_sent_fields() -> None:
    unit = UnitView.model_validate({"unit_id": "kec-a", "name": "A", "kind": "kecamatan"})
    assert (unit.parent_id, unit.area_codes, unit.depth) == (None, (), 0)
    with pytest.raises(ValidationError):
        UnitView.model_validate({"unit_id": "kec-a", "kind": "kecamatan"})  # no name


def test_area_routes_stay_strict_because_they_are_also_input() -> None:
    with pytest.raises(ValidationError):
        AreaRouteView.model_validate({"area_code": "31.71", "agency_id": "a", "x": 1})


def test_the_gateway_document_lists_always_sent_fields_as_required_without_default() -> None:
    app, _ = build_gateway(GatewaySettings(topic_namespace="", environment="development"))
    schemas = app.openapi()["components"]["schemas"]
    grant = schemas["GrantView"]
    assert grant["required"] == list(grant["properties"])  # every field, in field order
    assert "default" not in grant["properties"]["revoked_at"]
    unit = schemas["UnitView"]
    assert {"agency_id", "parent_id", "area_codes", "depth"} <= set(unit["required"])
    assert "default" not in unit["properties"]["depth"]
    assert "x-aduan-always-sent" not in str(schemas)
    # A plain default stays optional in the document (the gateway's own choice).
    assert "token_type" not in schemas["TokenPair"]["required"]
