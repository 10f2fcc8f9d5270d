"""Promotion without the winner's curse: decisions read the decision part, the page the report part."""

import dataclasses
import random

import pytest

from labeling import services as labeling_services
from labeling import splits
from labeling.exports import iter_dataset_rows
from learners import lifecycle
from learners.models import ModelVersion
from tests.factories import csv_bytes, make_project, mood_rows, retrain_model


@pytest.fixture
def lab(owner):
    project = make_project(owner, name="Curse", test_fraction=0.4, test_target=0, seed=4)
    project.promotion_tolerance = 1.0  # every comparison promotes: the numbers are what is tested
    project.save()
    labeling_services.import_items(project, owner, csv_bytes(mood_rows(120)), "rows.csv")
    return project


def _part(project, row) -> str:
    return splits.holdout_part(project.seed % 2**31, splits.split_key(row.meta, row.text))


def _flip(project, rows: list, part: str) -> list:
    """The same rows with every test label of one part contradicted."""
    other = {"positive": "negative", "negative": "positive"}
    return [
        dataclasses.replace(r, label=other[r.label]) if r.split == "test" and _part(project, r) == part else r
        for r in rows
    ]


def test_the_parts_are_a_fixed_hash_share_that_keeps_a_group_together():
    keys = [f"key-{i}" for i in range(4000)]
    parts = [splits.holdout_part(7, k) for k in keys]
    assert 0.47 < parts.count("decision") / len(keys) < 0.53
    shuffled = keys[:]
    random.Random(1).shuffle(shuffled)
    assert {k: splits.holdout_part(7, k) for k in shuffled} == dict(zip(keys, parts, strict=True))
    assert parts != [splits.holdout_part(8, k) for k in keys]  # the project seed chooses the cut
    # Rows of one group (or one text) share a key, so they fall in one part.
    assert splits.split_key({"group": "g1"}, "a") == splits.split_key({"group": "g1"}, "b")
    assert splits.split_key({}, "Same  TEXT") == splits.split_key({}, "same text")


def test_the_decision_never_reads_report_labels_and_the_report_never_reads_decision_labels(lab, owner):
    first = retrain_model(lab)
    labeling_services.import_items(lab, owner, csv_bytes(mood_rows(40, start=500)), "more.csv")
    second = retrain_model(lab)
    assert second.shadow["against"] == str(first.pk)
    assert second.shadow["part"] == "decision"
    model = lifecycle.load_model(second)
    rows = list(iter_dataset_rows(lab, second.dataset_version.max_annotation_id))
    decision = [r for r in rows if r.split == "test" and _part(lab, r) == "decision"]
    assert second.shadow["n"] == len(decision) > 10

    ModelVersion.objects.filter(pk__in=[first.pk, second.pk]).update(is_active=False)
    ModelVersion.objects.filter(pk=first.pk).update(is_active=True)
    record = lifecycle.compare_with_active(second, model, rows)
    blind = lifecycle.compare_with_active(second, model, _flip(lab, rows, "report"))
    assert blind == record  # report labels cannot move a decision
    moved = lifecycle.compare_with_active(second, model, _flip(lab, rows, "decision"))
    assert moved["candidate_macro_f1"] != record["candidate_macro_f1"]

    seed = lab.seed % 2**31
    metrics, report = lifecycle.evaluate_model(model, rows, seed)
    assert lifecycle.evaluate_model(model, _flip(lab, rows, "decision"), seed)[0] == metrics
    assert lifecycle.evaluate_model(model, _flip(lab, rows, "report"), seed)[0] != metrics
    assert report["test_parts"] == {"decision": len(decision), "report": report["n"]}
    listed = {e["item"] for entries in report["top"].values() for e in entries}
    assert listed
    assert listed.isdisjoint({r.item_pk for r in decision})


def test_the_model_page_reports_the_report_part_and_counts_the_decisions_served(lab, owner, client):
    first = retrain_model(lab)
    client.force_login(owner)
    html = client.get(f"/models/{first.pk}/").content.decode()
    assert "which has served 0 promotion decision(s)" in html
    for start in (500, 600):
        labeling_services.import_items(lab, owner, csv_bytes(mood_rows(20, start=start)), f"{start}.csv")
        latest = retrain_model(lab)
    html = client.get(f"/models/{latest.pk}/").content.decode()
    parts = latest.evaluation["test_parts"]
    assert f"{parts['decision']} other test item(s) form the decision part" in html
    assert "which has served 2 promotion decision(s)" in html
    assert "of the decision part (never the report part above)" in html
