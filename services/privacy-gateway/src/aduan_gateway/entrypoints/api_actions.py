"""Officer and reporter actions: checked here (role, visibility, ownership), forwarded to
workflow as commands over Kafka, and answered with workflow's verdict at once.

The actor (id, role, agency, display name) always comes from the token, never from the
body. Workflow checks role, agency and status again: the gateway's checks only keep a
caller from learning about reports they may not see, and save a round trip.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NamedTuple, TypeVar
from uuid import UUID

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from aduan_contracts.actions import action
from aduan_contracts.commands import (
    AcceptReport,
    CoordinateReport,
    DispatchReport,
    MergeReport,
    OrderFieldVerification,
    RecordFieldVerification,
    RejectFollowUp,
    RejectReport,
    ReopenReport,
    ResumeReport,
    ReturnReport,
    SubmitFollowUp,
    ValidateFollowUp,
    WorkflowCommand,
)
from aduan_contracts.enums import Role
from aduan_contracts.events import CommandAccepted
from aduan_contracts.http_gateway import ActionResult
from aduan_contracts.values import Actor, PhotoRef
from aduan_gateway.adapters.readmodel import load_report
from aduan_gateway.auth import CurrentUser, Principal
from aduan_gateway.domain.views import visible_to_officer
from aduan_gateway.entrypoints.deps import (
    BlobsDep,
    BusDep,
    SessionsDep,
    SettingsDep,
    forbidden,
    not_found,
    owns,
)
from aduan_gateway.service.categories import get_category
from aduan_gateway.service.commands import CommandTimeout
from aduan_kit.logging import correlation_id, get_logger
from aduan_kit.photos import PhotoRejected, clean_photo, photo_ref

__all__ = ["ActionResult", "actions_router"]

log = get_logger(__name__)

_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[Any]])

Reason = Annotated[str, Field(min_length=3, max_length=2000)]
Note = Annotated[str | None, Field(default=None, max_length=2000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expected_version: int | None = Field(default=None, ge=1)


class DispatchBody(_Body):
    agency_id: str = Field(min_length=1, max_length=64)
    category: str | None = Field(default=None, max_length=100)
    note: Note = None


class NoteBody(_Body):
    note: Note = None


class EmptyBody(_Body):
    pass


class ReasonBody(_Body):
    reason: Reason


class FieldResultBody(_Body):
    confirmed: bool
    result: Reason


class MergeBody(_Body):
    primary_report_id: UUID


# Refusal codes from workflow -> HTTP status the caller gets.
_REFUSAL_STATUS = {
    "forbidden_role": 403,
    "wrong_agency": 403,
    "invalid_transition": 409,
    "version_conflict": 409,
    "reopen_window_closed": 409,
    "not_found": 404,
    "invalid": 422,
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid or expired token"},
    403: {"description": "the role (or agency) may not do this; workflow's reason"},
    404: {"description": "report not found"},
    409: {"description": "not possible in the report's current status; workflow's reason"},
    422: {"description": "invalid input"},
    504: {"description": "workflow did not answer in time"},
}


def _actor(user: Principal) -> Actor:
    return Actor(id=user.subject, role=user.role, agency_id=user.agency_id, display_name=user.name)


def _envelope() -> dict[str, Any]:
    cid = correlation_id.get()
    return {"correlation_id": cid} if cid else {}


class _PlainAction(NamedTuple):
    """An action whose command is its body's fields plus the report, actor and envelope."""

    name: str  # the handler's name (the OpenAPI operation id is made from it)
    path: str  # the action's name in `aduan_contracts.actions`
    summary: str
    doc: str  # the transition, shown as the operation's description
    body: type[_Body]
    command: type[WorkflowCommand]
    what: str  # "role ... may not <what>"


_PLAIN_ACTIONS = (
    _PlainAction(
        "coordinate",
        "coordinate",
        "Start coordination (ticket-admin)",
        "received -> coordination.",
        NoteBody,
        CoordinateReport,
        "coordinate reports",
    ),
    _PlainAction(
        "accept",
        "accept",
        "Accept (agency officer)",
        "dispatched -> in_progress.",
        EmptyBody,
        AcceptReport,
        "accept reports",
    ),
    _PlainAction(
        "return_report",
        "return",
        "Return: not ours (agency officer)",
        "dispatched -> coordination, with a reason.",
        ReasonBody,
        ReturnReport,
        "return reports",
    ),
    _PlainAction(
        "resume",
        "resume",
        "Resume after a rejected follow-up (agency officer)",
        "followup_rejected -> in_progress.",
        EmptyBody,
        ResumeReport,
        "resume reports",
    ),
    _PlainAction(
        "validate",
        "validate",
        "Validate the follow-up (validator)",
        "awaiting_validation -> completed.",
        NoteBody,
        ValidateFollowUp,
        "validate follow-ups",
    ),
    _PlainAction(
        "reject_follow_up",
        "reject-follow-up",
        "Reject the follow-up (validator)",
        "awaiting_validation/field_verification -> followup_rejected.",
        ReasonBody,
        RejectFollowUp,
        "reject follow-ups",
    ),
    _PlainAction(
        "order_field_verification",
        "field-verification",
        "Order a field verification (validator)",
        "awaiting_validation -> field_verification.",
        NoteBody,
        OrderFieldVerification,
        "order field verifications",
    ),
    _PlainAction(
        "record_field_verification",
        "field-verification/result",
        "Record the field verification (validator)",
        "field_verification -> completed (confirmed) or followup_rejected.",
        FieldResultBody,
        RecordFieldVerification,
        "record field verifications",
    ),
    _PlainAction(
        "reject",
        "reject",
        "Reject as spam or out of scope (ticket-admin)",
        "received/coordination -> rejected.",
        ReasonBody,
        RejectReport,
        "reject reports",
    ),
    _PlainAction(
        "merge",
        "merge",
        "Merge into a primary report (ticket-admin)",
        "received/coordination -> merged.",
        MergeBody,
        MergeReport,
        "merge reports",
    ),
    _PlainAction(
        "reopen",
        "reopen",
        "Reopen a completed report (its reporter)",
        "completed -> in_progress, within the reopen window, own report only.",
        ReasonBody,
        ReopenReport,
        "reopen reports",
    ),
)


def _plain_handler(plain: _PlainAction, run: Callable[..., Awaitable[ActionResult]]) -> Any:
    """The endpoint of one plain action. Its signature is built with the real types (FastAPI
    reads the body model from it); the name and docstring keep the operation id and
    description the hand-written handlers had."""
    roles = action(plain.path).roles

    async def handler(
        report_id: UUID, body: _Body, user: Principal, s: Any, bus: Any
    ) -> ActionResult:
        fields = body.model_dump()
        return await run(
            s,
            bus,
            user,
            report_id,
            roles,
            plain.what,
            lambda a: plain.command(report_id=report_id, actor=a, **fields, **_envelope()),
        )

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("report_id", kind, annotation=UUID),
            inspect.Parameter("body", kind, annotation=plain.body),
            inspect.Parameter("user", kind, annotation=CurrentUser),
            inspect.Parameter("s", kind, annotation=SessionsDep),
            inspect.Parameter("bus", kind, annotation=BusDep),
        ],
        return_annotation=ActionResult,
    )
    handler.__name__ = handler.__qualname__ = plain.name
    handler.__doc__ = plain.doc
    return handler


def actions_router() -> APIRouter:
    router = APIRouter(tags=["actions"])

    async def check(
        sessions: SessionsDep, user: Principal, report_id: UUID, roles: frozenset[Role], what: str
    ) -> None:
        if user.role not in roles:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"role {user.role.value!r} may not {what}",
            )
        async with sessions() as session:
            record = await load_report(session, report_id)
        if record is None or record.status is None:
            not_found()
        if user.role is Role.REPORTER:
            if not owns(user, record):
                not_found()
        elif user.role is Role.AGENCY_OFFICER:
            if not visible_to_officer(record, user.role, user.scope):
                not_found()
            if record.agency_id != user.agency_id:
                # A unit head reads a sub-unit's reports, a parent unit those escalated to
                # it; acting stays with the unit the report is assigned to (issue 19, D19).
                forbidden("only the unit the report is assigned to acts on it")

    async def run(
        sessions: SessionsDep,
        bus: BusDep,
        user: Principal,
        report_id: UUID,
        roles: frozenset[Role],
        what: str,
        build: Any,
        checked: bool = False,
    ) -> ActionResult:
        if not checked:
            await check(sessions, user, report_id, roles, what)
        command: WorkflowCommand = build(_actor(user))
        try:
            reply = await bus.send(command)
        except CommandTimeout:
            raise HTTPException(
                status_code=status.HTTP_504_GATEWAY_TIMEOUT,
                detail="workflow did not answer in time; the action may still be applied, "
                "check the report before retrying",
            ) from None
        log.info(
            "action forwarded",
            report_id=str(report_id),
            command=command.command_type,
            outcome=reply.event_type,
        )
        if not isinstance(reply, CommandAccepted):
            raise HTTPException(status_code=_REFUSAL_STATUS[reply.code], detail=reply.reason)
        return ActionResult(
            report_id=report_id,
            command_id=reply.command_id,
            status=reply.status,
            status_label=reply.status.label_id,
            version=reply.version,
        )

    # Who may send each action: the one table in `aduan_contracts.actions` (workflow
    # decides with the same table; the console shows each form to the same role).
    FOLLOW_UP_ROLES = action("follow-ups").roles

    def route(path: str, summary: str) -> Callable[[_Handler], _Handler]:
        # Each path is an action's name in the table: one missing from it fails at start-up
        # (KeyError), not at the first request.
        action(path)
        return router.post(
            f"/v1/reports/{{report_id}}/{path}",
            response_model=ActionResult,
            responses=_RESPONSES,
            summary=summary,
        )

    @route("dispatch", "Dispatch to an agency (ticket-admin)")
    async def dispatch(
        report_id: UUID, body: DispatchBody, user: CurrentUser, s: SessionsDep, bus: BusDep
    ) -> ActionResult:
        """received/coordination -> dispatched."""
        roles = action("dispatch").roles
        await check(s, user, report_id, roles, "dispatch reports")
        if body.category is not None:
            # The category a ticket-admin sets must be one new reports may be filed in: a
            # retired one stays on old reports, it is not given to a new dispatch.
            async with s() as session:
                category = await get_category(session, body.category)
            if category is None or not category.active:
                raise HTTPException(
                    status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
                    detail="category is not an active category of the catalogue"
                    if category is None
                    else "category is retired: it takes no new reports",
                )
        return await run(
            s,
            bus,
            user,
            report_id,
            roles,
            "dispatch reports",
            lambda a: DispatchReport(
                report_id=report_id,
                actor=a,
                expected_version=body.expected_version,
                agency_id=body.agency_id,
                category=body.category,
                note=body.note,
                **_envelope(),
            ),
            checked=True,
        )

    @router.post(
        "/v1/reports/{report_id}/follow-ups",
        response_model=ActionResult,
        responses=_RESPONSES,
        summary="Submit a follow-up (TL) with photos (agency officer)",
    )
    async def submit_follow_up(
        report_id: UUID,
        user: CurrentUser,
        s: SessionsDep,
        bus: BusDep,
        blobs: BlobsDep,
        settings: SettingsDep,
        note: Annotated[str, Form(min_length=3, max_length=5000)],
        photos: Annotated[list[UploadFile] | None, File()] = None,
        expected_version: Annotated[int | None, Form(ge=1)] = None,
    ) -> ActionResult:
        """in_progress -> awaiting_validation. Photos are checked, stripped of metadata
        (capture time and place kept in the reference for the evidence check) and stored
        content-addressed before the command leaves."""
        # Checked before any photo is stored: a caller who may not act stores nothing.
        await check(s, user, report_id, FOLLOW_UP_ROLES, "submit follow-ups")
        uploads = photos or []
        if len(uploads) > settings.max_photos_per_follow_up:
            raise HTTPException(
                status_code=422,
                detail=f"at most {settings.max_photos_per_follow_up} photos per follow-up",
            )
        refs: list[PhotoRef] = []
        for upload in uploads:
            data = await upload.read(settings.max_photo_bytes + 1)
            try:
                clean, info = clean_photo(data, max_bytes=settings.max_photo_bytes)
            except PhotoRejected as exc:
                raise HTTPException(status_code=422, detail=f"photo refused: {exc}") from None
            refs.append(photo_ref(await blobs.put(clean), clean, info))
        return await run(
            s,
            bus,
            user,
            report_id,
            FOLLOW_UP_ROLES,
            "submit follow-ups",
            lambda a: SubmitFollowUp(
                report_id=report_id,
                actor=a,
                expected_version=expected_version,
                note=note,
                photos=tuple(refs),
                **_envelope(),
            ),
            checked=True,
        )

    # The plain actions: a body in, one command out, the same checks (the table below;
    # dispatch and follow-ups, which check more, are written out above).
    for plain in _PLAIN_ACTIONS:
        route(plain.path, plain.summary)(_plain_handler(plain, run))

    return router
