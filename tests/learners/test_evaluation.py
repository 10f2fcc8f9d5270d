"""Evaluation numbers, without a database: each one recomputed here with scikit-learn."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from siftml import evaluation

CLASSES = ["ant", "bee", "cat"]


def _random_case(n: int = 120, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities that are right more often than chance, and labels including one the model lacks."""
    rng = np.random.default_rng(seed)
    y_true = rng.choice(CLASSES, size=n, p=[0.5, 0.3, 0.2]).astype(object)
    proba = rng.dirichlet([1, 1, 1], size=n)
    hits = rng.random(n) < 0.6
    for i in np.flatnonzero(hits):
        proba[i, CLASSES.index(y_true[i])] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    return y_true, proba


def test_point_scores_match_scikit_learn():
    y_true, proba = _random_case()
    y_true[:3] = "dog"  # a label the model never learned still counts (as always wrong)
    report = evaluation.classification_report(y_true, proba, CLASSES, rounds=50)
    y_pred = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)]
    labels = ["ant", "bee", "cat", "dog"]

    assert report["labels"] == labels
    assert report["n"] == len(y_true)
    assert report["accuracy"]["value"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert report["macro_f1"]["value"] == pytest.approx(
        f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    for i, label in enumerate(labels):
        row = report["per_class"][label]
        assert row["precision"]["value"] == pytest.approx(precision[i])
        assert row["recall"]["value"] == pytest.approx(recall[i])
        assert row["f1"]["value"] == pytest.approx(f1[i])
        assert row["support"] == support[i]
    assert report["confusion"]["matrix"] == confusion_matrix(y_true, y_pred, labels=labels).tolist()


def test_the_same_seed_gives_the_same_intervals_and_another_seed_others():
    y_true, proba = _random_case(n=80)
    a = evaluation.classification_report(y_true, proba, CLASSES, rounds=100, seed=1)
    b = evaluation.classification_report(y_true, proba, CLASSES, rounds=100, seed=1)
    c = evaluation.classification_report(y_true, proba, CLASSES, rounds=100, seed=2)
    assert a == b
    assert a["macro_f1"] != c["macro_f1"]


def test_roc_auc_per_label_matches_scikit_learn():
    y_true, proba = _random_case()
    roc = evaluation.roc_one_vs_rest(y_true, proba, CLASSES)
    for j, label in enumerate(CLASSES):
        expected = roc_auc_score(y_true == label, proba[:, j])
        assert roc["classes"][label]["auc"] == pytest.approx(expected)
        curve = roc["classes"][label]
        assert curve["fpr"][0] == 0
        assert curve["fpr"][-1] == 1
        assert curve["tpr"][-1] == 1
        assert curve["fpr"] == sorted(curve["fpr"])
    assert roc["macro_auc"] == pytest.approx(
        np.mean([roc_auc_score(y_true == c, proba[:, j]) for j, c in enumerate(CLASSES)])
    )


def test_roc_skips_a_label_without_negatives_or_positives():
    proba = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    roc = evaluation.roc_one_vs_rest(["a", "a", "a"], proba, ["a", "b"])
    assert roc == {"classes": {}, "macro_auc": None}


def test_long_roc_curves_are_thinned_but_keep_their_ends():
    rng = np.random.default_rng(0)
    scores = rng.random(5000)
    y_true = np.where(rng.random(5000) < scores, "b", "a").astype(object)
    proba = np.c_[1 - scores, scores]
    curve = evaluation.roc_one_vs_rest(y_true, proba, ["a", "b"])["classes"]["b"]
    assert len(curve["fpr"]) <= evaluation.MAX_CURVE_POINTS
    assert (curve["fpr"][0], curve["tpr"][0]) == (0.0, 0.0)
    assert (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
    assert curve["auc"] == pytest.approx(roc_auc_score(y_true == "b", scores))


def test_calibration_bins_brier_and_ece_match_scikit_learn():
    y_true, proba = _random_case(n=300)
    cal = evaluation.calibration(y_true, proba, CLASSES)
    confidence = proba.max(axis=1)
    correct = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)] == y_true
    prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=10, strategy="uniform")

    assert [b["accuracy"] for b in cal["bins"]] == pytest.approx(prob_true)
    assert [b["confidence"] for b in cal["bins"]] == pytest.approx(prob_pred)
    assert sum(b["count"] for b in cal["bins"]) == len(y_true)
    counts = np.array([b["count"] for b in cal["bins"]])
    assert cal["ece"] == pytest.approx(np.sum(counts / len(y_true) * np.abs(prob_true - prob_pred)))
    assert cal["brier"] == pytest.approx(brier_score_loss(list(y_true), proba, labels=CLASSES))


def test_binary_brier_follows_scikit_learns_two_label_convention():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    y_true = ["neg", "pos", "pos", "neg"]
    cal = evaluation.calibration(y_true, proba, ["neg", "pos"])
    assert cal["brier"] == pytest.approx(np.mean((proba[:, 1] - np.array([0, 1, 1, 0])) ** 2))


def test_top_lists_are_the_most_confident_right_and_wrong_and_the_least_sure():
    proba = np.array([[0.95, 0.05], [0.55, 0.45], [0.2, 0.8], [0.1, 0.9], [0.51, 0.49], [0.7, 0.3]])
    y_true = ["a", "a", "a", "b", "b", "b"]
    top = evaluation.top_predictions(y_true, proba, ["a", "b"], k=2)

    assert [e["row"] for e in top["confident_correct"]] == [0, 3]
    assert [e["row"] for e in top["confident_wrong"]] == [2, 5]
    assert [e["row"] for e in top["uncertain"]] == [4, 1]
    assert top["confident_wrong"][0] == {
        "row": 2,
        "true": "a",
        "predicted": "b",
        "confidence": 0.8,
        "margin": pytest.approx(0.6),
    }


def test_segment_metrics_match_scikit_learn_on_each_subset():
    y_true, proba = _random_case(n=150)
    y_pred = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)]
    rng = np.random.default_rng(5)
    source = rng.choice(["web", "app", None], size=len(y_true)).tolist()
    segments = evaluation.segment_metrics(y_true, y_pred, source, rounds=50)

    assert sum(s["n"] for s in segments) == len(y_true)
    assert [s["n"] for s in segments] == sorted((s["n"] for s in segments), reverse=True)
    for segment in segments:
        value = None if segment["value"] == "(missing)" else segment["value"]
        mask = np.array([v == value for v in source])
        assert segment["n"] == mask.sum()
        assert segment["accuracy"]["value"] == pytest.approx(accuracy_score(y_true[mask], y_pred[mask]))
        assert segment["macro_f1"]["value"] == pytest.approx(
            f1_score(y_true[mask], y_pred[mask], average="macro", zero_division=0)
        )


def test_many_segment_values_pool_the_rarest_into_other():
    values = [f"customer-{i % 40}" for i in range(400)]
    y = ["a", "b"] * 200
    segments = evaluation.segment_metrics(y, y, values, rounds=10)
    assert len(segments) == evaluation.MAX_SEGMENTS
    assert segments[-1]["value"] == "(other)" or any(s["value"] == "(other)" for s in segments)
    assert sum(s["n"] for s in segments) == 400


def test_paired_difference_matches_two_scikit_learn_scores():
    y_true, proba = _random_case(n=90)
    pred_b = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)]
    pred_a = np.array(["ant"] * len(y_true), dtype=object)
    compared = evaluation.paired_difference(y_true, pred_a, pred_b, CLASSES, rounds=100)
    f1_a = f1_score(y_true, pred_a, labels=CLASSES, average="macro", zero_division=0)
    f1_b = f1_score(y_true, pred_b, labels=CLASSES, average="macro", zero_division=0)
    assert compared["a"] == pytest.approx(f1_a)
    assert compared["b"] == pytest.approx(f1_b)
    assert compared["difference"]["value"] == pytest.approx(f1_b - f1_a)
    assert compared["difference"]["low"] > 0  # a real model beats "always ant" beyond doubt


def test_warnings_name_a_small_test_set_and_thin_labels():
    y_true = ["ant"] * 8 + ["bee"] * 3
    proba = np.tile([0.7, 0.2, 0.1], (11, 1))
    report = evaluation.classification_report(y_true, proba, CLASSES, rounds=50)
    warnings = evaluation.evaluation_warnings(report, CLASSES)
    text = " ".join(warnings)
    assert "Only 11 labeled test items" in text
    assert "fewer than 10 test items (ant, bee)" in text
    assert "No labeled test item for cat" in text


def test_no_warning_on_a_large_well_spread_test_set():
    rng = np.random.default_rng(0)
    y_true = np.repeat(CLASSES, 400).astype(object)
    proba = np.full((1200, 3), 0.05)
    proba[np.arange(1200), [CLASSES.index(y) for y in y_true]] = 0.9
    flip = rng.random(1200) < 0.1
    proba[flip] = proba[flip][:, ::-1]
    report = evaluation.classification_report(y_true, proba, CLASSES, rounds=50)
    assert evaluation.evaluation_warnings(report, CLASSES) == []


def test_an_empty_test_set_is_a_warning_not_a_number():
    assert evaluation.evaluation_warnings({"n": 0}, CLASSES)[0].startswith("No labeled test items")


def test_length_buckets_split_by_tertiles():
    texts = ["a" * n for n in range(1, 10)]
    buckets = evaluation.length_buckets(texts)
    assert buckets[:3] == ["short (≤3 chars)"] * 3
    assert buckets[3:6] == ["medium"] * 3
    assert buckets[6:] == ["long (>6 chars)"] * 3
