"""On PostgreSQL the items browser's search and length sort go through the indexes of migration 0007."""

import pytest
from django.db import connection

from labeling import item_browser
from labeling.models import Item

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="full-text search with a GIN index is PostgreSQL's"
)

WORDS = ["refund", "card", "transfer", "balance", "account", "fee", "limit", "pin", "atm", "cash"]


def test_search_uses_the_gin_index_after_analyze(project, owner):
    n = 20_000
    Item.objects.bulk_create(
        Item(
            project=project,
            external_id=f"e{i}",
            # A rare word in 1 of 1,000 items: a sequential scan would read all 20,000.
            text=f"{WORDS[i % 10]} {WORDS[(i // 10) % 10]} question {i}"
            + (" chargeback" if i % 1000 == 0 else ""),
            content_hash=f"{i:064x}",
            split="pool",
            rand_key=(i * 0.618) % 1,
        )
        for i in range(n)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labeling_item")
    found = item_browser.filter_items(project, owner, {"q": "chargeback"}, admin=True)
    plan = found.explain()
    assert "item_text_search" in plan, plan
    assert found.count() == n // 1000
    page = item_browser.browse_items(project, owner, {"q": "Chargeback", "sort": "length"}, admin=True)
    assert len(page.items) == n // 1000
    # The longest-first sort walks its index instead of sorting the whole project.
    longest = item_browser._with_sort_key(
        project, item_browser.filter_items(project, owner, {}, admin=True), "length"
    )
    plan = longest.order_by("-text_length", "-id")[:51].explain()
    assert "item_text_length" in plan, plan
