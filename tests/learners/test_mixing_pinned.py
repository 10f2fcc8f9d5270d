"""The near-duplicate rule of `mix_queue`, pinned on seeded inputs full of near-duplicates.

`reference_mix` is the rule as it was first written (one sparse product per candidate):
the vectorised `mix_queue` must give the very same queue, order, rankers and scores.
"""

import hashlib

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from siftml import mixing


def reference_mix(ranked, weights, size, batch_size, features=None, feature_row=None, threshold=0.9):
    pending = {name: list(range(len(ids))) for name, (ids, _) in ranked.items()}
    taken: set[int] = set()
    queue: list[mixing.Pick] = []
    while len(queue) < size:
        usable = {n: w for n, w in weights.items() if pending.get(n)}
        if not usable:
            return queue
        batch: list[int] = []
        for name in mixing.allocate(usable, min(batch_size, size - len(queue))):
            for candidate in (name, *pending):
                pick = _reference_take(
                    candidate, ranked, pending, taken, batch, features, feature_row, threshold
                )
                if pick is not None:
                    queue.append(pick)
                    break
        if not batch:
            return queue
    return queue


def _reference_take(name, ranked, pending, taken, batch, features, feature_row, threshold):
    ids, scores = ranked[name]
    queue = pending[name]
    i = 0
    while i < len(queue):
        item_id = int(ids[queue[i]])
        if item_id in taken:
            queue.pop(i)
            continue
        row = feature_row[item_id] if features is not None else None
        if row is not None and batch and (features[batch] @ features[row].T).max() > threshold:
            i += 1
            continue
        index = queue.pop(i)
        taken.add(item_id)
        batch.append(row if row is not None else item_id)
        return mixing.Pick(item_id, name, float(scores[index]))
    return None


def near_duplicate_pool(seed: int, n_items: int = 400, n_bases: int = 50, dims: int = 300):
    """Sparse rows that mostly copy one of a few bases (a near-duplicate), with a little noise."""
    rng = np.random.default_rng(seed)
    bases = sp.random(n_bases, dims, density=0.03, random_state=seed, format="csr")
    noise = sp.random(n_items, dims, density=0.01, random_state=seed + 1, format="csr")
    copies = bases[rng.integers(0, n_bases, n_items)]
    scale = rng.choice([0.05, 0.3, 1.5], size=n_items)  # tight, loose and no duplicates
    features = normalize(sp.csr_matrix(copies + sp.diags(scale) @ noise))
    item_ids = rng.permutation(np.arange(1000, 1000 + n_items))
    feature_row = {int(item_id): r for r, item_id in enumerate(item_ids)}
    ranked = {}
    for name, share in (("margin", 0.9), ("error", 0.5), ("novelty", 0.7)):
        chosen = rng.choice(item_ids, size=int(n_items * share), replace=False)
        ranked[name] = (chosen, np.sort(rng.random(len(chosen)))[::-1])
    return ranked, features, feature_row


WEIGHTS = {"margin": 0.7, "error": 0.1, "novelty": 0.2}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("size", "batch_size"), [(150, 10), (500, 25), (40, 40)])
def test_vectorised_rule_gives_the_queue_of_the_per_candidate_rule(seed, size, batch_size):
    ranked, features, feature_row = near_duplicate_pool(seed)
    expected = reference_mix(ranked, WEIGHTS, size, batch_size, features, feature_row)
    got = mixing.mix_queue(ranked, WEIGHTS, size, batch_size, features, feature_row)
    assert got == expected
    # The fixture really exercises the rule: some picks wait for a later batch.
    plain = mixing.mix_queue(ranked, WEIGHTS, size, batch_size)
    assert [p.item_id for p in plain] != [p.item_id for p in got]


def test_pinned_queue_on_the_seeded_fixture():
    ranked, features, feature_row = near_duplicate_pool(0)
    got = mixing.mix_queue(ranked, WEIGHTS, 150, 10, features, feature_row)
    text = ";".join(f"{p.item_id}:{p.ranker}:{p.score:.12f}" for p in got)
    assert len(got) == 150
    assert [(p.item_id, p.ranker) for p in got[:5]] == PINNED_HEAD
    assert hashlib.sha256(text.encode()).hexdigest() == PINNED_SHA256


def test_without_features_the_rule_only_deduplicates_ids():
    ranked, _, _ = near_duplicate_pool(3)
    assert mixing.mix_queue(ranked, WEIGHTS, 1000, 10) == reference_mix(ranked, WEIGHTS, 1000, 10)


PINNED_HEAD = [(1194, "margin"), (1288, "novelty"), (1071, "margin"), (1148, "margin"), (1095, "error")]
PINNED_SHA256 = "5f41032dc5154deb2d05f91e5f7465d18ab2320298eda93f35d8b57ee39163f6"
