"""No network, ever: the data loads with sockets disabled; the portal's index is small."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import textwrap
import time

import pytest

import aduan_areas


class _NoNetwork(AssertionError):
    pass


def _refuse(*args: object, **kwargs: object) -> socket.socket:
    raise _NoNetwork("aduan_areas tried to open a socket")


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)


@pytest.mark.usefixtures("no_sockets")
def test_everything_loads_and_works_without_sockets() -> None:
    aduan_areas._clear_caches()
    try:
        assert len(aduan_areas.jakarta()) == 318
        assert aduan_areas.search("gambir")[0].area.code == "31.71.01.1001"
        assert aduan_areas.resolve("Gambir, Jakarta Pusat") is not None
        assert json.loads(aduan_areas.search_index_json())
        assert aduan_areas.points() == {}
        assert aduan_areas.get("32.71.04.1001") is not None
    finally:
        aduan_areas._clear_caches()


def test_a_fresh_interpreter_loads_without_sockets() -> None:
    # First import and first load in a new process, so nothing was loaded beforehand.
    script = textwrap.dedent(
        """
        import socket
        def refuse(*a, **k):
            raise SystemExit("socket opened")
        socket.socket = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        import aduan_areas
        assert len(aduan_areas.jakarta()) == 318
        found = aduan_areas.resolve("Jl. Kebon Sirih No. 12, Gambir, Jakarta Pusat")
        assert found.area.name == "Gambir"
        assert aduan_areas.search_index_json()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_loads_once_and_answers_fast() -> None:
    aduan_areas.jakarta()
    started = time.perf_counter()
    for _ in range(100):
        aduan_areas.get("31.71.01.1001")
        aduan_areas.search("kebon jerok")
        aduan_areas.resolve("Jl. Kebon Sirih No. 12, Gambir, Jakarta Pusat")
    per_round = (time.perf_counter() - started) / 100
    assert per_round < 0.05
    assert aduan_areas.jakarta() is aduan_areas.jakarta() or (
        aduan_areas.jakarta() == aduan_areas.jakarta()
    )


def test_search_index_for_the_portal(capsys: pytest.CaptureFixture[str]) -> None:
    raw = aduan_areas.search_index_json(within="31")
    rows = json.loads(raw)
    assert len(rows) == 44 + 267
    assert {r["level"] for r in rows} == {"kecamatan", "kelurahan"}
    gambir = next(r for r in rows if r["code"] == "31.71.01.1001")
    assert gambir == {
        "code": "31.71.01.1001",
        "name": "Gambir",
        "level": "kelurahan",
        "label": "Gambir, Kec. Gambir, Kota Jakarta Pusat",
    }
    # Labels are unique: the portal maps a picked label back to its area.
    assert len({r["label"] for r in rows}) == len(rows)
    # No points shipped (D13): no lat/lon keys rather than nulls.
    assert all("lat" not in r for r in rows)
    size, zipped = len(raw.encode()), len(gzip.compress(raw.encode(), 9))
    with capsys.disabled():
        print(f"\nsearch index (DKI Jakarta): {len(rows)} areas, {size} B, {zipped} B gzipped")
    assert zipped < 8_000


def test_index_carries_points_once_the_table_has_them() -> None:
    from aduan_areas._export import _index_rows

    # Parser-level check only: these numbers are not a claim about where Gambir is.
    rows = _index_rows("31.71.01", {"31.71.01.1001": (-6.0, 106.0)})
    gambir = next(r for r in rows if r["code"] == "31.71.01.1001")
    assert (gambir["lat"], gambir["lon"]) == (-6.0, 106.0)
