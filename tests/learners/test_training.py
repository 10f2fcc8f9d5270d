"""The model, without a database: it fits, it learns, it generalizes, its file is checked."""

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.metrics import f1_score

from siftml import evaluation, training
from tests.factories import BANKING77, read_banking77

TEXTS = ["good film", "great film", "lovely story", "bad film", "awful film", "boring story"]
LABELS = ["pos", "pos", "pos", "neg", "neg", "neg"]


def test_fit_learns_a_small_labeled_set():
    model = training.fit_pipeline(TEXTS, LABELS)
    assert list(model.predict(TEXTS)) == LABELS
    proba = training.predict_proba(model, ["great story", "awful story"])
    assert proba.shape == (2, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_predict_proba_of_nothing_is_an_empty_matrix():
    model = training.fit_pipeline(TEXTS, LABELS)
    assert training.predict_proba(model, []).shape == (0, 2)


@pytest.mark.parametrize(
    "labels",
    [["pos"] * 6, ["pos", "pos", "pos", "pos", "pos", "neg"], []],
    ids=["one class", "one example of a class", "nothing"],
)
def test_too_few_labels_raise_a_clear_error(labels):
    with pytest.raises(training.NotEnoughLabels, match="at least 2 labeled pool items"):
        training.fit_pipeline(TEXTS[: len(labels)], labels)


def test_the_vocabulary_comes_from_the_training_texts_only():
    model = training.fit_pipeline(TEXTS, LABELS)
    word_vocabulary = model.named_steps["features"].transformer_list[0][1].vocabulary_
    assert "film" in word_vocabulary
    training.predict_proba(model, ["zebra unicorn"])  # predicting never extends it
    assert "zebra" not in word_vocabulary


def test_point_metrics_match_scikit_learn_and_keeps_unseen_labels():
    classes = ["neg", "pos"]
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    y_true = ["neg", "pos", "pos", "other"]
    metrics = evaluation.point_metrics(y_true, proba, classes)

    y_pred = ["neg", "pos", "neg", "pos"]
    assert metrics["accuracy"] == pytest.approx(0.5)
    expected = f1_score(y_true, y_pred, labels=["neg", "other", "pos"], average="macro", zero_division=0)
    assert metrics["macro_f1"] == pytest.approx(expected)
    assert metrics["confusion"]["labels"] == ["neg", "other", "pos"]
    assert metrics["confusion"]["matrix"] == [[1, 0, 0], [0, 0, 1], [1, 0, 1]]
    assert metrics["per_class"]["pos"]["support"] == 2


def test_point_metrics_with_no_test_labels_says_so():
    assert evaluation.point_metrics([], np.zeros((0, 2)), ["a", "b"]) == {"n": 0}


def test_artifact_round_trips_and_a_changed_file_is_refused(tmp_path):
    model = training.fit_pipeline(TEXTS, LABELS)
    path = tmp_path / "m.joblib"
    sha = training.save_artifact(model, path)
    loaded = training.load_artifact(path, sha)
    assert list(loaded.predict(TEXTS)) == LABELS

    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(training.ArtifactMismatch, match="refusing to load"):
        training.load_artifact(path, sha)


@pytest.mark.skipif(not BANKING77.exists(), reason="needs ../shared/datasets/banking77")
def test_generalizes_to_held_out_data_far_beyond_a_majority_baseline():
    train = read_banking77("train.csv")[::4]
    test = read_banking77("test.csv")[::3]
    X, y = [r["text"] for r in train], [r["label"] for r in train]
    X_test, y_test = [r["text"] for r in test], [r["label"] for r in test]

    model = training.fit_pipeline(X, y)
    metrics = evaluation.point_metrics(y_test, training.predict_proba(model, X_test), model.classes_)
    baseline = DummyClassifier(strategy="most_frequent").fit(X, y)
    baseline_f1 = f1_score(y_test, baseline.predict(X_test), average="macro")

    assert metrics["macro_f1"] > 0.75
    assert metrics["macro_f1"] > 10 * baseline_f1


def test_large_pools_are_scored_on_word_ngrams_only():
    small, large = training.params_for_pool(1_000), training.params_for_pool(training.LARGE_POOL)
    assert training.algorithm_name(small) == "tfidf-word-char+logreg"
    assert training.algorithm_name(large) == "tfidf-word+logreg"
    # Six texts of one or two words each: keep every n-gram here (word_min_df, tested below).
    model = training.fit_pipeline(TEXTS, LABELS, {**large, "word_min_df": 1})
    parts = [name for name, _ in model.named_steps["features"].transformer_list]
    assert parts == ["word"]
    assert list(model.predict(TEXTS)) == LABELS


def test_large_pools_leave_out_word_ngrams_seen_in_one_training_text():
    texts = ["refund my card please", "refund my card now", "card arrived late", "lost card abroad"]
    labels = ["refund", "refund", "other", "other"]
    word = lambda params: training.build_pipeline(params).named_steps["features"].transformer_list[0][1]  # noqa: E731
    small = word(training.params_for_pool(1_000)).fit(texts)
    large = word(training.params_for_pool(training.LARGE_POOL)).fit(texts)
    assert "abroad" in small.vocabulary_
    assert "refund my" in small.vocabulary_
    assert set(large.vocabulary_) == {"refund", "my", "card", "refund my", "my card"}
    # A model saved before the parameter existed is rebuilt as it was: every n-gram kept.
    old = {k: v for k, v in training.params_for_pool(training.LARGE_POOL).items() if k != "word_min_df"}
    assert word(old).fit(texts).vocabulary_ == word({**old, "word_min_df": 1}).fit(texts).vocabulary_
    model = training.fit_pipeline(texts, labels, training.params_for_pool(training.LARGE_POOL))
    assert list(model.predict(texts[:2])) == ["refund", "refund"]
