"""The model: fit, predict, save and load; numpy and scikit-learn only, no Django.

One scikit-learn Pipeline (TF-IDF over word and character n-grams, then logistic
regression), fitted on pool labels only; saved with joblib next to its sha256, which is
checked before every load.
"""

import hashlib
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.validation import check_is_fitted

DEFAULT_PARAMS: dict = {
    "word_ngram_max": 2,
    # Word n-grams seen in fewer training texts than this are left out (1: none).
    "word_min_df": 1,
    "char_ngram_min": 2,
    "char_ngram_max": 5,
    "C": 10.0,
    "class_weight": "balanced",
    "max_iter": 1000,
    # Balanced weights and a weak penalty (C=10) buy minority recall but distort the
    # probabilities; a sigmoid fitted on out-of-fold scores of the pool labels maps them
    # back to frequencies, so suggestions, thresholds and uncertainty rankers read real odds.
    "calibration": "sigmoid",
}
# Folds of the calibration's cross-validation. Every label needs CALIBRATION_MIN_LABELS
# pool labels (5 per fold), else the model is left uncalibrated and its evaluation says so:
# on a handful of labels the out-of-fold scores are noise, and a sigmoid fitted to noise
# can even flip predictions the plain model gets right.
CALIBRATION_FOLDS = 3
CALIBRATION_MIN_LABELS = 15
# Character n-grams cost seven times more to compute than words (and buy 2-3 points of
# macro-F1 on banking77): a pool this large is scored on word n-grams only, so that a
# rescore of a million items fits in a retrain's budget. See the README's scale figures.
LARGE_POOL = 200_000
# They also leave out word n-grams seen in one training text only: on banking77 (10,003
# training labels, its test set) that halves the vocabulary (23,608 -> 10,292 n-grams) and
# cuts the calibrated fit from 32.6 to 13.1 CPU seconds for a macro-F1 of 0.8844 against
# 0.8863 (the fit was 41 of a 1M rescore's 74 CPU-bound seconds, issue 12).
LARGE_POOL_PARAMS: dict = {**DEFAULT_PARAMS, "char_ngram_max": 0, "word_min_df": 2}
MIN_LABELS_PER_CLASS = 2


class NotEnoughLabels(ValueError):
    """Too few labels to fit a model that means anything."""


class ArtifactMismatch(Exception):
    """A model file does not match the sha256 recorded when it was saved."""


def algorithm_name(params: dict) -> str:
    return "tfidf-word-char+logreg" if params.get("char_ngram_max") else "tfidf-word+logreg"


def params_for_pool(pool_size: int) -> dict:
    """The pipeline's parameters for a pool of this many items."""
    return dict(LARGE_POOL_PARAMS if pool_size >= LARGE_POOL else DEFAULT_PARAMS)


def build_pipeline(params: dict | None = None, random_state: int = 0, calibrate: bool = False) -> Pipeline:
    p = {**DEFAULT_PARAMS, **(params or {})}
    word = TfidfVectorizer(ngram_range=(1, p["word_ngram_max"]), min_df=p["word_min_df"], sublinear_tf=True)
    parts = [("word", word)]
    if p["char_ngram_max"]:
        char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(p["char_ngram_min"], p["char_ngram_max"]),
            sublinear_tf=True,
            min_df=2,
        )
        parts.append(("char", char))
    features = FeatureUnion(parts)
    classifier = LogisticRegression(
        C=p["C"], class_weight=p["class_weight"], max_iter=p["max_iter"], random_state=random_state
    )
    if calibrate:
        # ensemble=False: one logistic regression fitted on every pool label, plus sigmoids
        # fitted on its out-of-fold scores (pool labels only; test items never reach a fold).
        folds = StratifiedKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=random_state)
        classifier = CalibratedClassifierCV(classifier, method=p["calibration"], cv=folds, ensemble=False)
    return Pipeline([("features", features), ("classifier", classifier)])


def can_calibrate(labels: Sequence[str], params: dict | None = None) -> bool:
    """Whether calibration is asked for and every label has enough pool labels for its folds."""
    if not {**DEFAULT_PARAMS, **(params or {})}.get("calibration"):
        return False
    _, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    return bool(counts.min() >= CALIBRATION_MIN_LABELS)


def is_calibrated(model: Pipeline) -> bool:
    return isinstance(model.named_steps["classifier"], CalibratedClassifierCV)


def base_classifier(model: Pipeline) -> object:
    """The logistic regression inside the pipeline, calibrated or not (its weights, raw odds)."""
    classifier = model.steps[-1][1]
    if isinstance(classifier, CalibratedClassifierCV):
        return classifier.calibrated_classifiers_[0].estimator
    return classifier


def uncalibrated_proba(model: Pipeline, texts: Sequence[str]) -> np.ndarray:
    """The logistic regression's own probabilities, before calibration (columns model.classes_)."""
    check_is_fitted(model)
    if len(texts) == 0:
        return np.zeros((0, len(model.classes_)))
    return base_classifier(model).predict_proba(model[:-1].transform(list(texts)))


def check_trainable(labels: Sequence[str], min_per_class: int = MIN_LABELS_PER_CLASS) -> None:
    """Raise NotEnoughLabels unless at least two classes have `min_per_class` labels each."""
    classes, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    usable = classes[counts >= min_per_class]
    if len(usable) < 2:
        have = ", ".join(f"{c}: {n}" for c, n in zip(classes, counts, strict=True)) or "none"
        raise NotEnoughLabels(
            f"Training needs at least {min_per_class} labeled pool items in each of two labels (have {have})."
        )


def fit_pipeline(
    texts: Sequence[str], labels: Sequence[str], params: dict | None = None, random_state: int = 0
) -> Pipeline:
    """Fit the pipeline on labeled pool texts. Every transform sees only these texts."""
    check_trainable(labels)
    with warnings.catch_warnings():
        # Early in active learning most classes have one or two examples; scikit-learn
        # then wonders whether y is a regression target. It is not.
        warnings.filterwarnings("ignore", "The number of unique classes is greater than 50%", UserWarning)
        pipeline = build_pipeline(params, random_state, calibrate=can_calibrate(labels, params))
        return pipeline.fit(list(texts), np.asarray(labels, dtype=object))


def predict_proba(model: Pipeline, texts: Sequence[str]) -> np.ndarray:
    """Return class probabilities, shape (n_samples, n_classes), columns in model.classes_."""
    check_is_fitted(model)
    if len(texts) == 0:
        return np.zeros((0, len(model.classes_)))
    return model.predict_proba(list(texts))


def save_artifact(model: Pipeline, path: Path) -> str:
    """Write the model atomically and return the sha256 of the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(model, tmp, compress=3)
        digest = file_sha256(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        # A full disk leaves half a file behind: remove it, whatever stopped the write.
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def load_artifact(path: Path, sha256: str) -> Pipeline:
    """Load a model file after checking it is byte for byte the one that was saved."""
    actual = file_sha256(path)
    if actual != sha256:
        raise ArtifactMismatch(
            f"{path.name} has sha256 {actual[:12]}…, but {sha256[:12]}… was recorded; "
            "refusing to load a model file that changed after it was saved."
        )
    return joblib.load(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
