"""Suggestions never bias the test set: none on test items, none on a fixed share of pool
items (so test items look like any other), none below the project's threshold."""

import random

import pytest

from labeling import services
from labeling.models import QueueEntry, Ranking, Split
from labeling.queue import UNAIDED_REASON, serve_next_item, shows_suggestion
from labeling.splits import withholds_suggestion
from tests.factories import add_member, api_client, import_rows, make_project, make_review_rows


def _rank_everything(project, confidence=0.9):
    ranking = Ranking.objects.create(project=project, model_ref="m1")
    label = project.labels.first()
    QueueEntry.objects.bulk_create(
        QueueEntry(
            ranking=ranking,
            item=item,
            priority=100 - i,
            strategy="margin",
            score=1.0,
            suggested_label=label,
            confidence=confidence,
            reason="torn",
        )
        for i, item in enumerate(project.items.filter(split=Split.POOL).order_by("pk"))
    )
    project.active_ranking = ranking
    project.save()


def test_the_withheld_share_is_fixed_per_item_and_close_to_the_setting():
    ids = [f"item-{i}" for i in range(4000)]
    withheld = [withholds_suggestion(42, i, 0.25) for i in ids]
    assert sum(withheld) / len(ids) == pytest.approx(0.25, abs=0.03)
    assert withheld == [withholds_suggestion(42, i, 0.25) for i in ids]  # same answer every time
    assert not any(withholds_suggestion(42, i, 0.0) for i in ids)
    assert all(withholds_suggestion(42, i, 1.0) for i in ids)


def test_pool_items_in_the_withheld_share_are_served_without_a_suggestion(owner, annotator):
    project = make_project(
        owner, name="Withheld", test_fraction=0.0, test_target=0, suggestion_withhold_share=0.5
    )
    add_member(project, annotator)
    import_rows(project, make_review_rows(30))
    _rank_everything(project)
    shown = {}
    while (served := serve_next_item(project, annotator)) is not None:
        shown[served.item.external_id] = served.suggested_label is not None
        services.skip_item(served.item, annotator)
    assert len(shown) == 30
    expected = {ext: not withholds_suggestion(project.seed, ext, 0.5) for ext in shown}
    assert shown == expected
    assert 0 < sum(shown.values()) < 30


def test_a_hidden_suggestion_is_not_given_away_by_the_reason(owner, annotator):
    project = make_project(owner, name="Hidden", test_fraction=0.0, test_target=0, suggestion_threshold=0.95)
    add_member(project, annotator)
    import_rows(project, make_review_rows(2))
    _rank_everything(project, confidence=0.9)
    QueueEntry.objects.update(reason="The model is torn between “positive” (90%) and “negative” (10%).")

    served = serve_next_item(project, annotator)

    assert served.suggested_label is None
    assert served.strategy == "margin"
    assert served.reason == UNAIDED_REASON


def test_suggestions_below_the_threshold_are_not_shown(owner, annotator):
    project = make_project(
        owner, name="Threshold", test_fraction=0.0, test_target=0, suggestion_threshold=0.8
    )
    add_member(project, annotator)
    import_rows(project, make_review_rows(2))
    _rank_everything(project, confidence=0.7)
    assert serve_next_item(project, annotator).suggested_label is None
    project.suggestion_threshold = 0.7
    project.save()
    item = project.items.filter(split=Split.POOL).order_by("pk").last()
    assert shows_suggestion(project, item, 0.7)


def test_a_test_item_never_shows_a_suggestion_whatever_the_settings(owner):
    project = make_project(owner, name="Test items", test_fraction=0.5)
    import_rows(project, make_review_rows(20))
    test_item = project.items.filter(split=Split.TEST).first()
    assert not shows_suggestion(project, test_item, 0.99)


def test_served_suggestions_are_recorded_on_the_annotation(owner, annotator):
    project = make_project(owner, name="Recorded", test_fraction=0.0, test_target=0)
    add_member(project, annotator)
    import_rows(project, make_review_rows(3))
    _rank_everything(project)
    served = serve_next_item(project, annotator, rng=random.Random(1))
    annotation, _ = services.save_annotation(served.item, annotator, served.suggested_label)
    assert annotation.suggested_label == served.suggested_label
    assert annotation.suggestion_confidence == 0.9


def test_a_test_item_looks_exactly_like_a_pool_item_labeled_unaided(owner, annotator):
    project = make_project(
        owner, name="Blind", test_fraction=0.5, test_target=100, suggestion_withhold_share=1.0
    )
    add_member(project, annotator)
    import_rows(project, make_review_rows(40))
    _rank_everything(project, confidence=0.9)
    seen = _first_reason_per_split(project, annotator)
    assert set(seen) == {"pool", "test"}
    assert (
        seen["pool"]
        == seen["test"]
        == {"strategy": "unaided", "score": None, "model": None, "text": UNAIDED_REASON, "suggestion": None}
    )


def test_before_the_first_model_a_test_item_reads_like_any_random_pick(owner, annotator):
    project = make_project(owner, name="Cold blind", test_fraction=0.5, test_target=100)
    add_member(project, annotator)
    import_rows(project, make_review_rows(40))
    seen = _first_reason_per_split(project, annotator)
    assert set(seen) == {"pool", "test"}
    assert seen["pool"] == seen["test"]
    assert seen["test"]["strategy"] == "random"
    assert seen["test"]["suggestion"] is None


def _first_reason_per_split(project, annotator) -> dict:
    """Skip through /next until an item of each split was served; what each first looked like."""
    client = api_client(annotator)
    seen = {}
    for _ in range(30):
        body = client.get(f"/api/v1/projects/{project.pk}/next").json()
        split = project.items.get(pk=body["item"]["id"]).split
        seen.setdefault(split, body["reason"] | {"suggestion": body["suggestion"]})
        client.post(f"/api/v1/items/{body['item']['id']}/skip", {}, format="json")
        if len(seen) == 2:
            break
    return seen
