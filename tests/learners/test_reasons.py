"""The "why this item" line: plain words that match the model's probabilities, and no score."""

import numpy as np
import pytest

from siftml import sampling

CLASSES = ["positive", "negative", "neutral"]


@pytest.mark.parametrize(
    ("proba", "expected"),
    [
        (
            [0.50, 0.50],
            "The model cannot decide between “positive” (50%) and “negative” (50%): your label settles it.",
        ),
        (
            [0.45, 0.55],
            "The model cannot decide between “negative” (55%) and “positive” (45%): your label settles it.",
        ),
        ([0.72, 0.28], "The model leans to “positive” (72%) but is not sure."),
        ([0.11, 0.89], "The model leans to “negative” (89%) but is not sure."),
        ([0.95, 0.05], "The model is fairly sure it is “positive” (95%); picked to check that."),
        (
            [0.40, 0.35, 0.25],
            "The model cannot decide between “positive” (40%) and “negative” (35%): your label settles it.",
        ),
        ([0.50, 0.25, 0.25], "The model leans to “positive” (50%) but is not sure."),
    ],
)
def test_the_guess_is_worded_from_the_gap_between_the_top_two(proba, expected):
    assert sampling.describe_guess(np.array(proba), CLASSES[: len(proba)]) == expected


def test_torn_only_when_the_top_two_are_within_the_threshold():
    close = np.array([0.5 + sampling.TORN_GAP / 2 - 1e-9, 0.5 - sampling.TORN_GAP / 2 + 1e-9])
    apart = np.array([0.5 + sampling.TORN_GAP / 2 + 0.01, 0.5 - sampling.TORN_GAP / 2 - 0.01])
    assert "cannot decide" in sampling.describe_guess(close, CLASSES[:2])
    assert "cannot decide" not in sampling.describe_guess(apart, CLASSES[:2])
    assert "leans to" in sampling.describe_guess(apart, CLASSES[:2])


@pytest.mark.parametrize("measure", ["margin", "least_confidence", "entropy"])
def test_every_uncertainty_measure_says_the_same_true_thing(measure):
    ranker = sampling.make_ranker(measure).fit(None, None, None)
    for proba in ([0.5, 0.5], [0.72, 0.28], [0.97, 0.03]):
        row = np.array(proba)
        assert ranker.explain(0.99, row, CLASSES[:2]) == sampling.describe_guess(row, CLASSES[:2])


def _reasons() -> list[str]:
    error = sampling.ErrorModelRanker()
    error.model_, error.fallback_ = object(), None
    fallback = sampling.ErrorModelRanker()
    fallback.model_, fallback.fallback_ = None, "only 2 past mistakes to learn from"
    novelty = sampling.NoveltyRanker()
    novelty.model_ = object()
    row = np.array([0.62, 0.38])
    return [
        error.explain(0.93, row, CLASSES[:2]),
        fallback.explain(0.97, row, CLASSES[:2]),
        novelty.explain(0.88, row, CLASSES[:2]),
        sampling.RandomRanker().explain(0.41, None, CLASSES[:2]),
    ]


def test_error_novelty_and_random_reasons_are_plain_words_without_scores():
    error, fallback, novelty, random = _reasons()
    assert error == "Looks like items the model got wrong before: check its guess carefully."
    # With too few mistakes the error ranker ranks by margin, and says what margin would.
    assert fallback == "The model leans to “positive” (62%) but is not sure."
    assert novelty == "Unlike the items labeled so far: it shows the model something new."
    assert random.startswith("Picked at random")
    for reason in (error, fallback, novelty, random):
        assert "score" not in reason
        assert not any(f"{share}%" in reason for share in (93, 97, 88, 41))


def test_a_model_without_probabilities_says_it_has_no_guess():
    assert "no guess" in sampling.describe_guess(None, CLASSES)
