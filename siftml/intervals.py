"""Bootstrap confidence intervals: BCa (`scipy.stats.bootstrap`), seeded, never NaN.

numpy + scipy only. Percentile intervals under-cover on small test sets; BCa corrects the
bias and skew of the resampling distribution, so every interval Sift shows or decides on
comes from here.
"""

import warnings
from collections.abc import Callable

import numpy as np
from scipy import stats

from siftml.names import CONFIDENCE

BOOTSTRAP_ROUNDS = 1000
BOOTSTRAP_BATCH = 100


def flat_rows(*arrays: np.ndarray) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Resamples as (rounds, n_samples) rows; scipy hands 1-d, 2-d or more dimensions."""
    lead = arrays[0].shape[:-1]
    return lead, [np.asarray(a).reshape(-1, a.shape[-1]) for a in arrays]


def bca_interval(
    statistic: Callable[..., np.ndarray],
    data: tuple[np.ndarray, ...],
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of `scipy.stats.bootstrap(method="BCa")` over paired rows, one per output.

    `statistic(*arrays)` takes arrays of shape (..., n_samples) and returns shape (k, ...).
    Where BCa is undefined (every resample gives the same value, or a constant jackknife
    makes the acceleration 0/0) the percentile interval of the same resamples stands in,
    so no interval is ever NaN; all right or all wrong gives [value, value].
    """
    n = len(data[0])
    if n < 2:  # scipy needs two rows to resample; one item says nothing about spread
        value = np.atleast_1d(statistic(*data))
        return value.astype(float), value.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.bootstrap(
            data,
            statistic,
            paired=True,
            vectorized=True,
            method="BCa",
            n_resamples=rounds,
            confidence_level=CONFIDENCE,
            batch=BOOTSTRAP_BATCH,
            rng=np.random.default_rng(seed),
        )
    low = np.atleast_1d(result.confidence_interval.low).astype(float)
    high = np.atleast_1d(result.confidence_interval.high).astype(float)
    tail = 100 * (1 - CONFIDENCE) / 2
    spread = np.atleast_2d(result.bootstrap_distribution)
    fallback_low, fallback_high = np.percentile(spread, [tail, 100 - tail], axis=-1)
    undefined = ~(np.isfinite(low) & np.isfinite(high))
    return np.where(undefined, fallback_low, low), np.where(undefined, fallback_high, high)


def interval(value: float, low: float, high: float) -> dict:
    """A point estimate with its BCa bootstrap interval at CONFIDENCE."""
    return {"value": float(value), "low": float(low), "high": float(high)}
