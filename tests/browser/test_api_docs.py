"""The API documentation pages in a real browser: reached from the footer, rendered from the
schema, and loading every asset from this machine (drf-spectacular-sidecar, no CDN)."""

from urllib.parse import urlsplit

import pytest
from drf_spectacular.generators import SchemaGenerator
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.factories import make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _record_requests(page: Page) -> tuple[list[str], dict[str, str]]:
    """The URLs the page asked for, and why those that failed did."""
    urls: list[str] = []
    failed: dict[str, str] = {}
    page.on("request", lambda request: urls.append(request.url))
    page.on("requestfailed", lambda request: failed.setdefault(request.url, request.failure or ""))
    return urls, failed


def _left_the_machine(urls: list[str], failed: dict[str, str], live_url: str) -> list[str]:
    """Requests to anywhere but the live server that the browser did not refuse before sending."""
    here = urlsplit(live_url).netloc
    elsewhere = [u for u in urls if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != here]
    return [url for url in elsewhere if failed.get(url) != "csp"]  # refused by the page's policy, never sent


def test_swagger_ui_opens_from_the_footer_and_renders_every_operation_locally(login, owner, live_server):
    make_project(owner, name="Docs")
    page = login(owner)
    urls, failed = _record_requests(page)
    page.click("footer >> text=API documentation")
    page.wait_for_url(f"{live_server.url}/api/v1/docs")

    # The schema is generated per request, which takes seconds on a busy machine.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Sift API", timeout=30_000)
    operations = page.locator(".swagger-ui .opblock")
    expect(operations.first).to_be_visible()
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert operations.count() == sum(len(operations) for operations in paths.values())
    expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/projects/{id}/next")
    # A response model is typed, not a bare object: open one operation and read its schema.
    page.locator(".opblock-summary-path", has_text="/api/v1/projects/{id}/stats").first.click()
    expect(page.locator(".opblock-body").first).to_contain_text("labeled_pool")
    screenshot(page, "api-docs-swagger")

    assert urlsplit(live_server.url).hostname in ("127.0.0.1", "localhost")
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in urls)
    assert any(url.endswith("/api/v1/schema") for url in urls)
    assert _left_the_machine(urls, failed, live_server.url) == []
    assert failed == {}


def test_redoc_renders_the_schema_with_no_request_leaving_the_machine(chromium, live_server):
    page = chromium.new_context(viewport={"width": 1366, "height": 900}).new_page()
    urls, failed = _record_requests(page)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{live_server.url}/api/v1/redoc")

    # Redoc parses the whole schema in the page before it draws anything: give it time.
    expect(page.locator("h1").first).to_contain_text("Sift API", timeout=30_000)
    expect(page.get_by_text("/api/v1/projects/{id}/retrain").first).to_be_attached()
    screenshot(page, "api-docs-redoc")

    # Redoc's bundle asks for its logo on cdn.redoc.ly; the page's policy refuses it unsent.
    assert [e for e in errors if "cdn.redoc.ly" not in e] == [], errors
    assert any("/static/drf_spectacular_sidecar/redoc/" in url for url in urls)
    assert _left_the_machine(urls, failed, live_server.url) == [], failed
