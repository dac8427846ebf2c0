"""A consumer of several topics documents each topic with its own route's payload, not the
union of every route's model on every topic (the AsyncAPI contract says what producers
must send where)."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.specification import AsyncAPI
from sqlalchemy import MetaData

from aduan_contracts.events import ReportAmended, ReportIntakeEvent, ReportStatusChanged
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.messaging import messaging_tables
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.settings import ServiceSettings
from aduan_kit.uow import UnitOfWork

OUTBOX, INBOX = messaging_tables(MetaData())


async def _nothing(uow: UnitOfWork, events: list[Any]) -> list[Any]:
    return []


def test_each_topic_is_documented_with_its_own_payload() -> None:
    runtime = ServiceRuntime(ServiceSettings(service_name="doc"), migrations=None, outbox=OUTBOX)
    subscribe_units(
        runtime,
        [
            Route("a.v1", ReportAmended, "doc.a", apply_many=_nothing),
            Route("b.v1", ReportStatusChanged, "doc.b", apply_many=_nothing),
            Route("c.v1", ReportIntakeEvent, "doc.c", apply_many=_nothing),
        ],
        inbox=INBOX,
        outbox=OUTBOX,
        title="doc.on-things",
        description="test",
    )
    document = AsyncAPI(runtime.broker, title="t", version="1").to_specification().to_jsonable()
    payloads = {
        channel["address"]: document["components"]["messages"][
            channel["messages"]["SubscribeMessage"]["$ref"].rsplit("/", 1)[1]
        ]["payload"]["$ref"]
        for channel in document["channels"].values()
    }
    assert payloads == {
        "a.v1": "#/components/schemas/ReportAmended",
        "b.v1": "#/components/schemas/ReportStatusChanged",
        # A union has no title of its own: it is named after its inbox consumer.
        "c.v1": "#/components/schemas/doc.c:Payload",
    }
    union = document["components"]["schemas"]["doc.c:Payload"]
    assert "ReportSubmitted" in str(union) and "ReportAmended" in str(union)


def test_a_topic_with_two_routes_is_refused() -> None:
    runtime = ServiceRuntime(ServiceSettings(service_name="doc"), migrations=None, outbox=OUTBOX)
    route = Route("a.v1", ReportAmended, "doc.a", apply_many=_nothing)
    with pytest.raises(ValueError, match="two routes"):
        subscribe_units(runtime, [route, route], inbox=INBOX, title="t", description="d")


def test_prepare_goes_with_a_set_based_use_case() -> None:
    async def prepare(pairs: list[Any]) -> list[Any]:
        return pairs

    async def one(session: Any, event: Any) -> None:
        return None

    with pytest.raises(TypeError, match="prepare goes with apply_many"):
        Route("a.v1", ReportAmended, "doc.a", apply=one, prepare=prepare)
