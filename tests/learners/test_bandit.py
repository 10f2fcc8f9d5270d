"""The adaptive mix's Beta-Thompson bandit: known posteriors, fixed seeds, no database."""

import pytest

from siftml import bandit


def test_the_arm_that_taught_the_model_most_gets_most_of_the_mix():
    weights = bandit.thompson_weights(
        {"margin": (40, 100), "novelty": (5, 100)}, ["margin", "novelty", "error"]
    )
    assert sum(weights.values()) == pytest.approx(1.0)
    # margin's Beta(41, 61) beats novelty's Beta(6, 96) almost always; the untried error
    # arm's Beta(1, 1) beats both about 60% of the time: Thompson sampling explores it.
    assert weights["error"] > weights["margin"] > weights["novelty"] == pytest.approx(bandit.FLOOR, abs=0.01)
    settled = bandit.thompson_weights(
        {"margin": (400, 1000), "novelty": (50, 1000), "error": (300, 1000)}, ["margin", "novelty", "error"]
    )
    assert settled["margin"] == pytest.approx(1 - 2 * bandit.FLOOR, abs=0.01)


def test_with_no_evidence_every_arm_gets_an_equal_share_and_the_seed_fixes_the_draws():
    weights = bandit.thompson_weights({}, ["margin", "novelty"], random_state=1)
    assert weights["margin"] == pytest.approx(0.5, abs=0.03)
    assert weights == bandit.thompson_weights({}, ["margin", "novelty"], random_state=1)
    assert weights != bandit.thompson_weights({}, ["margin", "novelty"], random_state=2)


@pytest.mark.parametrize(
    ("rewards", "arms", "floor", "message"),
    [
        ({"margin": (5, 3)}, ["margin"], 0.05, "0 <= wins <= trials"),
        ({"margin": (-1, 3)}, ["margin"], 0.05, "0 <= wins <= trials"),
        ({}, [], 0.05, "at least one arm"),
        ({}, ["margin", "novelty"], 0.6, "more than the 2 arms"),
    ],
)
def test_bad_rewards_are_refused(rewards, arms, floor, message):
    with pytest.raises(ValueError, match=message):
        bandit.thompson_weights(rewards, arms, floor=floor)
