"""Fuzzing every public HTTP endpoint of intake with hypothesis, on a real socket with real
PostgreSQL, Kafka and Redis behind it: whatever arrives (random JSON shapes, random form
fields, correctly *signed* garbage so it gets past the signature check into the parsers), the
answer is a deliberate one — never a 5xx — and a 2xx always carries a receipt."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SECRET = "fuzz-secret-0123456789-0123456789"
APP_KEY = "fuzz-app-key"
OPEN311_KEY = "fuzz-open311-key"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
# Shapes close to the real payloads reach deeper into the normalizers than random JSON.
near_meta = st.fixed_dictionaries(
    {
        "object": st.sampled_from(["whatsapp_business_account", "page", "instagram", "x"]),
        "entry": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.text(max_size=8),
                    "time": st.integers(),
                    "changes": st.lists(
                        st.fixed_dictionaries({"field": st.just("messages"), "value": json_values}),
                        max_size=2,
                    ),
                    "messaging": st.lists(json_values, max_size=2),
                }
            ),
            max_size=2,
        ),
    }
)
form_fields = st.dictionaries(
    st.sampled_from(
        [
            "text",
            "lat",
            "lon",
            "long",
            "contact",
            "submission_id",
            "service_code",
            "description",
            "address_string",
            "email",
            "phone",
            "language",
            "public",
            "Body",
            "From",
            "MessageSid",
            "api_key",
        ]
    ),
    st.text(max_size=60),
    max_size=8,
)


def hub(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def x_sig(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return {
        "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code in (200, 201) and "json" in response.headers.get("content-type", ""):
        body = response.json()
        text = json.dumps(body)
        assert "receipt_code" in text or "service_request_id" in text or "filed" in text


def fuzz(base: str) -> None:
    client = httpx.Client(base_url=base, timeout=10)
    common = settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

    @common
    @given(
        payload=near_meta | json_values, path=st.sampled_from(["whatsapp", "facebook", "instagram"])
    )
    def meta_webhooks(payload: Any, path: str) -> None:
        body = json.dumps(payload).encode()
        check(client.post(f"/v1/channels/{path}", content=body, headers=hub(body)))

    @common
    @given(payload=json_values)
    def x_webhook(payload: Any) -> None:
        body = json.dumps(payload).encode()
        check(client.post("/v1/channels/x", content=body, headers=x_sig(body)))

    @common
    @given(payload=json_values, path=st.sampled_from(["app", "staff"]))
    def json_channels(payload: Any, path: str) -> None:
        headers = {
            "X-App-Key": APP_KEY,
            "Authorization": "Bearer not.a.token",
            "Content-Type": "application/json",
        }
        # json.dumps writes NaN/Infinity, which a strict client would refuse to send.
        body = json.dumps(payload).encode()
        check(client.post(f"/v1/channels/{path}/reports", content=body, headers=headers))

    @common
    @given(fields=form_fields, raw=st.binary(max_size=200), as_raw=st.booleans())
    def form_channels(fields: dict[str, str], raw: bytes, as_raw: bool) -> None:
        form_ct = {"Content-Type": "application/x-www-form-urlencoded"}
        body = raw if as_raw else urlencode(fields).encode()
        check(client.post("/v1/channels/web", content=body, headers=form_ct))
        check(
            client.post(
                "/open311/v2/requests.json",
                content=urlencode({**fields, "api_key": OPEN311_KEY}).encode(),
                headers=form_ct,
            )
        )
        check(
            client.post(
                "/v1/channels/sms",
                content=body,
                headers={**form_ct, "X-Twilio-Signature": "x"},
            )
        )

    try:
        meta_webhooks()
        x_webhook()
        json_channels()
        form_channels()
    finally:
        client.close()


# Hypothesis warns when the global `random` state changes while it draws an example. The
# strategies above do not touch it, but the intake under test runs in this process's event
# loop while the fuzzer draws in a thread, and its broker client (aiokafka picks the node
# for a metadata refresh with `random.choice`) uses the global `random` meanwhile: a false
# alarm that came up on some runs only, depending on timing. Nothing else is silenced.
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)
async def test_no_input_makes_any_endpoint_fail(intake: Any, serve: Any) -> None:
    overrides = {
        "whatsapp_app_secret": SECRET,
        "facebook_app_secret": SECRET,
        "instagram_app_secret": SECRET,
        "x_consumer_secret": SECRET,
        "sms_auth_token": SECRET,
        "app_keys": [APP_KEY],
        "open311_api_keys": [OPEN311_KEY],
        # The fuzzer is one sender posting hundreds of times.
        "rate_limit_posts": 100000,
    }
    async with intake(**overrides) as run, serve(run.app) as base:
        await asyncio.to_thread(fuzz, base)
