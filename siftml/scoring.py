"""Everything fitted once per retrain to rank the pool, and the chunk-by-chunk scoring.

numpy / scikit-learn only, no Django: the live system (learners/ranking.py) and the
simulator (siftml/simulation.py) both rank through `RankerSet`, so the simulator proves
what production does.
"""

import dataclasses
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import normalize

from siftml import mixing, sampling, training

# Until every label has this many labeled pool examples, the classifier has too little to
# say: the queue is half novelty (items unlike anything labeled), half random. Novelty alone
# over-samples odd phrasings: finding 2 examples of each of banking77's 77 intents took it
# 900 labels (seed 0), random 600, the half-and-half mix 500 (seeds 0-2: 500, 600, 1300;
# random 600, 900, 900).
COLD_START_MIN_PER_LABEL = 2
COLD_START_WEIGHTS = {"novelty": 0.5, "random": 0.5}
# The default mix, chosen in the simulator (README, "Label efficiency"; 3 seeds each): labels
# to 95% of full-pool macro-F1, against margin alone, on banking77 / the binary security set:
# this mix 0.95x / 1.00x; margin 0.8 + error 0.1 + novelty 0.1 0.95x / 1.29x; margin 0.9 +
# novelty 0.1 on the binary set 1.14x. The few error and novelty picks keep an eye on where
# the model is wrong and on what it has never seen, at almost no cost in labels.
DEFAULT_WEIGHTS = {"margin": 0.9, "error": 0.05, "novelty": 0.05}
# The rankers an adaptive mix chooses between.
ADAPTIVE_ARMS = ("margin", "entropy", "error", "novelty")


def is_cold_start(labels: Sequence[str], label_names: Sequence[str], min_per_label: int) -> bool:
    """True while some label has fewer than `min_per_label` labeled examples."""
    values, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    have = dict(zip(values, counts, strict=True))
    return any(have.get(name, 0) < min_per_label for name in label_names)


@contextmanager
def timed(seconds: dict[str, float], phase: str) -> Iterator[None]:
    """Add the wall time of the block to `seconds[phase]` (phases of a retrain, issue 12)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - started


@dataclass
class Candidates:
    """The best items of each ranker seen so far, merged chunk by chunk."""

    keep: int
    ids: dict[str, np.ndarray] = field(default_factory=dict)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    # Seconds spent per phase ("features", "ranker:<name>"), summed over chunks and workers.
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, ranker: str, ids: np.ndarray, scores: np.ndarray) -> None:
        all_ids = np.concatenate([self.ids.get(ranker, np.zeros(0, np.int64)), ids])
        all_scores = np.concatenate([self.scores.get(ranker, np.zeros(0)), scores])
        best = sampling.top_k(all_scores, self.keep) if len(all_scores) else np.zeros(0, int)
        self.ids[ranker], self.scores[ranker] = all_ids[best], all_scores[best]

    def merge(self, other: "Candidates") -> None:
        for ranker in other.ids:
            self.add(ranker, other.ids[ranker], other.scores[ranker])
        for phase, value in other.seconds.items():
            self.seconds[phase] = self.seconds.get(phase, 0.0) + value

    def ranked(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {r: (self.ids[r], self.scores[r]) for r in self.ids}

    def all_ids(self) -> np.ndarray:
        return np.unique(np.concatenate(list(self.ids.values()))) if self.ids else np.zeros(0, np.int64)


@dataclass
class RankerSet:
    """The classifier (None in cold start), the featurizer and the fitted rankers."""

    model: Pipeline | None
    features: object  # the fitted feature step (the model's own when there is a model)
    rankers: dict[str, sampling.Ranker]
    weights: dict[str, float]
    cold_start: bool
    # Seconds of the fitting phases ("rankers fit", "ranker fit:<name>"); {} in old bundles.
    fit_seconds: dict[str, float] = field(default_factory=dict)

    def with_model(self, model: Pipeline | None) -> "RankerSet":
        """These rankers (fitted with `fit_model=False`) beside the classifier fitted meanwhile.

        The classifier's own feature step replaces the one fitted here (the same fit of the
        same texts), so the classifier and the rankers read one featurizer.
        """
        if model is None:
            return self
        return dataclasses.replace(self, model=model, features=model.named_steps["features"])

    @property
    def classes(self) -> np.ndarray:
        return np.asarray(self.model.classes_ if self.model is not None else [], dtype=object)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.features.transform(list(texts))

    def score(
        self, texts: Sequence[str], item_ids: Sequence[int], seconds: dict[str, float] | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Score one chunk by every ranker: features and probabilities computed once."""
        seconds = {} if seconds is None else seconds
        with timed(seconds, "features"):
            X = self.transform(texts)
        with timed(seconds, "probabilities"):
            proba = self.model.named_steps["classifier"].predict_proba(X) if self.model is not None else None
        scores = {}
        for name, ranker in self.rankers.items():
            with timed(seconds, f"ranker:{name}"):
                scores[name] = ranker.score(X, proba, item_ids)
        return scores, proba

    def score_into(self, candidates: Candidates, texts: Sequence[str], item_ids: np.ndarray) -> None:
        scores, _ = self.score(texts, item_ids, candidates.seconds)
        for name, values in scores.items():
            candidates.add(name, item_ids, values)

    def mix(self, candidates: Candidates, texts_by_id: dict[int, str], size: int, batch_size: int):
        """The queue: weighted batches with no near-duplicates inside a batch."""
        ids = candidates.all_ids()
        with timed(candidates.seconds, "mixing features"):
            features = normalize(self.transform([texts_by_id[int(i)] for i in ids])) if len(ids) else None
        row = {int(item_id): r for r, item_id in enumerate(ids)}
        with timed(candidates.seconds, "mixing"):
            return mixing.mix_queue(candidates.ranked(), self.weights, size, batch_size, features, row)


def prepare_rankers(
    texts: Sequence[str],
    labels: Sequence[str],
    unlabeled_sample: Sequence[str],
    label_names: Sequence[str],
    weights: dict[str, float],
    *,
    model: Pipeline | None = None,
    params: dict | None = None,
    min_per_label: int = COLD_START_MIN_PER_LABEL,
    random_state: int = 0,
    fit_model: bool = True,
) -> RankerSet:
    """Fit (or take) the classifier and fit every ranker the weights ask for.

    `texts`/`labels` are the labeled pool only: no test item is ever passed here.
    In cold start the queue comes from the novelty ranker, on features fitted to the
    labeled and unlabeled pool texts (pool only, never test items).

    With `fit_model=False` (and no `model`), the rankers are fitted for a classifier that
    another process fits on the same texts at the same time (`RankerSet.with_model` joins
    them): the features are fitted here on those texts, which gives the same vocabulary
    and weights, and the error model clones the same unfitted classifier. The ranker set
    returned has no model until it is joined.
    """
    cold = is_cold_start(labels, label_names, min_per_label)
    classifier = None
    if model is None and fit_model:
        try:
            model = training.fit_pipeline(texts, labels, params, random_state=random_state)
        except training.NotEnoughLabels:
            model = None
    if model is not None:
        features, classifier = model.named_steps["features"], model.named_steps["classifier"]
    elif not fit_model and _trainable(labels):
        unfitted = training.build_pipeline(
            params, random_state, calibrate=training.can_calibrate(labels, params)
        )
        features = unfitted.named_steps["features"].fit(list(texts))
        classifier = unfitted.named_steps["classifier"]
    else:
        features = training.build_pipeline(params).named_steps["features"]
        features.fit(list(texts) + list(unlabeled_sample))
    use = COLD_START_WEIGHTS if cold or classifier is None else {n: w for n, w in weights.items() if w > 0}
    rankers = {name: sampling.make_ranker(name, random_state) for name in use}
    X_labeled = _transform(features, texts)
    X_unlabeled = None
    if any(r.needs_unlabeled for r in rankers.values()):
        X_unlabeled = _transform(features, unlabeled_sample)
    y = np.asarray(labels, dtype=object)
    seconds: dict[str, float] = {}
    for name, ranker in rankers.items():
        with timed(seconds, f"ranker fit:{name}"):
            ranker.fit(X_labeled, y, X_unlabeled, classifier)
    return RankerSet(model, features, rankers, dict(use), cold, seconds)


def _trainable(labels: Sequence[str]) -> bool:
    try:
        training.check_trainable(labels)
    except training.NotEnoughLabels:
        return False
    return True


def _transform(features, texts: Sequence[str]) -> sp.csr_matrix:
    if len(texts) == 0:  # scikit-learn refuses to transform nothing
        return sp.csr_matrix((0, len(features.get_feature_names_out())))
    return features.transform(list(texts))
