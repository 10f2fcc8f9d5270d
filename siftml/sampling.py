"""Rankers: which unlabeled items teach the model most. numpy/scipy/scikit-learn only, no Django.

Every ranker follows one contract. `fit(X_labeled, y_labeled, X_unlabeled, classifier)`
prepares it (most need nothing; the error and novelty rankers fit a model of their own) and
returns self; `score(X, proba, item_ids)` returns one score per candidate, shape
(n_samples,), higher = label sooner, the same under the same `random_state` however the pool
is split into chunks. `X` are the features of the production pipeline (computed once per
retrain and shared by every ranker); `proba` is the production classifier's output on them.
"""

import hashlib
import warnings
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.utils.validation import check_is_fitted


class EmptyPool(ValueError):
    """There is nothing left to rank."""


# Uncertainty measures: probabilities (n_samples, n_classes) in, scores (n_samples,) out.


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """1 - p_max: high when the most likely class is not very likely."""
    _check_proba(proba)
    return 1.0 - proba.max(axis=1)


def margin(proba: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2): high when the two most likely classes are close."""
    _check_proba(proba)
    if proba.shape[1] < 2:
        return np.zeros(len(proba))
    top2 = np.partition(proba, -2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(proba: np.ndarray) -> np.ndarray:
    """Shannon entropy of the predicted distribution, normalized to [0, 1]."""
    _check_proba(proba)
    if proba.shape[1] < 2:
        return np.zeros(len(proba))
    clipped = np.clip(proba, 1e-12, 1.0)
    return -(clipped * np.log(clipped)).sum(axis=1) / np.log(proba.shape[1])


UNCERTAINTY = {"least_confidence": least_confidence, "margin": margin, "entropy": entropy}


def _check_proba(proba: np.ndarray) -> None:
    if proba.ndim != 2:
        raise ValueError(f"proba must be 2-d (n_samples, n_classes), got shape {proba.shape}")


def unit_hash(random_state: int, item_ids: Sequence[int]) -> np.ndarray:
    """A float in [0, 1) per id, fixed by (random_state, id): random order that chunks agree on."""
    # One joined buffer read as big-endian uint64: the same floats as int.from_bytes(...) / 2**64
    # (both round the 64-bit integer to the nearest double), at half the cost of a loop that
    # converts each digest (the random ranker was 6% of scoring a 1M pool, issue 12).
    ids = item_ids.tolist() if isinstance(item_ids, np.ndarray) else item_ids  # Python ints format faster
    prefix = f"{random_state}:"
    digests = b"".join(hashlib.blake2b(f"{prefix}{i}".encode(), digest_size=8).digest() for i in ids)
    return np.frombuffer(digests, dtype=">u8").astype(np.float64) / 2**64


class Ranker(BaseEstimator):
    """Base of every ranker; subclasses set `name`, `needs_model` and `score`."""

    name: ClassVar[str]
    needs_model: ClassVar[bool] = True
    # Whether `fit` uses the unlabeled sample (transforming it costs as much as scoring).
    needs_unlabeled: ClassVar[bool] = False
    # Whether it scores features fitted to the whole pool sample (RankerSet.pool_featurizer)
    # rather than the model's, whose vocabulary holds only the labeled texts' words.
    pool_features: ClassVar[bool] = False
    description: ClassVar[str]

    def fit(self, X_labeled, y_labeled, X_unlabeled, classifier=None) -> "Ranker":
        self.fitted_ = True
        return self

    def score(self, X, proba: np.ndarray | None, item_ids: Sequence[int]) -> np.ndarray:
        raise NotImplementedError

    def explain(self, score: float, proba_row: np.ndarray | None, classes: Sequence[str]) -> str:
        """Why an item was picked, in plain words for the annotator."""
        return self.description


class RandomRanker(Ranker):
    name = "random"
    needs_model = False
    description = "Picked at random, so that the labels stay a fair sample of the data."

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def score(self, X, proba, item_ids):
        return unit_hash(self.random_state, item_ids)


class UncertaintyRanker(Ranker):
    """Least confidence, margin or entropy of the production classifier."""

    def __init__(self, measure: str = "margin", random_state: int = 0):
        self.measure = measure
        self.random_state = random_state

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.measure

    def score(self, X, proba, item_ids):
        check_is_fitted(self)
        return UNCERTAINTY[self.measure](proba)

    def explain(self, score, proba_row, classes):
        return describe_guess(proba_row, classes)


# How the "why this item" line words the model's guess. Two labels within TORN_GAP of each
# other are a toss-up; below SURE_SHARE the model leans but is not sure. Plain words and the
# percentages only: a ranker's score means nothing to the person labeling.
TORN_GAP = 0.10
SURE_SHARE = 0.90


def describe_guess(proba_row: np.ndarray | None, classes: Sequence[str]) -> str:
    """The model's guess on one item in words an annotator can act on."""
    if proba_row is None or len(proba_row) == 0:
        return "The model has no guess on this one yet: your label teaches it."
    # Stable on the negated row: of two equal shares, the first label is named first.
    order = np.argsort(-np.asarray(proba_row), kind="stable")
    first = order[0]
    top = f"“{classes[first]}” ({proba_row[first]:.0%})"
    if len(order) > 1:
        second = order[1]
        # Rounded: 55% against 45% is a gap of 0.10 as shown, whatever the float says.
        if round(float(proba_row[first] - proba_row[second]), 6) <= TORN_GAP:
            return (
                f"The model cannot decide between {top} and “{classes[second]}” "
                f"({proba_row[second]:.0%}): your label settles it."
            )
    if proba_row[first] < SURE_SHARE:
        return f"The model leans to {top} but is not sure."
    return f"The model is fairly sure it is {top}; picked to check that."


def _uncertainty_features(proba: np.ndarray) -> np.ndarray:
    return np.column_stack([least_confidence(proba), margin(proba), entropy(proba)])


class ErrorModelRanker(Ranker):
    """A classifier that predicts where the production model will be wrong.

    Out-of-fold predictions on the labeled pool (so no item is predicted by a model that
    saw it) give right/wrong labels; a logistic regression learns "wrong" from the
    item's features plus the model's uncertainty on it. With too few mistakes (or too few
    right answers) to learn from, it ranks by margin instead and says so.

    The k folds multiply the cost of a fit, so they run on at most `max_train` labeled
    items (a seeded sample) with a cheaper copy of the classifier: the error model must
    fit inside the retrain budget.
    """

    name = "error"
    description = "Looks like the items the model got wrong before."

    def __init__(self, n_folds: int = 3, min_mistakes: int = 5, max_train: int = 3000, random_state: int = 0):
        self.n_folds = n_folds
        self.min_mistakes = min_mistakes
        self.max_train = max_train
        self.random_state = random_state

    def fit(self, X_labeled, y_labeled, X_unlabeled, classifier=None):
        y = np.asarray(y_labeled, dtype=object)
        if len(y) > self.max_train:
            rng = np.random.default_rng(self.random_state)
            keep = np.sort(rng.choice(len(y), self.max_train, replace=False))
            X_labeled, y = X_labeled[keep], y[keep]
        self.fallback_ = None
        self.model_ = None
        self.n_mistakes_ = 0
        folds = self._folds(y)
        if folds is None or classifier is None:
            self.fallback_ = "too few labels per class for cross-validation"
            return self
        # A calibrated classifier wraps the logistic regression in `estimator`: refit that one.
        cheap = clone(getattr(classifier, "estimator", None) or classifier).set_params(max_iter=200, tol=1e-3)
        with warnings.catch_warnings():
            # Plain folds may miss a rare class; cross_val_predict still aligns the columns.
            warnings.filterwarnings("ignore", "Number of classes in training fold", RuntimeWarning)
            proba = cross_val_predict(cheap, X_labeled, y, cv=folds, method="predict_proba")
        classes = np.unique(y)
        wrong = (classes[proba.argmax(axis=1)] != y).astype(int)
        self.n_mistakes_ = int(wrong.sum())
        if self.n_mistakes_ < self.min_mistakes or len(wrong) - self.n_mistakes_ < self.min_mistakes:
            self.fallback_ = f"only {self.n_mistakes_} past mistakes to learn from"
            return self
        features = sp.hstack([X_labeled, _uncertainty_features(proba)]).tocsr()
        self.model_ = LogisticRegression(C=1.0, class_weight="balanced", max_iter=500)
        self.model_.fit(features, wrong)
        return self

    def _folds(self, y: np.ndarray):
        if len(y) < 2 * self.n_folds:
            return None
        _, counts = np.unique(y, return_counts=True)
        if len(counts) < 2:
            return None
        if counts.min() >= self.n_folds:
            return StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        # Rare classes: plain folds; a fold may miss a class, and cross_val_predict keeps
        # the columns aligned to every class.
        return KFold(self.n_folds, shuffle=True, random_state=self.random_state)

    def score(self, X, proba, item_ids):
        check_is_fitted(self, "fallback_")
        if self.model_ is None:
            return margin(proba)
        features = sp.hstack([X, _uncertainty_features(proba)]).tocsr()
        return self.model_.predict_proba(features)[:, 1]

    def explain(self, score, proba_row, classes):
        if self.model_ is None:
            # Ranked by margin (see score): say what margin says.
            return describe_guess(proba_row, classes)
        # Its probability is not calibrated (balanced class weights), so no number is shown.
        return "Looks like items the model got wrong before: check its guess carefully."


class ErrorRerankRanker(Ranker):
    """Margin's closest calls, re-ordered by the error model (issue 16).

    The share `top_share` of the unlabeled sample with the highest margin sets a threshold
    at fit time; an item above it scores 1 + the error model's probability that the
    production model is wrong on it, every other item its margin (below 1). So the error
    model only chooses among items margin already finds uncertain, instead of competing
    with margin for slots. Without an error model (too few mistakes) it is plain margin.
    """

    name = "error_margin"
    needs_unlabeled = True
    description = "One of the model's closest calls, and like the items it got wrong before."

    def __init__(
        self, top_share: float = 0.05, n_folds: int = 3, min_mistakes: int = 5, random_state: int = 0
    ):
        self.top_share = top_share
        self.n_folds = n_folds
        self.min_mistakes = min_mistakes
        self.random_state = random_state

    def fit(self, X_labeled, y_labeled, X_unlabeled, classifier=None):
        error = ErrorModelRanker(self.n_folds, self.min_mistakes, random_state=self.random_state)
        self.error_ = error.fit(X_labeled, y_labeled, None, classifier)
        self.threshold_ = np.inf
        if classifier is not None and X_unlabeled is not None and X_unlabeled.shape[0]:
            rng = np.random.default_rng(self.random_state)
            n = min(X_unlabeled.shape[0], 20_000)
            sample = X_unlabeled[np.sort(rng.choice(X_unlabeled.shape[0], n, replace=False))]
            self.threshold_ = float(np.quantile(margin(classifier.predict_proba(sample)), 1 - self.top_share))
        return self

    def score(self, X, proba, item_ids):
        check_is_fitted(self, "error_")
        close = margin(proba)
        if self.error_.model_ is None:
            return close
        top = close >= self.threshold_
        scores = np.minimum(close, 1.0 - 1e-9)
        if top.any():
            scores[top] = 1.0 + self.error_.score(X[top], proba[top], np.asarray(item_ids)[top])
        return scores

    def explain(self, score, proba_row, classes):
        return describe_guess(proba_row, classes)


class NoveltyRanker(Ranker):
    """The "labeling model": a classifier of labeled vs unlabeled pool items.

    Items it is most sure are unlabeled-like are the least like anything labeled so far.
    """

    name = "novelty"
    needs_model = False
    needs_unlabeled = True
    description = "Unlike anything labeled so far."

    def __init__(self, max_unlabeled: int = 20_000, random_state: int = 0):
        self.max_unlabeled = max_unlabeled
        self.random_state = random_state

    def fit(self, X_labeled, y_labeled, X_unlabeled, classifier=None):
        self.model_ = None
        if X_labeled.shape[0] == 0 or X_unlabeled.shape[0] == 0:
            return self
        rng = np.random.default_rng(self.random_state)
        n = min(X_unlabeled.shape[0], self.max_unlabeled)
        sample = X_unlabeled[np.sort(rng.choice(X_unlabeled.shape[0], n, replace=False))]
        X = sp.vstack([X_labeled, sample]).tocsr()
        y = np.r_[np.zeros(X_labeled.shape[0]), np.ones(n)]
        self.model_ = LogisticRegression(C=1.0, class_weight="balanced", max_iter=500).fit(X, y)
        return self

    def score(self, X, proba, item_ids):
        check_is_fitted(self, "model_")
        if self.model_ is None:
            return unit_hash(self.random_state, item_ids)
        return self.model_.predict_proba(X)[:, 1]

    def explain(self, score, proba_row, classes):
        if self.model_ is None:
            return "Picked at random: nothing is labeled yet to compare with."
        return "Unlike the items labeled so far: it shows the model something new."


def make_ranker(name: str, random_state: int = 0) -> Ranker:
    """Return an unfitted ranker by its registry name."""
    if name not in RANKERS:
        raise ValueError(f"Unknown ranker {name!r}; choose from {', '.join(RANKERS)}.")
    return RANKERS[name](random_state)


RANKERS = {
    "random": lambda rs: RandomRanker(random_state=rs),
    "least_confidence": lambda rs: UncertaintyRanker("least_confidence", random_state=rs),
    "margin": lambda rs: UncertaintyRanker("margin", random_state=rs),
    "entropy": lambda rs: UncertaintyRanker("entropy", random_state=rs),
    "error": lambda rs: ErrorModelRanker(random_state=rs),
    "novelty": lambda rs: NoveltyRanker(random_state=rs),
    "coverage": lambda rs: _coverage_ranker(rs),
    "error_margin": lambda rs: ErrorRerankRanker(random_state=rs),
}


def _coverage_ranker(random_state: int) -> Ranker:
    # siftml.coldstart builds on this module's Ranker: imported when first asked for.
    from siftml.coldstart import CoverageRanker

    return CoverageRanker(random_state=random_state)


def top_k(scores: np.ndarray, k: int, random_state: int | np.random.Generator = 0) -> np.ndarray:
    """Indices of the k highest scores, best first; ties broken by a seeded shuffle."""
    if len(scores) == 0:
        raise EmptyPool("No unlabeled items are left to rank.")
    rng = np.random.default_rng(random_state)
    k = min(k, len(scores))
    tiebreak = rng.random(len(scores))
    # lexsort sorts by the last key first: score descending, then the random tiebreak.
    order = np.lexsort((tiebreak, -np.asarray(scores, dtype=float)))
    return order[:k]


def query(ranker: Ranker, X, proba: np.ndarray | None, item_ids: Sequence[int], k: int) -> np.ndarray:
    """The k item ids a fitted ranker would have labeled next, best first."""
    if len(item_ids) == 0:
        raise EmptyPool("No unlabeled items are left to rank.")
    scores = ranker.score(X, proba, item_ids)
    return np.asarray(item_ids)[top_k(scores, k, ranker.random_state)]
