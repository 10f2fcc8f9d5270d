"""Agreement coefficients against published worked examples and scikit-learn. No database."""

import random

import pytest
from sklearn.metrics import cohen_kappa_score

from labeling.agreement import (
    cohen_kappa,
    coincidences,
    fleiss_kappa,
    krippendorff_alpha,
    label_agreement,
)


def test_cohen_kappa_matches_the_textbook_example():
    # Wikipedia "Cohen's kappa": 50 proposals, both yes 20, A yes/B no 5, A no/B yes 10, both no 15.
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


@pytest.mark.parametrize("seed", range(20))
def test_cohen_kappa_agrees_with_scikit_learn(seed):
    rng = random.Random(seed)
    labels = ["a", "b", "c", "d"][: rng.randint(2, 4)]
    a = [rng.choice(labels) for _ in range(rng.randint(5, 60))]
    # Mostly agreeing, so kappa spans negative to high values across seeds.
    b = [x if rng.random() < seed / 20 else rng.choice(labels) for x in a]
    expected = cohen_kappa_score(a, b)
    got = cohen_kappa(a, b)
    if got is None:
        assert expected != expected  # scikit-learn returns nan where kappa is undefined
    else:
        assert got == pytest.approx(expected)


def test_cohen_kappa_is_one_for_perfect_and_undefined_for_one_label():
    assert cohen_kappa(["x", "y", "x"], ["x", "y", "x"]) == pytest.approx(1.0)
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None
    assert cohen_kappa([], []) is None


def test_cohen_kappa_rejects_unaligned_sequences():
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa(["x"], ["x", "y"])


def test_fleiss_kappa_matches_the_worked_example():
    # Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, 5 categories; kappa = 0.210.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-5)


def test_fleiss_kappa_rejects_uneven_rater_counts():
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa([[2, 0], [1, 2]])


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four
# observers, twelve units, values 1..5, missing labels left out; nominal alpha = 0.743.
RELIABILITY_DATA = [
    [1, 1, 1],
    [2, 2, 3, 2],
    [3, 3, 3, 3],
    [3, 3, 3, 3],
    [2, 2, 2, 2],
    [1, 2, 3, 4],
    [4, 4, 4, 4],
    [1, 1, 2, 1],
    [2, 2, 2, 2],
    [5, 5, 5],
    [1, 1],
    [3],
]


def test_krippendorff_alpha_matches_the_published_example():
    assert krippendorff_alpha(RELIABILITY_DATA) == pytest.approx(0.743, abs=5e-4)


def test_coincidences_count_each_pairable_label_once():
    matrix = coincidences(RELIABILITY_DATA)
    # 40 labels, of which the lone "3" of the last unit cannot be paired.
    assert sum(matrix.values()) == pytest.approx(40)
    assert matrix[(1, 1)] == pytest.approx(7)  # the published o_11 and n_1
    assert sum(v for (c, _), v in matrix.items() if c == 1) == pytest.approx(9)


def test_krippendorff_alpha_equals_fleiss_like_scott_pi_for_two_raters_on_many_items():
    # For two raters and no missing data alpha is Scott's pi corrected by (n-1)/n; with
    # identical marginals it approaches Cohen's kappa.
    a = ["x"] * 40 + ["y"] * 40 + ["x"] * 10 + ["y"] * 10
    b = ["x"] * 40 + ["y"] * 40 + ["y"] * 10 + ["x"] * 10
    alpha = krippendorff_alpha(list(zip(a, b, strict=True)))
    assert alpha == pytest.approx(cohen_kappa(a, b), abs=0.01)


def test_krippendorff_alpha_is_undefined_without_variation_or_pairs():
    assert krippendorff_alpha([["x", "x"], ["x", "x", "x"]]) is None
    assert krippendorff_alpha([["x"], ["y"]]) is None
    assert krippendorff_alpha([["x", "x"], ["y", "y"]]) == pytest.approx(1.0)


def test_label_agreement_puts_the_most_disputed_label_first():
    units = [["cat", "cat"], ["cat", "cat"], ["dog", "fox"], ["fox", "fox"], ["dog", "fox"]]
    rows = label_agreement(units)
    assert [r.label for r in rows] == ["dog", "fox", "cat"]
    dog = rows[0]
    assert dog.agreement == 0.0
    assert (dog.confused_with, dog.confused_share) == ("fox", 1.0)
    assert rows[1].agreement == pytest.approx(0.5)
    assert rows[2].agreement == 1.0
    assert rows[2].confused_with is None
