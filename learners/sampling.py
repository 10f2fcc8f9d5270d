"""Rankers: which unlabeled items teach the model most. numpy only, no Django.

Every ranker returns one score per candidate, shape (n_samples,), higher = label sooner.
One seeded selector (`top_k`) turns scores into a choice, so ties are broken the same
way for every ranker.
"""

from collections.abc import Callable

import numpy as np


class EmptyPool(ValueError):
    """There is nothing left to rank."""


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


UNCERTAINTY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
}


def _check_proba(proba: np.ndarray) -> None:
    if proba.ndim != 2:
        raise ValueError(f"proba must be 2-d (n_samples, n_classes), got shape {proba.shape}")


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
