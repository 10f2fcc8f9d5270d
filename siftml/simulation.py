"""Replay a labeled dataset with an oracle: how many labels does each strategy need?

numpy / scikit-learn only, no Django. Every round fits the production pipeline
(`training.fit_pipeline`, through `scoring.prepare_rankers`) and ranks with the production
rankers and mixer (`RankerSet.mix`): the simulator runs the code the live system runs.

All strategies of one seed start from the same cold start (the production cold-start
rule: half coverage, half random picks until a model can be fitted), then each asks for
batches. The oracle never sees a suggestion, so every label is a withheld one: the
adaptive mix's reward counts each pick.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from siftml import bandit, mixing, sampling, scoring, training

ADAPTIVE = "adaptive"
STRATEGIES = ("random", "least_confidence", "margin", "entropy", "error", "novelty", "mix", ADAPTIVE)


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


@dataclass
class Dataset:
    pool_texts: list[str]
    pool_labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray

    @classmethod
    def split(cls, texts: Sequence[str], labels: Sequence[str], test_fraction: float, seed: int) -> "Dataset":
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(texts))
        n_test = round(test_fraction * len(texts))
        test, pool = order[:n_test], order[n_test:]
        labels = np.asarray(labels, dtype=object)
        return cls([texts[i] for i in pool], labels[pool], [texts[i] for i in test], labels[test])

    @property
    def label_names(self) -> list[str]:
        return sorted(set(self.pool_labels))


def simulate(
    data: Dataset,
    strategies: Sequence[str],
    seeds: Sequence[int],
    batch: int,
    budget: int,
    target: float = 0.95,
    params: dict | None = None,
    progress: Callable[[str, float], None] = lambda message, done: None,
) -> list[Run]:
    """Run every strategy for every seed; return one Run (a learning curve) each."""
    for strategy in strategies:
        strategy_weights(strategy)  # fail before hours of work on a typo
    runs = []
    total = len(seeds) * len(strategies)
    for s, seed in enumerate(seeds):
        progress(f"seed {seed}: full-pool model", s / max(len(seeds), 1))
        full = training.fit_pipeline(data.pool_texts, data.pool_labels, params, random_state=seed)
        full_f1 = _macro_f1(full, data)
        start, start_curve, start_seconds = _cold_start(data, batch, budget, params, seed)
        for k, strategy in enumerate(strategies):
            done = (s * len(strategies) + k) / total

            def report(labels: int, done: float = done, strategy: str = strategy, seed: int = seed) -> None:
                # Every round, so a long simulation keeps showing (and proving) progress.
                progress(f"seed {seed}: {strategy}, {labels} labels", done + labels / budget / total)

            run = Run(strategy, seed, full_f1, target, list(start_curve), start_seconds)
            _continue(run, data, list(start), batch, budget, params, report)
            runs.append(run)
    progress("done", 1.0)
    return runs


def _cold_start(data: Dataset, batch: int, budget: int, params: dict | None, seed: int):
    """Label batches with the production cold-start rule until it no longer applies."""
    labeled: list[int] = []
    curve: list[tuple[int, float]] = []
    seconds = 0.0
    while len(labeled) < budget:
        started = time.monotonic()
        rankers = _prepare(data, labeled, scoring.DEFAULT_WEIGHTS, params, seed)
        if not rankers.cold_start:
            break
        picks = _query(rankers, data, labeled, min(batch, budget - len(labeled)))
        seconds += time.monotonic() - started
        if not picks:
            break
        curve.append((len(labeled), _macro_f1(rankers.model, data)))
        labeled.extend(pick.item_id for pick in picks)
    return labeled, curve, seconds


def _continue(
    run: Run,
    data: Dataset,
    labeled: list[int],
    batch: int,
    budget: int,
    params: dict | None,
    report: Callable[[int], None] = lambda labels: None,
) -> None:
    rewards: dict[str, tuple[int, int]] = {}
    while True:
        report(len(labeled))
        weights = strategy_weights(run.strategy)
        if weights is None:
            weights = bandit.thompson_weights(
                rewards, scoring.ADAPTIVE_ARMS, random_state=run.seed + len(labeled)
            )
        started = time.monotonic()
        rankers = _prepare(data, labeled, weights, params, run.seed)
        size = min(batch, budget - len(labeled))
        picks = _query(rankers, data, labeled, size) if size > 0 else []
        run.query_seconds += time.monotonic() - started
        run.curve.append((len(labeled), _macro_f1(rankers.model, data)))
        if not picks:
            return
        if run.strategy == ADAPTIVE:
            _reward(rewards, rankers, data, picks)
        labeled.extend(pick.item_id for pick in picks)


def _prepare(data: Dataset, labeled: list[int], weights: dict, params: dict | None, seed: int):
    unlabeled = np.setdiff1d(np.arange(len(data.pool_texts)), labeled)
    return scoring.prepare_rankers(
        [data.pool_texts[i] for i in labeled],
        data.pool_labels[labeled] if labeled else [],
        [data.pool_texts[i] for i in unlabeled],
        data.label_names,
        weights,
        params=params,
        random_state=seed,
    )


def _query(rankers: scoring.RankerSet, data: Dataset, labeled: list[int], size: int) -> list[mixing.Pick]:
    unlabeled = np.setdiff1d(np.arange(len(data.pool_texts)), labeled)
    if len(unlabeled) == 0:
        return []
    candidates = scoring.Candidates(keep=max(5 * size, 50))
    rankers.score_into(candidates, [data.pool_texts[i] for i in unlabeled], unlabeled)
    texts = {int(i): data.pool_texts[int(i)] for i in candidates.all_ids()}
    return rankers.mix(candidates, texts, size, size)


def _reward(rewards: dict, rankers: scoring.RankerSet, data: Dataset, picks: list[mixing.Pick]) -> None:
    """Credit each ranker whose pick the model got wrong (its label disagrees with the guess)."""
    if rankers.model is None:
        return
    guesses = rankers.model.predict([data.pool_texts[p.item_id] for p in picks])
    for pick, guess in zip(picks, guesses, strict=True):
        wins, trials = rewards.get(pick.ranker, (0, 0))
        rewards[pick.ranker] = (wins + int(guess != data.pool_labels[pick.item_id]), trials + 1)


def _macro_f1(model, data: Dataset) -> float:
    if model is None:
        return 0.0
    proba = training.predict_proba(model, data.test_texts)
    return training.evaluate(data.test_labels, proba, model.classes_).get("macro_f1", 0.0)


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
