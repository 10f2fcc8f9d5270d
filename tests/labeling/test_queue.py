"""The next item: highest priority first, never to two annotators at once, test share kept."""

import random
import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from labeling import services
from labeling.models import Lease, QueueEntry, Ranking, Split
from labeling.queue import serve_next_item
from tests.factories import add_member, api_client, import_rows, make_project, make_review_rows, make_user


def _rank(project, items, reason="because"):
    """Write a ranking that puts `items` first, in the given order, and make it active."""
    ranking = Ranking.objects.create(project=project, model_ref="m1", size=len(items))
    QueueEntry.objects.bulk_create(
        QueueEntry(
            ranking=ranking,
            item=item,
            priority=100 - i,
            strategy="margin",
            score=1 - i / 100,
            suggested_label=project.labels.first(),
            confidence=0.6,
            reason=reason,
        )
        for i, item in enumerate(items)
    )
    project.active_ranking = ranking
    project.save()
    return ranking


class FixedDraw(random.Random):
    """An rng whose every draw is `value`: decides the test-share coin flip in tests."""

    def __init__(self, value: float):
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.fixture
def no_test_share(project):
    project.test_target = 0
    project.save()
    return project


@pytest.fixture
def pool_project(owner, annotator):
    """Every item in the pool, no test share: queue behaviour without the coin flip."""
    project = make_project(owner, name="Pool only", test_fraction=0.0, test_target=0)
    add_member(project, annotator)
    return project


def test_without_a_model_items_come_in_random_order_with_no_suggestion(no_test_share, items, annotator):
    served = serve_next_item(no_test_share, annotator)
    assert served.strategy == "random"
    assert served.suggested_label is None
    assert served.item.split == Split.POOL


def test_ranked_items_come_best_first_with_reason_and_suggestion(no_test_share, items, annotator):
    pool = [i for i in items if i.split == Split.POOL]
    _rank(no_test_share, [pool[3], pool[1]], reason="torn")

    first = serve_next_item(no_test_share, annotator)
    assert first.item == pool[3]
    assert (first.strategy, first.model_ref, first.reason) == ("margin", "m1", "torn")
    assert first.suggested_label.name == "positive"
    services.save_annotation(first.item, annotator, first.suggested_label)
    assert serve_next_item(no_test_share, annotator).item == pool[1]


def test_test_items_are_never_served_by_priority(no_test_share, items, annotator):
    test_item = next(i for i in items if i.split == Split.TEST)
    _rank(no_test_share, [test_item])  # even if something wrote one into a ranking
    for _ in range(5):
        served = serve_next_item(no_test_share, annotator)
        assert served.item != test_item or served.strategy == "random"
        services.skip_item(served.item, annotator)


def test_a_share_of_requests_serves_test_items_until_the_target(project, items, annotator):
    project.test_fraction, project.test_target = 0.5, 2
    project.save()
    assert serve_next_item(project, annotator, rng=FixedDraw(0.7)).item.split == Split.POOL
    for _ in range(2):
        served = serve_next_item(project, annotator, exclude=_held(annotator), rng=FixedDraw(0.3))
        assert served.item.split == Split.TEST
        assert served.suggested_label is None
        services.save_annotation(served.item, annotator, project.labels.first())
    # Target reached: the coin flip no longer leads to the test set.
    served = serve_next_item(project, annotator, exclude=_held(annotator), rng=FixedDraw(0.3))
    assert served.item.split == Split.POOL


def _held(user) -> list[int]:
    return list(Lease.objects.filter(user=user).values_list("item_id", flat=True))


def test_no_suggestion_is_ever_shown_on_a_test_item(project, items, annotator):
    test_items = [i for i in items if i.split == Split.TEST]
    _rank(project, test_items)
    project.test_fraction = 1.0
    project.save()
    served = serve_next_item(project, annotator, rng=random.Random(0))
    assert served.item.split == Split.TEST
    assert served.suggested_label is None


def test_an_item_held_by_one_annotator_is_not_served_to_another(pool_project, annotator):
    import_rows(pool_project, [{"id": "only", "text": "the only item"}])
    other = make_user("dora")
    add_member(pool_project, other)
    assert serve_next_item(pool_project, annotator) is not None
    assert serve_next_item(pool_project, other) is None


def test_a_reload_serves_the_same_held_item_and_exclude_gives_the_next(no_test_share, items, annotator):
    first = serve_next_item(no_test_share, annotator)
    assert serve_next_item(no_test_share, annotator).item == first.item
    second = serve_next_item(no_test_share, annotator, exclude=[first.item.pk])
    assert second.item != first.item


def test_an_expired_lease_returns_the_item_to_the_queue(pool_project, annotator):
    import_rows(pool_project, [{"id": "only", "text": "the only item"}])
    item = pool_project.items.get()
    other = make_user("dora")
    serve_next_item(pool_project, annotator)
    assert serve_next_item(pool_project, other) is None
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert serve_next_item(pool_project, other).item == item


def test_labeled_and_skipped_items_are_not_served_again(pool_project, annotator):
    import_rows(pool_project, make_review_rows(6))
    seen = set()
    while (served := serve_next_item(pool_project, annotator)) is not None:
        assert served.item.pk not in seen
        seen.add(served.item.pk)
        if len(seen) % 2:
            services.skip_item(served.item, annotator)
        else:
            services.save_annotation(served.item, annotator, pool_project.labels.first())
    assert len(seen) == 6


def test_next_api_returns_item_reason_and_204_when_done(pool_project, annotator):
    import_rows(pool_project, [{"id": "x", "text": "<b>bold</b> claim"}])
    client = api_client(annotator)
    response = client.get(f"/api/v1/projects/{pool_project.pk}/next")

    assert response.status_code == 200
    body = response.json()
    assert body["item"]["text"] == "<b>bold</b> claim"
    assert body["suggestion"] is None
    assert body["reason"]["strategy"] == "random"
    client.post(f"/api/v1/items/{body['item']['id']}/annotations", {"label": "positive"}, format="json")
    assert client.get(f"/api/v1/projects/{pool_project.pk}/next").status_code == 204


def test_overlap_two_serves_each_item_to_two_different_annotators(owner, annotator):
    project = make_project(owner, overlap=2, test_fraction=0.0, test_target=0)
    import_rows(project, [{"id": "x", "text": "one item"}])
    other = make_user("dora")
    label = project.labels.first()
    first = serve_next_item(project, annotator)
    second = serve_next_item(project, other)
    assert first.item == second.item
    services.save_annotation(first.item, annotator, label)
    assert serve_next_item(project, annotator) is None  # never twice to the same annotator
    services.save_annotation(second.item, other, label)
    assert serve_next_item(project, make_user("erin")) is None  # it has its two labels


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_get_the_same_pool_item():
    owner = make_user("alice", staff=True)
    project = make_project(owner, test_fraction=0.0, test_target=0)
    import_rows(project, make_review_rows(30))
    users = [make_user(f"user{i}") for i in range(8)]
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(len(users))

    def ask(user):
        close_old_connections()
        try:
            barrier.wait()
            got = []
            for _ in range(3):
                served = serve_next_item(project, user, exclude=got)
                got.append(served.item.pk)
            results[user.username] = got
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    served = [pk for got in results.values() for pk in got]
    assert len(served) == 24
    assert len(set(served)) == 24, "an item was handed to two annotators at once"
