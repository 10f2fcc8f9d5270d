"""Top features, cross-validation, label suspects, near duplicates and drift, without a database."""

import numpy as np
import pytest
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold

from siftml import inspection, quality, training

GOOD = ["good film", "great film", "lovely story", "fine acting", "nice plot", "superb cast"]
BAD = ["bad film", "awful film", "boring story", "poor acting", "dull plot", "weak cast"]


def _corpus(copies: int = 4) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for i in range(copies):
        texts += [f"{t} {i}" for t in GOOD] + [f"{t} {i}" for t in BAD]
        labels += ["pos"] * len(GOOD) + ["neg"] * len(BAD)
    return texts, labels


def test_top_features_are_the_largest_coefficients_of_each_label():
    texts, labels = _corpus()
    model = training.fit_pipeline(texts, labels)
    features = inspection.top_features(model, k=5)
    names = model[:-1].get_feature_names_out()
    coef = training.base_classifier(model).coef_[0]  # binary: towards classes_[1] == "pos"

    assert list(features) == ["neg", "pos"]
    towards_pos = names[np.argsort(-coef, kind="stable")[:5]]
    towards_neg = names[np.argsort(coef, kind="stable")[:5]]
    assert [f"{f['kind']}__{f['feature']}" for f in features["pos"]] == list(towards_pos)
    assert [f"{f['kind']}__{f['feature']}" for f in features["neg"]] == list(towards_neg)
    assert features["pos"][0]["weight"] == pytest.approx(coef.max())
    words = {f["feature"] for f in features["pos"] if f["kind"] == "word"}
    assert words & {"good", "great", "lovely", "fine", "nice", "superb"}


def test_top_features_of_a_model_with_unnamed_features_is_none():
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    texts, labels = _corpus(2)
    model = Pipeline([("h", HashingVectorizer(n_features=64)), ("c", LogisticRegression())]).fit(
        texts, labels
    )
    assert inspection.top_features(model) is None


def test_cross_validation_matches_scikit_learn_on_the_same_folds():
    texts, labels = _corpus(5)
    groups = [None] * len(texts)
    summary, oof, classes = inspection.cross_validate(
        texts, labels, groups, training.build_pipeline, 5, seed=7
    )

    keys = inspection.group_keys(texts, groups)
    splitter = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=7)
    X, y = np.asarray(texts, dtype=object), np.asarray(labels, dtype=object)
    expected = []
    for train, held in splitter.split(X, y, keys):
        model = training.build_pipeline().fit(list(X[train]), y[train])
        expected.append(f1_score(y[held], model.predict(list(X[held])), labels=classes, average="macro"))
    assert summary["folds"] == 5
    assert summary["macro_f1"] == pytest.approx(expected)
    assert summary["mean"] == pytest.approx(np.mean(expected))
    assert summary["std"] == pytest.approx(np.std(expected))
    assert oof.shape == (len(texts), 2)
    assert np.allclose(oof.sum(axis=1), 1.0)  # every row predicted exactly once, out of fold


def test_copies_of_one_text_never_straddle_a_fold():
    texts = ["same words here"] * 6 + [f"other {i}" for i in range(24)]
    labels = ["a"] * 6 + ["a", "b"] * 12
    keys = inspection.group_keys(texts, [None] * len(texts))
    splitter = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    for train, held in splitter.split(texts, labels, keys):
        assert not ({texts[i] for i in train} & {texts[i] for i in held} & {"same words here"})


def test_too_few_labels_skip_cross_validation_with_a_reason():
    summary, oof, _ = inspection.cross_validate(
        ["a b", "c d"], ["x", "y"], [None, None], training.build_pipeline
    )
    assert "Too few training labels" in summary["skipped"]
    assert oof is None


def test_label_suspects_are_confident_out_of_fold_contradictions_most_suspect_first():
    oof = np.array([[0.9, 0.1], [0.05, 0.95], [0.6, 0.4], [0.15, 0.85], [0.99, 0.01]])
    labels = ["a", "a", "b", "a", "a"]
    suspects = inspection.label_suspects(labels, oof, ["a", "b"], threshold=0.8)
    assert [s["row"] for s in suspects] == [1, 3]  # row 2 is contradicted, but only at 60%
    assert suspects[0] == {"row": 1, "given": "a", "predicted": "b", "confidence": 0.95, "p_given": 0.05}


def test_a_planted_label_error_is_found_by_cross_validation():
    texts, labels = _corpus(6)
    labels[0] = "neg"  # "good film 0" labeled negative
    _summary, oof, classes = inspection.cross_validate(
        texts, labels, [None] * len(texts), training.build_pipeline, 5, seed=0
    )
    suspects = inspection.label_suspects(labels, oof, classes, threshold=0.6)
    assert 0 in [s["row"] for s in suspects]


def test_near_duplicates_find_reworded_copies_but_not_exact_ones():
    texts = [
        "Why isn't my refund showing up in my statement?",
        "Why isn't my refund showing in my statement?",
        "why isn't my refund showing up in my   statement?",
        "How do I order a new card?",
    ]
    pairs = quality.near_duplicates(texts, threshold=0.8)
    found = {(i, j) for i, j, _ in pairs}
    assert (0, 1) in found
    assert (1, 2) in found
    assert (0, 2) not in found  # the same text up to case and spacing: an exact duplicate
    assert all(j != 3 and i != 3 for i, j in found)
    assert [s for *_, s in pairs] == sorted((s for *_, s in pairs), reverse=True)


def test_drift_is_near_chance_for_the_same_distribution_and_high_for_a_new_one():
    rng = np.random.default_rng(0)
    words = ["card", "refund", "transfer", "balance", "account", "limit", "top", "pay", "cash", "atm"]

    def sentences(n: int, extra: list[str]) -> list[str]:
        return [" ".join(rng.choice(words + extra, size=6)) for _ in range(n)]

    reference = sentences(200, [])
    same = quality.drift(reference, sentences(150, []), seed=0)
    shifted = quality.drift(reference, sentences(150, ["crypto", "wallet", "bitcoin"]), seed=0)

    assert 0.35 < same["auc"] < 0.65
    assert shifted["auc"] > 0.9
    assert {"crypto", "wallet", "bitcoin"} & set(shifted["new_words"])
    assert shifted["oov_new"] > 0.2 > same["oov_new"]
    assert same["oov_reference"] == pytest.approx(0.0)
    assert len(shifted["new_scores"]) == 150
    assert len(shifted["reference_scores"]) == 200


def test_drift_needs_enough_texts_on_each_side():
    assert "skipped" in quality.drift(["a b"] * 5, ["c d"] * 50)


def test_cross_validation_lowers_its_folds_to_what_a_tiny_seed_allows():
    # Ten labels over five labels: no label has five members, so five stratified folds
    # cannot be cut; scikit-learn would raise, the evaluate job would fail.
    texts = [f"word{i % 5} text {i}" for i in range(10)]
    labels = [f"c{i % 5}" for i in range(10)]
    summary, oof, classes = inspection.cross_validate(
        texts, labels, [None] * 10, lambda: training.build_pipeline({}, random_state=0), n_splits=5
    )
    assert summary["folds"] == 2
    assert len(summary["macro_f1"]) == 2
    assert oof.shape == (10, 5)
    assert classes == sorted(set(labels))
