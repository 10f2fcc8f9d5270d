"""Finding the labels nobody has given yet: the coverage ranker. numpy/scipy/scikit-learn only.

Until every label has a few examples the classifier cannot say where a missing class
lives. The pool's own shape can: the unlabeled sample is clustered (MiniBatchKMeans on a
TruncatedSVD of the production features, L2-normalized, so cosine k-means), and a
cluster that holds no labeled item is a region nobody has looked at yet. Every item is
scored by its distance to the nearest labeled item (1 - the highest cosine similarity to
one, the k-center rule of coreset sampling), and the items of uncovered clusters come
before all others. The distance matters inside covered clusters too: k-means folds a
class of a few items into a big neighbour's cluster, and those items stay far from
whatever was labeled there.

Everything is fixed at fit time (projection, centres, coverage, labeled rows), so a
score depends on the item alone: the same however the pool is split into chunks.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from siftml.sampling import Ranker, unit_hash

# Clusters per declared label: a label's items often split over several phrasings, and a
# rare one must get a cluster of its own rather than be absorbed by a big neighbour.
CLUSTERS_PER_LABEL = 3
MIN_CLUSTERS, MAX_CLUSTERS = 8, 300
# Fewest sample rows per cluster: k-means on fewer is noise.
ROWS_PER_CLUSTER = 5


def cluster_count(n_labels: int, n_rows: int) -> int:
    """How many clusters the coverage ranker cuts a pool of `n_rows` into for `n_labels` labels."""
    wanted = min(max(CLUSTERS_PER_LABEL * n_labels, MIN_CLUSTERS), MAX_CLUSTERS)
    return max(1, min(wanted, n_rows // ROWS_PER_CLUSTER))


class CoverageRanker(Ranker):
    """Items from the clusters of the unlabeled pool that no label covers yet."""

    name = "coverage"
    needs_model = False
    needs_unlabeled = True
    pool_features = True
    description = "From a group of similar items that nobody has labeled yet."
    BLOCK = 512  # rows per similarity product against the labeled items

    def __init__(
        self,
        n_clusters: int = 16,
        n_components: int = 50,
        max_unlabeled: int = 20_000,
        random_state: int = 0,
    ):
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.max_unlabeled = max_unlabeled
        self.random_state = random_state

    def fit(self, X_labeled, y_labeled, X_unlabeled, classifier=None):
        self.svd_ = None
        if X_unlabeled is None or X_unlabeled.shape[0] < 2:
            return self
        rng = np.random.default_rng(self.random_state)
        n = min(X_unlabeled.shape[0], self.max_unlabeled)
        sample = X_unlabeled[np.sort(rng.choice(X_unlabeled.shape[0], n, replace=False))]
        both = sp.vstack([X_labeled, sample]).tocsr()
        components = min(self.n_components, both.shape[1] - 1, both.shape[0] - 1)
        if components < 1:
            return self
        self.svd_ = TruncatedSVD(components, random_state=self.random_state).fit(both)
        k = max(1, min(self.n_clusters, n))
        self.kmeans_ = MiniBatchKMeans(k, random_state=self.random_state, n_init=3, batch_size=2048)
        self.kmeans_.fit(self._project(sample))
        labeled = np.zeros(k, dtype=int)
        self.labeled_rows_ = self._project(X_labeled) if X_labeled.shape[0] else np.zeros((0, components))
        if X_labeled.shape[0]:
            np.add.at(labeled, self.kmeans_.predict(self.labeled_rows_), 1)
        self.labeled_ = labeled
        return self

    def _distance_to_labeled(self, Z: np.ndarray) -> np.ndarray:
        """1 - the highest cosine similarity of each row to a labeled item (1 with none)."""
        if not len(self.labeled_rows_):
            return np.ones(len(Z))
        nearest = np.empty(len(Z))
        for start in range(0, len(Z), self.BLOCK):
            block = Z[start : start + self.BLOCK] @ self.labeled_rows_.T
            nearest[start : start + self.BLOCK] = block.max(axis=1)
        return np.clip(1.0 - nearest, 0.0, 1.0)

    def _project(self, X) -> np.ndarray:
        return normalize(self.svd_.transform(X))

    @property
    def uncovered_(self) -> int:
        """How many clusters hold no labeled item."""
        check_is_fitted(self, "svd_")
        return 0 if self.svd_ is None else int((self.labeled_ == 0).sum())

    def score(self, X, proba, item_ids):
        check_is_fitted(self, "svd_")
        if self.svd_ is None:
            return unit_hash(self.random_state, item_ids)
        Z = self._project(X)
        uncovered = self.labeled_[self.kmeans_.predict(Z)] == 0
        # Uncovered clusters' items in [1, 2], the others in [0, 1): farthest from the labels first.
        far = self._distance_to_labeled(Z)
        return np.where(uncovered, 1.0 + far, np.minimum(far, 1.0 - 1e-9))

    def explain(self, score, proba_row, classes):
        if score > 1.0:
            return (
                "From a group of similar items nobody has labeled yet: it may need a label not seen so far."
            )
        return "Unlike every item labeled so far: it may need a label not seen yet."
