"""Every Kafka topic in one place: name, payload, partitions, retention.

Names follow `<service>.<event>.v<N>`. This list is the declarative topic definition that
`python -m aduan_contracts.topics` (and `deploy/`) creates; a namespace prefix lets tests and
parallel environments share one broker without seeing each other's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aduan_contracts.commands import WorkflowCommand
from aduan_contracts.events import (
    CategoryPublished,
    CommandReply,
    NotificationEvent,
    PublicReportEvent,
    ReporterErasureRequested,
    ReporterKeyEvent,
    ReporterQuestionAsked,
    ReportIntakeEvent,
    ReportStatusChanged,
    SlaEvent,
)

__all__ = [
    "ALL_TOPICS",
    "CATEGORIES",
    "COMMAND_REPLIES",
    "ERASURE_REQUESTS",
    "NOTIFICATIONS",
    "PUBLIC_REPORTS",
    "REPORTER_KEYS",
    "REPORTER_QUESTIONS",
    "REPORT_INTAKE",
    "SLA_EVENTS",
    "STATUS_CHANGED",
    "WORKFLOW_COMMANDS",
    "TopicSpec",
    "dead_letter",
]

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic and what travels on it. `payload` is the (union) type a consumer parses."""

    name: str
    payload: Any
    owner: str
    partitions: int = 6
    retention_ms: int = 30 * DAY_MS
    cleanup_policy: Literal["delete", "compact"] = "delete"
    description: str = ""

    def qualified(self, namespace: str = "") -> str:
        """The real topic name in a namespace ("" in production)."""
        return f"{namespace}.{self.name}" if namespace else self.name

    def configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": self.cleanup_policy, "min.insync.replicas": "1"}
        if self.cleanup_policy == "delete":
            configs["retention.ms"] = str(self.retention_ms)
        else:
            # A shredded key must disappear from the log in bounded time, not "eventually":
            # roll segments hourly and force compaction of a dirty key within a day.
            configs["segment.ms"] = str(3600 * 1000)
            configs["max.compaction.lag.ms"] = str(DAY_MS)
            configs["min.cleanable.dirty.ratio"] = "0.1"
        return configs


REPORT_INTAKE = TopicSpec(
    "intake.report-submitted.v1",
    ReportIntakeEvent,
    owner="intake",
    retention_ms=365 * DAY_MS,
    description="Normalized reports and amendments from every channel, keyed by report id.",
)
REPORTER_KEYS = TopicSpec(
    "intake.reporter-keys.v1",
    ReporterKeyEvent,
    owner="intake",
    partitions=3,
    cleanup_policy="compact",
    description="Per-reporter data keys (compacted; restricted to gateway and notifier).",
)
STATUS_CHANGED = TopicSpec(
    "workflow.status-changed.v1",
    ReportStatusChanged,
    owner="workflow",
    retention_ms=365 * DAY_MS,
    description="Every lifecycle transition, keyed by report id.",
)
SLA_EVENTS = TopicSpec(
    "workflow.sla-events.v1",
    SlaEvent,
    owner="workflow",
    partitions=3,
    description="SLA reminders and breaches, keyed by report id.",
)
WORKFLOW_COMMANDS = TopicSpec(
    "workflow.commands.v1",
    WorkflowCommand,
    owner="workflow",
    retention_ms=7 * DAY_MS,
    description="Officer and reporter commands, keyed by report id.",
)
COMMAND_REPLIES = TopicSpec(
    "workflow.command-replies.v1",
    CommandReply,
    owner="workflow",
    partitions=3,
    retention_ms=1 * DAY_MS,
    description="Verdicts on commands, correlated by correlation id.",
)
PUBLIC_REPORTS = TopicSpec(
    "gateway.public-reports.v1",
    PublicReportEvent,
    owner="privacy-gateway",
    cleanup_policy="compact",
    description="Redacted public views of public reports (compacted, keyed by report id).",
)
CATEGORIES = TopicSpec(
    "gateway.categories.v1",
    CategoryPublished,
    owner="privacy-gateway",
    # One partition: the catalogue is small, and a reader warming up reads one log to its
    # end. Compacted: the latest record of every category stays forever.
    partitions=1,
    cleanup_policy="compact",
    description="The category catalogue: the full state of each category (compacted, keyed "
    "by category code; retired categories stay, marked inactive).",
)
ERASURE_REQUESTS = TopicSpec(
    "gateway.erasure-requested.v1",
    ReporterErasureRequested,
    owner="privacy-gateway",
    partitions=3,
    description="Reporter identity erasure requests, keyed by key id.",
)
REPORTER_QUESTIONS = TopicSpec(
    "gateway.reporter-questions.v1",
    ReporterQuestionAsked,
    owner="privacy-gateway",
    partitions=3,
    retention_ms=30 * DAY_MS,
    description="Officers' questions to a report's reporter, keyed by report id (read by the "
    "notifier, which delivers them on the reporter's channel).",
)
NOTIFICATIONS = TopicSpec(
    "notifier.notifications.v1",
    NotificationEvent,
    owner="notifier",
    partitions=3,
    description="Reporter notifications given up on (NotificationFailed), keyed by report "
    "id; a message sent is not announced.",
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    REPORT_INTAKE,
    REPORTER_KEYS,
    STATUS_CHANGED,
    SLA_EVENTS,
    WORKFLOW_COMMANDS,
    COMMAND_REPLIES,
    PUBLIC_REPORTS,
    ERASURE_REQUESTS,
    NOTIFICATIONS,
    REPORTER_QUESTIONS,
    CATEGORIES,
)


def dead_letter(spec: TopicSpec) -> TopicSpec:
    """The dead-letter topic of a topic: messages that kept failing, with their error."""
    return TopicSpec(
        f"{spec.name}.dlq",
        bytes,
        owner=spec.owner,
        partitions=1,
        retention_ms=90 * DAY_MS,
        description=f"Dead letters of {spec.name}, with the error in headers.",
    )
