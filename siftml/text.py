"""The one text normalisation of Sift: what "the same text" means everywhere.

Two texts are the same when they differ only in case and spacing. That rule decides an item's
content hash (and so its split and its duplicate group, labeling/splits.py), which test texts
repeat a training text and are left out of every score (learners/lifecycle.py), which rows
share a cross-validation fold (siftml/inspection.py) and which near-duplicates are exact ones
(siftml/quality.py). One function, so the four can never disagree.
"""


def normalize_text(text: str) -> str:
    """Collapse runs of whitespace to one space, strip the ends, lower-case."""
    return " ".join(text.split()).lower()
