""" "More like this": each process keeps one siftml.similarity.Index per project.

The index is built on the first request (every item's hashed words, read in id order) and
then only extended: items are append-only and hashed features need no fitting, so a new
item's row is added on the next request (one indexed query for ids above the last one).
Memory: 8 bytes per distinct word of each item (float32 value + int32 column) per process,
so roughly 100 MB for 1,000,000 items of a dozen words (an estimate from that arithmetic).
"""

import threading

import numpy as np

from labeling.models import Item, Project
from siftml import similarity

TEXT_BATCH = 20_000
# Keyed by (id, created_at): a project id reused after a deletion starts afresh.
_indexes: dict[tuple[int, str], similarity.Index] = {}
_lock = threading.Lock()


def project_index(project: Project) -> similarity.Index:
    """The project's index, brought up to date with items added since it was last used."""
    with _lock:
        key = (project.pk, project.created_at.isoformat())
        index = _indexes.get(key)
        if index is None:
            for old in [k for k in _indexes if k[0] == project.pk]:
                del _indexes[old]
            index = _indexes[key] = similarity.Index()
        last = int(index.ids[-1]) if index.size else 0
        while True:
            batch = list(
                Item.objects.filter(project=project, pk__gt=last)
                .order_by("pk")
                .values_list("pk", "text")[:TEXT_BATCH]
            )
            if not batch:
                return index
            index.add([pk for pk, _ in batch], [text for _, text in batch])
            last = batch[-1][0]


def nearest(item: Item, k: int, allowed: list[int] | None = None) -> list[tuple[int, float]]:
    """The k items of the item's project most like it (not itself), as (id, cosine), best first.

    `allowed` restricts the answer to those ids (an annotator's own items).
    """
    index = project_index(item.project)
    if allowed is not None:
        mask = np.isin(index.ids, np.asarray(allowed, dtype=np.int64))
        return index.nearest(item.text, k, exclude=item.pk, mask=mask)
    return index.nearest(item.text, k, exclude=item.pk)
