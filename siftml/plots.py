"""Pictures of an evaluation and of data quality: matplotlib (Agg) figures as SVG strings.

Each plot answers one question at a glance (where is the model wrong? is it
over-confident? which group does it fail?) so a reader need not read the numbers. No
pyplot: figures are plain objects drawn by the SVG backend, safe in a threaded server. Text stays text in the
SVG (escaped by matplotlib), and no date is written, so the same input gives the same bytes.
"""

import io
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

ACCENT = "#2f6fed"
BAD = "#c53030"
OK = "#1f8a4c"
MUTED = "#647084"
LIGHT = "#c9d1de"
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "sift",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9aa5b6",
    "axes.titleweight": "bold",
    "axes.titlesize": 10,
}
MAX_LABELS_DRAWN = 40  # more labels than this: the bar charts show the worst ones only


def to_svg(fig: Figure) -> str:
    """Render the figure as an SVG document without the XML prolog (it is inlined in HTML)."""
    out = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = out.getvalue()
    return svg[svg.index("<svg") :]


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def _axes(fig: Figure, *args: int):
    with matplotlib.rc_context(STYLE):
        return fig.add_subplot(*args) if args else fig.add_subplot()


def confusion_matrix_svg(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """Row-normalized confusion matrix: a dark diagonal is good, dark off-diagonal cells are
    the mistakes; counts are written in cells when there are few labels."""
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    n = len(labels)
    # Room for the tick labels (their longest name) plus a cell size that stays legible.
    margin = 0.07 * max((len(str(label)) for label in labels), default=1)
    side = min(12.0, max(3.0, 0.38 * n))
    fig = _figure(side + margin + 1.6, side + margin + 0.8)
    ax = _axes(fig)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="equal")
    ticks = np.arange(n)
    font = 9 if n <= 15 else max(4, 9 - n // 12)
    ax.set_xticks(ticks, labels=labels, rotation=60 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_yticks(ticks, labels=labels)
    ax.tick_params(labelsize=font)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title("Where test items go (share of each true label)")
    if n <= 15:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    color = "white" if share[i, j] > 0.6 else "#1d2330"
                    ax.text(j, i, f"{counts[i, j]:.0f}", ha="center", va="center", color=color, fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.7, label="share of the row")
    return to_svg(fig)


def per_class_svg(per_class: dict) -> str:
    """F1 per label with its 95% interval, worst first; thin bars mark few test items."""
    rows = sorted(per_class.items(), key=lambda kv: kv[1]["f1"]["value"])[:MAX_LABELS_DRAWN]
    rows = rows[::-1]  # barh draws bottom-up: worst at the top
    names = [name for name, _ in rows]
    f1 = np.array([r["f1"]["value"] for _, r in rows])
    low = np.array([r["f1"]["low"] for _, r in rows])
    high = np.array([r["f1"]["high"] for _, r in rows])
    support = [r["support"] for _, r in rows]
    fig = _figure(7.5, 1.0 + 0.26 * len(rows))
    ax = _axes(fig)
    y = np.arange(len(rows))
    colors = [BAD if v < 0.5 else ACCENT for v in f1]
    ax.barh(y, f1, color=colors, alpha=0.85, height=0.65)
    ax.errorbar(f1, y, xerr=[f1 - low, high - f1], fmt="none", ecolor="#1d2330", capsize=2, lw=0.8)
    ax.set_yticks(y, labels=[f"{n}  (n={s})" for n, s in zip(names, support, strict=True)])
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 on the test set (bar) with its 95% bootstrap interval (whisker)")
    title = "F1 per label, worst at the top"
    if len(per_class) > MAX_LABELS_DRAWN:
        title += f" ({MAX_LABELS_DRAWN} worst of {len(per_class)})"
    ax.set_title(title)
    return to_svg(fig)


def roc_svg(roc: dict) -> str:
    """One-vs-rest ROC curves: the closer to the top-left corner, the better the label is
    told apart. With many labels only the five hardest are colored."""
    curves = sorted(roc["classes"].items(), key=lambda kv: kv[1]["auc"])
    fig = _figure(5.2, 4.6)
    ax = _axes(fig)
    ax.plot([0, 1], [0, 1], ls="--", color=LIGHT, lw=1, label="chance (AUC 0.50)")
    many = len(curves) > 8
    for rank, (label, curve) in enumerate(curves):
        highlighted = not many or rank < 5
        ax.plot(
            curve["fpr"],
            curve["tpr"],
            lw=1.6 if highlighted else 0.6,
            color=None if highlighted else LIGHT,
            label=f"{label} (AUC {curve['auc']:.2f})" if highlighted else None,
            zorder=3 if highlighted else 2,
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    title = "ROC, each label against the rest"
    if roc.get("macro_auc") is not None:
        title += f" (mean AUC {roc['macro_auc']:.2f})"
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7, title="hardest labels" if many else None, title_fontsize=7)
    return to_svg(fig)


def calibration_svg(cal: dict, title: str = "Calibration") -> str:
    """Reliability diagram: bars on the diagonal mean the stated confidence is right; bars
    below it mean over-confidence. The strip underneath shows how many items fall in each bin."""
    fig = _figure(5.2, 5.0)
    top = _axes(fig, 4, 1, (1, 3))
    bottom = _axes(fig, 4, 1, 4)
    bins = cal["bins"]
    centers = [(b["low"] + b["high"]) / 2 for b in bins]
    width = (bins[0]["high"] - bins[0]["low"]) * 0.9 if bins else 0.09
    top.plot([0, 1], [0, 1], ls="--", color=MUTED, lw=1, label="perfectly calibrated")
    top.bar(
        centers, [b["accuracy"] for b in bins], width=width, color=ACCENT, alpha=0.75, label="share right"
    )
    # The gap between what the model claims and what it gets: red when it claims too much.
    for b in bins:
        color = BAD if b["accuracy"] < b["confidence"] else OK
        top.plot(
            [b["confidence"]] * 2, [b["accuracy"], b["confidence"]], color=color, lw=3, solid_capstyle="butt"
        )
    top.plot([], [], color=BAD, lw=3, label="over-confident by")
    top.plot([], [], color=OK, lw=3, label="under-confident by")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("share of predictions that were right")
    top.tick_params(labelbottom=False)
    brier = f", Brier {cal['brier']:.3f}" if cal.get("brier") is not None else ""
    top.set_title(f"{title} (ECE {cal['ece']:.3f}{brier})")
    top.legend(loc="upper left", fontsize=7)
    bottom.bar(centers, [b["count"] for b in bins], width=width, color=LIGHT)
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence of the predicted label")
    bottom.set_ylabel("items")
    return to_svg(fig)


def segments_svg(column: str, segments: list[dict], overall: float) -> str:
    """Macro-F1 per value of one metadata column against the overall figure (dashed line)."""
    rows = segments[::-1]
    fig = _figure(7.0, 0.9 + 0.32 * len(rows))
    ax = _axes(fig)
    y = np.arange(len(rows))
    f1 = np.array([s["macro_f1"]["value"] for s in rows])
    low = np.array([s["macro_f1"]["low"] for s in rows])
    high = np.array([s["macro_f1"]["high"] for s in rows])
    colors = [BAD if h < overall else ACCENT for h in high]
    ax.barh(y, f1, color=colors, alpha=0.85, height=0.6)
    ax.errorbar(f1, y, xerr=[f1 - low, high - f1], fmt="none", ecolor="#1d2330", capsize=2, lw=0.8)
    ax.axvline(overall, ls="--", color=MUTED, lw=1)
    ax.set_yticks(y, labels=[f"{s['value']}  (n={s['n']})" for s in rows])
    ax.set_xlim(0, 1)
    ax.set_xlabel("macro-F1 (red: clearly below the whole test set, dashed)")
    ax.set_title(f"By {column}")
    return to_svg(fig)


def learning_curve_svg(points: list[dict]) -> str:
    """Test macro-F1 of each model version against how many labels it learned from."""
    fig = _figure(6.0, 3.6)
    ax = _axes(fig)
    points = sorted(points, key=lambda p: p["train_size"])
    x = np.array([p["train_size"] for p in points])
    y = np.array([p["macro_f1"] for p in points])
    low = np.array([p.get("low", p["macro_f1"]) for p in points])
    high = np.array([p.get("high", p["macro_f1"]) for p in points])
    ax.plot(x, y, color=ACCENT, lw=1.2, marker="o", ms=4)
    ax.fill_between(x, low, high, color=ACCENT, alpha=0.12, lw=0, label="95% interval")
    for p in points:
        if p.get("active"):
            ax.scatter(
                [p["train_size"]],
                [p["macro_f1"]],
                s=90,
                facecolors="none",
                edgecolors=OK,
                lw=2,
                zorder=4,
                label="active model",
            )
    ax.set_ylim(0, 1)
    ax.set_xlim(0, max(x) * 1.08 if len(x) else 1)
    ax.set_xlabel("labeled pool items the model learned from")
    ax.set_ylabel("macro-F1, same report-part test items")
    ax.set_title("Learning curve across model versions")
    ax.legend(loc="lower right", fontsize=7)
    return to_svg(fig)


def label_balance_svg(per_label: dict) -> str:
    """Labeled items per label, pool and test side by side: a lopsided label shows at once."""
    names = list(per_label)[:MAX_LABELS_DRAWN][::-1]
    pool = np.array([per_label[n].get("pool", 0) for n in names])
    test = np.array([per_label[n].get("test", 0) for n in names])
    fig = _figure(7.0, 0.9 + 0.3 * len(names))
    ax = _axes(fig)
    y = np.arange(len(names))
    ax.barh(y + 0.2, pool, height=0.4, color=ACCENT, label="pool (training)")
    ax.barh(y - 0.2, test, height=0.4, color="#f0a03c", label="test")
    ax.set_yticks(y, labels=names)
    ax.set_xlabel("labeled items")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, fontsize=8, frameon=False)
    return to_svg(fig)


def histograms_svg(title: str, xlabel: str, series: dict[str, Sequence[float]], bins: int = 30) -> str:
    """Overlaid density histograms of a few named samples sharing one set of bins."""
    fig = _figure(6.5, 3.4)
    ax = _axes(fig)
    values = [np.asarray(v, dtype=float) for v in series.values() if len(v)]
    if values:
        everything = np.concatenate(values)
        edges = np.histogram_bin_edges(everything, bins=bins)
        for (name, sample), color in zip(series.items(), [ACCENT, "#f0a03c", BAD, OK], strict=False):
            if len(sample):
                ax.hist(
                    sample,
                    bins=edges,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.35,
                    color=color,
                    label=f"{name} (n={len(sample)})",
                )
                ax.hist(sample, bins=edges, density=True, histtype="step", color=color, lw=1.2)
        ax.legend(fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share (density)")
    ax.set_title(title)
    return to_svg(fig)
