"""The test split: decided once per item from a hash, so it never depends on order or time."""

import hashlib


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
    return hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest()
