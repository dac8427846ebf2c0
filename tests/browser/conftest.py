"""Fixtures for the browser tests: one platform (five services + sinks as OS processes, as
`make up` runs them) for the whole tests/browser package, seeded with the demo data, and one
headless Debian Chromium.

Package scope (tests/browser has an __init__.py for it): every module's flows share the
platform, so it starts and is seeded once per run, and it is stopped after the last browser
test, not left running through the rest of `make test`. Each flow files its own reports and
never moves a demo report, so the flows do not depend on each other or on their order.

Chromium comes from `deploy/scripts/browser.sh` (apt's /usr/bin/chromium); Playwright's own
browser download is never used."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from aduan_testing.browser import CHROMIUM, CHROMIUM_ARGS, prepare_screenshot_dir
from aduan_testing.infra import Infra
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation, isolation


@pytest_asyncio.fixture(scope="package")
async def browser_isolated(infra: Infra) -> AsyncIterator[Isolation]:
    async with isolation(infra) as iso:
        yield iso


@pytest_asyncio.fixture(scope="package")
async def platform(
    browser_isolated: Isolation, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """The platform with the demo data in it (gateway demo-seed, then deploy/demo/seed.py),
    exactly as `make up` leaves it."""
    directory = tmp_path_factory.mktemp("platform")
    # No map tiles from the internet in tests: the page must work without them.
    extra = {
        "ADUAN_PORTAL_MAP_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png",
        # Every citizen in these tests comes from 127.0.0.1 and one platform serves the
        # whole package (the demo seed's 25 complaints included): the per-address limits
        # against abuse (tested in intake's and the gateway's own tests) would otherwise
        # refuse a later test's filing or answer within the same minute (a CI run saw it).
        "ADUAN_INTAKE_RATE_LIMIT_POSTS": "1000",
        "ADUAN_GATEWAY_TRACK_PER_MINUTE": "1000",
        # A test that moves an SLA clock into the past (test_console_units.py) sees the
        # scanner act within seconds instead of its production 30 s.
        "ADUAN_WORKFLOW_SLA_SCAN_INTERVAL_S": "2",
    }
    async with running_platform(browser_isolated, directory, extra_env=extra) as plat:
        t0 = time.monotonic()
        seeded = await plat.run_script("deploy/demo/seed.py")
        print(f"demo seed: {time.monotonic() - t0:.1f} s\n{seeded.stdout}")
        yield plat


@pytest_asyncio.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: run deploy/scripts/browser.sh (apt-get install chromium)"
        )
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        prepare_screenshot_dir()
        try:
            yield b
        finally:
            await b.close()
