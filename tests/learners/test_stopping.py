"""Stopping guidance: the math on known curves and predictions, then the job that stores it."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from siftml import stopping


def test_agreement_is_the_changed_share_and_scikit_learns_kappa() -> None:
    rng = np.random.default_rng(0)
    before = rng.choice(["a", "b", "c"], 2000).astype(object)
    after = before.copy()
    after[:6] = np.where(after[:6] == "a", "b", "a")  # 6 of 2,000 changed: 0.3%
    agreement = stopping.prediction_agreement(before, after)
    assert agreement["n"] == 2000
    assert agreement["changed"] == pytest.approx(0.003)
    assert agreement["kappa"] == pytest.approx(cohen_kappa_score(before.astype(str), after.astype(str)))
    assert agreement["kappa"] > stopping.KAPPA_STABLE


def test_identical_single_label_predictions_agree_fully_and_bad_input_is_refused() -> None:
    assert stopping.prediction_agreement(["a"] * 5, ["a"] * 5)["kappa"] == 1.0
    assert stopping.prediction_agreement([], [])["changed"] is None
    with pytest.raises(ValueError, match="same items"):
        stopping.prediction_agreement(["a"], ["a", "b"])


def test_stable_rounds_count_the_latest_run_only() -> None:
    assert stopping.stable_rounds([0.995, 0.7, 0.991, 0.999]) == 2
    assert stopping.stable_rounds([0.995, 0.992, 0.999]) == 3
    assert stopping.stable_rounds([0.999, None]) == 0


def _known_curve(rng, n: int, right_before: float, right_after: float):
    """Predictions of two models on n items, right on the given shares (a known slope)."""
    y = rng.choice(["a", "b"], n).astype(object)
    flip = {"a": "b", "b": "a"}

    def predict(share: float) -> np.ndarray:
        wrong = rng.random(n) >= share
        return np.array([flip[t] if w else t for t, w in zip(y, wrong, strict=True)], dtype=object)

    return y, predict(right_before), predict(right_after)


def test_a_rising_curve_says_keep_labeling() -> None:
    y, before, after = _known_curve(np.random.default_rng(1), 600, 0.6, 0.9)
    slope = stopping.curve_slope(y, before, after, ["a", "b"], 200)
    assert slope["low"] > 0.15
    verdict = stopping.guidance(slope, None, [])
    assert verdict["verdict"] == "keep_labeling"
    assert verdict["sentence"].startswith("The last 200 labels moved macro-F1 by +0.")


def test_a_flat_curve_with_stable_predictions_says_stop_in_plain_words() -> None:
    rng = np.random.default_rng(2)
    y = rng.choice(["a", "b"], 800).astype(object)
    same = y.copy()
    same[:40] = np.where(same[:40] == "a", "b", "a")  # 95% right, both models alike
    slope = stopping.curve_slope(y, same, same, ["a", "b"], 200)
    assert slope["gain"] == 0.0
    assert slope["high"] < stopping.MIN_GAIN
    before = rng.choice(["a", "b"], 2000).astype(object)
    after = before.copy()
    after[:6] = np.where(after[:6] == "a", "b", "a")
    agreement = stopping.prediction_agreement(before, after)
    verdict = stopping.guidance(slope, agreement, [0.995, 0.996, agreement["kappa"]])
    assert verdict["verdict"] == "stop"
    assert "changed on 0.3% of them" in verdict["sentence"]
    assert verdict["sentence"].endswith("labeling more is unlikely to pay.")
    # The same flat curve while predictions still move is not yet a stop.
    assert stopping.guidance(slope, agreement, [0.9, agreement["kappa"]])["verdict"] == "flat"


def test_no_earlier_model_means_no_guidance_yet() -> None:
    assert stopping.guidance(None, None, [])["verdict"] == "unknown"
