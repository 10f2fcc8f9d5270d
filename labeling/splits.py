"""The split rules of a project's items; they live in siftml.splits, shared with the simulator."""

from siftml.splits import (
    DECISION_SHARE,
    assign_split,
    content_hash,
    holdout_part,
    random_key,
    split_key,
    withholds_suggestion,
)

__all__ = [
    "DECISION_SHARE",
    "assign_split",
    "content_hash",
    "holdout_part",
    "random_key",
    "split_key",
    "withholds_suggestion",
]
