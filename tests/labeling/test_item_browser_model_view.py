"""The items browser's model view: "model disagrees with the label", "annotators disagree",
"likely label error", on a known fixture and after a real retrain."""

import pytest

from labeling import adjudication, item_browser, services
from labeling.forms import ItemFilterForm
from labeling.models import Item, ItemPrediction, LabelSuspect, Split
from learners import reports
from siftml import training
from tests.factories import add_member, api_client, make_user
from tests.labeling.test_item_browser import _ids, browse  # noqa: F401 (the fixture)
from tests.learners.test_lifecycle import _flip_pool_labels, _load, _retrain, lab  # noqa: F401


@pytest.fixture
def model_view(project, owner, browse):  # noqa: F811
    """r0: bob positive, dora negative (disputed); r2 is a test item; predictions and suspects."""
    items = browse["items"]
    positive, negative = browse["positive"], browse["negative"]
    Item.objects.filter(project=project).update(split=Split.POOL)
    Item.objects.filter(pk=items["r2"].pk).update(split=Split.TEST)
    dora = make_user("dora")
    add_member(project, dora)
    project.overlap = 2
    project.save()
    services.save_annotation(items["r0"], dora, negative)
    ranking = project.active_ranking
    ItemPrediction.objects.bulk_create(
        ItemPrediction(ranking=ranking, item=items[name], label=label, confidence=0.9)
        for name, label in [("r0", positive), ("r1", negative)]
    )
    suspects = [
        ("m1", "r1", negative, positive),  # still labeled negative: a suspect
        ("m1", "r0", positive, negative),  # its label moved to negative since: no longer
        ("m1", "r2", negative, positive),  # a test item: never proposed for relabeling
        ("m0", "r1", negative, positive),  # another model's, not the active one
    ]
    LabelSuspect.objects.bulk_create(
        LabelSuspect(
            project=project, model_ref=ref, item=items[n], given=g, predicted=p, confidence=0.9, p_given=0.1
        )
        for ref, n, g, p in suspects
    )
    return {**browse, "dora": dora}


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
