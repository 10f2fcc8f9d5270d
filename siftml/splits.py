"""The test split: decided once per item from a hash, so it never depends on order or time.

Pure hashlib, in the ML core so that the simulator splits a file's rows by the rule that
splits a project's items on import (labeling.services) and cuts the test set into the
decision and report parts by the rule the model lifecycle uses.
"""

import hashlib

from siftml.text import normalize_text


def _unit_hash(*parts: object) -> float:
    """Map the parts to a float in [0, 1), the same on every machine and Python version."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(seed: int, split_key: str, test_fraction: float) -> str:
    """Return "test" for a `test_fraction` share of keys, "pool" for the rest."""
    return "test" if _unit_hash("split", seed, split_key) < test_fraction else "pool"


def random_key(seed: int, split_key: str) -> float:
    """Return the item's place in random serving order (independent of its split)."""
    return _unit_hash("order", seed, split_key)


def withholds_suggestion(seed: int, external_id: str, share: float) -> bool:
    """Whether this pool item never shows a suggestion: a fixed `share` of items, by hash.

    Fixed per item rather than drawn per request, so a reload or a second annotator sees
    the item the same way, and the unaided labels form a stable random sample.
    """
    return _unit_hash("suggest", seed, external_id) < share


def content_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()


# The test split is cut once more, by hash, into two fixed parts. Promotion decisions read
# only the "decision" part; the "report" part, which no decision ever reads, gives the
# numbers on the model page. Scores on a set that chose the winner are biased upward (the
# winner's curse) and the bias grows with every retrain judged on it; the report part
# stays an unbiased estimate however many decisions the other part serves.
DECISION_SHARE = 0.5


def split_key(meta: dict, text: str) -> str:
    """The key an item's split hangs on: its `group` if it has one, else its text's hash."""
    return str(meta.get("group") or content_hash(text))


def holdout_part(seed: int, key: str, decision_share: float = DECISION_SHARE) -> str:
    """Return "decision" or "report" for a test item's split key; a group stays in one part."""
    return "decision" if _unit_hash("test-part", seed, key) < decision_share else "report"
