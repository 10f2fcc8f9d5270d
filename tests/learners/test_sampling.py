"""Rankers with known answers: tiny literal probabilities, fixed seeds, no database."""

import numpy as np
import pytest

from siftml import sampling

PROBA = np.array(
    [
        [0.98, 0.01, 0.01],  # sure
        [0.40, 0.35, 0.25],  # unsure between three
        [0.50, 0.49, 0.01],  # torn between two
        [0.70, 0.20, 0.10],
    ]
)


@pytest.mark.parametrize("name", sorted(sampling.UNCERTAINTY))
def test_uncertainty_scores_have_one_value_per_item_and_rank_the_sure_item_last(name):
    scores = sampling.UNCERTAINTY[name](PROBA)
    assert scores.shape == (4,)
    assert np.argmin(scores) == 0


def test_margin_ranks_the_item_torn_between_two_classes_first():
    assert np.argmax(sampling.margin(PROBA)) == 2


def test_entropy_and_least_confidence_rank_the_spread_item_first():
    assert np.argmax(sampling.entropy(PROBA)) == 1
    assert np.argmax(sampling.least_confidence(PROBA)) == 1


def test_entropy_is_normalized_to_unit_range():
    uniform = np.full((1, 4), 0.25)
    assert sampling.entropy(uniform)[0] == pytest.approx(1.0)


def test_top_k_is_best_first_and_breaks_ties_the_same_way_under_a_seed():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.5])
    first = sampling.top_k(scores, 3, random_state=3)
    assert set(first[:2]) == {1, 3}
    assert first[2] in (2, 4)
    assert list(first) == list(sampling.top_k(scores, 3, random_state=3))


def test_top_k_on_an_empty_pool_raises():
    with pytest.raises(sampling.EmptyPool):
        sampling.top_k(np.zeros(0), 5)


def test_a_one_dimensional_proba_is_refused():
    with pytest.raises(ValueError, match="2-d"):
        sampling.margin(np.array([0.5, 0.5]))
