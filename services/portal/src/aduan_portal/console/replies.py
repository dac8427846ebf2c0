"""Reply templates: the administrators' page that keeps them (`/console/admin/templates`)
and the templates a report page offers in its follow-up, return, reject and question
forms. The gateway keeps them (`/v1/reply-templates`) and decides who may change them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import FormData

from aduan_kit.logging import get_logger
from aduan_portal.console.core import (
    Console,
    explain,
    optional_list,
    signed_in,
    text_field,
)
from aduan_portal.gateway_client import AdminUser, GatewayClient, GatewayError

__all__ = ["TEMPLATE_KINDS", "ReplyTemplate", "offered_templates", "router", "wanted_kinds"]

log = get_logger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)

TemplateKind = Literal["followup", "return", "reject", "question"]
TEMPLATE_KINDS: tuple[TemplateKind, ...] = ("followup", "return", "reject", "question")
BACK = "/console/admin/templates"


class ReplyTemplate(BaseModel):
    """A reply template as the gateway returns it (`ReplyTemplateView`). Unknown fields
    and kinds are let through, as for the other gateway models: a kind added later is
    just not offered here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    template_id: UUID
    kind: str
    title: str
    body_id: str
    body_en: str
    active: bool
    updated_by: str
    updated_at: datetime

    def body(self, lang: str) -> str:
        return self.body_en if lang == "en" else self.body_id


# --- on a report ---------------------------------------------------------------------------


def wanted_kinds(role: str, status: str, can_ask: bool) -> set[str]:
    """The kinds of template the report page's forms take, for this role and status (the
    forms of report.html: reject, return, follow-up, reject-follow-up, question)."""
    kinds: set[str] = {"question"} if can_ask else set()
    if role == "ticket-admin" and status in ("received", "coordination"):
        kinds.add("reject")
    if role == "agency-officer" and status == "dispatched":
        kinds.add("return")
    if role == "agency-officer" and status == "in_progress":
        kinds.add("followup")
    if role == "validator" and status in ("awaiting_validation", "field_verification"):
        kinds.add("reject")
    return kinds


async def offered_templates(c: Console, kinds: set[str]) -> dict[str, list[ReplyTemplate]]:
    """The active templates of these kinds, by kind. A convenience: when the gateway
    cannot say, the forms are shown without a picker (no note, nothing is lost)."""
    if not kinds:
        return {}
    try:
        r = await c.api("GET", "/v1/reply-templates")
        found = GatewayClient.parse_list(ReplyTemplate, r)
    except GatewayError:
        return {}
    by_kind: dict[str, list[ReplyTemplate]] = {}
    for tpl in found:
        if tpl.active and tpl.kind in kinds:
            by_kind.setdefault(tpl.kind, []).append(tpl)
    return by_kind


# --- administration ------------------------------------------------------------------------


def _body(form: FormData, active: bool | None) -> dict[str, object]:
    """The gateway's body from the form; the gateway names every problem (422)."""
    body: dict[str, object] = {
        name: text_field(form, name) for name in ("kind", "title", "body_id", "body_en")
    }
    if active is not None:
        body["active"] = active
    return body


@router.get("/admin/templates")
async def templates_page(request: Request) -> Response:
    c = await signed_in(request, "administrator")
    notes: list[str] = []
    try:
        r = await c.api("GET", "/v1/reply-templates", params={"include_retired": "true"})
        listed = GatewayClient.parse_list(ReplyTemplate, r)
    except GatewayError as exc:
        notes.append(c.t["unavailable_list"].format(detail=exc.detail))
        listed = []
    users: list[AdminUser] = await optional_list(c, "/v1/admin/users", AdminUser, notes)
    return await c.page(
        "admin_templates.html",
        templates=listed,
        kinds=TEMPLATE_KINDS,
        editors={u.user_id: u.display_name or u.username for u in users},
        notes=notes,
    )


@router.post("/admin/templates")
async def create_template(request: Request) -> Response:
    c = await signed_in(request, "administrator")
    form = await c.checked_form()
    body = _body(form, None)
    try:
        r = await c.api("POST", "/v1/reply-templates", json=body)
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), BACK)
    made = GatewayClient.parse(ReplyTemplate, r)
    log.info("console reply template created", template_id=str(made.template_id))
    text = c.t["template_created"].format(title=made.title)
    return await c.flash_and_go("success", text, f"{BACK}#template-{made.template_id}")


@router.post("/admin/templates/{template_id}")
async def edit_template(request: Request, template_id: UUID) -> Response:
    c = await signed_in(request, "administrator")
    form = await c.checked_form()
    body = _body(form, text_field(form, "active") == "true")
    try:
        r = await c.api("PUT", f"/v1/reply-templates/{template_id}", json=body)
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), f"{BACK}#template-{template_id}")
    saved = GatewayClient.parse(ReplyTemplate, r)
    log.info("console reply template changed", template_id=str(template_id))
    text = c.t["template_saved"].format(title=saved.title)
    return await c.flash_and_go("success", text, f"{BACK}#template-{template_id}")


@router.post("/admin/templates/{template_id}/retire")
async def retire_template(request: Request, template_id: UUID) -> Response:
    c = await signed_in(request, "administrator")
    await c.checked_form()
    try:
        r = await c.api("POST", f"/v1/reply-templates/{template_id}/retire")
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), BACK)
    retired = GatewayClient.parse(ReplyTemplate, r)
    log.info("console reply template retired", template_id=str(template_id))
    text = c.t["template_retired_ok"].format(title=retired.title)
    return await c.flash_and_go("success", text, f"{BACK}#template-{template_id}")
