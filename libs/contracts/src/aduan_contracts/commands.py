"""Commands to the workflow service: imperative, one per lifecycle action in SPEC.

Published by the privacy gateway (on behalf of an authenticated officer or reporter) to
`workflow.commands.v1`, keyed by report id; the reply (`CommandAccepted`/`CommandRefused`)
goes to the topic named in the message's `reply_to` header with the same correlation id.
Workflow checks role, agency and current status; a refused command changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from aduan_contracts.envelope import Envelope
from aduan_contracts.values import Actor, PhotoRef

__all__ = [
    "AcceptReport",
    "CoordinateReport",
    "DispatchReport",
    "MergeReport",
    "OrderFieldVerification",
    "RecordFieldVerification",
    "RejectFollowUp",
    "RejectReport",
    "ReopenReport",
    "ResumeReport",
    "ReturnReport",
    "SubmitFollowUp",
    "ValidateFollowUp",
    "WorkflowCommand",
]

Reason = Annotated[str, Field(min_length=3, max_length=2000)]


class _Command(Envelope):
    report_id: UUID
    actor: Actor
    expected_version: int | None = Field(
        default=None, ge=1, description="optimistic concurrency: refuse if the report moved on"
    )


class DispatchReport(_Command):
    """ticket-admin: received/coordination -> dispatched to an agency (overrides routing)."""

    command_type: Literal["DispatchReport"] = "DispatchReport"
    agency_id: str = Field(min_length=1, max_length=64)
    category: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class CoordinateReport(_Command):
    """ticket-admin: received -> coordination (settling which agency is responsible)."""

    command_type: Literal["CoordinateReport"] = "CoordinateReport"
    note: str | None = Field(default=None, max_length=2000)


class AcceptReport(_Command):
    """agency-officer of the assigned agency: dispatched -> in_progress."""

    command_type: Literal["AcceptReport"] = "AcceptReport"


class ReturnReport(_Command):
    """agency-officer: dispatched -> coordination, "not ours" (LAPOR!'s bukan wewenang)."""

    command_type: Literal["ReturnReport"] = "ReturnReport"
    reason: Reason


class SubmitFollowUp(_Command):
    """agency-officer: in_progress -> awaiting_validation with a follow-up (TL)."""

    command_type: Literal["SubmitFollowUp"] = "SubmitFollowUp"
    note: str = Field(min_length=3, max_length=5000)
    photos: tuple[PhotoRef, ...] = ()


class ResumeReport(_Command):
    """agency-officer: followup_rejected -> in_progress."""

    command_type: Literal["ResumeReport"] = "ResumeReport"


class ValidateFollowUp(_Command):
    """validator: awaiting_validation -> completed."""

    command_type: Literal["ValidateFollowUp"] = "ValidateFollowUp"
    note: str | None = Field(default=None, max_length=2000)


class RejectFollowUp(_Command):
    """validator: awaiting_validation/field_verification -> followup_rejected."""

    command_type: Literal["RejectFollowUp"] = "RejectFollowUp"
    reason: Reason


class OrderFieldVerification(_Command):
    """validator: awaiting_validation -> field_verification."""

    command_type: Literal["OrderFieldVerification"] = "OrderFieldVerification"
    note: str | None = Field(default=None, max_length=2000)


class RecordFieldVerification(_Command):
    """validator: field_verification -> completed (confirmed) or followup_rejected."""

    command_type: Literal["RecordFieldVerification"] = "RecordFieldVerification"
    confirmed: bool
    result: Reason


class RejectReport(_Command):
    """ticket-admin: received/coordination -> rejected (spam, out of scope), with reason."""

    command_type: Literal["RejectReport"] = "RejectReport"
    reason: Reason


class MergeReport(_Command):
    """ticket-admin: received/coordination -> merged into a primary report."""

    command_type: Literal["MergeReport"] = "MergeReport"
    primary_report_id: UUID


class ReopenReport(_Command):
    """reporter: completed -> in_progress within the reopen window, with reason."""

    command_type: Literal["ReopenReport"] = "ReopenReport"
    reason: Reason


WorkflowCommand = Annotated[
    DispatchReport
    | CoordinateReport
    | AcceptReport
    | ReturnReport
    | SubmitFollowUp
    | ResumeReport
    | ValidateFollowUp
    | RejectFollowUp
    | OrderFieldVerification
    | RecordFieldVerification
    | RejectReport
    | MergeReport
    | ReopenReport,
    Field(discriminator="command_type"),
]
