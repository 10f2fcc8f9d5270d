"""BCa intervals: checked against scipy.stats.bootstrap run on scikit-learn's own scores."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from siftml import evaluation, intervals

CLASSES = ["ant", "bee", "cat"]


def _case(n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.choice(CLASSES, size=n, p=[0.5, 0.3, 0.2]).astype(object)
    proba = rng.dirichlet([1, 1, 1], size=n)
    for i in np.flatnonzero(rng.random(n) < 0.6):
        proba[i, CLASSES.index(y_true[i])] += 1.0
    return y_true, proba / proba.sum(axis=1, keepdims=True)


def _scipy_bca(statistic, data: tuple, rounds: int, seed: int) -> tuple[float, float]:
    """The reference: scipy's BCa on a plain (non-vectorized) scikit-learn statistic."""
    result = stats.bootstrap(
        data,
        statistic,
        paired=True,
        vectorized=False,
        method="BCa",
        n_resamples=rounds,
        batch=intervals.BOOTSTRAP_BATCH,
        rng=np.random.default_rng(seed),
    )
    return result.confidence_interval.low, result.confidence_interval.high


def test_report_intervals_are_scipy_bca_intervals_of_scikit_learn_scores():
    y_true, proba = _case(n=60)
    rounds, seed = 200, 11
    report = evaluation.classification_report(y_true, proba, CLASSES, rounds=rounds, seed=seed)
    y_pred = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)]
    # scipy resamples numbers; index into the labels so the statistic can call scikit-learn.
    rows = np.arange(len(y_true))

    def macro(i):
        return f1_score(y_true[i], y_pred[i], labels=CLASSES, average="macro", zero_division=0)

    def accuracy(i):
        return accuracy_score(y_true[i], y_pred[i])

    def bee_recall(i):
        return precision_recall_fscore_support(y_true[i], y_pred[i], labels=["bee"], zero_division=0)[1][0]

    for name, statistic in [("macro_f1", macro), ("accuracy", accuracy)]:
        expected = _scipy_bca(statistic, (rows,), rounds, seed)
        assert [report[name]["low"], report[name]["high"]] == pytest.approx(expected), name
    bee = report["per_class"]["bee"]["recall"]
    assert [bee["low"], bee["high"]] == pytest.approx(_scipy_bca(bee_recall, (rows,), rounds, seed))
    assert report["bootstrap"]["method"] == "BCa"


def test_bca_differs_from_the_percentile_interval_on_a_skewed_small_sample():
    """The change is real: on a small, skewed test set BCa moves the interval."""
    y_true, proba = _case(n=25, seed=2)
    report = evaluation.classification_report(y_true, proba, CLASSES, rounds=400, seed=1)
    y_pred = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)]
    rows = np.arange(len(y_true))
    percentile = stats.bootstrap(
        (rows,),
        lambda i: f1_score(y_true[i], y_pred[i], labels=CLASSES, average="macro", zero_division=0),
        vectorized=False,
        method="percentile",
        n_resamples=400,
        batch=intervals.BOOTSTRAP_BATCH,
        rng=np.random.default_rng(1),
    ).confidence_interval
    assert (report["macro_f1"]["low"], report["macro_f1"]["high"]) != pytest.approx(
        (percentile.low, percentile.high)
    )


def test_paired_difference_interval_is_scipy_bca_of_the_f1_difference():
    y_true, proba = _case(n=50)
    pred_a = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)]
    pred_b = pred_a.copy()
    pred_b[:8] = y_true[:8]
    compared = evaluation.paired_difference(y_true, pred_a, pred_b, CLASSES, rounds=200, seed=4)

    def diff(i):
        f1_b = f1_score(y_true[i], pred_b[i], labels=CLASSES, average="macro", zero_division=0)
        f1_a = f1_score(y_true[i], pred_a[i], labels=CLASSES, average="macro", zero_division=0)
        return f1_b - f1_a

    expected = _scipy_bca(diff, (np.arange(50),), 200, 4)
    got = compared["difference"]
    assert [got["low"], got["high"]] == pytest.approx(expected)


@pytest.mark.parametrize("right", [True, False])
def test_all_right_or_all_wrong_gives_a_point_interval_no_nan_and_an_exact_binomial_warning(right):
    y_true = np.asarray(["ant", "bee", "cat"] * 4, dtype=object)
    proba = np.full((12, 3), 0.1)
    for i, label in enumerate(y_true):
        target = label if right else CLASSES[(CLASSES.index(label) + 1) % 3]
        proba[i, CLASSES.index(target)] = 0.8
    report = evaluation.classification_report(y_true, proba, CLASSES, rounds=100)
    expected = 1.0 if right else 0.0
    for name in ("accuracy", "macro_f1"):
        assert report[name] == {"value": expected, "low": expected, "high": expected}
    for row in report["per_class"].values():
        assert all(np.isfinite([row[m][k] for m in ("precision", "recall", "f1") for k in ("low", "high")]))
    warnings = evaluation.evaluation_warnings(report, CLASSES)
    ci = stats.binomtest(12 if right else 0, 12).proportion_ci()
    said = next(w for w in warnings if "Every one of the 12" in w)
    assert f"between {ci.low:.2f} and {ci.high:.2f}" in said
    assert any("even the BCa" in w for w in warnings)  # 12 < MIN_TEST_ITEMS


def test_one_class_and_one_item_give_finite_intervals():
    y_true = np.asarray(["ant"] * 20, dtype=object)
    proba = np.tile([0.6, 0.3, 0.1], (20, 1))
    proba[:5] = [0.2, 0.7, 0.1]
    report = evaluation.classification_report(y_true, proba, CLASSES, rounds=100)
    assert report["accuracy"]["low"] <= 0.75 <= report["accuracy"]["high"]
    single = evaluation.classification_report(y_true[-1:], proba[-1:], CLASSES, rounds=100)
    assert single["accuracy"] == {"value": 1.0, "low": 1.0, "high": 1.0}
    compared = evaluation.paired_difference(y_true[:1], y_true[:1], y_true[:1], CLASSES, rounds=50)
    assert compared["difference"] == {"value": 0.0, "low": 0.0, "high": 0.0}


def test_no_warning_about_bca_from_thirty_items_on():
    y_true, proba = _case(n=evaluation.MIN_TEST_ITEMS)
    report = evaluation.classification_report(y_true, proba, CLASSES, rounds=100)
    assert not any("even the BCa" in w for w in evaluation.evaluation_warnings(report, CLASSES))
