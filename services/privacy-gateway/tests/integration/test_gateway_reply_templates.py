"""Reply templates on the real gateway (PostgreSQL, Redis, Kafka): who may read and who may
write them (each staff role and a reporter against each endpoint), the reasons a template
is refused, and the stamp every change leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio

from aduan_contracts.enums import Role
from aduan_gateway.auth import issue_access_token
from aduan_gateway.bootstrap import build
from aduan_gateway.config import Settings
from aduan_gateway.entrypoints.api_templates import (
    DEMO_REPLY_TEMPLATES,
    ReplyTemplateBody,
    seed_demo_reply_templates,
    template_problems,
)
from aduan_kit.db import transaction
from aduan_kit.runtime import ServiceRuntime
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

STAFF = (Role.TICKET_ADMIN, Role.AGENCY_OFFICER, Role.VALIDATOR, Role.ADMINISTRATOR)


class Gateway:
    def __init__(self, client: httpx.AsyncClient, settings: Settings, runtime: ServiceRuntime):
        self.client, self.settings, self.runtime = client, settings, runtime

    def auth(self, role: Role) -> dict[str, str]:
        token = issue_access_token(
            self.settings.jwt_secret,
            f"{role.value}-1",
            role,
            agency_id="dinas-uji" if role is Role.AGENCY_OFFICER else None,
            name="Petugas Uji",
            reporter_key_id=uuid4() if role is Role.REPORTER else None,
        )
        return {"Authorization": f"Bearer {token}"}

    async def create(self, **overrides: Any) -> dict[str, Any]:
        r = await self.client.post(
            "/v1/reply-templates", json=body(**overrides), headers=self.auth(Role.ADMINISTRATOR)
        )
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "return",
        "title": "Bukan wewenang kami",
        "body_id": "Lokasi ini bukan wewenang instansi kami.",
        "body_en": "This location is not under our authority.",
    } | overrides


@pytest_asyncio.fixture
async def gateway(isolated: Isolation) -> AsyncIterator[Gateway]:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("gateway"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
    )
    app, runtime = build(settings)
    await app.state.gateway.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Gateway(client, settings, runtime)
    finally:
        await app.state.gateway.stop()


async def test_every_staff_role_reads_only_administrators_write(gateway: Gateway) -> None:
    gw = gateway
    existing = await gw.create()
    tid = existing["template_id"]
    # Endpoint -> (method, path, JSON body, status for an administrator).
    endpoints: dict[str, tuple[str, str, dict[str, Any] | None, int]] = {
        "list": ("GET", "/v1/reply-templates?kind=return", None, 200),
        "create": ("POST", "/v1/reply-templates", body(title="Baru"), 201),
        "edit": ("PUT", f"/v1/reply-templates/{tid}", body(title="Diubah"), 200),
        "retire": ("POST", f"/v1/reply-templates/{tid}/retire", None, 200),
    }
    for role in (*STAFF, Role.REPORTER):
        for name, (method, path, payload, admin_status) in endpoints.items():
            r = await gw.client.request(method, path, json=payload, headers=gw.auth(role))
            if role is Role.ADMINISTRATOR:
                expected = admin_status
            elif role is Role.REPORTER:
                expected = 403
            else:
                expected = 200 if name == "list" else 403
            assert r.status_code == expected, (role, name, r.text)
            if expected == 403:
                assert "reply templates" in r.json()["detail"], (role, name)
    # The refused writes changed nothing: the administrator's create, edit and retire only.
    listed = await gw.client.get(
        "/v1/reply-templates",
        params={"include_retired": "true"},
        headers=gw.auth(Role.ADMINISTRATOR),
    )
    assert sorted((t["title"], t["active"]) for t in listed.json()) == [
        ("Baru", True),
        ("Diubah", False),
    ]
    # Without a token at all: 401 for every endpoint.
    for method, path, payload, _ in endpoints.values():
        r = await gw.client.request(method, path, json=payload)
        assert r.status_code == 401, (method, path)


async def test_officers_see_active_templates_by_kind_administrators_the_retired_too(
    gateway: Gateway,
) -> None:
    gw = gateway
    kept = await gw.create(
        kind="question",
        title="Minta patokan",
        body_id="Di mana patokan terdekatnya, Pak/Bu?",
        body_en="What is the nearest landmark?",
    )
    gone = await gw.create(kind="question", title="Usang")
    await gw.create(
        kind="followup", title="Selesai", body_id="Sudah diperbaiki.", body_en="Repaired."
    )
    retired = await gw.client.post(
        f"/v1/reply-templates/{gone['template_id']}/retire", headers=gw.auth(Role.ADMINISTRATOR)
    )
    assert retired.status_code == 200
    assert retired.json()["active"] is False

    officer = await gw.client.get(
        "/v1/reply-templates", params={"kind": "question"}, headers=gw.auth(Role.AGENCY_OFFICER)
    )
    assert [t["template_id"] for t in officer.json()] == [kept["template_id"]]
    # Asking for the retired ones changes nothing for an officer.
    still = await gw.client.get(
        "/v1/reply-templates",
        params={"kind": "question", "include_retired": "true"},
        headers=gw.auth(Role.VALIDATOR),
    )
    assert [t["template_id"] for t in still.json()] == [kept["template_id"]]
    admin = await gw.client.get(
        "/v1/reply-templates",
        params={"include_retired": "true"},
        headers=gw.auth(Role.ADMINISTRATOR),
    )
    assert {t["title"] for t in admin.json()} == {"Minta patokan", "Usang", "Selesai"}
    assert [t["kind"] for t in admin.json()] == ["followup", "question", "question"]

    unknown = await gw.client.get(
        "/v1/reply-templates", params={"kind": "praise"}, headers=gw.auth(Role.VALIDATOR)
    )
    assert unknown.status_code == 422

    # An edit with `active: true` brings it back, stamped with who did it.
    back = await gw.client.put(
        f"/v1/reply-templates/{gone['template_id']}",
        json=body(
            kind="question",
            title="Usang lagi",
            active=True,
            body_id="Apakah masalahnya masih ada?",
            body_en="Is the problem still there?",
        ),
        headers=gw.auth(Role.ADMINISTRATOR),
    )
    assert back.status_code == 200, back.text
    assert back.json()["active"] is True
    assert back.json()["updated_by"] == "administrator-1"
    assert back.json()["updated_at"] >= gone["updated_at"]


async def test_refusals_name_every_problem(gateway: Gateway) -> None:
    gw = gateway
    admin = gw.auth(Role.ADMINISTRATOR)

    async def refused(payload: dict[str, Any]) -> dict[str, str]:
        r = await gw.client.post("/v1/reply-templates", json=payload, headers=admin)
        assert r.status_code == 422, r.text
        return {e["loc"][-1]: e["msg"] for e in r.json()["detail"]}

    blank = await refused(body(title="   ", body_id="", body_en=" \n "))
    assert blank == {
        "title": "must not be blank",
        "body_id": "must not be blank",
        "body_en": "must not be blank",
    }
    too_long = await refused(body(title="J" * 121, body_en="x" * 2001))
    assert too_long == {
        "title": "at most 120 characters",
        "body_en": "at most 2000 characters for a return",
    }
    # A question must fit what the gateway accepts as a question (10-1000 characters).
    question = await refused(body(kind="question", body_id="Kapan?", body_en="y" * 1001))
    assert question == {
        "body_id": "at least 10 characters for a question",
        "body_en": "at most 1000 characters for a question",
    }
    kind = await refused(body(kind="praise"))
    assert set(kind) == {"kind"} and "followup, return, reject, question" in kind["kind"]
    missing = await gw.client.post("/v1/reply-templates", json={"kind": "reject"}, headers=admin)
    assert missing.status_code == 422
    extra = await gw.client.post("/v1/reply-templates", json=body(secret="x"), headers=admin)
    assert extra.status_code == 422

    # The same checks on an edit; an unknown id is a 404, and nothing was created above.
    tid = (await gw.create())["template_id"]
    edit = await gw.client.put(f"/v1/reply-templates/{tid}", json=body(title=""), headers=admin)
    assert edit.status_code == 422
    assert edit.json()["detail"][0]["loc"] == ["body", "title"]
    for method, path in (
        ("PUT", f"/v1/reply-templates/{uuid4()}"),
        ("POST", f"/v1/reply-templates/{uuid4()}/retire"),
    ):
        r = await gw.client.request(method, path, json=body(), headers=admin)
        assert r.status_code == 404, (method, path)
    listed = await gw.client.get(
        "/v1/reply-templates", params={"include_retired": "true"}, headers=admin
    )
    assert [UUID(t["template_id"]) for t in listed.json()] == [UUID(tid)]
    # Surrounding blanks are trimmed, not kept.
    trimmed = await gw.create(title="  Rapi  ", body_id="  Teks rapi.  ")
    assert (trimmed["title"], trimmed["body_id"]) == ("Rapi", "Teks rapi.")


async def test_demo_templates_are_seeded_once(gateway: Gateway) -> None:
    async with transaction(gateway.runtime.sessions) as session:
        first = await seed_demo_reply_templates(session)
    async with transaction(gateway.runtime.sessions) as session:
        again = await seed_demo_reply_templates(session)
    assert len(first) == len(DEMO_REPLY_TEMPLATES) and again == []
    kinds = [k for k, *_ in DEMO_REPLY_TEMPLATES]
    for kind, title, body_id, body_en in DEMO_REPLY_TEMPLATES:
        demo = ReplyTemplateBody(kind=kind, title=title, body_id=body_id, body_en=body_en)
        assert template_problems(demo) == [], title
    assert all(2 <= kinds.count(k) <= 3 for k in ("followup", "return", "reject", "question"))
    listed = await gateway.client.get("/v1/reply-templates", headers=gateway.auth(Role.VALIDATOR))
    assert len(listed.json()) == len(DEMO_REPLY_TEMPLATES)
