"""Inter-annotator agreement: plain functions over label values, no Django.

A *unit* is one item's labels from different annotators (order does not matter, missing
annotators are simply absent). Agreement coefficients correct the raw share of matching
labels for the matches that chance alone would give, so that a project where everyone
answers "positive" for everything does not look perfectly reliable.

- `cohen_kappa`: two annotators who labeled the same items (Cohen 1960).
- `fleiss_kappa`: any number of annotators, the same number per item (Fleiss 1971).
- `krippendorff_alpha`: nominal alpha, any number of annotators per item, missing labels
  allowed (Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011). This is
  the project figure, because with `overlap` changing over time items carry different
  numbers of labels.

Each returns None when the coefficient is undefined: the expected disagreement is zero,
which happens when every label given is the same one.
"""

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

Unit = Sequence[Hashable]


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two aligned label sequences (a[i] and b[i] label the same item)."""
    if len(a) != len(b):
        raise ValueError(f"the two annotators must label the same items ({len(a)} != {len(b)})")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[c] * count_b[c] for c in count_a) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa of an (n_items, n_categories) table of how many raters chose each category.

    Every row must sum to the same number of raters (at least 2).
    """
    if not counts:
        return None
    raters = {sum(row) for row in counts}
    if len(raters) != 1:
        raise ValueError(f"every item needs the same number of raters, got {sorted(raters)}")
    m = raters.pop()
    if m < 2:
        raise ValueError("Fleiss' kappa needs at least two raters per item")
    n_items = len(counts)
    per_item = [(sum(c * c for c in row) - m) / (m * (m - 1)) for row in counts]
    observed = sum(per_item) / n_items
    totals = [sum(column) for column in zip(*counts, strict=True)]
    expected = sum((t / (n_items * m)) ** 2 for t in totals)
    if expected == 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def coincidences(units: Sequence[Unit]) -> dict[tuple[Hashable, Hashable], float]:
    """Krippendorff's coincidence matrix o[c, k] over units with at least two labels.

    Each ordered pair of labels from different annotators of one unit adds 1/(m_u - 1),
    so every pairable label contributes exactly 1 to its row.
    """
    matrix: dict[tuple[Hashable, Hashable], float] = {}
    for unit in units:
        m = len(unit)
        if m < 2:
            continue
        counts = Counter(unit)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                matrix[(c, k)] = matrix.get((c, k), 0.0) + pairs / (m - 1)
    return matrix


def krippendorff_alpha(units: Sequence[Unit]) -> float | None:
    """Nominal Krippendorff's alpha; units with fewer than two labels are not pairable and ignored."""
    matrix = coincidences(units)
    totals: Counter = Counter()
    for (c, _), value in matrix.items():
        totals[c] += value
    n = sum(totals.values())
    if n <= 1:
        return None
    disagreeing = sum(value for (c, k), value in matrix.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if expected == 0:
        return None
    return 1.0 - (n - 1) * disagreeing / expected


@dataclass(frozen=True)
class LabelAgreement:
    label: Hashable
    pairable: float  # how many pairable labels of this value there are (row total)
    agreement: float  # share of its pairings that are with the same label
    confused_with: Hashable | None  # the other label it is most often paired with
    confused_share: float  # share of its pairings with `confused_with`


def label_agreement(units: Sequence[Unit]) -> list[LabelAgreement]:
    """Per label, how often annotators who chose it were matched by the others; worst first."""
    matrix = coincidences(units)
    rows: dict[Hashable, dict[Hashable, float]] = {}
    for (c, k), value in matrix.items():
        rows.setdefault(c, {})[k] = value
    result = []
    for label, row in rows.items():
        total = sum(row.values())
        others = {k: v for k, v in row.items() if k != label and v > 0}
        confused = max(others, key=others.get) if others else None
        result.append(
            LabelAgreement(
                label=label,
                pairable=total,
                agreement=row.get(label, 0.0) / total,
                confused_with=confused,
                confused_share=others[confused] / total if confused is not None else 0.0,
            )
        )
    result.sort(key=lambda r: (r.agreement, -r.pairable, str(r.label)))
    return result


# Landis & Koch (1977), the usual reading of kappa-like coefficients; Krippendorff asks
# for alpha >= 0.8 before relying on data, and >= 0.667 for tentative conclusions.
_READINGS = [
    (0.0, "worse than chance"),
    (0.2, "slight"),
    (0.4, "fair"),
    (0.6, "moderate"),
    (0.8, "substantial"),
]


def describe_agreement(value: float | None) -> str:
    """A coefficient in words: "slight" ... "almost perfect"."""
    if value is None:
        return "not enough overlap yet"
    for upper, word in _READINGS:
        if value < upper:
            return word
    return "almost perfect"
