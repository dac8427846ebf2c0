"""The privacy gateway's HTTP responses, written once for both sides (issue 18).

The gateway's routes declare these as `response_model` (FastAPI serialises exactly these
fields, so a response never carries more than the model: the privacy filter stays the
gateway's), and the portal's console client parses the gateway's answers with them.

Two rules keep the readers tolerant without changing the gateway's OpenAPI document:
- unknown fields are ignored (`extra="ignore"`), so an additive gateway change does not
  break a console that has not been redeployed yet;
- a field the gateway always sends but a reader may build without (the portal's pages
  and their tests make these objects from fewer fields) is declared with `sent(default)`:
  it has a default for readers, yet the OpenAPI document still lists it as required and
  shows no default, because the gateway always writes it.

Only what both sides read lives here; request bodies and gateway-only views stay in the
gateway. The report views (FullReportView/AgencyReportView, the portal's OfficerReport)
are not here yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from aduan_contracts.enums import ReportStatus, Role

__all__ = [
    "AccessLogEntry",
    "AccountView",
    "ActionResult",
    "AgencyView",
    "AreaRouteView",
    "AssignmentView",
    "CategoryView",
    "ConversationEntry",
    "ConversationView",
    "DuplicateView",
    "GrantView",
    "NoteView",
    "OfficerView",
    "TokenPair",
    "UnitView",
    "sent",
]

_SENT = "x-aduan-always-sent"


def sent(default: Any = None, *, description: str | None = None) -> Any:
    """A field the gateway always sends, with a default for tolerant readers (see above)."""
    extra: dict[str, Any] = {_SENT: True}
    if description is None:
        return Field(default=default, json_schema_extra=extra)
    return Field(default=default, description=description, json_schema_extra=extra)


def _always_sent(schema: dict[str, Any], cls: type[Any]) -> None:
    # The document says what the gateway writes: `sent` fields are required, no default.
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    for name, prop in properties.items():
        if prop.pop(_SENT, False):
            prop.pop("default", None)
            required.add(name)
    if required:
        schema["required"] = [name for name in properties if name in required]


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_extra=_always_sent)


class TokenPair(_Response):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    user_id: str
    role: Role
    agency_id: str | None = sent()
    unit_id: str | None = Field(default=None, description="== agency_id (issue 19)")
    unit_head: bool = Field(default=False, description="reads the unit's sub-units too")


class ActionResult(_Response):
    """Workflow accepted the action: the report's new status and version."""

    report_id: UUID
    command_id: UUID
    status: ReportStatus
    status_label: str
    version: int


class GrantView(_Response):
    grant_id: UUID
    report_id: UUID
    grantee: str
    granted_by: str
    reason: str | None = sent()
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = sent()
    revoked_by: str | None = sent()
    active: bool


class AccessLogEntry(_Response):
    id: int
    at: datetime
    subject: str
    role: str
    agency_id: str | None = sent()
    report_id: UUID
    fields: tuple[str, ...]
    hash: str


class DuplicateView(_Response):
    """A report that may be the same problem as the one being triaged."""

    report_id: UUID
    title: str | None
    category: str | None
    status: ReportStatus
    status_label: str
    month: str
    area: str | None
    distance_m: float | None
    received_at: datetime


class AreaRouteView(BaseModel):
    # Also the gateway's input (a category's routes in CategoryBody): strict, not tolerant.
    model_config = ConfigDict(frozen=True, extra="forbid")

    area_code: str = Field(max_length=20, description="a Kemendagri code, e.g. 31.71.01")
    agency_id: str = Field(min_length=1, max_length=64)
    unit_id: str | None = Field(
        default=None, max_length=64, description="== agency_id (issue 19); ignored on input"
    )


class CategoryView(_Response):
    code: str
    name_id: str
    name_en: str
    agency_id: str | None = sent()
    description_id: str = ""
    description_en: str = ""
    keywords: tuple[str, ...] = ()
    group: str | None = None
    active: bool = Field(
        default=True, description="false: retired (refused for new reports, names old ones)"
    )
    area_routes: tuple[AreaRouteView, ...] = Field(
        default=(), description="routing by place: area code -> agency, most specific wins"
    )
    version: int = 0


class AccountView(_Response):
    user_id: str
    username: str
    display_name: str | None = sent()
    role: Role
    agency_id: str | None = sent()
    active: bool = sent(True)
    unit_id: str | None = Field(default=None, description="== agency_id (issue 19)")
    unit_head: bool = False


class AgencyView(_Response):
    agency_id: str
    name: str


class NoteView(_Response):
    """An internal note: who wrote it (name, role, agency) and when; never shown to the
    reporter or the public."""

    note_id: UUID
    report_id: UUID
    author_id: str
    author_name: str | None
    author_role: Role
    author_agency: str | None
    text: str
    created_at: datetime


class AssignmentView(_Response):
    report_id: UUID
    assignee_id: str | None
    assignee_name: str | None
    assigned_by: str | None
    assigned_at: datetime | None


class OfficerView(_Response):
    """An agency officer a validator may grant photo access to: who, not how to reach them."""

    user_id: str
    username: str
    display_name: str | None = sent()


class UnitView(_Response):
    unit_id: str
    agency_id: str = sent("", description="the same as unit_id: a unit is an agency")
    name: str
    kind: str
    parent_id: str | None = sent()
    area_codes: tuple[str, ...] = sent(())
    area_labels: tuple[str, ...] = sent((), description="the areas' names, e.g. Kota Jakarta Pusat")
    depth: int = sent(0, description="0 for a root unit")
    path: tuple[str, ...] = sent((), description="unit ids from the root down to this unit")
    officer_count: int = sent(0, description="active agency officers of this very unit")
    head_count: int = sent(0, description="of whom unit heads")


class ConversationEntry(_Response):
    """One step of the conversation with the reporter: an officer's question, or what the
    reporter wrote (an answer, or a message of their own)."""

    kind: Literal["question", "message"]
    id: UUID
    text: str
    at: datetime | None = Field(
        description="when it was asked or received; for agency officers a reporter's "
        "message carries its day only (`on`)"
    )
    on: str = Field(description="the day, YYYY-MM-DD (Asia/Jakarta)")
    asked_by_name: str | None = None
    asked_by_role: Role | None = None
    answered: bool | None = None
    channel: str | None = None
    question_id: UUID | None = Field(
        default=None, description="for a message: the question it answers"
    )


class ConversationView(_Response):
    can_ask: bool
    why_not: str | None = Field(
        default=None, description="why no question can be asked now, in plain words"
    )
    why_not_code: Literal["no_contact", "closed", "too_many"] | None = Field(
        default=None, description="the same as a code, for clients' own language"
    )
    entries: tuple[ConversationEntry, ...]
