"""Helpers for the browser tests (tests/browser): Debian's Chromium launch settings, console
sign-in, waiting for a report's status on the console page, screenshots, photos, and the
"nothing exact, nothing personal" checks.

Playwright for Python drives `/usr/bin/chromium` (installed by `deploy/scripts/browser.sh`
with apt-get); Playwright's own browser download is never used."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.async_api import Browser, BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from aduan_testing.infra import repo_root

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root on a machine without a GPU or outside network; without the
# background-networking flags Chromium keeps trying hosts it cannot reach.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
DEMO_PASSWORD = "demo-aduan-2026"  # noqa: S105 - the published demo accounts' password
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = repo_root() / "test-artifacts" / "screenshots"
DOC_SCREENSHOTS = repo_root() / "docs" / "screenshots"
# The handful copied into docs/ (committed) when ADUAN_UPDATE_DOC_SCREENSHOTS=1.
CURATED = {
    "portal-home",
    "portal-list-phone",
    "portal-report",
    "portal-stats",
    "console-login",
    "console-triage-queue",
    "console-agency-queue",
    "console-report-follow-up",
    "console-validator-evidence",
    "console-admin-categories",
    "console-receipt-lookup",
    "console-agency-report-map",
    "console-queue-filters-map",
    "console-dashboard",
    # tests/browser/test_console_flows.py
    "console-expired-follow-up-login",
    "console-expired-follow-up-restored",
    "console-bulk-dispatch-picked",
    "console-bulk-dispatch-agency-queue",
    "console-own-follow-up-photo",
    "console-grant-refused",
    "console-validator-opened-photos",
    "console-access-log-photos-opened",
    "console-return-done",
    "console-agency-where-not-who",
}

# A clock time (08:30, 8.30 is not matched: it is also a decimal) or an ISO date-time.
CLOCK = re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d\b")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
EXACT_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def assert_nothing_exact(text: str, where: str) -> None:
    """No clock time, ISO date-time or exact date (the public sees months only)."""
    for pattern in (CLOCK, ISO_DATETIME, EXACT_DATE):
        found = pattern.search(text)
        assert found is None, f"{where} shows an exact time/date {found.group(0)!r}"


def assert_no_iso_datetime(html: str, where: str) -> None:
    """For markup (attributes included): no ISO date-time, no exact date."""
    for pattern in (ISO_DATETIME, EXACT_DATE):
        found = pattern.search(html)
        assert found is None, f"{where} carries an exact time/date {found.group(0)!r}"


def assert_nothing_personal(text: str, personal: tuple[str, ...], where: str) -> None:
    lowered = text.lower()
    for secret in personal:
        assert secret.lower() not in lowered, f"{where} shows personal data {secret!r}"


def jpeg(seed: int, point: tuple[float, float] | None = None) -> bytes:
    """A small real JPEG (Pillow); with `point`, EXIF GPS and capture time as a phone camera
    writes them (read by the evidence check, then stripped)."""
    img = Image.new("RGB", (320, 240), (120 + seed % 80, 130, 140))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 120, 320, 240), fill=(80, 80, 85))
    draw.ellipse((100, 160, 220, 200), fill=(30, 30, 30))
    draw.text((8, 8), f"browser test {seed}", fill=(0, 0, 0))
    exif = Image.Exif()
    if point is not None:

        def dms(v: float) -> tuple[float, float, float]:
            v = abs(v)
            d, m = int(v), int((abs(v) - int(v)) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 2))

        lat, lon = point
        exif.get_ifd(0x8825).update(
            {1: "S" if lat < 0 else "N", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}
        )
        local = datetime.now(UTC) + timedelta(hours=7)
        exif.get_ifd(0x8769)[0x9003] = local.strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


async def shot(page: Page, name: str, *, full_page: bool = True, update_docs: bool) -> None:
    """Save a screenshot under test-artifacts/screenshots (git-ignored); a curated few also
    into docs/screenshots when asked."""
    path = SCREENSHOTS / f"{name}.png"
    # Lazy images below the fold would be blank in a full-page picture: load them first.
    await page.evaluate(
        """() => Promise.all([...document.images].map(i => {
             i.loading = 'eager';
             return i.complete ? null : new Promise(r => { i.onload = i.onerror = r; });
           }))"""
    )
    await page.screenshot(path=str(path), full_page=full_page)
    if update_docs and name in CURATED:
        await asyncio.to_thread(_copy, path, DOC_SCREENSHOTS / path.name)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def prepare_screenshot_dir() -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


async def assert_labelled(page: Page, where: str) -> None:
    """Every visible form control has an accessible name (a <label for>, a wrapping label,
    aria-label or aria-labelledby); buttons have text or aria-label."""
    unlabelled = await page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
             .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                          && !e.getAttribute('aria-labelledby')
                          && !(e.tagName === 'BUTTON' && e.textContent.trim()))
             .map(e => e.outerHTML.slice(0, 120))"""
    )
    assert not unlabelled, f"{where}: controls without a label: {unlabelled}"


async def keyboard_login(page: Page, portal: str, username: str) -> None:
    """Sign in with the keyboard only: Tab to the user name, type, Tab, type, Enter."""
    await page.goto(f"{portal}/console/login")
    for _ in range(20):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == (
            "username"
        ):
            break
    else:
        raise AssertionError("the user name field cannot be reached with Tab")
    await page.keyboard.type(username)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "password"
    await page.keyboard.type(DEMO_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#whoami", timeout=15_000)


async def new_context(
    browser: Browser, viewport: dict[str, int] | None = None, *, phone: bool = False
) -> BrowserContext:
    """A browser context as a person in Jakarta has it: Indonesian locale, WIB clock."""
    return await browser.new_context(
        viewport=viewport or DESKTOP,  # type: ignore[arg-type]
        locale="id-ID",
        timezone_id="Asia/Jakarta",
        is_mobile=phone,
    )


async def console_login(
    browser: Browser,
    portal: str,
    username: str,
    viewport: dict[str, int] | None = None,
    *,
    screenshot: bool = False,
    update_docs: bool = False,
) -> tuple[BrowserContext, Page]:
    """A fresh browser context signed in to the console as `username`."""
    context = await new_context(browser, viewport)
    page = await context.new_page()
    await page.goto(f"{portal}/console/login")
    if screenshot:
        await shot(page, "console-login", update_docs=update_docs)
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#whoami", timeout=15_000)
    assert await page.get_attribute("#whoami", "data-user-id"), "no user id after sign-in"
    return context, page


async def open_report(page: Page, portal: str, report_id: str, timeout: float = 60) -> None:
    """Open the console page of a report, retrying while the gateway does not know it yet
    (the platform is asynchronous)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await page.goto(f"{portal}/console/reports/{report_id}")
        if await page.locator("#report").count():
            return
        if loop.time() > deadline:
            raise AssertionError(
                f"report {report_id} not shown in the console: {await page.inner_text('body')}"
            )
        await asyncio.sleep(1)


async def wait_status(page: Page, status: str, timeout: float = 60) -> None:
    """Until the console's report page shows `status` and no pending change; the page
    refreshes itself while a change is being applied, and is reloaded here otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = None
    while loop.time() < deadline:
        report = page.locator("#report")
        if await report.count():
            seen = await report.get_attribute("data-status")
            if seen == status and not await page.locator("#applying").count():
                return
        await asyncio.sleep(1)
        if not await page.locator("#applying").count():
            # The page may be navigating itself right now (its <meta refresh> while a change
            # is applied): a reload then fails with "not attached"; the next turn retries.
            with contextlib.suppress(PlaywrightError):
                await page.reload()
    flashes = await page.locator("#flash").all_inner_texts()
    raise AssertionError(f"report still {seen!r}, not {status!r}; flash: {flashes}")


async def expect_success(page: Page) -> None:
    """The last action's flash says it was accepted (not a refusal)."""
    errors = await page.locator('#flash p.flash[data-kind="error"]').all_inner_texts()
    assert not errors, f"the console refused the action: {errors}"
