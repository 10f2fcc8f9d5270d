"""Browser tests: Playwright for Python driving Debian's Chromium (never Playwright's download).

Each test gets its own Playwright and browser, so Playwright's event loop lives only as long
as the test; DJANGO_ALLOW_ASYNC_UNSAFE lets the test's ORM calls run beside that loop.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pw-for-tests-1"  # tests.factories.make_user's default
DESKTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def chromium(monkeypatch) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium: apt-get install -y chromium chromium-driver")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Django keeps connections per context, and Playwright's loop makes this test's
        # ORM calls a context of their own: close that connection before the loop ends,
        # or PostgreSQL cannot drop the test database at the end of the run.
        connections.close_all()


@pytest.fixture
def login(chromium, live_server) -> Callable[..., Page]:
    """Open a fresh browser context logged in as `user`; returns its page."""

    def open_as(user, viewport: dict | None = None) -> Page:
        context = chromium.new_context(viewport=viewport or DESKTOP, base_url=live_server.url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return open_as


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
