"""What sits around a model when it answers live requests: input checks, a cheap
out-of-distribution score, the answer rule (label, abstain), and input-drift tests.

numpy, scipy and scikit-learn only, no Django.
"""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from siftml.intervals import bca_interval, interval

# Refusal reasons, in the order they are checked.
NOT_A_STRING = "not_a_string"
EMPTY = "empty"
TOO_LONG = "too_long"
NOT_TEXT = "not_text"
OUT_OF_DISTRIBUTION = "out_of_distribution"
REASONS = {
    NOT_A_STRING: "The input is not a string.",
    EMPTY: "The text is empty (or only spaces).",
    TOO_LONG: "The text is longer than the limit.",
    NOT_TEXT: "The text is mostly symbols, digits or control characters, not words.",
    OUT_OF_DISTRIBUTION: "Most of the text's words were never seen in training: the model cannot judge it.",
}
# Below this share of letters among the non-space characters, an input is not text.
MIN_LETTER_SHARE = 0.5


def check_input(value: object, max_chars: int) -> str | None:
    """The refusal reason for one input before any model sees it, or None when it is fine."""
    if not isinstance(value, str):
        return NOT_A_STRING
    if not value.strip():
        return EMPTY
    if len(value) > max_chars:
        return TOO_LONG
    if not looks_like_text(value):
        return NOT_TEXT
    return None


def looks_like_text(text: str) -> bool:
    """Letters make up at least MIN_LETTER_SHARE of the visible characters, and no binary."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return False
    # NUL, other control characters and unassigned code points: bytes decoded as text.
    if any(unicodedata.category(c) in ("Cc", "Cn", "Co", "Cs") for c in visible):
        return False
    letters = sum(c.isalpha() for c in visible)
    return letters / len(visible) >= MIN_LETTER_SHARE


def word_vectorizer(model: Pipeline) -> TfidfVectorizer:
    """The word TF-IDF vectorizer of a Sift pipeline (siftml.training.build_pipeline)."""
    return dict(model.named_steps["features"].transformer_list)["word"]


@dataclass(frozen=True)
class Vocabulary:
    """The words a model was trained on, and the tokenizer that found them."""

    words: frozenset
    analyze: object

    @classmethod
    def of(cls, model: Pipeline) -> "Vocabulary":
        vectorizer = word_vectorizer(model)
        # Unigrams only: a known word in an unseen pair is still a known word.
        words = frozenset(term for term in vectorizer.vocabulary_ if " " not in term)
        preprocess, tokenize = vectorizer.build_preprocessor(), vectorizer.build_tokenizer()
        return cls(words, lambda text: tokenize(preprocess(text)))

    def unknown_rate(self, text: str) -> tuple[float, int]:
        """(share of the text's words the model never saw, number of words). No words: 1.0."""
        tokens = self.analyze(text)
        if not tokens:
            return 1.0, 0
        unknown = sum(token not in self.words for token in tokens)
        return unknown / len(tokens), len(tokens)


def top_k(proba: np.ndarray, classes: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
    """For each row, the k most probable labels with their probabilities, best first."""
    k = max(1, min(k, proba.shape[1]))
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return [[(str(classes[j]), float(row[j])) for j in idx] for row, idx in zip(proba, order, strict=True)]


# Population stability index: the usual reading of its size.
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
# Family-wise error rate of the drift verdict over all features (Bonferroni).
DRIFT_ALPHA = 0.01
MIN_DRIFT_SAMPLE = 30


def population_stability(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    """PSI of `recent` against `reference` on the reference's quantile bins (0: same).

    The cut points are the reference's distinct deciles, its minimum and maximum included,
    so values outside the reference's range fall in bins of their own: a reference with few
    distinct values (a rate that is mostly 0) still shows a move beyond them.
    """
    reference, recent = np.asarray(reference, float), np.asarray(recent, float)
    cuts = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    n_bins = len(cuts) + 1
    ref_counts = np.bincount(np.searchsorted(cuts, reference, side="left"), minlength=n_bins)
    new_counts = np.bincount(np.searchsorted(cuts, recent, side="left"), minlength=n_bins)
    # Half a count in every bin keeps the logarithm finite (a Laplace-style floor).
    p = (ref_counts + 0.5) / (ref_counts.sum() + 0.5 * n_bins)
    q = (new_counts + 0.5) / (new_counts.sum() + 0.5 * n_bins)
    return float(np.sum((q - p) * np.log(q / p)))


def drift_report(reference: dict[str, np.ndarray], recent: dict[str, np.ndarray]) -> dict:
    """Compare recent inputs with the reference feature by feature, with a plain verdict.

    Each feature gets its PSI and a two-sample Kolmogorov-Smirnov test; the verdict is
    "drifted" when any feature's p-value is below DRIFT_ALPHA / (number of features), so
    that two same-distribution samples are called drifted at most DRIFT_ALPHA of the time.
    """
    n_ref = min((len(v) for v in reference.values()), default=0)
    n_new = min((len(v) for v in recent.values()), default=0)
    if n_ref < MIN_DRIFT_SAMPLE or n_new < MIN_DRIFT_SAMPLE:
        return {
            "verdict": "not enough data",
            "text": f"Drift needs at least {MIN_DRIFT_SAMPLE} recent inputs and {MIN_DRIFT_SAMPLE} "
            f"reference texts (have {n_new} and {n_ref}).",
            "n_recent": n_new,
            "n_reference": n_ref,
            "features": [],
        }
    alpha = DRIFT_ALPHA / len(reference)
    features = []
    for name, ref in reference.items():
        new = np.asarray(recent[name], float)
        ref = np.asarray(ref, float)
        test = stats.ks_2samp(ref, new)
        psi = population_stability(ref, new)
        features.append(
            {
                "name": name,
                "psi": psi,
                "ks_statistic": float(test.statistic),
                "p_value": float(test.pvalue),
                "reference_mean": float(ref.mean()),
                "recent_mean": float(new.mean()),
                "drifted": bool(test.pvalue < alpha),
            }
        )
    drifted = [f["name"] for f in features if f["drifted"]]
    return {
        "verdict": "drifted" if drifted else "stable",
        "text": (
            f"Inputs have drifted from the test set on {', '.join(drifted)}."
            if drifted
            else "Recent inputs look like the test set."
        ),
        "n_recent": n_new,
        "n_reference": n_ref,
        "features": features,
    }


def psi_band(psi: float) -> str:
    return "major" if psi >= PSI_MAJOR else "moderate" if psi >= PSI_MODERATE else "small"


def _mean_statistic(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.expand_dims(x.mean(axis=axis), 0)


def accuracy_interval(correct: Sequence[bool], seed: int = 0) -> dict | None:
    """Share of correct answers with its BCa 95% interval (siftml.intervals); None when empty."""
    c = np.asarray(correct, dtype=float)
    if len(c) == 0:
        return None
    low, high = bca_interval(_mean_statistic, (c,), seed=seed)
    return {"n": len(c), **interval(c.mean(), low[0], high[0])}
