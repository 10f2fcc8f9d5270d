"""Nearest neighbours by TF-IDF cosine over hashed word features ("more like this").

The features of an item are its hashed word counts (HashingVectorizer: no vocabulary to
fit, so an item's row never changes and new items are appended, never re-encoded). The
IDF weights come from the document frequencies of the rows held right now, so a query is
exactly the cosine between TF-IDF vectors (sublinear tf, smooth idf, as
sklearn's TfidfVectorizer computes them) without refitting anything:

    cos(x, q) = sum_j x_j q_j idf_j^2 / (|x * idf| |q * idf|)

one sparse matrix-vector product over every row, then a partial sort for the top k.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

N_FEATURES = 2**20
_VECTORIZER = HashingVectorizer(
    n_features=N_FEATURES, alternate_sign=False, norm=None, dtype=np.float32, lowercase=True
)


def encode(texts: Sequence[str]) -> sp.csr_matrix:
    """Sublinear term frequencies (1 + log tf) of hashed words, one row per text."""
    counts = _VECTORIZER.transform(texts).tocsr()
    counts.data = 1.0 + np.log(counts.data)
    return counts


@dataclass
class Index:
    """Hashed rows of a set of items, appended in id order, with cached IDF and row norms."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rows: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, N_FEATURES), dtype=np.float32))
    _idf: np.ndarray | None = None
    _norms: np.ndarray | None = None

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        if not len(ids):
            return
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self.rows = sp.vstack([self.rows, encode(texts)], format="csr")
        self._idf = self._norms = None

    @property
    def size(self) -> int:
        return len(self.ids)

    def idf(self) -> np.ndarray:
        if self._idf is None:
            df = np.bincount(self.rows.indices, minlength=N_FEATURES).astype(np.float32)
            self._idf = (np.log((1 + self.size) / (1 + df)) + 1).astype(np.float32)
        return self._idf

    def norms(self) -> np.ndarray:
        if self._norms is None:
            squared = self.rows.multiply(self.rows).tocsr() @ (self.idf() ** 2)
            self._norms = np.sqrt(np.asarray(squared).ravel())
        return self._norms

    def nearest(
        self, text: str, k: int, exclude: int | None = None, mask: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The k items most similar to `text`, as (id, cosine), best first; ties by lower id.

        `mask` (one bool per row) keeps only those rows as candidates.
        """
        if self.size == 0 or k <= 0:
            return []
        idf = self.idf()
        query = encode([text])
        weights = np.zeros(N_FEATURES, dtype=np.float32)
        weights[query.indices] = query.data * idf[query.indices] ** 2
        query_norm = float(np.sqrt((query.data**2 * idf[query.indices] ** 2).sum()))
        if query_norm == 0:
            return []
        dots = self.rows @ weights
        norms = self.norms()
        scores = np.divide(dots, norms * query_norm, out=np.zeros_like(dots), where=norms > 0)
        if exclude is not None:
            scores[self.ids == exclude] = -1.0
        if mask is not None:
            scores[~mask] = -1.0
        take = min(k, self.size)
        top = np.argpartition(-scores, take - 1)[:take]
        top = top[np.lexsort((self.ids[top], -scores[top]))]
        return [(int(self.ids[i]), float(scores[i])) for i in top if scores[i] > 0]
