"""The sweep's picture: the primary metric over trials (each trial's best value, and the best
so far) and, per trial, over its intervals. A PNG drawn with matplotlib's Agg canvas (no
pyplot, no display, no global backend change); matplotlib is imported only when a sweep
ends — never by ``import scriptrun``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

PLOT_FILE = "sweep_primary_metric.png"
_COLORS = {"Completed": "tab:blue", "Canceled": "tab:orange", "Failed": "tab:red"}


def render_sweep_plot(trials: Sequence[tuple[int, str, list[float]]], metric: str, goal: str) -> bytes:
    """PNG bytes for ``trials`` given as ``(index, status, values of the primary metric)``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), dpi=90)
    FigureCanvasAgg(fig)
    by_trial, over_intervals = fig.subplots(1, 2)
    pick = max if goal == "maximize" else min
    best_so_far: list[tuple[int, float]] = []
    for index, status, values in sorted(trials):
        if not values:
            continue
        best = pick(values)
        by_trial.scatter([index], [best], color=_COLORS.get(status, "tab:gray"), zorder=3)
        if not best_so_far or pick(best, best_so_far[-1][1]) == best:
            best_so_far.append((index, best))
        else:
            best_so_far.append((index, best_so_far[-1][1]))
        over_intervals.plot(range(1, len(values) + 1), values, marker="." if len(values) < 30 else None,
                            linewidth=1, alpha=0.8, color=_COLORS.get(status, "tab:gray"))
    if best_so_far:
        by_trial.step([i for i, _ in best_so_far], [v for _, v in best_so_far], where="post", color="black",
                      linewidth=1, label="best so far")
        by_trial.legend(loc="best", fontsize="small")
    by_trial.set(title=f"{metric} by trial ({goal}; colour = status)", xlabel="trial index",
                 ylabel=f"best {metric}")
    over_intervals.set(title=f"{metric} per trial over intervals", xlabel="interval (logging of the metric)",
                       ylabel=metric)
    for axes in (by_trial, over_intervals):
        axes.grid(True, alpha=0.3)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
