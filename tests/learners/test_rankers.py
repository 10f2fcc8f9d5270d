"""Rankers with known answers: tiny literal arrays, fake estimators, fixed seeds, no database."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin

from siftml import mixing, sampling

# Two features: [looks-like-a-past-mistake, which-class]. Rows 0-19 labeled.
X_LABELED = sp.csr_matrix(np.array([[i % 5 == 0, i % 2] for i in range(20)], dtype=float))
Y_LABELED = np.array(["a" if i % 2 == 0 else "b" for i in range(20)], dtype=object)


class WrongWhenFlagged(ClassifierMixin, BaseEstimator):
    """Predicts the class from feature 1, but the other class wherever feature 0 is set."""

    def __init__(self, max_iter: int = 100, tol: float = 1e-4):
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        X = sp.csr_matrix(X).toarray()
        right = X[:, 1].astype(int)
        guess = np.where(X[:, 0] > 0, 1 - right, right)
        proba = np.full((len(X), 2), 0.1)
        proba[np.arange(len(X)), guess] = 0.9
        return proba

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _pool(n: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = sp.csr_matrix(rng.random((n, 2)))
    proba = rng.dirichlet([1, 1], size=n)
    return X, proba, np.arange(100, 100 + n)


@pytest.mark.parametrize("name", sorted(sampling.RANKERS))
def test_every_ranker_returns_k_distinct_unlabeled_ids_deterministically(name):
    X, proba, ids = _pool()
    ranker = sampling.make_ranker(name, random_state=3).fit(X_LABELED, Y_LABELED, X, WrongWhenFlagged())
    first = sampling.query(ranker, X, proba, ids, k=5)
    again = sampling.make_ranker(name, random_state=3).fit(X_LABELED, Y_LABELED, X, WrongWhenFlagged())

    assert len(first) == 5
    assert len(set(first.tolist())) == 5
    assert set(first.tolist()) <= set(ids.tolist())
    assert first.tolist() == sampling.query(again, X, proba, ids, k=5).tolist()
    scores = ranker.score(X, proba, ids)
    assert scores.shape == (len(ids),)
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("name", sorted(sampling.RANKERS))
def test_every_ranker_refuses_an_empty_pool(name):
    X, proba, _ = _pool()
    ranker = sampling.make_ranker(name).fit(X_LABELED, Y_LABELED, X, WrongWhenFlagged())
    with pytest.raises(sampling.EmptyPool):
        sampling.query(ranker, X[:0], proba[:0], np.array([], dtype=int), k=3)


def test_random_scores_do_not_depend_on_how_the_pool_is_chunked():
    ranker = sampling.RandomRanker(random_state=7).fit(X_LABELED, Y_LABELED, None)
    ids = np.arange(50)
    whole = ranker.score(None, None, ids)
    chunked = np.concatenate([ranker.score(None, None, ids[:20]), ranker.score(None, None, ids[20:])])
    assert np.array_equal(whole, chunked)


def test_unknown_ranker_name_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown ranker 'smart'"):
        sampling.make_ranker("smart")


def test_margin_ranker_puts_the_most_uncertain_item_first():
    proba = np.array([[0.9, 0.1], [0.52, 0.48], [0.7, 0.3]])
    ranker = sampling.make_ranker("margin").fit(X_LABELED, Y_LABELED, None)
    assert sampling.query(ranker, None, proba, [10, 11, 12], k=3).tolist() == [11, 12, 10]
    assert "torn between “b” (48%) and “a” (52%)" not in ranker.explain(0.96, proba[1], ["a", "b"])
    assert "“a” (52%) and “b” (48%)" in ranker.explain(0.96, proba[1], ["a", "b"])


def test_error_model_ranks_an_item_like_the_past_mistakes_first():
    ranker = sampling.ErrorModelRanker(n_folds=2, min_mistakes=2, random_state=0)
    ranker.fit(X_LABELED, Y_LABELED, None, WrongWhenFlagged())
    assert ranker.n_mistakes_ == 4  # rows 0, 5, 10, 15 carry the mistake feature
    assert ranker.model_ is not None

    pool = sp.csr_matrix(np.array([[0, 1], [1, 1], [0, 0]], dtype=float))
    proba = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])  # equally uncertain: only features differ
    assert sampling.query(ranker, pool, proba, [1, 2, 3], k=1).tolist() == [2]
    assert "got wrong" in ranker.explain(0.9, proba[1], ["a", "b"])


def test_error_model_falls_back_to_margin_and_says_so_when_mistakes_are_few():
    X = sp.csr_matrix(np.array([[0, i % 2] for i in range(20)], dtype=float))  # never a mistake
    ranker = sampling.ErrorModelRanker(n_folds=2, min_mistakes=2).fit(X, Y_LABELED, None, WrongWhenFlagged())
    assert ranker.model_ is None
    proba = np.array([[0.9, 0.1], [0.55, 0.45]])
    assert sampling.query(ranker, X[:2], proba, [1, 2], k=1).tolist() == [2]
    assert ranker.fallback_ == "only 0 past mistakes to learn from"
    assert ranker.explain(0.9, proba[1], ["a", "b"]) == sampling.describe_guess(proba[1], ["a", "b"])


def test_error_margin_reorders_only_margins_closest_calls_by_the_error_model():
    # 40 unlabeled: 38 sure (margin 0.2), two close calls; top_share 0.05 keeps those two.
    unlabeled = sp.csr_matrix(np.array([[0, 1]] * 40, dtype=float))
    ranker = sampling.ErrorRerankRanker(top_share=0.05, n_folds=2, min_mistakes=2)
    ranker.fit(X_LABELED, Y_LABELED, unlabeled, WrongWhenFlagged())
    assert ranker.error_.model_ is not None
    pool = sp.csr_matrix(np.array([[0, 1], [1, 1], [1, 0]], dtype=float))
    # Items 1 and 2 are equally close calls; 2 looks like the past mistakes. Item 3 looks
    # like them too, but the model is sure of it: it stays below both close calls.
    proba = np.array([[0.5, 0.5], [0.5, 0.5], [0.95, 0.05]])
    ranker.threshold_ = 0.9  # margin 1.0 for the close calls, 0.1 for the sure one
    scores = ranker.score(pool, proba, [1, 2, 3])
    assert scores[1] > scores[0] > 1.0 > scores[2]
    assert sampling.query(ranker, pool, proba, [1, 2, 3], k=3).tolist() == [2, 1, 3]


def test_error_margin_is_plain_margin_without_an_error_model():
    X = sp.csr_matrix(np.array([[0, i % 2] for i in range(20)], dtype=float))  # never a mistake
    ranker = sampling.ErrorRerankRanker(n_folds=2, min_mistakes=2).fit(X, Y_LABELED, X, WrongWhenFlagged())
    proba = np.array([[0.9, 0.1], [0.55, 0.45]])
    assert np.array_equal(ranker.score(X[:2], proba, [1, 2]), sampling.margin(proba))


def test_novelty_ranks_the_item_unlike_the_labeled_ones_first():
    labeled = sp.csr_matrix(np.array([[1.0, 0.0, 0.0]] * 10 + [[0.9, 0.1, 0.0]] * 10))
    unlabeled = sp.csr_matrix(np.array([[1.0, 0.0, 0.0]] * 10 + [[0.0, 0.0, 1.0]] * 2))
    ranker = sampling.NoveltyRanker(random_state=0).fit(labeled, np.array(["a"] * 20), unlabeled)
    pool = sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.95, 0.05, 0.0]]))
    assert sampling.query(ranker, pool, None, [1, 2, 3], k=1).tolist() == [2]


def test_allocate_spreads_slots_by_weight_and_interleaves_them():
    slots = mixing.allocate({"margin": 0.6, "error": 0.2, "novelty": 0.2}, 10)
    assert slots.count("margin") == 6
    assert slots.count("error") == 2
    assert slots.count("novelty") == 2
    assert slots[:3].count("margin") <= 2
    with pytest.raises(ValueError, match="positive weight"):
        mixing.allocate({"margin": 0.0}, 3)


def test_mix_takes_each_item_once_and_no_near_duplicates_in_a_batch():
    # Items 1 and 2 are identical; 3 and 4 are different from everything.
    features = sp.csr_matrix(np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float))
    row = {1: 0, 2: 1, 3: 2, 4: 3}
    ranked = {
        "margin": (np.array([1, 2, 3, 4]), np.array([0.9, 0.8, 0.7, 0.6])),
        "novelty": (np.array([2, 4, 1, 3]), np.array([0.9, 0.8, 0.7, 0.6])),
    }
    picks = mixing.mix_queue(ranked, {"margin": 0.5, "novelty": 0.5}, 4, 2, features, row)

    ids = [p.item_id for p in picks]
    assert sorted(ids) == [1, 2, 3, 4]
    first_batch, second_batch = set(ids[:2]), set(ids[2:])
    assert not {1, 2} <= first_batch
    assert not {1, 2} <= second_batch
    assert picks[0] == mixing.Pick(1, "margin", 0.9)


def test_mix_fills_from_other_rankers_when_one_runs_dry():
    ranked = {
        "margin": (np.array([1]), np.array([0.9])),
        "error": (np.array([2, 3, 4]), np.array([3.0, 2.0, 1.0])),
    }
    picks = mixing.mix_queue(ranked, {"margin": 0.9, "error": 0.1}, 4, 4)
    assert [p.item_id for p in picks] == [1, 2, 3, 4]


def test_rankers_can_be_prepared_before_anything_is_labeled():
    from siftml import scoring

    pool = ["card arrived late", "exchange rate is bad", "top up failed", "lost my card"]
    rankers = scoring.prepare_rankers([], [], pool, ["a", "b"], {"margin": 1.0})
    assert rankers.cold_start
    assert rankers.model is None
    scores, proba = rankers.score(pool, [1, 2, 3, 4])
    assert proba is None
    assert set(scores) == {"coverage", "random"}
    assert len(scores["coverage"]) == 4
