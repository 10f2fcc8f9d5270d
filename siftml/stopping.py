"""When labeling more stops paying: two signals and one rule. numpy + scikit-learn only.

1. **The learning curve's slope, with its interval.** The newest model and one trained on
   about `WINDOW` fewer labels predict the same held-out items (the common report set of
   learners/common_curve.py); the paired BCa interval of their macro-F1 difference
   (`evaluation.paired_difference`) says how much those labels moved it.
2. **Stabilizing predictions** (Bloodgood & Vijay-Shanker 2009, "A method for stopping
   active learning based on stabilizing predictions"): consecutive models predict a fixed
   random sample of pool items, the stop set; once Cohen's kappa between consecutive
   models' predictions stays at or above `KAPPA_STABLE` for `STABLE_ROUNDS` comparisons in
   a row, new labels no longer change what the model says.

The rule (`guidance`): labeling more is *unlikely to pay* when both hold: the top of the
slope's interval is below `MIN_GAIN` and predictions are stable. It *still pays* when the
bottom of the interval is above zero. Otherwise the signals disagree or are too noisy,
and the sentence says which.
"""

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import cohen_kappa_score

from siftml.evaluation import paired_difference

# Pool items in the stop set (Bloodgood & Vijay-Shanker used 2,000 in most experiments).
STOP_SET_SIZE = 2_000
# The slope compares the newest model with the newest one trained on this many fewer labels.
WINDOW = 200
# Bloodgood & Vijay-Shanker's defaults: kappa >= 0.99, three comparisons in a row.
KAPPA_STABLE = 0.99
STABLE_ROUNDS = 3
# A gain this small is not worth the labels: the best case of the slope's interval below it.
MIN_GAIN = 0.01


def prediction_agreement(before: Sequence[str], after: Sequence[str]) -> dict:
    """How two models' predictions on the same stop set compare.

    Returns {"n", "changed": share of items whose predicted label differs, "kappa"}.
    Kappa is scikit-learn's `cohen_kappa_score`; when both models predict one and the same
    label everywhere, kappa is undefined (0/0) and the predictions, identical, count as 1.0.
    """
    a, b = np.asarray(before, dtype=object), np.asarray(after, dtype=object)
    if len(a) != len(b):
        raise ValueError(
            f"The two predictions cover {len(a)} and {len(b)} items; they must be the same items."
        )
    if len(a) == 0:
        return {"n": 0, "changed": None, "kappa": None}
    changed = float(np.mean(a != b))
    one_label = len(set(a) | set(b)) == 1
    kappa = 1.0 if one_label else float(cohen_kappa_score(a.astype(str), b.astype(str)))
    return {"n": len(a), "changed": changed, "kappa": kappa}


def curve_slope(
    y_true: Sequence[str],
    pred_before: Sequence[str],
    pred_after: Sequence[str],
    labels: list[str],
    labels_between: int,
    seed: int = 0,
) -> dict:
    """What `labels_between` more labels did to macro-F1 on the same held-out items.

    Returns {"labels", "n", "gain", "low", "high"}: the difference (after - before) and its
    paired BCa interval.
    """
    compared = paired_difference(y_true, pred_before, pred_after, labels, seed=seed)
    diff = compared["difference"]
    return {
        "labels": int(labels_between),
        "n": len(y_true),
        "gain": float(diff["value"]),
        "low": float(diff["low"]),
        "high": float(diff["high"]),
    }


def stable_rounds(kappas: Sequence[float | None]) -> int:
    """How many of the latest comparisons in a row (newest last) reached KAPPA_STABLE."""
    count = 0
    for kappa in reversed(list(kappas)):
        if kappa is None or kappa < KAPPA_STABLE:
            break
        count += 1
    return count


def guidance(slope: dict | None, agreement: dict | None, kappas: Sequence[float | None]) -> dict:
    """The verdict and its sentence, from the slope, the latest agreement and the kappa history.

    `kappas` are the stop-set kappas of the latest comparisons, oldest first, the newest one
    (`agreement["kappa"]`) included.
    """
    stable = stable_rounds(kappas)
    is_stable = stable >= STABLE_ROUNDS
    parts = []
    if slope is not None:
        half = (slope["high"] - slope["low"]) / 2
        parts.append(
            f"the last {slope['labels']} labels moved macro-F1 by {slope['gain']:+.3f} ± {half:.3f} "
            f"(95% interval {slope['low']:+.3f} to {slope['high']:+.3f}, on {slope['n']} test items)"
        )
    if agreement is not None and agreement.get("changed") is not None:
        plural = "s" if stable != 1 else ""
        parts.append(
            f"predictions on the {agreement['n']} stop-set items changed on {agreement['changed']:.1%} "
            f"of them (kappa {agreement['kappa']:.3f}; {stable} stable comparison{plural} in a row, "
            f"{STABLE_ROUNDS} needed)"
        )
    if slope is None and (agreement is None or agreement.get("changed") is None):
        verdict, advice = "unknown", "Two models are needed before Sift can say whether more labels pay."
    elif slope is not None and slope["low"] > 0:
        verdict, advice = "keep_labeling", "labeling more still pays."
    elif slope is not None and slope["high"] < MIN_GAIN and is_stable:
        verdict, advice = "stop", "labeling more is unlikely to pay."
    elif is_stable and slope is None:
        verdict, advice = "stable", "predictions have settled; label test items to measure the gain."
    elif slope is not None and slope["high"] < MIN_GAIN:
        verdict, advice = (
            "flat",
            "the curve is flat, but predictions still move: a few more retrains will tell.",
        )
    else:
        verdict, advice = "unclear", "the gain is within the noise; more test labels would narrow it."
    sentence = advice if verdict == "unknown" else "; ".join(parts) + "; " + advice
    return {
        "verdict": verdict,
        "sentence": sentence[0].upper() + sentence[1:],
        "slope": slope,
        "agreement": agreement,
        "stable_rounds": stable,
        "rule": {
            "min_gain": MIN_GAIN,
            "kappa_stable": KAPPA_STABLE,
            "stable_rounds": STABLE_ROUNDS,
            "window": WINDOW,
            "stop_set_size": STOP_SET_SIZE,
        },
    }
