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


def test_recent_and_priority_sorts_walk_their_indexes_after_analyze(project, owner):
    from datetime import timedelta

    from django.utils import timezone

    from labeling.models import QueueEntry, Ranking

    n = 20_000
    start = timezone.now()
    Item.objects.bulk_create(
        Item(
            project=project,
            external_id=f"e{i}",
            text=f"{WORDS[i % 10]} question {i}",
            content_hash=f"{i:064x}",
            split="pool",
            rand_key=(i * 0.618) % 1,
            last_labeled_at=start - timedelta(seconds=i) if i % 4 == 0 else None,
        )
        for i in range(n)
    )
    ranking = Ranking.objects.create(project=project, model_ref="m")
    ids = list(Item.objects.filter(project=project, last_labeled_at=None).values_list("pk", flat=True))
    QueueEntry.objects.bulk_create(
        QueueEntry(ranking=ranking, item_id=pk, priority=float(i % 5000), strategy="random", score=0.0)
        for i, pk in enumerate(ids)
    )
    project.active_ranking = ranking
    project.save()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labeling_item")
        cursor.execute("ANALYZE labeling_queueentry")
    for sort, index in [("recent", "item_recent"), ("priority", "queue_priority_item")]:
        page = item_browser.browse_items(project, owner, {"sort": sort}, admin=True, page_size=50)
        second = item_browser.browse_items(
            project, owner, {"sort": sort}, admin=True, cursor=page.next_cursor, page_size=50
        )
        assert len(page.items) == len(second.items) == 50
        assert {i.pk for i in page.items}.isdisjoint(i.pk for i in second.items)
        # The plan of the second page (with its keyset condition) reads the index in order.
        keyed = item_browser._with_sort_key(
            project, item_browser.filter_items(project, owner, {}, admin=True), sort
        )
        key = item_browser.SORTS[sort].key
        last = second.items[-1]
        after = item_browser._after(item_browser.SORTS[sort], (getattr(last, key), last.pk), True)
        plan = keyed.filter(after).order_by(f"-{key}", "-id")[:51].explain()
        assert index in plan, plan
        assert "Sort" not in plan.replace("Sort Key", ""), plan
    recent = item_browser.browse_items(project, owner, {"sort": "recent"}, admin=True, page_size=3)
    assert [i.external_id for i in recent.items] == ["e0", "e4", "e8"]
