"""The promotion rule in words, built from the numbers `lifecycle.compare_with_active` uses.

One sentence for every page and message that states the rule, so that the words cannot
drift from the code: the interval level comes from `names.CONFIDENCE` (the one
`evaluation` uses), the tolerance from the project.
"""

from siftml.names import CONFIDENCE


def describe_promotion_rule(tolerance: float | None = None) -> str:
    """How a retrained model is judged against the active one; `None` names the tolerance in words."""
    bound = "the tolerance" if tolerance is None else f"{tolerance:.3f}"
    return (
        "A retrained model replaces the active one unless it is worse beyond the noise of the test "
        f"set: it stays a candidate only when, on the same labeled test items, even the best case of "
        f"the {CONFIDENCE:.0%} paired-bootstrap interval of its macro-F1 minus the active model's is "
        f"more than {bound} below zero. With no active model, or no labeled test items, it takes over."
    )
