"""Calibrated confidence: on imbalanced, overlapping data, sigmoid calibration on pool labels
lowers the Brier score and the expected calibration error of the balanced-weight model."""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import brier_score_loss

from siftml import evaluation, inspection, training

VOCABULARY = [f"w{i}" for i in range(60)]


def _imbalanced(n: int, seed: int) -> tuple[list[str], list[str]]:
    """85% "common", 15% "rare"; each text 8 words, the rare class only leaning to its own words."""
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(n) < 0.15, "rare", "common")
    common_p = np.ones(60) / 60
    rare_p = np.r_[np.full(10, 3.0), np.ones(50)]
    rare_p /= rare_p.sum()
    texts = [" ".join(rng.choice(VOCABULARY, 8, p=rare_p if y == "rare" else common_p)) for y in labels]
    return texts, list(labels)


@pytest.mark.parametrize("seed", [0, 1])
def test_calibration_lowers_brier_and_ece_on_imbalanced_data(seed):
    train_texts, train_labels = _imbalanced(900, seed)
    test_texts, test_labels = _imbalanced(1500, seed + 100)
    raw = training.fit_pipeline(train_texts, train_labels, {"calibration": None}, random_state=seed)
    calibrated = training.fit_pipeline(train_texts, train_labels, random_state=seed)
    assert not training.is_calibrated(raw)
    assert training.is_calibrated(calibrated)

    scores = {}
    for name, model in (("raw", raw), ("calibrated", calibrated)):
        proba = training.predict_proba(model, test_texts)
        cal = evaluation.calibration(test_labels, proba, list(model.classes_))
        # Our Brier is scikit-learn's on the same probabilities.
        assert cal["brier"] == pytest.approx(
            brier_score_loss(test_labels, proba, labels=list(model.classes_))
        )
        scores[name] = cal
    assert scores["calibrated"]["brier"] < scores["raw"]["brier"] - 0.01
    assert scores["calibrated"]["ece"] < scores["raw"]["ece"]
    # The raw probabilities of the calibrated model are the uncalibrated model's.
    before = training.uncalibrated_proba(calibrated, test_texts)
    np.testing.assert_allclose(before, training.predict_proba(raw, test_texts), atol=1e-6)


def test_too_few_labels_per_class_leave_the_model_uncalibrated_and_weights_stay_readable():
    texts = ["good day", "good time", "bad day", "bad time", "ugly one"]
    labels = ["pos", "pos", "neg", "neg", "ugly"]
    model = training.fit_pipeline(texts * 1, labels)
    assert not training.is_calibrated(model)  # "ugly" has one label: no folds to calibrate on
    few = training.fit_pipeline(texts * 14, labels * 14)
    assert not training.is_calibrated(few)  # 14 "ugly" labels: below CALIBRATION_MIN_LABELS
    assert list(few.predict(texts)) == labels
    texts3, labels3 = texts * 15, labels * 15
    model3 = training.fit_pipeline(texts3, labels3)
    classifier = model3.named_steps["classifier"]
    assert isinstance(classifier, CalibratedClassifierCV)
    assert classifier.method == "sigmoid"
    features = inspection.top_features(model3)
    assert "good" in {f["feature"] for f in features["pos"]}
