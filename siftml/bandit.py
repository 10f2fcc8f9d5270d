"""The adaptive mix: Beta-Thompson sampling over rankers. numpy only.

Each ranker is an arm. A pull is an item it served that an annotator labeled WITHOUT a
suggestion on screen (the withheld share), and the reward is whether that label differed
from the model's prediction: the item taught the model something. Labels given with a
suggestion shown are left out: annotators anchor on what they are shown, so agreeing with
a suggestion says as much about the screen as about the item, and more so for the rankers
whose picks are uncertain.

Each arm's win rate has a Beta(1 + wins, 1 + losses) posterior (a uniform prior). The mix
is Thompson sampling's allocation: the share of posterior draws in which each arm has the
highest rate (its probability of being the best arm), plus a small floor so that an arm
that started badly keeps a few slots to recover with.
"""

from collections.abc import Sequence

import numpy as np

DRAWS = 4000
FLOOR = 0.05


def thompson_weights(
    rewards: dict[str, tuple[int, int]],
    arms: Sequence[str],
    floor: float = FLOOR,
    draws: int = DRAWS,
    random_state: int = 0,
) -> dict[str, float]:
    """Mix weights (summing to 1) from each arm's (wins, trials).

    `random_state` seeds the posterior draws: the same rewards and seed give the same mix.
    """
    if not arms:
        raise ValueError("The bandit needs at least one arm.")
    if floor * len(arms) > 1:
        raise ValueError(f"A floor of {floor} per arm is more than the {len(arms)} arms can share.")
    wins = np.array([rewards.get(a, (0, 0))[0] for a in arms], dtype=float)
    trials = np.array([rewards.get(a, (0, 0))[1] for a in arms], dtype=float)
    if np.any(wins < 0) or np.any(wins > trials):
        raise ValueError(f"Each arm needs 0 <= wins <= trials, got {dict(rewards)}.")
    rng = np.random.default_rng(random_state)
    samples = rng.beta(1.0 + wins, 1.0 + trials - wins, size=(draws, len(arms)))
    best = np.bincount(samples.argmax(axis=1), minlength=len(arms)) / draws
    weights = floor + (1.0 - floor * len(arms)) * best
    return {arm: float(w) for arm, w in zip(arms, weights, strict=True)}
