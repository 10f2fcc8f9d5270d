"""Pictures: valid SVG, labels escaped, the same bytes for the same input."""

import xml.etree.ElementTree as ET

import numpy as np

from siftml import evaluation, plots

CLASSES = ["<script>alert(1)</script>", "bee", "cat"]


def _report() -> tuple[dict, dict, dict]:
    rng = np.random.default_rng(0)
    y_true = rng.choice(CLASSES, size=90)
    proba = rng.dirichlet([1, 1, 1], size=90)
    report = evaluation.classification_report(y_true, proba, CLASSES, rounds=20)
    return (
        report,
        evaluation.roc_one_vs_rest(y_true, proba, CLASSES),
        evaluation.calibration(y_true, proba, CLASSES),
    )


def _all_svgs() -> dict[str, str]:
    report, roc, cal = _report()
    segments = [
        {"value": "web", "n": 50, "macro_f1": {"value": 0.4, "low": 0.3, "high": 0.5}},
        {"value": "app", "n": 40, "macro_f1": {"value": 0.2, "low": 0.1, "high": 0.3}},
    ]
    return {
        "confusion": plots.confusion_matrix_svg(report["labels"], report["confusion"]["matrix"]),
        "per_class": plots.per_class_svg(report["per_class"]),
        "roc": plots.roc_svg(roc),
        "calibration": plots.calibration_svg(cal),
        "segments": plots.segments_svg("source", segments, 0.35),
        "curve": plots.learning_curve_svg(
            [{"train_size": 20, "macro_f1": 0.5, "low": 0.4, "high": 0.6, "active": True}]
        ),
        "balance": plots.label_balance_svg({c: {"pool": 3, "test": 1} for c in CLASSES}),
        "lengths": plots.histograms_svg("Text length", "chars", {"pool": [1, 2, 3, 9], "test": []}),
    }


def test_every_picture_is_one_well_formed_svg_element():
    for name, svg in _all_svgs().items():
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg"), name
        assert "<script>" not in svg, name  # label text is escaped, never markup


def test_label_names_appear_as_escaped_text():
    svg = _all_svgs()["per_class"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "bee" in svg


def test_the_same_input_gives_the_same_bytes():
    assert _all_svgs() == _all_svgs()
