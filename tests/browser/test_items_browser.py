"""The items browser in a real browser: search, filter, open an item, relabel it, bulk-label
a selection. Screenshots go to /tmp/sift-items-*.png (looked at by hand when this changed)."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from labeling import services
from labeling.models import BulkAction, Item, Origin
from tests.factories import csv_bytes, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = [
    ("r0", "great service and great food", "positive"),
    ("r1", "terrible service, cold food", "negative"),
    ("r2", "the staff were rude", ""),
    ("r3", "loved the dessert", ""),
    ("r4", "food was cold but staff were kind", ""),
    ("r5", "service was slow", ""),
]


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(Path("/tmp") / f"sift-items-{name}.png"), full_page=True)


def test_search_filter_open_relabel_and_bulk_label(login, owner):
    project = make_project(owner, name="Browse", test_fraction=0.0)
    rows = [{"id": i, "text": t, "label": lab} for i, t, lab in ROWS]
    services.import_items(project, owner, csv_bytes(rows, ["id", "text", "label"]), "reviews.csv")
    page = login(owner)
    page.goto(f"/projects/{project.slug}/items/")

    page.fill("#id_q", "food")
    page.click("button:has-text('Show')")
    # The filters are in the address: the view can be shared or bookmarked.
    expect(page).to_have_url(re.compile(r"/items/\?q=food&"))
    table = page.locator("table.items tbody tr")
    expect(table).to_have_count(3)  # r0, r1, r4
    page.select_option("#id_state", "labeled")
    page.click("button:has-text('Show')")
    expect(table).to_have_count(2)
    _shot(page, "1-search-and-filter")

    page.click("a.item-ref:has-text('r1')")
    expect(page.locator("h1")).to_have_text("Item r1")
    expect(page.locator("#neighbours")).to_contain_text("r4")  # "cold food" is most like r1
    _shot(page, "2-item-page")
    page.click("#relabel button:has-text('positive')")
    expect(page.locator("#item-label")).to_have_text("positive")
    _shot(page, "3-relabeled")
    r1 = Item.objects.get(project=project, external_id="r1")
    assert (r1.label.name, r1.label_origin) == ("positive", Origin.ADJUDICATION)

    page.goto(f"/projects/{project.slug}/items/?q=service&state=unlabeled")
    expect(table).to_have_count(1)  # r5
    page.select_option("#bulk-action", "label")
    page.select_option("#bulk-label", "negative")
    page.click("button:has-text('Every matching item')")
    expect(page.locator("#bulk-count")).to_have_text("1")
    _shot(page, "4-bulk-confirm")
    page.click("button:has-text('Label 1 item')")
    expect(page.locator(".messages")).to_contain_text("labeled “negative”")
    expect(page.locator(".bulk-history")).to_contain_text("gave “negative” to 1 item")
    _shot(page, "5-bulk-labeled")
    r5 = Item.objects.get(project=project, external_id="r5")
    assert (r5.label.name, r5.label_origin) == ("negative", Origin.BULK)
    assert BulkAction.objects.get().changed == 1
