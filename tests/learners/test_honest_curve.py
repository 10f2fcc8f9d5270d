"""The learning curve across versions: every stored model scored on today's report labels."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from labeling import services as labeling_services
from labeling import splits
from learners import lifecycle
from tests.factories import (
    api_client,
    csv_bytes,
    make_project,
    mood_rows,
    retrain_model,
)


def test_every_version_is_scored_on_the_same_current_report_labels(owner, client):
    project = make_project(owner, name="Curve", test_fraction=0.4, test_target=0, seed=3)
    project.promotion_tolerance = 1.0
    project.save()
    labeling_services.import_items(project, owner, csv_bytes(mood_rows(60)), "a.csv")
    first = retrain_model(project)
    labeling_services.import_items(project, owner, csv_bytes(mood_rows(80, start=300)), "b.csv")
    second = retrain_model(project)
    # The versions' own evaluations used different test sets: not comparable as they stand.
    assert first.evaluation["n"] < second.evaluation["n"]

    curve = api_client(owner).get(f"/api/v1/models/{second.pk}/evaluation").json()["learning_curve"]
    seed = project.seed % 2**31
    report = [
        i
        for i in project.items.filter(split="test", label__isnull=False)
        .select_related("label")
        .order_by("pk")
        if splits.holdout_part(seed, splits.split_key(i.meta, i.text)) == "report"
    ]
    assert [p["model"] for p in curve] == [str(first.pk), str(second.pk)]
    assert {p["test_size"] for p in curve} == {len(report)}
    texts, y_true = [i.text for i in report], [i.label.name for i in report]
    for point, version in zip(curve, (first, second), strict=True):
        model = lifecycle.load_model(version)
        y_pred = np.asarray(model.classes_)[model.predict_proba(texts).argmax(axis=1)]
        assert point["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
        assert point["low"] <= point["macro_f1"] <= point["high"]
    assert curve[0]["test_size"] > first.evaluation["n"]  # not the first model's own, smaller set

    client.force_login(owner)
    html = client.get(f"/models/{second.pk}/").content.decode()
    assert f"every one scored on the same {len(report)} test items" in html
