"""One home each for text normalisation, macro-F1 and the vote rule (issue 15, item 8).

Each rule is checked twice: every caller gives the answer of the one home on the same input,
and the source of the apps holds no second copy (the old spellings are gone).
"""

import random
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from labeling import splits
from labeling.resolution import Vote, live_votes, resolve
from siftml import evaluation, inspection, quality, training
from siftml.text import normalize_text

ROOT = Path(__file__).resolve().parent.parent
APP_SOURCES = sorted(p for d in ("labeling", "learners", "siftml") for p in (ROOT / d).rglob("*.py"))


def _source_without(path_name: str) -> dict[Path, str]:
    return {p: p.read_text() for p in APP_SOURCES if p.relative_to(ROOT).as_posix() != path_name}


def test_every_text_rule_follows_normalize_text() -> None:
    a, b = "  Refund\tMY card ", "refund my\ncard"
    assert normalize_text(a) == normalize_text(b) == "refund my card"
    assert splits.content_hash(a) == splits.content_hash(b)
    assert splits.split_key({}, a) == splits.split_key({}, b)
    keys = inspection.group_keys([a, b, "other"], [None, "", None])
    assert keys[0] == keys[1] != keys[2]
    # Texts identical up to case and spacing are exact duplicates, not near-duplicates.
    assert quality.near_duplicates([a, b]) == []


def test_no_second_text_normalisation_in_the_apps() -> None:
    copy = re.compile(r"""["'] ["']\.join\([^)]*\.split\(\)\)\.lower\(\)|casefold\(|unicodedata\.normalize""")
    found = [p.name for p, text in _source_without("siftml/text.py").items() if copy.search(text)]
    assert found == [], f"text normalised outside siftml/text.py in {found}"


def test_macro_f1_everywhere_is_scikit_learns() -> None:
    rng = np.random.default_rng(3)
    labels = ["a", "b", "c", "d"]
    y_true = rng.choice(labels[:3], 60).astype(object)
    y_pred = rng.choice(labels, 60).astype(object)
    expected = f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    assert evaluation.macro_f1(y_true, y_pred, labels) == pytest.approx(expected)
    s = evaluation.scores(y_true, y_pred, labels)
    assert float(s["accuracy"]) == pytest.approx(accuracy_score(y_true, y_pred))

    proba = np.eye(4)[[labels.index(p) for p in y_pred]]
    assert evaluation.point_metrics(y_true, proba, labels)["macro_f1"] == pytest.approx(expected)
    report = evaluation.classification_report(y_true, proba, labels, rounds=200)
    assert report["macro_f1"]["value"] == pytest.approx(expected)


def test_cross_validation_scores_folds_with_the_same_macro_f1() -> None:
    texts = [f"{w} item {i}" for i in range(40) for w in ("refund", "card")][:60]
    y = ["refund" if t.startswith("refund") else "card" for t in texts]
    summary, oof, classes = inspection.cross_validate(texts, y, [None] * len(y), training.build_pipeline, 3)
    assert len(summary["macro_f1"]) == 3
    # Out-of-fold predictions score like the folds: every fold is perfect, so is the whole.
    predicted = np.asarray(classes, dtype=object)[oof.argmax(axis=1)]
    assert summary["mean"] == pytest.approx(1.0)
    assert evaluation.macro_f1(y, predicted, classes) == pytest.approx(
        f1_score(y, predicted, average="macro")
    )


def test_no_second_macro_f1_in_the_apps() -> None:
    others = _source_without("siftml/evaluation.py")
    found = [p.name for p, text in others.items() if re.search(r"\bf1_score\b|average=.macro", text)]
    assert found == [], f"macro-F1 computed outside siftml/evaluation.py in {found}"
    assert not hasattr(training, "evaluate")


def test_every_reader_of_votes_uses_the_one_rule() -> None:
    rng = random.Random(5)
    for _ in range(200):
        votes = []
        for pk in range(1, rng.randint(1, 9)):
            label = rng.choice([None, 1, 2, 3])
            votes.append(Vote(pk, rng.choice(["ann", "bob", "cy", "import"]), label, "human"))
        live = live_votes(votes)
        resolved = resolve(votes)
        assert resolved.voters == tuple(v.voter for v in live)
        assert resolved.label_count == len(live)
        # Each voter's latest annotation, and only it, counts.
        for v in live:
            assert v == [w for w in votes if w.voter == v.voter][-1]


def test_no_second_vote_rule_in_the_apps() -> None:
    # The old copies kept "latest per annotator" by popping and re-inserting into a dict.
    found = [
        p.name
        for p, text in _source_without("labeling/resolution.py").items()
        if re.search(r"\.pop\((username|vote\.voter|user_id|\(item_id, user_id\)), None\)", text)
        or re.search(r"latest\[\(item_id, user_id\)\]", text)
    ]
    assert found == [], f"an annotator's vote decided outside labeling/resolution.py in {found}"
