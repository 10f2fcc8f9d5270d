"""Data-quality measures over texts: near duplicates and drift. numpy + scikit-learn only.

Both fit small diagnostic models of their own on samples (never the served model, never
its vocabulary), so a page can run them on bounded samples in about a second.
"""

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors

from siftml.text import normalize_text

NEAR_DUPLICATE_SIMILARITY = 0.9
MIN_DRIFT_SAMPLE = 20


def near_duplicates(
    texts: Sequence[str], threshold: float = NEAR_DUPLICATE_SIMILARITY, neighbors: int = 5
) -> list[tuple[int, int, float]]:
    """Pairs (i, j, cosine similarity) of texts alike in their character 3-5-grams, i < j,
    most similar first. Identical texts (up to case and spacing) are left to the exact check."""
    if len(texts) < 2:
        return []
    X = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(texts)
    k = min(neighbors + 1, len(texts))
    distances, indices = NearestNeighbors(n_neighbors=k, metric="cosine").fit(X).kneighbors(X)
    normalized = [normalize_text(t) for t in texts]
    pairs = {}
    for i, (row_d, row_i) in enumerate(zip(distances, indices, strict=True)):
        for d, j in zip(row_d, row_i, strict=True):
            similarity = 1.0 - d
            if j != i and similarity >= threshold and normalized[i] != normalized[j]:
                pairs[(min(i, j), max(i, j))] = float(similarity)
    return sorted(((i, j, s) for (i, j), s in pairs.items()), key=lambda p: -p[2])


def drift(reference: Sequence[str], new: Sequence[str], seed: int = 0) -> dict:
    """How different new texts are from reference texts.

    - A "novelty" classifier learns to tell new from reference texts; its out-of-fold
      ROC AUC is 0.5 when they are alike and near 1 when new texts are easy to spot.
      Its out-of-fold scores (probability "new") are returned for both samples.
    - Vocabulary overlap: the share of word tokens of new texts never seen in the
      reference, against the same share for held-out reference texts (the baseline).
    - The words that most mark a text as new.
    """
    if len(reference) < MIN_DRIFT_SAMPLE or len(new) < MIN_DRIFT_SAMPLE:
        return {"skipped": f"Needs at least {MIN_DRIFT_SAMPLE} texts on each side."}
    texts = list(reference) + list(new)
    y = np.r_[np.zeros(len(reference)), np.ones(len(new))]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    X = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000, random_state=seed)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    scores = cross_val_predict(classifier, X, y, cv=folds, method="predict_proba")[:, 1]
    classifier.fit(X, y)
    names = vectorizer.get_feature_names_out()
    marking = np.argsort(-classifier.coef_[0])[:12]
    return {
        "auc": float(roc_auc_score(y, scores)),
        "reference_scores": scores[: len(reference)].tolist(),
        "new_scores": scores[len(reference) :].tolist(),
        "new_words": [str(names[i]) for i in marking if classifier.coef_[0][i] > 0],
        **vocabulary_overlap(reference, new, seed),
    }


def vocabulary_overlap(reference: Sequence[str], new: Sequence[str], seed: int = 0) -> dict:
    """Share of word tokens never seen in 80% of the reference: for new texts and for the
    other 20% of the reference, so the two shares are measured against the same vocabulary."""
    order = np.random.default_rng(seed).permutation(len(reference))
    cut = int(len(reference) * 0.8)
    known = [reference[i] for i in order[:cut]]
    held = [reference[i] for i in order[cut:]]
    vocabulary = set(CountVectorizer().fit(known).vocabulary_)
    analyze = CountVectorizer().build_analyzer()
    return {
        "oov_new": _unseen_share(new, vocabulary, analyze),
        "oov_reference": _unseen_share(held, vocabulary, analyze),
    }


def _unseen_share(texts: Sequence[str], vocabulary: set[str], analyze) -> float:
    tokens = [token for text in texts for token in analyze(text)]
    if not tokens:
        return 0.0
    return sum(token not in vocabulary for token in tokens) / len(tokens)
