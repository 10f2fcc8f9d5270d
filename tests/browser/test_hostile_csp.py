"""The Content-Security-Policy blocks nothing the pages themselves use (issue 11)."""

import pytest
from playwright.sync_api import expect

from tests.factories import import_rows, make_review_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pages_run_under_the_csp_without_a_violation(login, owner, project):
    import_rows(project, make_review_rows(10))
    page = login(owner)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security" in message.text else None,
    )

    for path in ("/", f"/projects/{project.slug}/", "/account/"):
        response = page.goto(path)
        assert "script-src 'self'" in response.headers["content-security-policy"]
    page.goto(f"/projects/{project.slug}/annotate")
    expect(page.locator("#item-card")).to_have_attribute("data-state", "item")
    page.keyboard.press("1")  # the page's own scripts work: a label is saved
    expect(page.locator("#conn-text")).to_have_text("All labels saved", timeout=20_000)

    assert violations == []
