"""Replay a labeled dataset with an oracle: how many labels does each strategy need?

numpy / scikit-learn only, no Django. The loop is production's, step for step:

- the test split and its decision/report cut follow the hash rules of siftml.splits;
- a retrain fits the production pipeline on the labeled pool (`scoring.prepare_rankers`,
  the unlabeled sample by `scoring.unlabeled_sample`), judges it against the active model
  on the decision part (`promotion_rule.decide`) and, if promoted, writes a queue of
  `plan.queue_size` items mixed in batches of `plan.batch_size` from `plan.candidates`
  candidates per ranker (`scoring.build_queue`, production's `RankerSet.queue`);
- annotators label from the top of the active queue; after `retrain_every` labels the next
  retrain starts, and `lag` more labels arrive from the old queue while it runs;
- every number of a curve is the active model's macro-F1 on the report part.

So the labels a strategy needs here are the labels a project with the same settings needs.

The cold start is production's too (half coverage, half random picks until a model can be
fitted). The oracle never sees a suggestion, so every label is a withheld one: the adaptive
mix's reward counts each pick.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from siftml import bandit, evaluation, mixing, promotion_rule, sampling, scoring, splits, training
from siftml.names import ADAPTIVE, STRATEGIES


def strategy_weights(strategy: str) -> dict[str, float] | None:
    """The mix weights a strategy name stands for (None: adaptive, decided per round).

    Besides the names in STRATEGIES, a weighted mix such as "margin:0.9+novelty:0.1"
    tries weights out before they become a project's (or the default) mix.
    """
    if strategy == "mix":
        return dict(scoring.DEFAULT_WEIGHTS)
    if strategy == ADAPTIVE:
        return None
    if ":" in strategy:
        return _parse_mix(strategy)
    if strategy not in sampling.RANKERS:
        raise ValueError(
            f"Unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}, "
            "or give weights like margin:0.9+novelty:0.1."
        )
    return {strategy: 1.0}


def _parse_mix(strategy: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in strategy.split("+"):
        name, _, weight = part.partition(":")
        if name not in sampling.RANKERS:
            known = ", ".join(sampling.RANKERS)
            raise ValueError(f"Unknown ranker {name!r} in {strategy!r}; rankers: {known}.")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"Weight {weight!r} of {name} in {strategy!r} is not a number.") from None
        if not 0 < value < float("inf") or name in weights:
            raise ValueError(
                f"Each ranker of {strategy!r} needs one finite, positive weight; {name} has {weight!r}."
            )
        weights[name] = value
    return weights


@dataclass
class Run:
    strategy: str
    seed: int
    full_f1: float
    target: float
    curve: list[tuple[int, float]] = field(default_factory=list)
    query_seconds: float = 0.0

    @property
    def labels_to_target(self) -> int | None:
        goal = self.target * self.full_f1
        return next((n for n, f1 in self.curve if f1 >= goal), None)

    @property
    def mean_f1(self) -> float:
        return float(np.mean([f1 for _, f1 in self.curve])) if self.curve else 0.0

    @property
    def final_f1(self) -> float:
        return self.curve[-1][1] if self.curve else 0.0

    def summary(self) -> dict:
        return {
            "strategy": self.strategy,
            "seed": self.seed,
            "full_f1": round(self.full_f1, 4),
            "labels_to_target": self.labels_to_target,
            "mean_f1": round(self.mean_f1, 4),
            "final_f1": round(self.final_f1, 4),
            "query_seconds": round(self.query_seconds, 2),
        }


@dataclass(frozen=True)
class Loop:
    """The production settings a simulation replays (a project's and the deployment's)."""

    # SIFT_QUEUE_SIZE, SIFT_BATCH_SIZE
    plan: scoring.QueuePlan = field(default_factory=lambda: scoring.QueuePlan(2_000, 20))
    retrain_every: int = 50  # Project.retrain_every
    lag: int = 0  # labels given from the old queue while a retrain runs
    tolerance: float = 0.02  # Project.promotion_tolerance
    min_per_label: int = scoring.COLD_START_MIN_PER_LABEL  # Project.cold_start_min_per_label

    def __post_init__(self) -> None:
        if self.retrain_every < 1 or not 0 <= self.lag < self.retrain_every:
            raise ValueError("Need retrain_every >= 1 and 0 <= lag < retrain_every.")


@dataclass
class Dataset:
    pool_texts: list[str]
    pool_labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray
    # Item ids and per-item random keys of the pool (production: Item.pk, Item.rand_key);
    # by default positions, and keys from the seed by production's rule.
    pool_ids: np.ndarray | None = None
    pool_rand_keys: np.ndarray | None = None
    # Every label of the project (production's cold-start rule reads them); default: the pool's.
    names: list[str] | None = None

    @classmethod
    def split(cls, texts: Sequence[str], labels: Sequence[str], test_fraction: float, seed: int) -> "Dataset":
        """The test split of an import: by the hash of each text (so duplicates stay together)."""
        is_test = [splits.assign_split(seed, splits.content_hash(t), test_fraction) == "test" for t in texts]
        labels = np.asarray(labels, dtype=object)
        test = [i for i, t in enumerate(is_test) if t]
        pool = [i for i, t in enumerate(is_test) if not t]
        return cls([texts[i] for i in pool], labels[pool], [texts[i] for i in test], labels[test])

    @property
    def label_names(self) -> list[str]:
        return list(self.names) if self.names is not None else sorted(set(self.pool_labels))

    def ids(self) -> np.ndarray:
        return np.arange(len(self.pool_texts)) if self.pool_ids is None else np.asarray(self.pool_ids)

    def rand_keys(self, seed: int) -> np.ndarray:
        if self.pool_rand_keys is not None:
            return np.asarray(self.pool_rand_keys, dtype=float)
        return np.array(
            [splits.random_key(seed, splits.content_hash(t) + str(i)) for i, t in enumerate(self.pool_texts)]
        )

    def test_parts(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the decision and the report part of the test set (siftml.splits)."""
        parts = [splits.holdout_part(seed, splits.content_hash(t)) for t in self.test_texts]
        decision = np.array([i for i, p in enumerate(parts) if p == "decision"], dtype=int)
        report = np.array([i for i, p in enumerate(parts) if p == "report"], dtype=int)
        return decision, report


def simulate(
    data: Dataset,
    strategies: Sequence[str],
    seeds: Sequence[int],
    batch: int,
    budget: int,
    target: float = 0.95,
    params: dict | None = None,
    progress: Callable[[str, float], None] = lambda message, done: None,
    loop: Loop | None = None,
) -> list[Run]:
    """Run every strategy for every seed; return one Run (a learning curve) each.

    `batch` is the number of labels between two retrains (a project's `retrain_every`);
    `loop` carries the other production settings (its own retrain_every is replaced).
    """
    for strategy in strategies:
        strategy_weights(strategy)  # fail before hours of work on a typo
    loop = replace(loop or Loop(), retrain_every=batch)
    params = params if params is not None else training.params_for_pool(len(data.pool_texts))
    runs = []
    total = len(seeds) * len(strategies)
    for s, seed in enumerate(seeds):
        progress(f"seed {seed}: full-pool model", s / max(len(seeds), 1))
        _, report_part = data.test_parts(seed)
        full = training.fit_pipeline(data.pool_texts, data.pool_labels, params, random_state=seed)
        full_f1 = _macro_f1(full, data, report_part)
        for k, strategy in enumerate(strategies):
            done = (s * len(strategies) + k) / total

            def report(labels: int, done: float = done, strategy: str = strategy, seed: int = seed) -> None:
                # Every round, so a long simulation keeps showing (and proving) progress.
                progress(f"seed {seed}: {strategy}, {labels} labels", done + labels / budget / total)

            run = Run(strategy, seed, full_f1, target)
            replay(run, data, budget, params, loop, report)
            runs.append(run)
    progress("done", 1.0)
    return runs


def replay(
    run: Run,
    data: Dataset,
    budget: int,
    params: dict | None,
    loop: Loop,
    report: Callable[[int], None] = lambda labels: None,
    until_warm: bool = False,
) -> int:
    """One strategy, one seed: retrain, gate, queue, label from the queue, until the budget.

    Returns the labels given; with `until_warm`, stops at the first retrain past the cold start.
    """
    seed = run.seed
    ids = data.ids()
    position = {int(item_id): i for i, item_id in enumerate(ids)}
    rand_keys = data.rand_keys(seed)
    random_order = np.argsort(rand_keys, kind="stable")
    decision, report_part = data.test_parts(seed)
    labeled: list[int] = []  # positions, in the order they were labeled
    watermark = 0  # labels the next retrain fits on
    active: scoring.RankerSet | None = None
    queue: list[mixing.Pick] = []
    rewards: dict[str, tuple[int, int]] = {}
    while True:
        report(len(labeled))
        weights = strategy_weights(run.strategy)
        if weights is None:
            weights = bandit.thompson_weights(
                rewards, scoring.ADAPTIVE_ARMS, random_state=run.seed + len(labeled)
            )
        started = time.monotonic()
        candidate = retrain_round(data, labeled, watermark, weights, params, loop, seed, rand_keys)
        if until_warm and not candidate.cold_start:
            return len(labeled)
        if active is None or _promoted(active, candidate, data, decision, loop, seed):
            active = candidate
            queue = queue_round(active, data, labeled, loop)
        run.query_seconds += time.monotonic() - started
        run.curve.append((len(labeled), _macro_f1(active.model, data, report_part)))
        size = min(loop.retrain_every, budget - len(labeled))
        if size <= 0:
            return len(labeled)
        served = _serve(queue, position, labeled, random_order, size)
        if not served:
            return len(labeled)
        if run.strategy == ADAPTIVE:
            _reward(rewards, active, data, served)
        before = len(served) - min(loop.lag, len(served))
        labeled.extend(p for p, _ in served[:before])
        watermark = len(labeled)
        labeled.extend(p for p, _ in served[before:])


def retrain_round(
    data: Dataset,
    labeled: list[int],
    watermark: int,
    weights: dict,
    params: dict | None,
    loop: Loop,
    seed: int,
    rand_keys: np.ndarray,
) -> scoring.RankerSet:
    """A retrain: fit on the first `watermark` labels; the unlabeled sample is production's."""
    fitted = labeled[:watermark]
    unlabeled = np.setdiff1d(np.arange(len(data.pool_texts)), labeled)
    sample = unlabeled[scoring.unlabeled_sample(rand_keys[unlabeled], seed)] if len(unlabeled) else unlabeled
    return scoring.prepare_rankers(
        [data.pool_texts[i] for i in fitted],
        data.pool_labels[fitted] if fitted else [],
        [data.pool_texts[i] for i in sample],
        data.label_names,
        weights,
        params=params,
        min_per_label=loop.min_per_label,
        random_state=seed,
    )


def queue_round(
    rankers: scoring.RankerSet, data: Dataset, labeled: list[int], loop: Loop
) -> list[mixing.Pick]:
    """The queue the retrain writes: every item not labeled by the time it ranks."""
    unlabeled = np.setdiff1d(np.arange(len(data.pool_texts)), labeled)
    ids = data.ids()[unlabeled]
    return scoring.build_queue(rankers, ids, [data.pool_texts[i] for i in unlabeled], loop.plan)


def _promoted(
    active: scoring.RankerSet,
    candidate: scoring.RankerSet,
    data: Dataset,
    decision: np.ndarray,
    loop: Loop,
    seed: int,
) -> bool:
    """Production's gate (learners.lifecycle.compare_with_active) on the decision part."""
    if active.model is None or candidate.model is None or len(decision) == 0:
        return True  # no active model, a cold start, or nothing to compare on
    texts = [data.test_texts[i] for i in decision]
    y_true = list(data.test_labels[decision])
    old = evaluation.predicted_labels(training.predict_proba(active.model, texts), active.model.classes_)
    new = evaluation.predicted_labels(
        training.predict_proba(candidate.model, texts), candidate.model.classes_
    )
    labels = sorted(set(y_true) | set(active.model.classes_) | set(candidate.model.classes_))
    return promotion_rule.decide(y_true, old, new, labels, loop.tolerance, seed)["promoted"]


def _serve(
    queue: list[mixing.Pick],
    position: dict[int, int],
    labeled: list[int],
    random_order: np.ndarray,
    size: int,
) -> list[tuple[int, mixing.Pick | None]]:
    """The next `size` unlabeled items from the top of the queue, then in random order
    (production serves items beyond the queue by their random key)."""
    done = set(labeled)
    served: list[tuple[int, mixing.Pick | None]] = []
    for pick in queue:
        i = position[pick.item_id]
        if i not in done:
            served.append((i, pick))
            done.add(i)
            if len(served) == size:
                return served
    for i in random_order:
        if int(i) not in done:
            served.append((int(i), None))
            done.add(int(i))
            if len(served) == size:
                break
    return served


def _reward(rewards: dict, rankers: scoring.RankerSet, data: Dataset, served: list) -> None:
    """Credit each ranker whose pick the model got wrong (its label disagrees with the guess)."""
    picks = [(i, pick) for i, pick in served if pick is not None]
    if rankers.model is None or not picks:
        return
    guesses = rankers.model.predict([data.pool_texts[i] for i, _ in picks])
    for (i, pick), guess in zip(picks, guesses, strict=True):
        wins, trials = rewards.get(pick.ranker, (0, 0))
        rewards[pick.ranker] = (wins + int(guess != data.pool_labels[i]), trials + 1)


def _macro_f1(model, data: Dataset, rows: np.ndarray) -> float:
    if model is None or len(rows) == 0:
        return 0.0
    proba = training.predict_proba(model, [data.test_texts[i] for i in rows])
    return evaluation.point_metrics(list(data.test_labels[rows]), proba, model.classes_).get("macro_f1", 0.0)


def summarize(runs: Sequence[Run]) -> list[dict]:
    """One row per strategy: medians over seeds of the numbers in Run.summary."""
    rows = []
    for strategy in dict.fromkeys(r.strategy for r in runs):
        mine = [r for r in runs if r.strategy == strategy]
        reached = [r.labels_to_target for r in mine if r.labels_to_target is not None]
        rows.append(
            {
                "strategy": strategy,
                "seeds": len(mine),
                "labels_to_target": float(np.median(reached)) if len(reached) == len(mine) else None,
                "reached": f"{len(reached)}/{len(mine)}",
                "mean_f1": float(np.mean([r.mean_f1 for r in mine])),
                "final_f1": float(np.mean([r.final_f1 for r in mine])),
                "query_seconds": float(np.mean([r.query_seconds for r in mine])),
            }
        )
    return rows
