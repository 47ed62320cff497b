"""Amnesic probing figures (Elazar et al. 2021 with LEACE): per erased layer, the probe's accuracy
clean / after LEACE / after a random erasure of the same rank beside the majority class; the change
in the model's own LM loss (LEACE and random, and their paired difference); and the other tasks'
accuracy at the later layers with the erasure inside the forward pass. All read an aggregated
results table (probe ``amnesic``, rows of ``probes.probing.amnesic`` and the study's amnesic job)."""

from __future__ import annotations

import re
from typing import Optional

import numpy as np
import pandas as pd

from analysis.figures import style
from analysis.results import main_eval_set
from probes.errors import ProbesError

ACCURACY = {"accuracy_clean": ("clean", style.LINE_PALETTE[0], "o"),
            "accuracy_erased": ("LEACE-erased", style.LINE_PALETTE[3], "s"),
            "accuracy_erased_random": ("random subspace erased (same rank)", style.LINE_PALETTE[2], "^"),
            "majority": ("majority class", style.BASELINE_GREY, "_")}
LOSS = {"lm_loss_delta": ("LEACE", style.LINE_PALETTE[3], "s"),
        "lm_loss_delta_random": ("random subspace (same rank)", style.LINE_PALETTE[2], "^")}
OTHER = re.compile(r"^other_accuracy_(clean|erased|erased_random|delta_vs_random):(\d+)$")
OTHER_STYLE = {"clean": ("clean", style.LINE_PALETTE[0], "-o"),
               "erased": ("LEACE-erased", style.LINE_PALETTE[3], "-s"),
               "erased_random": ("random subspace erased (same rank)", style.LINE_PALETTE[2], "--^")}


def amnesic_rows(agg: pd.DataFrame, model: str) -> pd.DataFrame:
    """The amnesic rows of one model (empty when there are none)."""
    return agg[(agg["model"] == model) & (agg["probe"] == "amnesic")]


def erased_task(rows: pd.DataFrame) -> str:
    """The task whose labels were erased: the one with ``accuracy_erased`` rows."""
    t = list(dict.fromkeys(rows.loc[rows["metric"] == "accuracy_erased", "task"]))
    if len(t) != 1:
        raise ProbesError(f"amnesic rows: expected one erased task, found {t or 'none'}")
    return t[0]


def _errorbar(ax, x, r: pd.DataFrame, color, marker, gid, label=None, ms=4):
    lo = (r["value"] - r["ci_low"]).clip(lower=0).to_numpy(dtype=float)
    hi = (r["ci_high"] - r["value"]).clip(lower=0).to_numpy(dtype=float)
    err = np.vstack([np.nan_to_num(lo), np.nan_to_num(hi)])
    cont = ax.errorbar(x, r["value"], yerr=err, fmt=marker, ms=ms, color=color, capsize=2, lw=1.0, label=label)
    cont.lines[0].set_gid(gid)  # the data line (not its caps) carries the id
    return cont


def plot_erasure_accuracy(agg: pd.DataFrame, *, model: str):
    """Per evaluation set (one panel each), per erased layer: the probe's accuracy clean, LEACE-erased,
    randomly erased and the majority class, with 95% intervals."""
    rows = amnesic_rows(agg, model)
    task = erased_task(rows)
    rows = rows[(rows["task"] == task) & rows["metric"].isin(list(ACCURACY))]
    sets = list(dict.fromkeys(rows["eval_set"]))
    main = main_eval_set(rows)
    sets = [main] + [s for s in sets if s != main][:3]
    layers = sorted(rows["layer"].unique())
    fig, axes = style.panel_grid(len(sets), 2, 2.3, single_width=3.6, sharey=True)
    pos = {l: i for i, l in enumerate(layers)}
    handles = {}
    for ax, ev in zip(axes.flat, sets):
        r = rows[rows["eval_set"] == ev]
        for k, (metric, (label, color, marker)) in enumerate(ACCURACY.items()):
            c = r[r["metric"] == metric].sort_values("layer")
            if c.empty:
                continue
            x = np.array([pos[l] for l in c["layer"]], dtype=float)
            if metric == "majority":  # a level, not an estimate of the probe: a flat line across the layer's group
                for xi, v in zip(x, c["value"]):
                    h = ax.hlines(v, xi - 0.38, xi + 0.38, color=color, lw=1.2, linestyles=(0, (1, 1)), zorder=1,
                                  gid=f"majority:{ev}")
                handles.setdefault(label, h)
                continue
            handles.setdefault(label, _errorbar(ax, x + (k - 1) * 0.2, c, color, marker, f"{metric}:{ev}"))
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels([str(l) for l in layers])
        ax.set_xlim(-0.6, len(layers) - 0.4)
        ax.set_xlabel("layer erased (and probed)")
        ax.set_title(f"{task} on {ev}")
        ax.grid(axis="y", color="#e5e5e5", lw=0.5)
    for ax in axes[:, 0]:
        ax.set_ylabel("probe accuracy")
    fig.suptitle(f"{model}: {task} probe before and after erasing {task} (LEACE)", fontsize=9)
    style.legend_below(fig, handles, 4, pad=0.12)
    return fig


def has_lm_loss(agg: pd.DataFrame, model: str) -> bool:
    """Whether the model has LM-loss rows of an erasure."""
    return bool(amnesic_rows(agg, model)["metric"].isin(list(LOSS) + ["lm_loss_delta_vs_random"]).any())


def plot_lm_loss_change(agg: pd.DataFrame, *, model: str):
    """Left: the change of the model's LM loss per erased layer, LEACE and random, with 95% intervals;
    right: their paired difference (LEACE minus random) with its interval."""
    rows = amnesic_rows(agg, model)
    if not has_lm_loss(agg, model):
        raise ProbesError(f"no LM-loss rows (lm_loss_delta) for model {model}")
    task = erased_task(rows)
    rows = rows[rows["task"] == task]
    layers = sorted(rows.loc[rows["metric"] == "lm_loss_delta", "layer"].unique())
    pos = {l: i for i, l in enumerate(layers)}
    fig, (ax, dx) = style.plt.subplots(1, 2, figsize=(6.9, 2.6))
    handles = {}
    for k, (metric, (label, color, marker)) in enumerate(LOSS.items()):
        c = rows[rows["metric"] == metric].sort_values("layer")
        if len(c):
            handles[label] = _errorbar(ax, np.array([pos[l] for l in c["layer"]]) + (k - 0.5) * 0.18, c, color,
                                       marker, f"{metric}")
    ax.axhline(0, color=style.BASELINE_GREY, lw=0.6)
    ax.set_ylabel("Δ LM loss (nats per token)")
    ax.set_title(f"erasing {task}: change of the LM loss")
    d = rows[rows["metric"] == "lm_loss_delta_vs_random"].sort_values("layer")
    if len(d):
        _errorbar(dx, [pos[l] for l in d["layer"]], d, style.PURPLE, "D", "lm_loss_delta_vs_random")
    dx.axhline(0, color=style.BASELINE_GREY, lw=0.6)
    dx.set_ylabel("LEACE − random (nats per token)")
    dx.set_title("LEACE minus random, paired on the same sentences")
    for a in (ax, dx):
        a.set_xticks(range(len(layers)))
        a.set_xticklabels([str(l) for l in layers])
        a.set_xlim(-0.6, len(layers) - 0.4)
        a.set_xlabel("layer erased")
        a.grid(axis="y", color="#e5e5e5", lw=0.5)
    fig.suptitle(f"{model}: the model's own LM loss with {task} erased inside its forward pass", fontsize=9)
    style.legend_below(fig, {f"erased: {k}": h for k, h in handles.items()}, len(handles), pad=0.12)
    return fig


def downstream_table(agg: pd.DataFrame, model: str) -> pd.DataFrame:
    """Long table of the other tasks' rows: task, erased_layer, layer, eval_set, kind (clean / erased /
    erased_random / delta_vs_random, the paired difference erased minus erased_random), value, ci_low, ci_high."""
    rows = amnesic_rows(agg, model)
    parsed = rows["metric"].astype(str).str.extract(OTHER)
    r = rows.assign(kind=parsed[0], erased_layer=pd.to_numeric(parsed[1])).dropna(subset=["kind"])
    cols = ["task", "erased_layer", "layer", "eval_set", "kind", "value", "ci_low", "ci_high"]
    return r[cols].astype({"erased_layer": int}).sort_values(cols[:5]).reset_index(drop=True)


def plot_downstream(agg: pd.DataFrame, *, model: str, erased: Optional[str] = None):
    """One row of panels per other task, one panel per erased layer: the task's probe accuracy at the
    later layers, clean and with the erasure inside the forward pass (LEACE, random subspace), with
    95% intervals; a row shares its y axis and its layer axis."""
    t = downstream_table(agg, model)
    if t.empty:
        raise ProbesError(f"no other-task rows (other_accuracy_*) for model {model}")
    erased = erased or erased_task(amnesic_rows(agg, model))
    tasks = list(dict.fromkeys(t["task"]))
    erased_layers = sorted(t["erased_layer"].unique())
    ncols = len(erased_layers)
    fig, axes = style.plt.subplots(len(tasks), ncols, figsize=(min(6.9, 1.2 + 2.4 * ncols), 2.0 * len(tasks) + 0.55),
                                   squeeze=False, sharey="row")
    handles = {}
    for i, task in enumerate(tasks):
        tt = t[t["task"] == task]
        ev = main_eval_set(tt.assign(train_set=tt["eval_set"]))  # the set with most rows
        tt = tt[tt["eval_set"] == ev]
        ls = sorted(tt["layer"].unique())
        for j, el in enumerate(erased_layers):
            ax = axes[i, j]
            p = tt[tt["erased_layer"] == el]
            for k, (kind, (label, color, fmt)) in enumerate(OTHER_STYLE.items()):
                c = p[p["kind"] == kind].sort_values("layer")
                if c.empty:
                    continue
                x = c["layer"].to_numpy(dtype=float) + (k - 1) * 0.06
                handles.setdefault(label, _errorbar(ax, x, c, color, fmt, f"other:{task}:{el}:{kind}", ms=3))
            ax.set_xticks(ls)
            ax.set_xlim(min(ls) - 0.5, max(ls) + 0.5)
            ax.set_title(f"{task}: {erased} erased at layer {el}" if len(p) else f"{task}: nothing after layer {el}")
            ax.grid(color="#e5e5e5", lw=0.5)
        axes[i, 0].set_ylabel(f"accuracy ({ev})")
    for ax in axes[-1]:
        ax.set_xlabel("layer probed")
    fig.suptitle(f"{model}: other tasks after erasing {erased} inside the forward pass", fontsize=9)
    style.legend_below(fig, handles, len(handles), pad=0.14)
    return fig
