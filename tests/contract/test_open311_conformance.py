"""Open311 GeoReport v2 conformance, from the specification (http://wiki.open311.org/GeoReport_v2
and http://wiki.open311.org/Service_Discovery), against the five services running as OS
processes on real Kafka, PostgreSQL and Redis, through the ONE root a civic app is given
(the portal's `/open311/v2`, docs/open311.md), with a plain HTTP client.

Each test cites the rules it checks. What the spec leaves to the server and Aduan decides
(documented in docs/open311.md): a POST answers a `token` (services are `batch`), since a
request's `service_request_id` is the public report's, known once the privacy gateway has
published it; only reports whose reporter chose public (`attribute[privacy]=public`) are
ever listed; `requested_datetime` is the first day of the month (SPEC privacy rule 6).

One platform serves the module (it starts, is seeded with the demo catalogue and is stopped
once); each test files what it reads, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio

from aduan_testing.helpers import eventually
from aduan_testing.infra import Infra
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation, isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

API_KEY = "conformance-api-key-0123456789"
JURISDICTION = "jakarta.go.id"
# "All date/time fields must be formatted in a common subset of ISO 8601 as per the w3 note.
# Timezone information (either Z meaning UTC, or an HH:MM offset from UTC) must be included."
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# What the requester gives and the public must never read back (SPEC rules 5, 6, 8).
EMAIL = "siti.rahma@contoh.id"
PHONE = "081234567890"
FIRST, LAST = "Siti", "Rahmawati"
DEVICE = "device-7f3a9c"
STREET = "Jl. Kenari II No. 17 RT 004/RW 02"
LAT, LONG = "-6.18624", "106.83418"


@pytest_asyncio.fixture(scope="module")
async def conformance_isolated(infra: Infra) -> AsyncIterator[Isolation]:
    async with isolation(infra) as iso:
        yield iso


@pytest_asyncio.fixture(scope="module")
async def platform(
    conformance_isolated: Isolation, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    extra = {
        "ADUAN_INTAKE_OPEN311_API_KEYS": f'["{API_KEY}"]',
        # One client address (127.0.0.1) files and looks up everything in this module.
        "ADUAN_INTAKE_RATE_LIMIT_POSTS": "1000",
        "ADUAN_GATEWAY_TRACK_PER_MINUTE": "1000",
    }
    directory = tmp_path_factory.mktemp("open311")
    async with running_platform(conformance_isolated, directory, extra_env=extra) as plat:
        # The demo catalogue and agencies; returns once intake lists the categories.
        await plat.run("aduan_gateway.cli", "demo-seed", "--yes-this-is-a-demo")
        yield plat


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as c:
        yield c


def root(platform: Platform) -> str:
    """The one base URL (what discovery lists; what the README tells app developers)."""
    return f"{platform.urls['portal']}/open311/v2"


def xml_of(response: httpx.Response) -> ET.Element:
    """XML answers: "Content-Type: text/xml; charset=utf-8" and "the root element must be
    preceded with the XML declaration including the encoding="UTF-8" attribute"."""
    assert response.headers["content-type"].startswith("text/xml"), response.headers
    assert "charset=utf-8" in response.headers["content-type"].lower()
    assert re.match(rb'^<\?xml version="1.0" encoding="UTF-8"\?>', response.content), (
        response.content[:80]
    )
    # The answer of the server under test, on loopback (not untrusted input).
    return ET.fromstring(response.content)  # noqa: S314


def json_of(response: httpx.Response) -> Any:
    """JSON answers: "Content-Type: application/json; charset=utf-8"."""
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return response.json()


def assert_errors(response: httpx.Response, status: int, fmt: str = "json") -> list[str]:
    """The spec's Errors: an array of `error` with `code` and `description` ("Multiple errors
    codes and descriptions can be returned in the body (the response is an array)"), the
    HTTP status "404 for resources that don't exist, 403 for errors because of wrong or
    missing api_key and basically 400 for any other error"."""
    assert response.status_code == status, (response.status_code, response.text)
    if fmt == "xml":
        top = xml_of(response)
        assert top.tag == "errors"
        found = top.findall("error")
        assert found and all(e.findtext("code") and e.findtext("description") for e in found)
        return [e.findtext("description") or "" for e in found]
    body = json_of(response)
    assert isinstance(body, list) and body, body
    for error in body:
        assert set(error) == {"code", "description"}, error
        assert isinstance(error["code"], int) and error["description"], error
    return [e["description"] for e in body]


async def post_request(
    client: httpx.AsyncClient, platform: Platform, fmt: str = "json", **fields: str
) -> httpx.Response:
    """POST Service Request: "Content-Type: application/x-www-form-urlencoded"."""
    return await client.post(
        f"{root(platform)}/requests.{fmt}",
        data={"api_key": API_KEY, **fields},
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )


def full_request(code: str, words: str, privacy: str = "public") -> dict[str, str]:
    return {
        "jurisdiction_id": JURISDICTION,
        "service_code": code,
        "lat": LAT,
        "long": LONG,
        "address_string": STREET,
        "email": EMAIL,
        "phone": PHONE,
        "first_name": FIRST,
        "last_name": LAST,
        "device_id": DEVICE,
        "description": f"{words} Hubungi saya di {PHONE} atau {EMAIL}.",
        "media_url": "https://example.org/lubang.jpg",
        "attribute[privacy]": privacy,
    }


async def resolved_id(client: httpx.AsyncClient, platform: Platform, token: str) -> str:
    """GET service_request_id from a token, until it names the request."""

    async def probe() -> str | None:
        r = await client.get(f"{root(platform)}/tokens/{token}.json")
        if r.status_code != 200:
            return None
        [entry] = json_of(r)
        return str(entry["service_request_id"]) if entry.get("service_request_id") else None

    found: str = await eventually(probe, "the token's service_request_id", timeout=90)
    return found


async def first_service(client: httpx.AsyncClient, platform: Platform) -> str:
    services = json_of(await client.get(f"{root(platform)}/services.json"))
    return str(services[0]["service_code"])


# --- Service Discovery ----------------------------------------------------------------------


async def test_discovery_names_the_root_its_formats_and_its_changeset(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    """Service Discovery: "Establish a single universal URL for a jurisdiction that can route
    to various different API endpoints"; "Format must be both: xml, json"; each endpoint has
    `specification`, `url`, `changeset`, `type` (production or test) and `formats`; the
    document has `changeset`, `contact` and `key_service`. A client given the discovery URL
    reaches the service list through the endpoint's `url`."""
    portal = platform.urls["portal"]
    for path in ("/open311/discovery", "/open311/v2/discovery"):
        doc = json_of(await client.get(f"{portal}{path}.json"))
        assert W3C.match(doc["changeset"]) and doc["contact"] and doc["key_service"]
        [endpoint] = [e for e in doc["endpoints"] if "GeoReport_v2" in e["specification"]]
        assert endpoint["url"] == root(platform)
        assert endpoint["type"] in ("production", "test")
        assert set(endpoint["formats"]) == {"text/xml", "application/json"}
        assert W3C.match(endpoint["changeset"])

        top = xml_of(await client.get(f"{portal}{path}.xml"))
        assert top.tag == "discovery" and W3C.match(top.findtext("changeset") or "")
        [node] = top.findall("endpoints/endpoint")
        assert node.findtext("url") == root(platform)
        assert {f.text for f in node.findall("formats/format")} == set(endpoint["formats"])
        assert top.findtext("contact") and top.findtext("key_service")

    services = await client.get(f"{endpoint['url']}/services.json")
    assert services.status_code == 200 and json_of(services)


# --- GET Service List and GET Service Definition -------------------------------------------


async def test_service_list_in_both_formats(platform: Platform, client: httpx.AsyncClient) -> None:
    """GET Service List (`services.[format]`): `services` of `service` with `service_code`,
    `service_name`, `description`, `metadata` (true or false), `type` (realtime, batch or
    blackbox), `keywords` ("a comma separated list") and `group`. "The client can specify
    the desired format by appending the format name to the resource": the same services in
    XML and JSON."""
    services = json_of(await client.get(f"{root(platform)}/services.json"))
    assert isinstance(services, list) and services
    fields = {"service_code", "service_name", "description", "metadata", "type"}
    for service in services:
        assert fields | {"keywords", "group"} <= set(service), service
        assert service["service_code"] and service["service_name"]
        assert isinstance(service["metadata"], bool)
        assert service["type"] in ("realtime", "batch", "blackbox")
        assert isinstance(service["keywords"] or "", str)
    top = xml_of(await client.get(f"{root(platform)}/services.xml"))
    assert top.tag == "services"
    nodes = top.findall("service")
    assert [n.findtext("service_code") for n in nodes] == [s["service_code"] for s in services]
    for node, service in zip(nodes, services, strict=True):
        assert node.findtext("metadata") == str(service["metadata"]).lower()
        assert node.findtext("type") == service["type"]
        assert node.findtext("service_name") == service["service_name"]
        assert {c.tag for c in node} >= fields | {"keywords", "group"}


async def test_service_definitions_and_an_unknown_service_code(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    """GET Service Definition (`services/[service_code].[format]`), "only necessary if the
    Service selected has metadata set as true": `service_definition` with the same
    `service_code` and `attributes` of `attribute` (`variable`, `code`, `datatype` among
    string, number, datetime, text, singlevaluelist, multivaluelist, `required`,
    `datatype_description`, `order`, `description`, and `values` of `value` with `key` and
    `name` for the list types). Errors: "404 - service_code ... provided were not found"."""
    services = json_of(await client.get(f"{root(platform)}/services.json"))
    datatypes = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
    for service in [s for s in services if s["metadata"]]:
        code = service["service_code"]
        definition = json_of(await client.get(f"{root(platform)}/services/{code}.json"))
        assert definition["service_code"] == code
        orders = [a["order"] for a in definition["attributes"]]
        assert len(set(orders)) == len(orders) and all(o >= 1 for o in orders)
        for attribute in definition["attributes"]:
            assert isinstance(attribute["variable"], bool)
            assert isinstance(attribute["required"], bool)
            assert attribute["code"] and attribute["datatype"] in datatypes
            assert "datatype_description" in attribute and attribute["description"]
            if attribute["datatype"].endswith("list"):
                assert all(v["key"] and v["name"] for v in attribute["values"])
        top = xml_of(await client.get(f"{root(platform)}/services/{code}.xml"))
        assert top.tag == "service_definition" and top.findtext("service_code") == code
        attrs = top.findall("attributes/attribute")
        assert [a.findtext("code") for a in attrs] == [a["code"] for a in definition["attributes"]]
        for node in attrs:
            for value in node.findall("values/value"):
                assert value.findtext("key") and value.findtext("name")

    unknown = f"no-such-service-{uuid4().hex[:6]}"
    for fmt in ("json", "xml"):
        r = await client.get(f"{root(platform)}/services/{unknown}.{fmt}")
        assert_errors(r, 404, fmt)


async def test_jurisdiction_id_ours_or_none_is_the_same_another_is_404(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    """jurisdiction_id: "Implementations can ignore this parameter and treat it as an
    Optional Argument if the implementation only serves one jurisdiction"; "a null parameter
    should be treated as equivalent to a non-declared parameter"; "404 - jurisdiction_id
    provided was not found" (GET Service List, GET Service Requests, POST)."""
    base = f"{root(platform)}/services.json"
    plain = json_of(await client.get(base))
    assert json_of(await client.get(base, params={"jurisdiction_id": JURISDICTION})) == plain
    assert json_of(await client.get(base, params={"jurisdiction_id": ""})) == plain
    for fmt in ("json", "xml"):
        other = {"jurisdiction_id": "elsewhere.example.org"}
        assert_errors(await client.get(f"{root(platform)}/services.{fmt}", params=other), 404, fmt)
        r = await client.get(f"{root(platform)}/requests.{fmt}", params=other)
        assert_errors(r, 404, fmt)
    code = plain[0]["service_code"]
    r = await post_request(
        client,
        platform,
        **{**full_request(code, "Lampu mati."), "jurisdiction_id": "elsewhere.example.org"},
    )
    assert_errors(r, 404)


# --- POST Service Request and GET service_request_id from a token --------------------------


async def test_post_answers_a_token_that_resolves_to_the_public_request(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    """POST Service Request: a `service_requests` array of one `request` with either
    `service_request_id` or `token` ("This should not be returned if token is returned"),
    optional `service_notice` and `account_id`. GET service_request_id from a token
    (`tokens/[token id].[format]`): `service_requests` / `request` with `service_request_id`
    and "The token ID used to make this call". The id then opens GET Service Request
    (`requests/[service_request_id].[format]`): the same request, in both formats."""
    code = await first_service(client, platform)
    words = f"Jalan berlubang besar dekat halte, uji {uuid4().hex[:8]}."
    created = await post_request(client, platform, **full_request(code, words))
    assert created.status_code in (200, 201), created.text
    [answer] = json_of(created)
    assert ("token" in answer) != ("service_request_id" in answer), answer
    assert set(answer) <= {"token", "service_request_id", "service_notice", "account_id"}
    token = str(answer["token"])

    request_id = await resolved_id(client, platform, token)
    top = xml_of(await client.get(f"{root(platform)}/tokens/{token}.xml"))
    assert top.tag == "service_requests"
    [node] = top.findall("request")
    assert (node.findtext("service_request_id"), node.findtext("token")) == (request_id, token)

    [one] = json_of(await client.get(f"{root(platform)}/requests/{request_id}.json"))
    assert one["service_request_id"] == request_id and one["service_code"] == code
    assert one["status"] in ("open", "closed")
    assert W3C.match(one["requested_datetime"]) and W3C.match(one["updated_datetime"])
    assert one["updated_datetime"] >= one["requested_datetime"]
    assert "berlubang" in one["description"] and one["service_name"]
    top = xml_of(await client.get(f"{root(platform)}/requests/{request_id}.xml"))
    assert top.tag == "service_requests"
    [node] = top.findall("request")
    assert node.findtext("service_request_id") == request_id
    assert node.findtext("status") == one["status"]
    assert node.findtext("requested_datetime") == one["requested_datetime"]

    # A retry of the same POST files nothing new: the same token.
    again = await post_request(client, platform, **full_request(code, words))
    assert again.status_code in (200, 201) and json_of(again)[0]["token"] == token

    # XML for the POST answer too.
    other = await post_request(
        client, platform, "xml", **full_request(code, f"Trotoar amblas {uuid4().hex[:6]}.")
    )
    assert other.status_code in (200, 201), other.text
    top = xml_of(other)
    assert top.tag == "service_requests" and top.findtext("request/token")


async def test_a_private_request_is_never_listed_and_its_token_names_no_id(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    """Aduan's rule on top of the spec (SPEC privacy rules 1 and 4): without
    `attribute[privacy]=public` a request stays private; its token never yields an id and
    GET Service Requests never lists it. Checked once the report is filed and processed
    (its receipt code tracks it on the portal)."""
    code = await first_service(client, platform)
    marker = f"privat-{uuid4().hex[:8]}"
    words = f"Saluran tersumbat di gang kami, {marker}."
    created = await post_request(client, platform, **full_request(code, words, "private"))
    assert created.status_code in (200, 201), created.text
    token = json_of(created)[0]["token"]

    async def processed() -> bool:
        r = await client.get(f"{platform.urls['gateway']}/v1/public/track/{token}")
        return r.status_code == 200

    await eventually(processed, "the private report in the gateway", timeout=90)
    [entry] = json_of(await client.get(f"{root(platform)}/tokens/{token}.json"))
    assert entry["token"] == token and entry["service_request_id"] is None
    listed = await client.get(f"{root(platform)}/requests.json")
    assert listed.status_code == 200 and marker not in listed.text


async def test_post_errors_in_both_formats(platform: Platform, client: httpx.AsyncClient) -> None:
    """POST errors: "403 - Missing or Invalid API Key"; "404 - service_code or
    jurisdiction_id was not found"; "400 - service_code or jurisdiction_id was not
    provided"; a location is required ("A full location parameter must be submitted. One
    of lat & long or address_string or address_id"); "basically 400 for any other error"."""
    code = await first_service(client, platform)
    good = {
        "service_code": code,
        "address_string": "Jl. Cikini Raya, Menteng",
        "description": "Lampu jalan mati sejak kemarin.",
    }
    for fmt in ("json", "xml"):
        no_key = await client.post(f"{root(platform)}/requests.{fmt}", data=good)
        assert_errors(no_key, 403, fmt)
        wrong_key = await post_request(client, platform, fmt, **{**good, "api_key": "nope"})
        assert_errors(wrong_key, 403, fmt)
        unknown = await post_request(client, platform, fmt, **{**good, "service_code": "ufo-x"})
        assert_errors(unknown, 404, fmt)
        missing = {k: v for k, v in good.items() if k != "service_code"}
        described = assert_errors(await post_request(client, platform, fmt, **missing), 400, fmt)
        assert any("service_code" in d for d in described)
        nowhere = {k: v for k, v in good.items() if k != "address_string"}
        described = assert_errors(await post_request(client, platform, fmt, **nowhere), 400, fmt)
        assert any("location" in d for d in described)
        half = {**nowhere, "lat": "-6.2"}
        assert_errors(await post_request(client, platform, fmt, **half), 400, fmt)
        bad = {**good, "attribute[privacy]": "sometimes"}
        assert_errors(await post_request(client, platform, fmt, **bad), 400, fmt)
    # Not form-encoded: refused with the spec's error array, HTTP 400.
    r = await client.post(f"{root(platform)}/requests.json", json={"api_key": API_KEY, **good})
    assert_errors(r, 400)


# --- GET Service Requests and GET Service Request -------------------------------------------


async def test_get_requests_filters_pagination_and_dates(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    """GET Service Requests (`requests.[format]`): `service_request_id` ("multiple ... comma
    delimited. This overrides all other arguments"), `service_code` ("can be declared
    multiple times, comma delimited"), `status` (open, closed; comma delimited),
    `start_date`/`end_date` ("requests which have a requested_datetime that matches a given
    range, but may not span more than 90 days"; "When not specified, the range defaults to
    most recent 90 days. Must use w3 format"); "Default query limit is a span of 90 days or
    first 1000 requests returned". Pages (`page`, `page_size`: an extension many servers
    share) split one answer without overlap."""
    services = json_of(await client.get(f"{root(platform)}/services.json"))
    first, second = services[0]["service_code"], services[1]["service_code"]
    ids: dict[str, str] = {}
    for code in (first, second, first):
        created = await post_request(
            client, platform, **full_request(code, f"Masalah {code} nomor {uuid4().hex[:8]}.")
        )
        assert created.status_code == 201, created.text
        rid = await resolved_id(client, platform, json_of(created)[0]["token"])
        ids[rid] = code
    base = f"{root(platform)}/requests"

    async def listing(fmt: str = "json", **params: str) -> Any:
        r = await client.get(f"{base}.{fmt}", params=params)
        assert r.status_code == 200, r.text
        return xml_of(r) if fmt == "xml" else json_of(r)

    everything = await listing()
    assert len(everything) <= 1000
    assert set(ids) <= {r["service_request_id"] for r in everything}
    since = datetime.now(UTC) - timedelta(days=90)
    for item in everything:
        assert W3C.match(item["requested_datetime"])
        assert datetime.fromisoformat(item["requested_datetime"]) >= since
        assert item["status"] in ("open", "closed")
    top = await listing("xml")
    assert top.tag == "service_requests"
    assert [n.findtext("service_request_id") for n in top.findall("request")] == [
        r["service_request_id"] for r in everything
    ]

    # service_code: one, or several comma delimited.
    only = await listing(service_code=first)
    assert only and {r["service_code"] for r in only} == {first}
    both = await listing(service_code=f"{first},{second}")
    assert {r["service_code"] for r in both} == {first, second}
    assert {rid for rid, c in ids.items() if c in (first, second)} <= {
        r["service_request_id"] for r in both
    }

    # service_request_id overrides every other argument (here: a status that excludes them).
    picked = list(ids)[:2]
    chosen = await listing(service_request_id=",".join(picked), status="closed", service_code="x")
    assert sorted(r["service_request_id"] for r in chosen) == sorted(picked)

    # status: each answer only has the statuses asked for.
    for status in ("open", "closed"):
        assert all(r["status"] == status for r in await listing(status=status))
    assert len(await listing(status="open,closed")) == len(everything)
    assert set(ids) <= {r["service_request_id"] for r in await listing(status="open")}

    # Dates: every request listed has a requested_datetime in the range; ours are in a
    # range that holds their requested_datetime and absent from one that does not.
    mine = next(r for r in everything if r["service_request_id"] in ids)
    stamp = datetime.fromisoformat(mine["requested_datetime"])
    start, end = stamp - timedelta(days=1), stamp + timedelta(days=1)
    ranged = await listing(start_date=start.isoformat(), end_date=end.isoformat())
    assert mine["service_request_id"] in {r["service_request_id"] for r in ranged}
    for item in ranged:
        assert start <= datetime.fromisoformat(item["requested_datetime"]) <= end
    later = await listing(start_date=(stamp + timedelta(seconds=1)).isoformat())
    assert mine["service_request_id"] not in {r["service_request_id"] for r in later}
    earlier = await listing(end_date=(stamp - timedelta(seconds=1)).isoformat())
    assert mine["service_request_id"] not in {r["service_request_id"] for r in earlier}
    zulu = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # the spec's example form
    assert mine["service_request_id"] in {
        r["service_request_id"] for r in await listing(start_date=zulu, end_date=zulu)
    }

    # Pages: disjoint, and together the same as one answer.
    page_one = await listing(page_size="2", page="1")
    page_two = await listing(page_size="2", page="2")
    assert len(page_one) == 2
    together = [r["service_request_id"] for r in page_one + page_two]
    assert len(set(together)) == len(together)
    assert together == [r["service_request_id"] for r in everything][: len(together)]

    # Errors: "basically 400 for any other error where the request can not be fulfilled".
    wide = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}
    backwards = {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}
    for fmt in ("json", "xml"):
        for params in (
            wide,
            backwards,
            {"start_date": "yesterday"},
            {"end_date": "2026-05-01"},  # no time zone: the w3 format requires one
            {"status": "pending"},
            {"page_size": "0"},
        ):
            assert_errors(await client.get(f"{base}.{fmt}", params=params), 400, fmt)


async def test_unknown_request_and_token_are_404_in_both_formats(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    """ "HTTP error codes should always be 404 for resources that don't exist": GET Service
    Request for an id that is not a (public) request, GET service_request_id from a token
    that is not one ("404 - jurisdiction_id or token not found"), a resource in a format
    the server does not offer."""
    for fmt in ("json", "xml"):
        assert_errors(await client.get(f"{root(platform)}/requests/{uuid4()}.{fmt}"), 404, fmt)
        assert_errors(await client.get(f"{root(platform)}/requests/12345.{fmt}"), 404, fmt)
        assert_errors(await client.get(f"{root(platform)}/tokens/not*a*token.{fmt}"), 404, fmt)
    assert_errors(await client.get(f"{root(platform)}/services.html"), 404)


async def test_public_answers_carry_no_personal_data(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    """SPEC privacy rules 5, 6 and 8 on every public GeoReport answer: no name, phone,
    e-mail or device of the requester, no street address or precise point, the text
    scrubbed of contacts, and the requested time only to the month
    (`YYYY-MM-01T00:00:00+07:00`). `address` is the coarse area; `lat`/`long` absent."""
    code = await first_service(client, platform)
    created = await post_request(
        client, platform, **full_request(code, f"Pohon tumbang {uuid4().hex[:8]}.")
    )
    assert created.status_code == 201, created.text
    rid = await resolved_id(client, platform, json_of(created)[0]["token"])
    answers = [
        await client.get(f"{root(platform)}/requests/{rid}.{fmt}") for fmt in ("json", "xml")
    ] + [
        await client.get(f"{root(platform)}/requests.{fmt}", params={"service_request_id": rid})
        for fmt in ("json", "xml")
    ]
    # The street with its house number and RT/RW (the kelurahan may be shown: coarse).
    secrets = (EMAIL, PHONE, FIRST, LAST, DEVICE, "Kenari II", "No. 17", "RT 004", LAT, LONG)
    secrets += ("lubang.jpg",)
    for answer in answers:
        assert answer.status_code == 200 and rid in answer.text
        for secret in secrets:
            assert secret not in answer.text, (secret, answer.text)
    [one] = json_of(answers[0])
    assert re.match(r"^\d{4}-\d{2}-01T00:00:00\+07:00$", one["requested_datetime"]), one
    assert "lat" not in one and "long" not in one
    assert one["media_url"] is None
