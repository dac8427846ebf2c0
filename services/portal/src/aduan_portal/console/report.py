"""One report: its page, its photos, and everything an officer does on it (lifecycle
actions, follow-ups, photo access, identity reveal, assignment, internal notes, questions
to the reporter, moderation of the public face)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from aduan_contracts.actions import action as action_table
from aduan_kit.catalogue import suggest_category
from aduan_kit.logging import get_logger
from aduan_portal.console.core import (
    ROLE_HOME,
    Console,
    LoginRequired,
    agency_options,
    console_map,
    explain,
    no_store,
    optional_list,
    signed_in,
    state_of,
    status_label,
    text_field,
    uuid_or_none,
    version_field,
)
from aduan_portal.console.i18n import N_
from aduan_portal.console.replies import offered_templates, wanted_kinds
from aduan_portal.console.units import UnitRow, routing_reason_text, unit_options
from aduan_portal.console_session import COOKIE_NAME, DRAFT_COOKIE_NAME
from aduan_portal.gateway_client import (
    ActionResult,
    Agency,
    Assignment,
    Category,
    Conversation,
    Duplicate,
    GatewayClient,
    GatewayError,
    GatewayFailure,
    Grant,
    Note,
    Officer,
    OfficerReport,
)

__all__ = ["ACTIONS", "DRAFT_FIELDS", "Action", "router"]

log = get_logger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# Free-text fields kept when an action is cut off by an expired session (the rest of a
# form is quick to redo; a paragraph of reasons is not).
DRAFT_FIELDS = ("note", "reason", "result", "question")


def _draft_fields(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.multi_items() if k in DRAFT_FIELDS and isinstance(v, str)}


async def _cut_off(
    exc: LoginRequired,
    sid: str,
    request: Request,
    report_id: uuid.UUID,
    form: FormData | None,
) -> LoginRequired:
    """The action did not happen: keep the form's text for after signing in again."""
    if form is None:
        form = await request.form()
    here = f"/console/reports/{report_id}"
    action = request.url.path.removeprefix(here + "/")
    draft = await state_of(request).store.keep_draft(sid, f"{here}/{action}", _draft_fields(form))
    return LoginRequired("expired_action", here, draft)


async def _console_for_form(request: Request, report_id: uuid.UUID) -> tuple[Console, FormData]:
    """The console and the checked form of a report action. When the session has
    expired (or is refused later, see `_cut_off`), the action does not happen: the
    officer is told so after signing in again, back on the report with their text."""
    sid = request.cookies.get(COOKIE_NAME)
    try:
        c = await signed_in(request)
    except LoginRequired:
        if not sid:
            raise LoginRequired("required", f"/console/reports/{report_id}") from None
        raise await _cut_off(LoginRequired("expired"), sid, request, report_id, None) from None
    return c, await c.checked_form()


# --- the action table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A report action: who may do it, the gateway path, and how the form becomes a body
    (None: a required field is missing; the str is the message key to show)."""

    role: str
    gateway_path: str
    body: Callable[[FormData], dict[str, Any] | str]
    # The report leaves the actor's hands (an agency returning it is no longer assigned and
    # may not open it): after it, the actor lands on their queue, not on a page they can
    # no longer read ("success" and "not found" shown together, found by trying it).
    hands_over: bool = False


def _reason_body(form: FormData) -> dict[str, Any] | str:
    reason = text_field(form, "reason")
    return {"reason": reason} if len(reason) >= 3 else N_("reason_required_msg")


def _note_body(form: FormData) -> dict[str, Any] | str:
    note = text_field(form, "note")
    return {"note": note or None}


def _dispatch_body(form: FormData) -> dict[str, Any] | str:
    agency = text_field(form, "agency_id")
    if not agency:
        return N_("agency_required_msg")
    return {
        "agency_id": agency,
        "category": text_field(form, "category") or None,
        "note": text_field(form, "note") or None,
    }


def _merge_body(form: FormData) -> dict[str, Any] | str:
    # A typed id wins over a picked suggestion: the officer typed it on purpose.
    raw = text_field(form, "primary_report_id_typed") or text_field(form, "primary_report_id")
    target = uuid_or_none(raw)
    return {"primary_report_id": str(target)} if target else N_("merge_target_msg")


def _field_result_body(form: FormData) -> dict[str, Any] | str:
    confirmed = text_field(form, "confirmed")
    result = text_field(form, "result")
    if confirmed not in ("yes", "no") or len(result) < 3:
        return N_("fv_required_msg")
    return {"confirmed": confirmed == "yes", "result": result}


def _from_table(name: str, body: Callable[[FormData], dict[str, Any] | str]) -> Action:
    """Who may do it and whether it hands the report over come from the one action table
    (`aduan_contracts.actions`, which workflow decides with and the gateway checks); the
    console adds only how its form becomes the request body."""
    spec = action_table(name)
    return Action(spec.role.value, spec.name, body, hands_over=spec.hands_over)


# Console action name -> the action (the names are the gateway's path segments, but for
# the field verification's result, whose path has a slash).
ACTIONS: dict[str, Action] = {
    "dispatch": _from_table("dispatch", _dispatch_body),
    "coordinate": _from_table("coordinate", _note_body),
    "reject": _from_table("reject", _reason_body),
    "merge": _from_table("merge", _merge_body),
    "accept": _from_table("accept", lambda _: {}),
    "return": _from_table("return", _reason_body),
    "resume": _from_table("resume", lambda _: {}),
    "validate": _from_table("validate", _note_body),
    "reject-follow-up": _from_table("reject-follow-up", _reason_body),
    "field-verification": _from_table("field-verification", _note_body),
    "field-verification-result": _from_table("field-verification/result", _field_result_body),
}


# --- the report page -----------------------------------------------------------------------


@router.get("/reports/{report_id}")
async def report_page(request: Request, report_id: uuid.UUID) -> Response:
    c = await signed_in(request)
    try:
        report = GatewayClient.parse(OfficerReport, await c.api("GET", f"/v1/reports/{report_id}"))
    except GatewayError as exc:
        return await c.page(
            "error.html",
            exc.status if exc.status in (403, 404) else 502,
            message=explain(exc, c.t),
        )
    applying, changed = c.session.awaiting(str(report_id), report.status_version)
    if changed:
        await c.store.save(c.session)
    notes: list[str] = []
    draft = await c.store.take_draft(
        request.cookies.get(DRAFT_COOKIE_NAME),
        c.session.user_id,
        f"/console/reports/{report_id}/",
    )
    if draft is not None:
        notes.append(c.t["draft_restored"])
    duplicates: list[Duplicate] = []
    agencies: list[Agency] = []
    dispatch_units: list[UnitRow] = []
    categories: list[Category] = []
    grants: list[Grant] = []
    officers: list[Officer] = []
    internal_notes = await optional_list(c, f"/v1/reports/{report_id}/notes", Note, notes)
    if c.role == "ticket-admin" and report.status in ("received", "coordination"):
        duplicates = await optional_list(
            c,
            f"/v1/reports/{report_id}/duplicates",
            Duplicate,
            notes,
            N_("duplicates_unavailable"),
        )
        agencies = await agency_options(c)
        dispatch_units = await unit_options(c)
        try:
            categories = await c.gateway.categories()
        except GatewayFailure:
            categories = []
    if c.role == "validator":
        grants = await optional_list(c, f"/v1/reports/{report_id}/photo-grants", Grant, notes)
    if c.role in ("validator", "agency-officer"):
        # The agency's officers: grantees for a validator, colleagues to assign for the
        # agency's own officer.
        officers = await optional_list(c, f"/v1/reports/{report_id}/officers", Officer, notes)
    conversation: Conversation | None = None
    try:
        conversation = GatewayClient.parse(
            Conversation, await c.api("GET", f"/v1/reports/{report_id}/questions")
        )
    except GatewayError as exc:
        notes.append(c.t["unavailable_list"].format(detail=exc.detail))
    assignment: Assignment | None = None
    if c.role == "agency-officer" and report.agency_id == c.session.agency_id:
        # Only the unit the report is assigned to assigns it (a head reading a sub-unit's
        # report does not).
        try:
            assignment = GatewayClient.parse(
                Assignment, await c.api("GET", f"/v1/reports/{report_id}/assignee")
            )
        except GatewayError as exc:
            notes.append(c.t["unavailable_list"].format(detail=exc.detail))
    # Reply templates for the forms this page shows (none while a change is applied: the
    # forms are hidden then).
    kinds = wanted_kinds(c.role, report.status, bool(conversation and conversation.can_ask))
    reply_templates = await offered_templates(c, kinds) if not applying else {}
    if not categories and any(e.actor_role == "system" and e.reason for e in report.timeline):
        # A system reason names a category: say it by name (its code if this fails).
        try:
            categories = await c.gateway.categories()
        except GatewayFailure:
            categories = []
    # A report with no category (free-text channels leave it to triage): the catalogue's
    # keywords may suggest one. Shown and pre-chosen in the dispatch form, sent only when
    # the ticket-admin dispatches: the suggestion is theirs to confirm or change.
    suggested = (
        suggest_category(((x.code, x.keywords) for x in categories if x.active), report.text)
        if agencies and report.category is None
        else None
    )
    # Units (issue 19): the report's unit and its escalations by name, when it has any.
    unit_names: dict[str, str] = {}
    if (
        report.unit_id
        or report.escalations
        or any(e.escalation or e.routing_reason for e in report.timeline)
    ):
        unit_names = {row.unit_id: row.name for row in await unit_options(c)}
    response = await c.page(
        "report.html",
        report=report,
        unit_names=unit_names,
        routing_text=lambda reason: routing_reason_text(
            reason, c.t, unit_names, {x.code: x for x in categories}, c.lang
        ),
        suggested_category=suggested,
        console_map=console_map(state_of(request).settings),
        kept=lambda form, field_name: draft.value(form, field_name) if draft else "",
        applying=applying,
        duplicates=duplicates,
        agencies=agencies,
        dispatch_units=dispatch_units,
        categories=categories,
        grants=grants,
        officers=officers,
        internal_notes=internal_notes,
        conversation=conversation,
        assignment=assignment,
        reply_templates=reply_templates,
        officer_names={
            o.user_id: f"{o.display_name or o.username} ({o.username})" for o in officers
        },
        notes=notes,
        category_names={x.code: (x.name_en if c.lang == "en" else x.name_id) for x in categories},
    )
    if request.cookies.get(DRAFT_COOKIE_NAME):
        response.delete_cookie(DRAFT_COOKIE_NAME, path="/console")
    return response


_PREPARING_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="320" viewBox="0 0 480 320">'
    '<rect width="480" height="320" fill="#e8e8e8"/><text x="240" y="160" font-size="18" '
    'text-anchor="middle" font-family="sans-serif" fill="#333">{text}</text></svg>'
)


@router.get("/reports/{report_id}/photos/{sha256}")
async def photo(
    request: Request, report_id: uuid.UUID, sha256: str, size: str = "full", original: bool = False
) -> Response:
    """The photo bytes, fetched with the officer's token: the gateway decides (and logs).
    Always the copy with faces and plates blurred (issue 20); `size=thumb` (480 px) for
    lists. While it is being prepared, a placeholder picture that says so (202). `original`
    asks for the unblurred photo: the gateway gives it only to a validator who opened the
    report's photos (audited), and refuses anyone else with the reason."""
    c = await signed_in(request)
    if not _SHA256.match(sha256) or size not in ("full", "large", "thumb"):
        return no_store(Response("not found", status_code=404, media_type="text/plain"))
    try:
        wanted = "original=true" if original else f"size={size}"
        r = await c.api("GET", f"/v1/reports/{report_id}/photos/{sha256}?{wanted}")
    except GatewayError as exc:
        return no_store(
            Response(explain(exc, c.t), status_code=exc.status, media_type="text/plain")
        )
    if r.status_code == 202:
        text = html.escape(c.t["photo_preparing"])
        placeholder = Response(
            _PREPARING_SVG.format(text=text), status_code=202, media_type="image/svg+xml"
        )
        placeholder.headers["Retry-After"] = r.headers.get("retry-after", "3")
        return no_store(placeholder)
    media_type = r.headers.get("content-type", "")
    if not media_type.startswith("image/"):
        media_type = "application/octet-stream"
    response = Response(r.content, media_type=media_type)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- actions -------------------------------------------------------------------------------


@router.post("/reports/{report_id}/actions/{name}")
async def act(request: Request, report_id: uuid.UUID, name: str) -> Response:
    c, form = await _console_for_form(request, report_id)
    here = f"/console/reports/{report_id}"
    action = ACTIONS.get(name)
    if action is None:
        return await c.page("error.html", 404, message=c.t["err_not_found"].format(detail=name))
    c.require(action.role)
    body = action.body(form)
    if isinstance(body, str):
        return await c.flash_and_go("error", c.t[body], here)
    try:
        r = await c.api(
            "POST",
            f"/v1/reports/{report_id}/{action.gateway_path}",
            json={**body, **version_field(form)},
        )
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), here)
    except LoginRequired as exc:  # the refresh was refused: signed out meanwhile
        raise await _cut_off(exc, c.session.session_id, request, report_id, form) from None
    result = GatewayClient.parse(ActionResult, r)
    c.session.expect(str(report_id), result.version)
    log.info("console action", report_id=str(report_id), action=name, role=c.role)
    return await c.flash_and_go(
        "success",
        c.t["action_ok"].format(status=status_label(result.status, c.lang)),
        ROLE_HOME[c.role] if action.hands_over else here,
    )


@router.post("/reports/{report_id}/follow-ups")
async def follow_up(request: Request, report_id: uuid.UUID) -> Response:
    c, form = await _console_for_form(request, report_id)
    c.require("agency-officer")
    max_bytes = state_of(request).settings.console_max_photo_bytes
    here = f"/console/reports/{report_id}"
    note = text_field(form, "note")
    if len(note) < 3:
        return await c.flash_and_go("error", c.t["note_required_msg"], here)
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for item in form.getlist("photos"):
        if not isinstance(item, UploadFile) or not item.filename:
            continue  # an empty file input still sends a nameless part
        data = await item.read(max_bytes + 1)
        if len(data) > max_bytes:
            return await c.flash_and_go(
                "error", c.t["photo_too_big"].format(name=item.filename[:80]), here
            )
        if data:
            files.append(
                (
                    "photos",
                    (item.filename[:200], data, item.content_type or "application/octet-stream"),
                )
            )
    data_fields: dict[str, str] = {"note": note}
    version = version_field(form)
    if version:
        data_fields["expected_version"] = str(version["expected_version"])
    try:
        r = await c.api(
            "POST",
            f"/v1/reports/{report_id}/follow-ups",
            data=data_fields,
            files=files or None,
        )
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), here)
    except LoginRequired as exc:
        raise await _cut_off(exc, c.session.session_id, request, report_id, form) from None
    result = GatewayClient.parse(ActionResult, r)
    c.session.expect(str(report_id), result.version)
    log.info("console follow-up", report_id=str(report_id), photos=len(files))
    return await c.flash_and_go(
        "success", c.t["action_ok"].format(status=status_label(result.status, c.lang)), here
    )


# --- photo access --------------------------------------------------------------------------


@router.post("/reports/{report_id}/grants")
async def grant(request: Request, report_id: uuid.UUID) -> Response:
    c = await signed_in(request)
    form = await c.checked_form()
    c.require("validator")
    here = f"/console/reports/{report_id}"
    # Picked from the agency's officers, or typed for anyone else; never both at odds.
    picked, typed = text_field(form, "officer"), text_field(form, "grantee")
    if picked and typed and picked != typed:
        return await c.flash_and_go("error", c.t["grant_choose_one"], here)
    grantee = typed or picked
    hours = text_field(form, "hours")
    if not grantee or not hours.isdigit() or int(hours) < 1:
        return await c.flash_and_go("error", c.t["grant_required_msg"], here)
    body: dict[str, Any] = {"grantee": grantee, "hours": int(hours)}
    if reason := text_field(form, "reason"):
        body["reason"] = reason
    try:
        await c.api("POST", f"/v1/reports/{report_id}/photo-grants", json=body)
    except GatewayError as exc:
        # The gateway's two grant refusals, in the console's language (found by trying it:
        # the Indonesian page showed them in English).
        detail = str(exc.detail or "")
        if exc.status == 422 and detail.startswith("no self-grants"):
            return await c.flash_and_go("error", c.t["grant_self_refused"], here)
        if exc.status == 422 and detail.startswith("grantee is not an officer"):
            return await c.flash_and_go("error", c.t["grant_not_agency_officer"], here)
        return await c.flash_and_go("error", explain(exc, c.t), here)
    log.info("console photo grant", report_id=str(report_id))
    return await c.flash_and_go("success", c.t["grant_ok"].format(grantee=grantee), here)


@router.post("/reports/{report_id}/photos/open")
async def open_photos(request: Request, report_id: uuid.UUID) -> Response:
    """The validator opens a private report's citizen photos for themselves: an explicit
    action with a reason (audited by the gateway), not a grant to oneself."""
    c = await signed_in(request)
    form = await c.checked_form()
    c.require("validator")
    here = f"/console/reports/{report_id}"
    reason = text_field(form, "reason")
    if len(reason) < 10:
        return await c.flash_and_go("error", c.t["open_photos_reason_msg"], here)
    try:
        await c.api("POST", f"/v1/reports/{report_id}/photos/open", json={"reason": reason})
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), here)
    log.info("console photos opened", report_id=str(report_id))
    return await c.flash_and_go("success", c.t["open_photos_ok"], here)


@router.post("/reports/{report_id}/grants/{grant_id}/revoke")
async def revoke(request: Request, report_id: uuid.UUID, grant_id: uuid.UUID) -> Response:
    c = await signed_in(request)
    await c.checked_form()
    c.require("validator")
    here = f"/console/reports/{report_id}"
    try:
        await c.api("DELETE", f"/v1/reports/{report_id}/photo-grants/{grant_id}")
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), here)
    log.info("console photo revoke", report_id=str(report_id))
    return await c.flash_and_go("success", c.t["revoke_ok"], here)


# --- identity, assignment, notes, questions ------------------------------------------------


@router.post("/reports/{report_id}/reveal")
async def reveal(request: Request, report_id: uuid.UUID) -> Response:
    """An administrator opens the reporter's identity, with a reason (SPEC Revision 2).
    Shown on this one response only: never stored in the session, never logged here
    (the gateway's access log keeps who, when and why)."""
    c = await signed_in(request)
    form = await c.checked_form()
    c.require("administrator")
    here = f"/console/reports/{report_id}"
    reason = text_field(form, "reason")
    if len(reason) < 10:
        return await c.flash_and_go("error", c.t["reveal_reason_msg"], here)
    try:
        r = await c.api(
            "GET", f"/v1/reports/{report_id}/reporter-identity", params={"reason": reason}
        )
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), here)
    identity = r.json()
    log.info("console identity revealed", report_id=str(report_id))
    return await c.page(
        "reveal.html",
        report_id=report_id,
        identity={k: identity.get(k) for k in ("name", "contact", "handle")},
        reason=reason,
    )


@router.post("/reports/{report_id}/assignee")
async def assign(request: Request, report_id: uuid.UUID) -> Response:
    """Assign the report to a colleague in the agency (or oneself), or clear it."""
    c = await signed_in(request)
    form = await c.checked_form()
    c.require("agency-officer")
    here = f"/console/reports/{report_id}"
    picked = text_field(form, "assignee")
    try:
        r = await c.api(
            "PUT", f"/v1/reports/{report_id}/assignee", json={"assignee": picked or None}
        )
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), here)
    done = GatewayClient.parse(Assignment, r)
    log.info("console assignment", report_id=str(report_id), cleared=not picked)
    text = (
        c.t["assigned_ok"].format(name=done.assignee_name or done.assignee_id)
        if done.assignee_id
        else c.t["unassigned_ok"]
    )
    return await c.flash_and_go("success", text, here)


@router.post("/reports/{report_id}/notes")
async def add_note(request: Request, report_id: uuid.UUID) -> Response:
    """An internal note (officers only; the gateway scrubs the reporter's values)."""
    c, form = await _console_for_form(request, report_id)
    here = f"/console/reports/{report_id}"
    note = text_field(form, "note")
    if len(note) < 3:
        return await c.flash_and_go("error", c.t["note_required_msg"], here)
    try:
        await c.api("POST", f"/v1/reports/{report_id}/notes", json={"text": note})
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), here)
    except LoginRequired as exc:
        raise await _cut_off(exc, c.session.session_id, request, report_id, form) from None
    log.info("console internal note", report_id=str(report_id), role=c.role)
    return await c.flash_and_go("success", c.t["note_ok"], f"{here}#internal-notes")


@router.post("/reports/{report_id}/questions")
async def ask_reporter(request: Request, report_id: uuid.UUID) -> Response:
    """Ask the reporter: the notifier delivers the question on their own channel; the
    answer comes back onto the report. Nobody sees a contact."""
    c, form = await _console_for_form(request, report_id)
    here = f"/console/reports/{report_id}"
    question = text_field(form, "question")
    if len(question) < 10:
        return await c.flash_and_go("error", c.t["question_required_msg"], f"{here}#conversation")
    try:
        await c.api("POST", f"/v1/reports/{report_id}/questions", json={"text": question})
    except GatewayError as exc:
        message = c.t["question_refused"] if exc.status == 409 else explain(exc, c.t)
        return await c.flash_and_go("error", message, f"{here}#conversation")
    except LoginRequired as exc:
        raise await _cut_off(exc, c.session.session_id, request, report_id, form) from None
    log.info("console question to the reporter", report_id=str(report_id), role=c.role)
    return await c.flash_and_go("success", c.t["question_ok"], f"{here}#conversation")


# --- moderation ----------------------------------------------------------------------------


@router.post("/reports/{report_id}/moderation")
async def moderate(request: Request, report_id: uuid.UUID) -> Response:
    """A ticket-admin hides a public report from the portal, shows it again, or corrects
    its public title and text (SPEC Revision 2). The gateway audits it and tells the
    portal's read model through the public topic."""
    c = await signed_in(request)
    form = await c.checked_form()
    c.require("ticket-admin")
    here = f"/console/reports/{report_id}"
    op = text_field(form, "op")
    body: dict[str, Any]
    if op in ("hide", "show"):
        body = {"hidden": op == "hide"}
        done = N_("moderation_hidden_ok") if op == "hide" else N_("moderation_shown_ok")
    elif op == "correct":
        text = text_field(form, "text")
        if not text:
            return await c.flash_and_go("error", c.t["moderation_text_required_msg"], here)
        body = {"title": text_field(form, "title") or None, "text": text}
        done = N_("moderation_corrected_ok")
    else:
        return await c.page("error.html", 404, message=c.t["err_not_found"].format(detail=op))
    try:
        await c.api("POST", f"/v1/reports/{report_id}/moderation", json=body)
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), here)
    log.info("console moderation", report_id=str(report_id), op=op)
    return await c.flash_and_go("success", c.t[done], here)
