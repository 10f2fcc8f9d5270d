"""The simulator's learning curves as a picture (matplotlib, no display needed)."""

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from siftml.simulation import Run

# Text drawn as paths: the SVG carries no text nodes, so no label name can inject markup.
plt.rcParams["svg.fonttype"] = "path"


def plot_curves(runs: Sequence[Run], target: float, fmt: str = "svg") -> bytes:
    """Macro-F1 against labels, one line per strategy (mean over seeds, band = min..max)."""
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    for strategy in dict.fromkeys(r.strategy for r in runs):
        mine = [r for r in runs if r.strategy == strategy]
        grid = sorted({n for r in mine for n, _ in r.curve})
        values = np.array([np.interp(grid, *zip(*r.curve, strict=True)) for r in mine])
        (line,) = ax.plot(
            grid,
            values.mean(axis=0),
            label=strategy,
            linewidth=2 if strategy != "random" else 1.5,
            linestyle="--" if strategy == "random" else "-",
        )
        if len(mine) > 1:
            ax.fill_between(grid, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.12)
    full = float(np.mean([r.full_f1 for r in runs]))
    ax.axhline(full, color="#444", linewidth=1, linestyle=":")
    ax.axhline(target * full, color="#b7791f", linewidth=1, linestyle=":")
    ax.annotate("all labels", (0, full), xytext=(4, 3), textcoords="offset points", fontsize=8, color="#444")
    ax.annotate(
        f"target: {target:.0%} of that",
        (0, target * full),
        xytext=(4, -11),
        textcoords="offset points",
        fontsize=8,
        color="#b7791f",
    )
    ax.set_xlabel("labels")
    ax.set_ylabel("macro-F1 on the test set")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.25)
    ax.legend(frameon=False, fontsize=9, loc="lower right")
    ax.set_title("Label efficiency: macro-F1 as labels grow", fontsize=11)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format=fmt)
    plt.close(fig)
    return out.getvalue()
