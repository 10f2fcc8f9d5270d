"""The items browser's model view: "model disagrees with the label", "annotators disagree",
"likely label error", on a known fixture and after a real retrain."""

import pytest

from labeling import adjudication, item_browser
from labeling.forms import ItemFilterForm
from labeling.models import Item, ItemPrediction, Split
from learners import reports
from siftml import training
from tests.factories import api_client
from tests.factories import retrain_model as _retrain
from tests.labeling.test_item_browser import _ids
from tests.learners.test_lifecycle import _flip_pool_labels, _load, lab  # noqa: F401


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"disagrees": "on"}, ["r0"]),
        ({"disputed": "on"}, ["r0"]),
        ({"suspect": "on"}, ["r1"]),
        ({"suspect": "on", "disagrees": "on"}, []),
        ({"state": "labeled", "sort": "recent"}, ["r0", "r2", "r1"]),
        ({"disputed": "on", "sort": "recent"}, ["r0"]),
    ],
)
def test_model_view_filters_give_the_known_items(project, owner, model_view, params, expected):
    assert _ids(project, owner, params) == expected


def test_an_adjudicated_item_still_shows_that_annotators_disagreed(project, owner, model_view):
    item = model_view["items"]["r0"]
    adjudication.adjudicate_item(item, owner, model_view["positive"])
    item.refresh_from_db()
    assert (item.conflict, item.disputed) == (False, True)
    assert _ids(project, owner, {"disputed": "on"}) == ["r0"]
    # The adjudicated label now agrees with the model: r0 leaves "model disagrees".
    assert _ids(project, owner, {"disagrees": "on"}) == []


@pytest.mark.parametrize("param", ["disagrees=on", "disputed=on", "suspect=on"])
def test_annotators_cannot_use_the_model_view(project, annotator, model_view, param):
    response = api_client(annotator).get(f"/api/v1/projects/{project.pk}/items?{param}")
    assert response.status_code == 400
    assert "Only a project admin" in response.json()["error"]


def test_without_an_active_ranking_the_model_view_is_empty(project, owner, model_view):
    project.active_ranking = None
    project.save()
    assert _ids(project, owner, {"disagrees": "on"}) == []
    assert _ids(project, owner, {"suspect": "on"}) == []
    assert _ids(project, owner, {"disputed": "on"}) == ["r0"]


def test_a_retrain_stores_the_model_view_that_the_filters_read(lab, owner, annotator):  # noqa: F811
    _flip_pool_labels(lab, annotator, 0.15)
    model = _retrain(lab)
    lab.refresh_from_db()
    labeled_pool = list(
        lab.items.filter(split=Split.POOL, label__isnull=False).select_related("label").order_by("pk")
    )
    # The active model's own guess for every labeled pool item, none for test items.
    stored = dict(
        ItemPrediction.objects.filter(ranking=lab.active_ranking).values_list("item_id", "label__name")
    )
    assert set(stored) == {i.pk for i in labeled_pool}
    proba = training.predict_proba(_load(model), [i.text for i in labeled_pool])
    guesses = [model.classes[k] for k in proba.argmax(axis=1)]
    assert [stored[i.pk] for i in labeled_pool] == guesses
    wrong = [i.pk for i, g in zip(labeled_pool, guesses, strict=True) if g != i.label.name]
    assert wrong, "the flipped labels should give the model something to disagree with"

    def found(params: dict) -> list[int]:
        form = ItemFilterForm(params, project=lab, admin=True)
        assert form.is_valid(), form.errors
        return list(
            item_browser.filter_items(lab, owner, form.cleaned_data, admin=True)
            .values_list("pk", flat=True)
            .order_by("pk")
        )

    assert found({"disagrees": "on"}) == wrong
    # "Likely label error" is the data-quality page's list (all origins), pool items only.
    page = reports._suspects(lab, model)
    expected = sorted(
        e["item"]
        for e in model.evaluation["label_suspects"]
        if Item.objects.get(pk=e["item"]).split == Split.POOL
    )
    assert len(page["imported"]) + page["other_origins"] == len(expected) > 0
    assert found({"suspect": "on"}) == expected
