"""Mixing rankers into one queue, and the bandit that can choose the mix. numpy/scipy only.

Per-project weights fill each batch (smooth weighted round-robin, so a batch holds every
ranker's share); an item too similar to one already in its batch waits for the next one.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Pick:
    item_id: int
    ranker: str
    score: float


def allocate(weights: dict[str, float], n: int) -> list[str]:
    """Spread n slots over rankers by weight, interleaved (smooth weighted round-robin)."""
    active = {name: w for name, w in weights.items() if w > 0}
    if not active:
        raise ValueError("At least one ranker needs a positive weight.")
    total = sum(active.values())
    order = {name: i for i, name in enumerate(active)}
    credit = dict.fromkeys(active, 0.0)
    slots = []
    for _ in range(n):
        for name, w in active.items():
            credit[name] += w / total
        # Ties go to the ranker listed first, so the caller's order decides.
        best = max(credit, key=lambda name: (credit[name], -order[name]))
        credit[best] -= 1.0
        slots.append(best)
    return slots


def mix_queue(
    ranked: dict[str, tuple[np.ndarray, np.ndarray]],
    weights: dict[str, float],
    size: int,
    batch_size: int,
    features: sp.csr_matrix | None = None,
    feature_row: dict[int, int] | None = None,
    duplicate_threshold: float = 0.9,
) -> list[Pick]:
    """Fill a queue of `size` items, batch by batch, from each ranker's best-first list.

    Parameters
    ----------
    ranked : ranker name -> (item_ids, scores), each sorted best first
    weights : ranker name -> share of each batch (normalized here)
    features : L2-normalized feature rows of the candidates, to pass over an item whose
        cosine similarity to one already in its batch exceeds `duplicate_threshold`
        (it stays available for a later batch)
    feature_row : item id -> row of `features`

    Returns
    -------
    picks in queue order, at most `size`, each item once, with the ranker that chose it.
    """
    pending = {name: list(range(len(ids))) for name, (ids, _) in ranked.items()}
    taken: set[int] = set()
    queue: list[Pick] = []
    while len(queue) < size:
        usable = {n: w for n, w in weights.items() if pending.get(n)}
        if not usable:
            return queue
        batch: list[int] = []
        for name in allocate(usable, min(batch_size, size - len(queue))):
            for candidate in (name, *pending):
                pick = _take(
                    candidate, ranked, pending, taken, batch, features, feature_row, duplicate_threshold
                )
                if pick is not None:
                    queue.append(pick)
                    break
        if not batch:
            return queue  # every candidate left is taken already
    return queue


def _take(name, ranked, pending, taken, batch, features, feature_row, threshold) -> Pick | None:
    """The ranker's best remaining item that is new and unlike the batch so far."""
    ids, scores = ranked[name]
    queue = pending[name]
    i = 0
    while i < len(queue):
        item_id = int(ids[queue[i]])
        if item_id in taken:
            queue.pop(i)
            continue
        row = feature_row[item_id] if features is not None else None
        if row is not None and batch and (features[batch] @ features[row].T).max() > threshold:
            i += 1  # a near-duplicate of this batch: keep it for a later one
            continue
        index = queue.pop(i)
        taken.add(item_id)
        batch.append(row if row is not None else item_id)
        return Pick(item_id, name, float(scores[index]))
    return None


def bandit_weights(
    rewards: dict[str, tuple[int, int]], rankers: Sequence[str], floor: float = 0.05, prior: float = 10.0
) -> dict[str, float]:
    """Weights that favour the rankers whose picks the model got wrong most often.

    Parameters
    ----------
    rewards : ranker -> (wins, trials); a win is an item it picked whose human label
        differed from the model's prediction (known the moment the label arrives)
    floor : every ranker keeps at least this share, so a slow starter can still prove itself
    prior : pseudo-trials at the pooled win rate, so a ranker with few trials is judged
        by the others' average until its own evidence outweighs it

    Returns
    -------
    ranker -> weight, summing to 1: each ranker's shrunken win rate, squared so that a
    clearly better ranker takes most of the batch.
    """
    total_wins = sum(rewards.get(name, (0, 0))[0] for name in rankers)
    total_trials = sum(rewards.get(name, (0, 0))[1] for name in rankers)
    pooled = (total_wins + 1) / (total_trials + 2)
    means = {}
    for name in rankers:
        wins, trials = rewards.get(name, (0, 0))
        means[name] = ((wins + prior * pooled) / (trials + prior)) ** 2
    total = sum(means.values())
    k = len(means)
    return {name: floor + (1 - floor * k) * m / total for name, m in means.items()}
