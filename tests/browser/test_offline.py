"""Offline on the labeling page: once the prefetched items run out the page says it is offline
(not "nothing left"), keeps every label in the browser, and recovers within seconds of the
connection coming back: the labels reach the server once each and the next item appears."""

import time

import pytest
from playwright.sync_api import Page, expect

from labeling.models import Annotation
from tests.browser.conftest import screenshot
from tests.factories import add_member, import_rows, make_project, make_review_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECOVERY_SECONDS = 5


def _wait_for_item(page: Page, previous: str | None) -> str:
    page.wait_for_function(
        "prev => document.getElementById('item-card').dataset.state === 'item'"
        " && document.getElementById('item-id').textContent !== prev",
        arg=previous,
    )
    return page.text_content("#item-id")


def _label_while_items_last(page: Page) -> list[str]:
    """Press "1" on every item on screen until the page runs out of prefetched items."""
    labeled = []
    for _ in range(10):
        if page.get_attribute("#item-card", "data-state") != "item":
            break
        labeled.append(page.text_content("#item-id"))
        page.keyboard.press("1")
        page.wait_for_function(
            "prev => document.getElementById('item-card').dataset.state !== 'item'"
            " || document.getElementById('item-id').textContent !== prev",
            arg=labeled[-1],
        )
    return labeled


def test_offline_says_offline_keeps_the_labels_and_recovers_within_seconds(login, owner, annotator):
    project = make_project(owner, name="Offline reviews")
    add_member(project, annotator)
    import_rows(project, make_review_rows(400))
    page = login(annotator)
    page.goto(f"/projects/{project.slug}/annotate")
    first = _wait_for_item(page, None)
    page.wait_for_selector('#workbench[data-prefetched="2"]')

    page.context.set_offline(True)
    labeled = _label_while_items_last(page)
    assert labeled[0] == first
    assert len(labeled) == 3  # the one on screen and the two prefetched
    card = page.locator("#item-card")
    expect(card).to_have_attribute("data-state", "offline")
    expect(page.locator("#item-text")).to_have_text(
        "You are offline; your 3 labels are kept and will be sent when the connection is back; retrying…"
    )
    expect(page.locator("#item-text")).not_to_contain_text("Nothing left")
    expect(page.locator("#conn")).to_have_attribute("data-state", "bad")
    # Still offline after several retries: the message stands, nothing is lost or sent.
    page.wait_for_timeout(4000)
    expect(card).to_have_attribute("data-state", "offline")
    assert not Annotation.objects.filter(user=annotator).exists()
    kept = page.evaluate(f"JSON.parse(localStorage.getItem('sift:outbox:{annotator.username}:{project.pk}'))")
    assert sorted(entry["view"]["external_id"] for entry in kept) == sorted(labeled)
    screenshot(page, "offline-labeling-page")

    page.context.set_offline(False)
    back = time.monotonic()
    _wait_for_item(page, None)
    expect(page.locator("#conn-text")).to_have_text("All labels saved", timeout=RECOVERY_SECONDS * 1000)
    recovered = time.monotonic() - back
    assert recovered < RECOVERY_SECONDS, f"recovered after {recovered:.1f} s"
    saved = Annotation.objects.filter(user=annotator).values_list("item__external_id", flat=True)
    assert sorted(saved) == sorted(labeled)  # every label once, none twice
    assert page.text_content("#item-id") not in labeled
