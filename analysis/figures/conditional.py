"""Conditional probing (Hewitt et al. 2021) beside Tenney et al.'s differential scores: per task, the
V-information of each layer in bits (alone and given the baseline, with 95% bands) on the left and
Δ(l) of the cumulative probe on the right, on the same layer axis. Reads an aggregated results
table (rows of ``probes.probing.conditional.conditional_rows``) and, for Δ(l), an expected-layers
table (``analysis.summary.expected_layers_table``)."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from analysis import layers as layer_stats
from analysis.figures import style
from analysis.results import main_eval_set
from probes.errors import ProbesError

METRICS = {"vinfo_bits": ("I_V(layer l → task)", style.LINE_PALETTE[0], "-o"),
           # green and dashed, not purple: blue and purple look alike under red-green colour-vision deficiency
           "cond_vinfo_bits": ("I_V(layer l → task | {base})", style.LINE_PALETTE[2], "--s")}


def conditional_view(agg: pd.DataFrame, model: str) -> dict[str, pd.DataFrame]:
    """Per task (in order of appearance): its conditional rows on the main evaluation set, sorted by layer."""
    r = agg[(agg["model"] == model) & (agg["probe"] == "conditional") & agg["metric"].isin(list(METRICS))
            & (agg["layer"] >= 0)]
    out = {}
    for task in dict.fromkeys(r["task"]):
        t = r[r["task"] == task]
        out[task] = t[t["eval_set"] == main_eval_set(t)].sort_values(["metric", "layer"])
    return out


def baseline_name(rows: pd.DataFrame) -> str:
    """What the conditional rows are conditioned on, read from their ``covers`` ('(given layer 0)')."""
    covers = rows.loc[rows["metric"] == "cond_vinfo_bits", "covers"].astype(str)
    found = {c[c.rfind("(given ") + 7:].rstrip(")") for c in covers if "(given " in c}
    return ", ".join(sorted(found)) if found else "the baseline"


def differential(exp: Optional[pd.DataFrame], model: str, task: str) -> Optional[tuple[np.ndarray, np.ndarray, str]]:
    """(layer ids 1.., Δ(l), evaluation set) of a task's cumulative scores, or None without them."""
    if exp is None or exp.empty:
        return None
    r = exp[(exp["model"] == model) & (exp["task"] == task)]
    for row in r.itertuples(index=False):
        if row.cumulative is not None and len(row.cumulative) >= 2:
            ids = np.asarray(row.cumulative_layers if row.cumulative_layers is not None
                             else np.arange(len(row.cumulative)))
            return ids[1:], layer_stats.differential_scores(row.cumulative), str(row.eval_set)
    return None


def plot_conditional(agg: pd.DataFrame, *, model: str, exp: Optional[pd.DataFrame] = None):
    """One row per task: bits by layer with 95% bands (left) and, where the cumulative probe ran,
    Tenney's Δ(l) x100 as bars on the same layer axis (right)."""
    view = conditional_view(agg, model)
    if not view:
        raise ProbesError(f"no conditional-probing rows (probe conditional) for model {model}")
    deltas = {task: differential(exp, model, task) for task in view}
    two = any(d is not None for d in deltas.values())
    n = len(view)
    fig, axes = style.plt.subplots(n, 2 if two else 1, figsize=(6.9 if two else 3.6, 2.0 * n + 0.55),
                                   squeeze=False)
    legend = {}
    for i, (task, rows) in enumerate(view.items()):
        ax = axes[i, 0]
        lo_l, hi_l = int(rows["layer"].min()), int(rows["layer"].max())
        for metric, (label, color, fmt) in METRICS.items():
            c = rows[rows["metric"] == metric]
            if c.empty:
                continue
            (h,) = ax.plot(c["layer"], c["value"], fmt, ms=2.5, lw=1.4, color=color, gid=f"{metric}:{task}")
            legend.setdefault(label.format(base=baseline_name(rows)), h)
            ok = np.isfinite(c["ci_low"]) & np.isfinite(c["ci_high"])
            if ok.any():
                ax.fill_between(c["layer"][ok], c["ci_low"][ok], c["ci_high"][ok], color=color, alpha=0.25, lw=0,
                                gid=f"band:{metric}:{task}")
        ax.axhline(0, color=style.BASELINE_GREY, lw=0.6)
        ax.set_ylabel("bits per word")
        ax.set_title(f"{task}: V-information ({rows['eval_set'].iloc[0]})")
        ax.grid(color="#e5e5e5", lw=0.5)
        if two:
            dx = axes[i, 1]
            d = deltas[task]
            if d is not None:
                ids, delta, ev = d
                lo_l, hi_l = min(lo_l, int(ids.min()) - 1), max(hi_l, int(ids.max()))
                for l, v in zip(ids, delta):
                    pos = v >= 0
                    legend.setdefault("Δ(l) > 0" if pos else "Δ(l) < 0", Patch(
                        facecolor=style.DELTA_FILL if pos else style.ORANGE_FILL,
                        edgecolor=style.PURPLE if pos else style.ORANGE_EDGE))
                    dx.bar(l, 100 * v, width=0.7, color=style.DELTA_FILL if pos else style.ORANGE_FILL,
                           edgecolor=style.PURPLE if pos else style.ORANGE_EDGE, lw=0.9, gid=f"delta:{task}:{int(l)}")
                dx.axhline(0, color=style.BASELINE_GREY, lw=0.6)
                dx.set_title(f"{task}: Δ(l) of the cumulative probe ({ev})")
                dx.set_ylabel("Δ(l) (score × 100)")
                dx.grid(axis="y", color="#e5e5e5", lw=0.5)
            else:
                dx.text(0.5, 0.5, f"{task}: no cumulative probe rows", ha="center", va="center",
                        transform=dx.transAxes, fontsize=7, color=style.BASELINE_GREY)
                dx.set_yticks([])
        for ax in axes[i]:
            ax.set_xlim(lo_l - 0.5, hi_l + 0.5)
            ax.set_xticks(range(lo_l, hi_l + 1, max(1, math.ceil((hi_l - lo_l + 1) / 13))))
    for ax in axes[-1]:
        ax.set_xlabel("layer")
    fig.suptitle(f"{model}: what each layer adds (Hewitt et al. 2021)"
                 + (" beside Tenney et al.'s differential scores" if two else ""), fontsize=9)
    style.legend_below(fig, legend, len(legend), pad=0.14)
    return fig
