"""Mixing rankers into one queue. numpy/scipy only (the adaptive mix: siftml/bandit.py).

Per-project weights fill each batch (smooth weighted round-robin, so a batch holds every
ranker's share); an item too similar to one already in its batch waits for the next one.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Pick:
    item_id: int
    ranker: str
    score: float


def allocate(weights: dict[str, float], n: int) -> list[str]:
    """Spread n slots over rankers by weight, interleaved (smooth weighted round-robin)."""
    active = {name: w for name, w in weights.items() if w > 0}
    if not active:
        raise ValueError("At least one ranker needs a positive weight.")
    total = sum(active.values())
    order = {name: i for i, name in enumerate(active)}
    credit = dict.fromkeys(active, 0.0)
    slots = []
    for _ in range(n):
        for name, w in active.items():
            credit[name] += w / total
        # Ties go to the ranker listed first, so the caller's order decides.
        best = max(credit, key=lambda name: (credit[name], -order[name]))
        credit[best] -= 1.0
        slots.append(best)
    return slots


def mix_queue(
    ranked: dict[str, tuple[np.ndarray, np.ndarray]],
    weights: dict[str, float],
    size: int,
    batch_size: int,
    features: sp.csr_matrix | None = None,
    feature_row: dict[int, int] | None = None,
    duplicate_threshold: float = 0.9,
) -> list[Pick]:
    """Fill a queue of `size` items, batch by batch, from each ranker's best-first list.

    Parameters
    ----------
    ranked : ranker name -> (item_ids, scores), each sorted best first
    weights : ranker name -> share of each batch (normalized here)
    features : L2-normalized feature rows of the candidates, to pass over an item whose
        cosine similarity to one already in its batch exceeds `duplicate_threshold`
        (it stays available for a later batch)
    feature_row : item id -> row of `features`

    Returns
    -------
    picks in queue order, at most `size`, each item once, with the ranker that chose it.
    """
    lists = _Lists(ranked, features, feature_row)
    queue: list[Pick] = []
    while len(queue) < size:
        usable = {n: w for n, w in weights.items() if lists.has_entries(n)}
        if not usable:
            return queue
        lists.new_batch()
        batch_start = len(queue)
        for name in allocate(usable, min(batch_size, size - len(queue))):
            for candidate in (name, *ranked):
                pick = lists.take(candidate, duplicate_threshold)
                if pick is not None:
                    queue.append(pick)
                    break
        if len(queue) == batch_start:
            return queue  # every candidate left is taken already
    return queue


class _Lists:
    """Every ranker's remaining candidates, the items taken, and the batch being filled.

    An entry leaves its ranker's list when a walk down that list reaches it taken, or
    picks it; a near-duplicate of the batch stays for a later batch. A walk checks a
    block of candidates against the whole batch in one sparse product, the block doubling
    while it finds only near-duplicates, so passing over k of them costs log(k) products.
    Checking each candidate with a product of its own was 99.9% of a 1M-item retrain's
    queue write on a pool full of near-duplicates (issue 12).
    """

    FIRST_BLOCK, LAST_BLOCK = 8, 4096

    def __init__(self, ranked, features: sp.csr_matrix | None, feature_row: dict[int, int] | None):
        self.ranked = ranked
        lists = [np.asarray(ids, np.int64) for ids, _ in ranked.values()]
        all_ids = np.unique(np.concatenate(lists or [np.zeros(0, np.int64)]))
        self.dense = dict(zip(ranked, (np.searchsorted(all_ids, ids) for ids in lists), strict=True))
        self.alive = {n: np.ones(len(ids), bool) for n, ids in zip(ranked, lists, strict=True)}
        self.head = dict.fromkeys(ranked, 0)  # no entry before it is alive
        self.taken = np.zeros(len(all_ids), bool)
        self.near = np.zeros(len(all_ids), bool)  # too similar to an item of this batch
        self.similar = None
        if features is not None and len(all_ids):
            self.similar = _BatchSimilarity(features[[feature_row[int(i)] for i in all_ids]])

    def has_entries(self, name: str) -> bool:
        return name in self.alive and self.head[name] < len(self.alive[name])

    def new_batch(self) -> None:
        self.near[:] = False
        if self.similar is not None:
            self.similar.clear()

    def take(self, name: str, threshold: float) -> Pick | None:
        """The ranker's best remaining item that is new and unlike the batch so far."""
        alive, dense = self.alive[name], self.dense[name]
        start, width = self.head[name], self.FIRST_BLOCK
        while start < len(alive):
            positions = start + np.flatnonzero(alive[start : start + width])
            start, width = start + width, min(2 * width, self.LAST_BLOCK)
            taken = self.taken[dense[positions]]
            # A near-duplicate of the batch stays one until the batch is full: check it once.
            fits = ~taken & ~self.near[dense[positions]]
            near = self._near_batch(dense[positions[fits]], threshold)
            self.near[dense[positions[fits][near]]] = True
            fits[fits] = ~near
            if not fits.any():
                alive[positions[taken]] = False
                continue
            first = int(np.argmax(fits))
            alive[positions[:first][taken[:first]]] = False
            return self._pick(name, int(positions[first]))
        self._advance(name)
        return None

    def _near_batch(self, dense: np.ndarray, threshold: float) -> np.ndarray:
        """For each candidate, whether it is more similar than `threshold` to one in the batch."""
        if self.similar is None or not len(dense):
            return np.zeros(len(dense), bool)
        return self.similar.to_batch(dense) > threshold

    def _pick(self, name: str, position: int) -> Pick:
        ids, scores = self.ranked[name]
        index = int(self.dense[name][position])
        self.alive[name][position] = False
        self.taken[index] = True
        if self.similar is not None:
            self.similar.add(index)
        self._advance(name)
        return Pick(int(ids[position]), name, float(scores[position]))

    def _advance(self, name: str) -> None:
        alive, head = self.alive[name], self.head[name]
        rest = np.flatnonzero(alive[head:])
        self.head[name] = head + int(rest[0]) if len(rest) else len(alive)


class _BatchSimilarity:
    """Cosine similarity of candidates to the items of one batch, in numpy on CSR arrays.

    The batch's few rows are kept dense over just the columns they use; a block of
    candidates is then gathered and summed in one `bincount`, with no sparse matrix
    built per call (scipy's per-call cost was most of the time). Each similarity sums
    the shared columns' products in ascending column order, as scipy's sparse product
    does, so the > threshold test agrees with it to the last bit.
    """

    def __init__(self, candidates: sp.csr_matrix):
        self.rows = candidates.sorted_indices()
        self.slot = np.full(self.rows.shape[1], -1, dtype=np.int64)  # column -> row of `values`
        self.values = np.zeros((0, 0))  # used column x batch item
        self.used: list[np.ndarray] = []
        self.size = 0

    def clear(self) -> None:
        for columns in self.used:
            self.slot[columns] = -1
        self.used, self.size, self.values = [], 0, np.zeros((0, 0))

    def add(self, index: int) -> None:
        start, end = self.rows.indptr[index], self.rows.indptr[index + 1]
        columns, data = self.rows.indices[start:end], self.rows.data[start:end]
        new = columns[self.slot[columns] < 0]
        self.slot[new] = np.arange(len(self.values), len(self.values) + len(new))
        self.used.append(new)
        values = np.zeros((len(self.values) + len(new), self.size + 1))
        values[: len(self.values), : self.size] = self.values
        values[self.slot[columns], self.size] = data
        self.values, self.size = values, self.size + 1

    def to_batch(self, dense: np.ndarray) -> np.ndarray:
        """The highest similarity of each candidate to an item of the batch (0 for none)."""
        if self.size == 0:
            return np.zeros(len(dense))
        starts, ends = self.rows.indptr[dense], self.rows.indptr[dense + 1]
        lengths = ends - starts
        entries = np.repeat(ends - np.cumsum(lengths), lengths) + np.arange(lengths.sum())
        owner = np.repeat(np.arange(len(dense)), lengths)
        slots = self.slot[self.rows.indices[entries]]
        shared = slots >= 0
        products = self.rows.data[entries[shared], None] * self.values[slots[shared]]
        where = owner[shared, None] * self.size + np.arange(self.size)
        sums = np.bincount(where.ravel(), products.ravel(), minlength=len(dense) * self.size)
        return np.maximum(sums.reshape(len(dense), self.size).max(axis=1), 0.0)
