"""The math of serving (siftml.screening), without Django: input checks, top-k, drift
tests (seeded: a shifted sample is caught, a same-distribution one is not), PSI, intervals."""

import numpy as np
import pytest

from siftml import screening


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"bytes", "not_a_string"),
        (3.5, "not_a_string"),
        ("", "empty"),
        ("x" * 11, "too_long"),
        ("12345 6789", "not_text"),
        ("\ufffe\ufffe ab", "not_text"),
        ("café au lait", None),
        ("Привет мир", None),
        ("order #1234 please", None),
    ],
)
def test_input_checks(value, reason):
    assert screening.check_input(value, max_chars=10 if reason == "too_long" else 100) == reason


def test_top_k_is_best_first_and_capped_at_the_labels():
    proba = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]])
    assert screening.top_k(proba, ["a", "b", "c"], 2) == [[("b", 0.7), ("c", 0.2)], [("a", 0.5), ("b", 0.25)]]
    assert len(screening.top_k(proba, ["a", "b", "c"], 10)[0]) == 3


def _features(rng, n, length_mean=60.0, unknown=0.1):
    return {
        "text_length": rng.normal(length_mean, 15, n).clip(1),
        "unknown_word_rate": rng.beta(1, (1 - unknown) / unknown, n),
    }


def test_drift_is_found_in_shifted_samples_and_not_in_same_distribution_ones():
    same_called_drifted, shifted_missed = 0, 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        reference = _features(rng, 800)
        same = screening.drift_report(reference, _features(rng, 300))
        longer = screening.drift_report(reference, _features(rng, 300, length_mean=75))
        stranger = screening.drift_report(reference, _features(rng, 300, unknown=0.2))
        same_called_drifted += same["verdict"] == "drifted"
        shifted_missed += (longer["verdict"] != "drifted") + (stranger["verdict"] != "drifted")
    # The verdict's false alarm rate is at most 1% by construction: 40 tries expect 0.4.
    assert same_called_drifted <= 2
    assert shifted_missed == 0


def test_drift_names_the_feature_that_moved():
    rng = np.random.default_rng(3)
    report = screening.drift_report(_features(rng, 800), _features(rng, 300, unknown=0.3))
    moved = {f["name"]: f["drifted"] for f in report["features"]}
    assert moved == {"text_length": False, "unknown_word_rate": True}
    assert "unknown_word_rate" in report["text"]


def test_drift_needs_enough_inputs():
    rng = np.random.default_rng(0)
    report = screening.drift_report(_features(rng, 800), _features(rng, 10))
    assert report["verdict"] == "not enough data"
    assert report["features"] == []


def test_population_stability_is_zero_for_the_same_sample_and_grows_with_the_shift():
    rng = np.random.default_rng(1)
    reference = rng.normal(0, 1, 5000)
    assert screening.population_stability(reference, reference) == pytest.approx(0, abs=1e-9)
    small = screening.population_stability(reference, rng.normal(0.1, 1, 5000))
    large = screening.population_stability(reference, rng.normal(1.0, 1, 5000))
    assert small < screening.PSI_MODERATE < screening.PSI_MAJOR < large
    # A constant reference (every text one length) still gives a finite number.
    assert np.isfinite(screening.population_stability(np.ones(100), rng.normal(1, 1, 100)))
    # A reference with two values: a move beyond its largest one is a major shift.
    few = np.array([0.0] * 5 + [0.2] * 55)
    assert screening.population_stability(few, few) == pytest.approx(0, abs=1e-9)
    assert screening.population_stability(few, np.full(100, 0.5)) > screening.PSI_MAJOR


def test_accuracy_interval_brackets_the_share_and_narrows_with_more_audits():
    rng = np.random.default_rng(5)
    few = screening.accuracy_interval(rng.random(40) < 0.8, seed=1)
    many = screening.accuracy_interval(rng.random(1000) < 0.8, seed=1)
    for est in (few, many):
        assert est["low"] <= est["value"] <= est["high"]
    assert many["high"] - many["low"] < few["high"] - few["low"]
    assert many["low"] < 0.8 < many["high"]
    assert screening.accuracy_interval([]) is None
