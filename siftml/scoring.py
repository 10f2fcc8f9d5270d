"""Everything fitted once per retrain to rank the pool, and the chunk-by-chunk scoring.

numpy / scikit-learn only, no Django: the live system (learners/ranking.py) and the
simulator (siftml/simulation.py) both rank through `RankerSet`, so the simulator proves
what production does.
"""

import dataclasses
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import normalize

from siftml import coldstart, mixing, sampling, training

# Until every label has this many labeled pool examples, some label may not have been found
# yet. Before a model can be fitted (two labels with two examples each) the queue is half
# coverage (the typical items of the pool's clusters that no label covers yet,
# siftml/coldstart.py), half random. Once a model can be fitted its mix takes over at once,
# and COVERAGE_SHARE of each batch keeps looking for the labels still missing. The old start
# (novelty + random until every label had 2 examples) spent 200-220 labels on a news set
# whose rarest class is 0.7% of the items before the model picked anything (issue 16).
COLD_START_MIN_PER_LABEL = 2
COLD_START_WEIGHTS = {"coverage": 0.5, "random": 0.5}
COVERAGE_SHARE = 0.5
# The default mix, chosen in the simulator (README, "Label efficiency"; 3 seeds each): labels
# to 95% of full-pool macro-F1, against margin alone, on banking77 / the binary security set:
# this mix 0.95x / 1.00x; margin 0.8 + error 0.1 + novelty 0.1 0.95x / 1.29x; margin 0.9 +
# novelty 0.1 on the binary set 1.14x. The few error and novelty picks keep an eye on where
# the model is wrong and on what it has never seen, at almost no cost in labels.
DEFAULT_WEIGHTS = {"margin": 0.9, "error": 0.05, "novelty": 0.05}
# The rankers an adaptive mix chooses between.
ADAPTIVE_ARMS = ("margin", "entropy", "error", "novelty")
# Unlabeled pool texts the cold-start featurizer and the novelty ranker are fitted on.
NOVELTY_SAMPLE = 20_000


@dataclass(frozen=True)
class QueuePlan:
    """How a ranking becomes a queue: the same numbers in production and in the simulator.

    queue_size : items written per ranking (SIFT_QUEUE_SIZE); beyond it, random order
    batch_size : items per mixed batch (SIFT_BATCH_SIZE): each batch holds every ranker's
        share and no two near-duplicates
    """

    queue_size: int
    batch_size: int

    @property
    def candidates(self) -> int:
        """Best items kept per ranker: near-duplicates are passed over while mixing, so some spare."""
        return int(self.queue_size * 1.25) + 50


def sample_start(seed: int) -> float:
    """Where the unlabeled sample starts on the items' random keys (then wraps around)."""
    return random.Random(seed).random()


def unlabeled_sample(rand_keys: Sequence[float], seed: int, size: int = NOVELTY_SAMPLE) -> np.ndarray:
    """Positions of the uniform sample of unlabeled items: `size` items in order of their
    per-item random key from `sample_start(seed)`, wrapping around (learners.ranking does the
    same in SQL on `Item.rand_key`)."""
    keys = np.asarray(rand_keys, dtype=float)
    start = sample_start(seed)
    after, before = np.flatnonzero(keys >= start), np.flatnonzero(keys < start)
    order = np.concatenate(
        [after[np.argsort(keys[after], kind="stable")], before[np.argsort(keys[before], kind="stable")]]
    )
    return order[:size]


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
        # Ties are broken by item id, not by position: however the pool is cut into chunks
        # and merged (one worker or several, production or the simulator), the same
        # candidates survive in the same order.
        best = np.lexsort((all_ids, -np.asarray(all_scores, dtype=float)))[: self.keep]
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
    """The classifier (None in cold start), the featurizer and the fitted rankers.

    `cold_start`: no model yet, the queue is COLD_START_WEIGHTS. `finding_labels`: a model
    ranks, but some label still has too few examples, so the coverage ranker has a share.
    """

    model: Pipeline | None
    features: object  # the fitted feature step (the model's own when there is a model)
    rankers: dict[str, sampling.Ranker]
    weights: dict[str, float]
    cold_start: bool
    # Seconds of the fitting phases ("rankers fit", "ranker fit:<name>"); {} in old bundles.
    fit_seconds: dict[str, float] = field(default_factory=dict)
    finding_labels: bool = False
    # Features fitted to the labeled and unlabeled pool sample, for the rankers that look
    # for what no label covers (`Ranker.pool_features`): the model's own vocabulary holds
    # only the words of labeled texts, so a class nobody labeled is invisible in it.
    # None when `features` is that featurizer already (cold start) or no ranker needs it.
    pool_featurizer: object = None

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
        X_pool = X
        pool_featurizer = getattr(self, "pool_featurizer", None)  # None in older bundles
        if pool_featurizer is not None:
            with timed(seconds, "pool features"):
                X_pool = pool_featurizer.transform(list(texts))
        scores = {}
        for name, ranker in self.rankers.items():
            with timed(seconds, f"ranker:{name}"):
                scores[name] = ranker.score(X_pool if ranker.pool_features else X, proba, item_ids)
        return scores, proba

    def score_into(self, candidates: Candidates, texts: Sequence[str], item_ids: np.ndarray) -> None:
        scores, _ = self.score(texts, item_ids, candidates.seconds)
        for name, values in scores.items():
            candidates.add(name, item_ids, values)

    def queue(
        self, candidates: Candidates, texts_by_id: dict[int, str], plan: QueuePlan
    ) -> list[mixing.Pick]:
        """The queue a retrain writes: `plan.queue_size` picks mixed in batches of `plan.batch_size`."""
        return self.mix(candidates, texts_by_id, plan.queue_size, plan.batch_size)

    def mix(self, candidates: Candidates, texts_by_id: dict[int, str], size: int, batch_size: int):
        """The queue: weighted batches with no near-duplicates inside a batch."""
        ids = candidates.all_ids()
        with timed(candidates.seconds, "mixing features"):
            features = normalize(self.transform([texts_by_id[int(i)] for i in ids])) if len(ids) else None
        row = {int(item_id): r for r, item_id in enumerate(ids)}
        with timed(candidates.seconds, "mixing"):
            return mixing.mix_queue(candidates.ranked(), self.weights, size, batch_size, features, row)


def build_queue(
    rankers: RankerSet, item_ids: Sequence[int], texts: Sequence[str], plan: QueuePlan
) -> list[mixing.Pick]:
    """Score these unlabeled pool items and mix them into a queue, in memory.

    The simulator's queue; production scores the same way in chunks (learners.ranking) and
    mixes with `RankerSet.queue` and the same plan, so both pick the same items.
    """
    ids = np.asarray(item_ids, dtype=np.int64)
    if len(ids) == 0:
        return []
    candidates = Candidates(keep=plan.candidates)
    rankers.score_into(candidates, list(texts), ids)
    by_id = dict(zip(ids.tolist(), texts, strict=True))
    return rankers.queue(candidates, {int(i): by_id[int(i)] for i in candidates.all_ids()}, plan)


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
    In cold start (no model can be fitted yet) the queue comes from the coverage and random
    rankers, on features fitted to the labeled and unlabeled pool texts (pool only, never
    test items); while some label has fewer than `min_per_label` examples, the coverage
    ranker keeps COVERAGE_SHARE of the model's mix.

    With `fit_model=False` (and no `model`), the rankers are fitted for a classifier that
    another process fits on the same texts at the same time (`RankerSet.with_model` joins
    them): the features are fitted here on those texts, which gives the same vocabulary
    and weights, and the error model clones the same unfitted classifier. The ranker set
    returned has no model until it is joined.
    """
    missing = is_cold_start(labels, label_names, min_per_label)
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
    # Cold start: no classifier can be fitted yet (fitted here, or beside these rankers).
    cold = classifier is None
    use = COLD_START_WEIGHTS if cold else {n: w for n, w in weights.items() if w > 0}
    if missing and not cold:
        use = {n: w * (1 - COVERAGE_SHARE) / sum(use.values()) for n, w in use.items() if n != "coverage"}
        use["coverage"] = COVERAGE_SHARE
    rankers = {name: sampling.make_ranker(name, random_state) for name in use}
    if "coverage" in rankers:
        n_rows = len(texts) + len(unlabeled_sample)
        rankers["coverage"].set_params(n_clusters=coldstart.cluster_count(len(label_names), n_rows))
    pool_featurizer = None
    if not cold and any(r.pool_features for r in rankers.values()):
        pool_featurizer = training.build_pipeline(params).named_steps["features"]
        pool_featurizer.fit(list(texts) + list(unlabeled_sample))
    X_labeled = _transform(features, texts)
    X_unlabeled = None
    if any(r.needs_unlabeled and not r.pool_features for r in rankers.values()):
        X_unlabeled = _transform(features, unlabeled_sample)
    pool_X = (X_labeled, X_unlabeled)
    if any(r.pool_features for r in rankers.values()):
        pool = pool_featurizer or features
        pool_X = (_transform(pool, texts), _transform(pool, unlabeled_sample))
    y = np.asarray(labels, dtype=object)
    seconds: dict[str, float] = {}
    for name, ranker in rankers.items():
        X_l, X_u = pool_X if ranker.pool_features else (X_labeled, X_unlabeled)
        with timed(seconds, f"ranker fit:{name}"):
            ranker.fit(X_l, y, X_u, classifier)
    return RankerSet(
        model,
        features,
        rankers,
        dict(use),
        cold,
        seconds,
        finding_labels=missing and not cold,
        pool_featurizer=pool_featurizer,
    )


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
