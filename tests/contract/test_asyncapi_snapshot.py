"""The AsyncAPI document each service generates is snapshotted: any change to a topic, a
payload or a subscriber shows up as a diff in review. Regenerate deliberately with
`UPDATE_SNAPSHOTS=1 uv run pytest tests/contract`."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest
from faststream.specification import AsyncAPI

SNAPSHOTS = Path(__file__).parent / "snapshots"
SERVICES = ["intake", "workflow", "gateway", "notifier", "portal"]


def generate(service: str) -> str:
    bootstrap = importlib.import_module(f"aduan_{service}.bootstrap")
    config = importlib.import_module(f"aduan_{service}.config")
    # Default settings: the document describes production topic names (no namespace).
    _, runtime = bootstrap.build(config.Settings(topic_namespace="", environment="development"))
    spec = AsyncAPI(
        runtime.broker, title=f"Aduan {service}", version="1", identifier=f"urn:aduan:{service}"
    )
    return json.dumps(spec.to_specification().to_jsonable(), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_matches_snapshot(service: str) -> None:
    current = generate(service)
    path = SNAPSHOTS / f"{service}.asyncapi.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"missing snapshot {path.name}: generate it locally and commit it")
        path.write_text(current)
    assert current == path.read_text(), (
        f"the AsyncAPI contract of {service} changed; review the diff and rerun with "
        "UPDATE_SNAPSHOTS=1 if it is intended"
    )
