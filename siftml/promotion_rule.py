"""The promotion rule in words, built from the numbers `lifecycle.compare_with_active` uses.

One sentence for every page and message that states the rule, so that the words cannot
drift from the code: the interval level comes from `evaluation.CONFIDENCE`, the tolerance
from the project.
"""

from collections.abc import Sequence

from siftml import evaluation
from siftml.evaluation import CONFIDENCE

# A hair of slack so that "exactly the tolerance" is not lost to float rounding.
SLACK = 1e-9


def decide(
    y_true: Sequence[str],
    pred_active: Sequence[str],
    pred_new: Sequence[str],
    labels: list[str],
    tolerance: float,
    seed: int,
) -> dict:
    """The promotion gate, on the decision part of the test set: production's and the simulator's.

    Refused only when the new model is worse by more than the tolerance beyond the noise of the
    test set: even the top of the paired-bootstrap interval of (new - active) lies below
    -tolerance. A point estimate alone, on the few test items of a young project, would keep
    refusing models trained on more labels and freeze the queue on an old ranking.

    Returns the `paired_difference` numbers ("a": active, "b": new, "difference") and "promoted".
    """
    compared = evaluation.paired_difference(y_true, pred_active, pred_new, labels, seed=seed)
    return {**compared, "promoted": bool(compared["difference"]["high"] >= -tolerance - SLACK)}


def describe_promotion_rule(tolerance: float | None = None) -> str:
    """How a retrained model is judged against the active one; `None` names the tolerance in words."""
    bound = "the tolerance" if tolerance is None else f"{tolerance:.3f}"
    return (
        "A retrained model replaces the active one unless it is worse beyond the noise of the test "
        f"set: it stays a candidate only when, on the same labeled test items, even the best case of "
        f"the {CONFIDENCE:.0%} paired-bootstrap interval of its macro-F1 minus the active model's is "
        f"more than {bound} below zero. With no active model, or no labeled test items, it takes over."
    )
