"""Judge a fitted model on held-out labels, beyond one accuracy number. numpy + scikit-learn only.

Functions take the true labels, the predicted probabilities with their column order, and
return plain JSON-ready values: a retrain computes the report once, pages only read it.
Rows are never items the model was fitted on; the caller guarantees that (learners.lifecycle)
and this module refuses overlapping ids where it is given them.

Conventions, chosen to match scikit-learn so that anyone can check a number:
- per-label and macro scores use the labels the model knows plus the labels of the test set,
  with `zero_division=0` (scikit-learn's convention); `scores` is the one place macro-F1 is computed;
- intervals are BCa bootstrap intervals over test items (`scipy.stats.bootstrap`, seeded):
  percentile intervals under-cover on the few test items of a young project, BCa corrects
  their bias and skew; below MIN_TEST_ITEMS even BCa under-covers, and the page says so;
- calibration is top-label calibration: the predicted label's probability against whether
  it was right, in equal-width bins (`sklearn.calibration.calibration_curve`'s edges).
"""

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats
from sklearn.metrics import auc, brier_score_loss, roc_curve

from siftml.intervals import BOOTSTRAP_ROUNDS, CONFIDENCE, bca_interval, flat_rows, interval

# Fewer test items: every number on the page carries a warning. Accuracy on n items takes
# only n + 1 values and BCa's bias and acceleration terms are estimated from those same n
# items, so below ~30 its 95% intervals cover noticeably less than 95% (Efron & Tibshirani
# 1993, ch. 14; Carpenter & Bithell 2000).
MIN_TEST_ITEMS = 30
MIN_CLASS_SUPPORT = 10  # fewer test items of a label: its row is flagged
CALIBRATION_BINS = 10
MAX_CURVE_POINTS = 200
TOP_K = 50  # stored per list; pages show fewer
MAX_SEGMENTS = 15  # per metadata column; the rarest values are pooled as "(other)"


def predicted_labels(proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Return the most probable label per row, shape (n_samples,)."""
    return np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]


def label_set(classes: Sequence[str], y_true: Sequence[str]) -> list[str]:
    """The labels every score is computed over: the model's and the test set's, sorted."""
    return sorted(set(classes) | set(y_true))


def encode(values: Sequence[str], labels: list[str]) -> np.ndarray:
    """Return the position of each value in `labels`, shape (n_samples,)."""
    index = {label: i for i, label in enumerate(labels)}
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def confusion_batch(t: np.ndarray, p: np.ndarray, n_labels: int) -> np.ndarray:
    """Confusion matrices of many resamples at once.

    Parameters
    ----------
    t, p : encoded true and predicted labels, shape (n_rounds, n_samples)

    Returns
    -------
    counts, shape (n_rounds, n_labels, n_labels); rows true, columns predicted.
    """
    rounds = t.shape[0]
    codes = t * n_labels + p + (np.arange(rounds)[:, None] * n_labels * n_labels)
    counts = np.bincount(codes.ravel(), minlength=rounds * n_labels * n_labels)
    return counts.reshape(rounds, n_labels, n_labels)


def scores_from_confusion(cm: np.ndarray, subset: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Accuracy, per-label precision/recall/F1 and macro-F1 from confusion matrices.

    `cm` has shape (..., n_labels, n_labels); a zero denominator gives 0 (scikit-learn's
    `zero_division=0`). `subset` restricts the macro average to some label positions.
    """
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    predicted = cm.sum(axis=-2)
    actual = cm.sum(axis=-1)
    total = cm.sum(axis=(-2, -1))
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = np.divide(2 * tp, predicted + actual, out=np.zeros_like(tp), where=(predicted + actual) > 0)
    macro = f1 if subset is None else f1[..., subset]
    return {
        "accuracy": np.divide(tp.sum(axis=-1), total, out=np.zeros(total.shape), where=total > 0),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "macro_f1": macro.mean(axis=-1),
    }


def scores(y_true: Sequence[str], y_pred: Sequence[str], labels: list[str]) -> dict:
    """Point scores of predicted labels over `labels`: the one home of accuracy and macro-F1.

    Every macro-F1 in Sift (the model page, the promotion gate's bootstrap, cross-validation,
    the simulator's curves, the stopping guidance) is computed by `scores_from_confusion`,
    here or inside the bootstrap statistic, so two numbers can never disagree by method.
    """
    cm = confusion_batch(encode(y_true, labels)[None, :], encode(y_pred, labels)[None, :], len(labels))[0]
    return {**scores_from_confusion(cm), "confusion": cm}


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: list[str]) -> float:
    """Unweighted mean of the per-label F1 over `labels` (scikit-learn's average="macro")."""
    return float(scores(y_true, y_pred, labels)["macro_f1"]) if len(y_true) else 0.0


def point_metrics(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> dict:
    """Headline metrics of predictions on held-out labels, without intervals.

    Parameters
    ----------
    y_true : the true labels, shape (n_samples,)
    proba : predicted probabilities, shape (n_samples, n_classes)
    classes : the column order of `proba`

    Returns
    -------
    accuracy, macro_f1, per-class precision/recall/f1/support and the confusion matrix over
    every label seen in training or in `y_true` (rows: true, columns: predicted).
    """
    if len(y_true) == 0:
        return {"n": 0}
    labels = label_set(classes, y_true)
    s = scores(y_true, predicted_labels(proba, classes), labels)
    support = s["confusion"].sum(axis=1)
    return {
        "n": len(y_true),
        "accuracy": float(s["accuracy"]),
        "macro_f1": float(s["macro_f1"]),
        "per_class": {
            label: {
                "precision": float(s["precision"][i]),
                "recall": float(s["recall"][i]),
                "f1": float(s["f1"][i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": {"labels": labels, "matrix": s["confusion"].tolist()},
    }


def _report_statistic(n_labels: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Accuracy, macro-F1, then precision, recall and F1 of each label, stacked: (2 + 3L, ...)."""

    def statistic(t: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
        lead, (t2, p2) = flat_rows(t, p)
        s = scores_from_confusion(confusion_batch(t2, p2, n_labels))
        rows = [s["accuracy"][None], s["macro_f1"][None], s["precision"].T, s["recall"].T, s["f1"].T]
        stacked = np.concatenate(rows, axis=0)
        return stacked.reshape(stacked.shape[0], *lead)

    return statistic


def classification_report(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> dict:
    """Accuracy, macro-F1 and per-label scores with bootstrap intervals, and the confusion matrix.

    Parameters
    ----------
    y_true : true labels of held-out items, shape (n_samples,)
    proba : predicted probabilities, shape (n_samples, n_classes), columns in `classes` order
    """
    labels = label_set(classes, y_true)
    t = encode(y_true, labels)
    p = encode(predicted_labels(proba, classes), labels)
    cm = confusion_batch(t[None, :], p[None, :], len(labels))[0]
    point = scores_from_confusion(cm)
    low, high = bca_interval(_report_statistic(len(labels)), (t, p), rounds, seed)
    support = cm.sum(axis=1)
    k = len(labels)

    def at(row: int, value: float) -> dict:
        return interval(value, low[row], high[row])

    return {
        "n": len(t),
        "labels": labels,
        "accuracy": at(0, point["accuracy"]),
        "macro_f1": at(1, point["macro_f1"]),
        "all_right": bool(len(t) and point["accuracy"] == 1.0),
        "all_wrong": bool(len(t) and point["accuracy"] == 0.0),
        "per_class": {
            label: {
                "precision": at(2 + i, point["precision"][i]),
                "recall": at(2 + k + i, point["recall"][i]),
                "f1": at(2 + 2 * k + i, point["f1"][i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": {"labels": labels, "matrix": cm.tolist()},
        "bootstrap": {"method": "BCa", "rounds": rounds, "seed": seed, "confidence": CONFIDENCE},
    }


def roc_one_vs_rest(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> dict:
    """ROC curve and AUC of each label against the rest, and their mean.

    Labels with no positive or no negative test item have no curve (AUC is undefined).
    Curves are thinned to MAX_CURVE_POINTS points for storage; the AUC uses all of them.
    """
    y_true = np.asarray(y_true, dtype=object)
    curves = {}
    for j, label in enumerate(classes):
        positive = y_true == label
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, j])
        keep = _thin(len(fpr))
        curves[label] = {"auc": float(auc(fpr, tpr)), "fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}
    aucs = [c["auc"] for c in curves.values()]
    return {"classes": curves, "macro_auc": float(np.mean(aucs)) if aucs else None}


def _thin(n_points: int) -> np.ndarray:
    if n_points <= MAX_CURVE_POINTS:
        return np.arange(n_points)
    return np.unique(np.linspace(0, n_points - 1, MAX_CURVE_POINTS).round().astype(int))


def calibration(
    y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], n_bins: int = CALIBRATION_BINS
) -> dict:
    """Top-label reliability bins, expected calibration error and Brier score.

    ECE is sum over bins of (bin share) * |accuracy - mean confidence|. The Brier score
    follows scikit-learn's `brier_score_loss` (two labels: squared error of the second
    label's probability; more: summed over labels) on the items whose label the model knows.
    """
    y_true = np.asarray(y_true, dtype=object)
    confidence = proba.max(axis=1)
    correct = (predicted_labels(proba, classes) == y_true).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Same bin edges and side as sklearn.calibration.calibration_curve(strategy="uniform").
    bin_ids = np.searchsorted(edges[1:-1], confidence)
    counts = np.bincount(bin_ids, minlength=n_bins)
    conf_sum = np.bincount(bin_ids, weights=confidence, minlength=n_bins)
    right = np.bincount(bin_ids, weights=correct, minlength=n_bins)
    bins, ece = [], 0.0
    for b in range(n_bins):
        if counts[b] == 0:
            continue
        mean_conf, acc = conf_sum[b] / counts[b], right[b] / counts[b]
        ece += counts[b] / len(y_true) * abs(acc - mean_conf)
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": int(counts[b]),
                "confidence": float(mean_conf),
                "accuracy": float(acc),
            }
        )
    known = np.isin(y_true, np.asarray(classes, dtype=object))
    brier = None
    if known.any():
        brier = float(brier_score_loss(list(y_true[known]), proba[known], labels=list(classes)))
    return {"bins": bins, "ece": float(ece), "brier": brier, "brier_n": int(known.sum())}


def top_predictions(
    y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], k: int = TOP_K
) -> dict[str, list[dict]]:
    """Rows worth reading: most confident right, most confident wrong, least sure.

    Returns lists of {"row", "true", "predicted", "confidence", "margin"}, best first, where
    `row` indexes `y_true`. Uncertainty is the margin between the two most likely labels.
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = predicted_labels(proba, classes)
    confidence = proba.max(axis=1)
    ordered = np.sort(proba, axis=1)
    margin = ordered[:, -1] - ordered[:, -2] if proba.shape[1] > 1 else np.ones(len(proba))
    correct = y_pred == y_true
    by_confidence = np.argsort(-confidence, kind="stable")

    def rows(indices: np.ndarray) -> list[dict]:
        return [
            {
                "row": int(i),
                "true": str(y_true[i]),
                "predicted": str(y_pred[i]),
                "confidence": float(confidence[i]),
                "margin": float(margin[i]),
            }
            for i in indices[:k]
        ]

    return {
        "confident_correct": rows(by_confidence[correct[by_confidence]]),
        "confident_wrong": rows(by_confidence[~correct[by_confidence]]),
        "uncertain": rows(np.argsort(margin, kind="stable")),
    }


def segment_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    column: Sequence[object],
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> list[dict]:
    """Accuracy and macro-F1 (with intervals) for each value of one metadata column.

    Within a segment the macro average runs over the labels that occur in it (true or
    predicted), like `f1_score(..., average="macro")`: a segment with two of seventy labels
    is not marked down for the other sixty-eight.
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    values = np.asarray([_segment_value(v) for v in column], dtype=object)
    names, counts = np.unique(values, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    if len(names) > MAX_SEGMENTS:
        rare = set(names[order[MAX_SEGMENTS - 1 :]])
        values = np.asarray(["(other)" if v in rare else v for v in values], dtype=object)
        names, counts = np.unique(values, return_counts=True)
        order = np.argsort(-counts, kind="stable")
    segments = []
    for name in names[order]:
        mask = values == name
        labels = sorted(set(y_true[mask]) | set(y_pred[mask]))
        t, p = encode(y_true[mask], labels), encode(y_pred[mask], labels)
        point = scores_from_confusion(confusion_batch(t[None, :], p[None, :], len(labels))[0])
        # Only the first two outputs (accuracy, macro-F1) are read; one statistic serves both.
        low, high = bca_interval(_report_statistic(len(labels)), (t, p), rounds, seed)
        segments.append(
            {
                "value": str(name),
                "n": int(mask.sum()),
                "accuracy": interval(point["accuracy"], low[0], high[0]),
                "macro_f1": interval(point["macro_f1"], low[1], high[1]),
            }
        )
    return segments


def _segment_value(value: object) -> str:
    if value is None or value == "":
        return "(missing)"
    return str(value)


def length_buckets(texts: Sequence[str]) -> list[str]:
    """Name each text short / medium / long by the tertiles of the lengths given."""
    lengths = np.asarray([len(t) for t in texts])
    if len(lengths) == 0:
        return []
    low, high = (int(v) for v in np.floor(np.percentile(lengths, [100 / 3, 200 / 3])))
    return [
        f"short (≤{low} chars)" if n <= low else f"long (>{high} chars)" if n > high else "medium"
        for n in lengths
    ]


def paired_difference(
    y_true: Sequence[str],
    pred_a: Sequence[str],
    pred_b: Sequence[str],
    labels: list[str],
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> dict:
    """Macro-F1 of b minus that of a on the same items, with a paired BCa bootstrap interval."""
    t, a, b = encode(y_true, labels), encode(pred_a, labels), encode(pred_b, labels)
    n_labels = len(labels)

    def difference(t: np.ndarray, a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        lead, (t2, a2, b2) = flat_rows(t, a, b)
        f1_a = scores_from_confusion(confusion_batch(t2, a2, n_labels))["macro_f1"]
        f1_b = scores_from_confusion(confusion_batch(t2, b2, n_labels))["macro_f1"]
        return (f1_b - f1_a).reshape(lead)

    point_a = scores_from_confusion(confusion_batch(t[None, :], a[None, :], n_labels)[0])["macro_f1"]
    point_b = scores_from_confusion(confusion_batch(t[None, :], b[None, :], n_labels)[0])["macro_f1"]
    low, high = bca_interval(difference, (t, a, b), rounds, seed)
    return {
        "a": float(point_a),
        "b": float(point_b),
        "difference": interval(point_b - point_a, low[0], high[0]),
    }


def evaluation_warnings(report: dict, trained_labels: Sequence[str]) -> list[str]:
    """Plain sentences saying which numbers of the report not to lean on."""
    n = report["n"]
    if n == 0:
        return ["No labeled test items: this model is not evaluated. Label test items before trusting it."]
    found = []
    if n < MIN_TEST_ITEMS:
        found.append(
            f"Only {n} labeled test items: every interval below is wide, and even the BCa "
            f"bootstrap interval covers the truth less often than {CONFIDENCE:.0%} below "
            f"{MIN_TEST_ITEMS} items; a difference of a few points between two models means nothing yet."
        )
    found.extend(_degenerate_warnings(report))
    macro = report["macro_f1"]
    if macro["high"] - macro["low"] > 0.2:
        found.append(
            f"Macro-F1 is only known to lie between {macro['low']:.2f} and {macro['high']:.2f} "
            f"({CONFIDENCE:.0%} interval); label more test items to narrow it."
        )
    per_class = report["per_class"]
    few = [
        label
        for label in trained_labels
        if 0 < per_class.get(label, {"support": 0})["support"] < MIN_CLASS_SUPPORT
    ]
    if few:
        found.append(
            f"{len(few)} label(s) have fewer than {MIN_CLASS_SUPPORT} test items ({_names(few)}): "
            "their per-label numbers are unreliable."
        )
    missing = [label for label in trained_labels if per_class.get(label, {"support": 0})["support"] == 0]
    if missing:
        found.append(f"No labeled test item for {_names(missing)}: how the model does on them is unknown.")
    return found


def _degenerate_warnings(report: dict) -> list[str]:
    """All right or all wrong: the resamples cannot vary, so the interval is a single point."""
    n = report["n"]
    if not (report.get("all_right") or report.get("all_wrong")):
        return []
    right = n if report.get("all_right") else 0
    ci = stats.binomtest(right, n).proportion_ci(confidence_level=CONFIDENCE)
    word = "right" if right else "wrong"
    return [
        f"Every one of the {n} test items was predicted {word}: the bootstrap interval is a single "
        f"point because no resample can differ. The accuracy is only known to lie between "
        f"{ci.low:.2f} and {ci.high:.2f} (exact binomial {CONFIDENCE:.0%} interval)."
    ]


def _names(labels: list[str], limit: int = 6) -> str:
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")
