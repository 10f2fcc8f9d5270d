"""What a model learned, how much it varies, which training labels look wrong. No Django.

- `top_features`: the n-grams that weigh most for each label in the fitted pipeline.
- `cross_validate`: k-fold cross-validation on the training labels only (group-aware and
  seeded: copies of one text, or rows of one `group`, never sit on both sides of a fold),
  giving the spread of macro-F1 and an out-of-fold probability for every training item.
- `label_suspects`: training labels that the out-of-fold model, which never saw them,
  confidently contradicts (the idea behind confident learning).
"""

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from siftml import evaluation, training
from siftml.text import normalize_text

CV_FOLDS = 5
MIN_CV_LABELS = 10
SUSPECT_CONFIDENCE = 0.8
MAX_SUSPECTS = 100


def top_features(model: Pipeline, k: int = 15) -> dict[str, list[dict]] | None:
    """Return, per label, the k features with the largest weight towards it, largest first.

    None when the features have no names (e.g. a hashing vectorizer) or the last step has
    no linear weights. A two-label model has one weight vector: positive weights count
    towards the second label, negative ones towards the first.
    """
    # A calibrated model keeps its weights in the logistic regression it wraps.
    classifier = training.base_classifier(model)
    coef = getattr(classifier, "coef_", None)
    if coef is None:
        return None
    try:
        names = np.asarray(model[:-1].get_feature_names_out(), dtype=object)
    except (AttributeError, NotFittedError, ValueError):
        return None
    classes = list(classifier.classes_)
    weights = np.vstack([-coef[0], coef[0]]) if coef.shape[0] == 1 else coef
    found = {}
    for label, row in zip(classes, weights, strict=True):
        best = np.argsort(-row, kind="stable")[:k]
        found[str(label)] = [_feature(names[i], row[i]) for i in best if row[i] > 0]
    return found


def _feature(name: str, weight: float) -> dict:
    kind, _, text = name.partition("__")
    if not text:
        kind, text = "", name
    # Character n-grams carry padding spaces that matter (" refu" starts a word): show them.
    shown = text.replace(" ", "␣") if kind == "char" else text
    return {"feature": text, "kind": kind, "weight": float(weight), "shown": shown}


def group_keys(texts: Sequence[str], groups: Sequence[str | None]) -> np.ndarray:
    """The fold key of each row: its `group`, else its whitespace- and case-folded text."""
    return np.asarray(
        [g if g else normalize_text(t) for t, g in zip(texts, groups, strict=True)], dtype=object
    )


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[str],
    groups: Sequence[str | None],
    build: Callable[[], Pipeline],
    n_splits: int = CV_FOLDS,
    seed: int = 0,
) -> tuple[dict, np.ndarray | None, list[str]]:
    """Fit `build()` k times on the training labels and score each held-out fold.

    Returns
    -------
    summary : {"folds", "accuracy": [...], "macro_f1": [...], "mean", "std"} or
        {"skipped": reason}
    oof : out-of-fold probabilities, shape (n_samples, n_classes), or None when skipped
    classes : column order of `oof` (every training label, sorted)
    """
    y = np.asarray(labels, dtype=object)
    classes = sorted(set(labels))
    keys = group_keys(texts, groups)
    n_groups = len(set(keys))
    # A stratified split needs some label with at least as many members as folds; after a
    # small seed (ten labels over five intents) none has five, and scikit-learn refuses.
    # Lower the folds to what the labels allow rather than fail the evaluate job.
    _, counts = np.unique(y, return_counts=True)
    folds = min(n_splits, n_groups, int(counts.max()) if len(counts) else 0)
    if len(y) < MIN_CV_LABELS or folds < 2 or len(classes) < 2:
        return {"skipped": f"Too few training labels for {n_splits}-fold cross-validation."}, None, classes
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    X = np.asarray(texts, dtype=object)
    oof = np.zeros((len(y), len(classes)))
    column = {label: i for i, label in enumerate(classes)}
    accuracy, macro = [], []
    with warnings.catch_warnings():
        # Rare labels cannot be spread over every fold; the scores say so by being low.
        warnings.filterwarnings("ignore", message="The least populated class")
        for train, held in splitter.split(X, y, keys):
            if len(set(y[train])) < 2:
                continue
            model = build().fit(list(X[train]), y[train])
            proba = model.predict_proba(list(X[held]))
            cols = [column[c] for c in model.classes_]
            oof[np.ix_(held, cols)] = proba
            predicted = np.asarray(model.classes_, dtype=object)[proba.argmax(axis=1)]
            fold = evaluation.scores(y[held], predicted, classes)
            accuracy.append(float(fold["accuracy"]))
            macro.append(float(fold["macro_f1"]))
    summary = {
        "folds": len(macro),
        "accuracy": accuracy,
        "macro_f1": macro,
        "mean": float(np.mean(macro)),
        "std": float(np.std(macro)),
    }
    return summary, oof, classes


def label_suspects(
    labels: Sequence[str],
    oof: np.ndarray,
    classes: Sequence[str],
    threshold: float = SUSPECT_CONFIDENCE,
    limit: int = MAX_SUSPECTS,
) -> list[dict]:
    """Training rows whose label the out-of-fold model contradicts with at least `threshold`.

    Returns {"row", "given", "predicted", "confidence", "p_given"}, most suspect first
    (lowest probability of the given label).
    """
    y = np.asarray(labels, dtype=object)
    column = {label: i for i, label in enumerate(classes)}
    given = np.fromiter((column[v] for v in y), dtype=np.int64, count=len(y))
    best = oof.argmax(axis=1)
    confidence = oof.max(axis=1)
    p_given = oof[np.arange(len(y)), given]
    suspect = np.flatnonzero((best != given) & (confidence >= threshold))
    suspect = suspect[np.argsort(p_given[suspect], kind="stable")][:limit]
    return [
        {
            "row": int(i),
            "given": str(y[i]),
            "predicted": str(classes[best[i]]),
            "confidence": float(confidence[i]),
            "p_given": float(p_given[i]),
        }
        for i in suspect
    ]
