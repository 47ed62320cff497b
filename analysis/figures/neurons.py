"""Neuron figures: ablation curves (accuracy vs k for the top / random / bottom k neurons), the top
neurons' mean activation per label, and a layer x task map of the smallest k reaching 95% of the
full layer's accuracy. Curves and the map read a results table (rows of ``neuron_rows``); the
activation heatmap reads a ``NeuronRanking`` (``rank_neurons``)."""

from __future__ import annotations

import math
import re
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm, TwoSlopeNorm

from analysis.figures import style
from analysis.results import main_eval_set
from probes.errors import ProbesError

CURVE = re.compile(r"^neuron_acc_(top|bottom|random):(\d+)$")
MIN_K = "neuron_min_k95"
SIDES = {"top": ("top-k (ranked first)", style.LINE_PALETTE[0], "-o"),
         "random": ("random k (band over seeds)", style.BASELINE_GREY, "-"),
         "bottom": ("bottom-k (ranked last)", style.LINE_PALETTE[3], "-s")}


def _neuron_rows(df: pd.DataFrame, model: str, probe: Optional[str]) -> pd.DataFrame:
    r = df[(df["model"] == model) & df["probe"].astype(str).str.startswith("neurons-")]
    if probe is not None:
        r = r[r["probe"] == probe]
    if r.empty:
        raise ProbesError(f"no neuron rows (probe neurons-<ranking>) for model {model}"
                          + (f" and probe {probe}" if probe else ""))
    return r


def _one_per_metric(r: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, layer, metric): the seed aggregate (seed -1) where there is one, else the first seed."""
    r = r.assign(_rank=np.where(r["seed"] == -1, -1, r["seed"])).sort_values("_rank", kind="stable")
    return r.drop_duplicates(["task", "layer", "metric"]).drop(columns="_rank")


def _single(values, what: str):
    vals = list(dict.fromkeys(values))
    if len(vals) != 1:
        raise ProbesError(f"neuron figure: several {what} ({', '.join(map(str, vals))}); pass {what[:-1]}=")
    return vals[0]


def ablation_table(df: pd.DataFrame, *, model: str, task: str, probe: Optional[str] = None,
                   eval_set: Optional[str] = None) -> pd.DataFrame:
    """Long table of one task's ablation curves: layer, side (top/bottom/random), k, value, ci_low, ci_high."""
    r = _neuron_rows(df, model, probe)
    r = r[r["task"] == task]
    if r.empty:
        raise ProbesError(f"no neuron rows for model {model}, task {task}")
    probe = _single(r["probe"], "probes")
    r = r[r["probe"] == probe]
    eval_set = eval_set or main_eval_set(r)
    r = _one_per_metric(r[r["eval_set"] == eval_set])
    parsed = r["metric"].str.extract(CURVE)
    r = r.assign(side=parsed[0], k=pd.to_numeric(parsed[1])).dropna(subset=["side"])
    out = r[["layer", "side", "k", "value", "ci_low", "ci_high"]].sort_values(["layer", "side", "k"])
    return out.reset_index(drop=True).assign(k=lambda t: t["k"].astype(int))


def _pick_layers(layers: Sequence[int], at_most: int = 8) -> list[int]:
    """All layers, or ``at_most`` spread evenly from the first to the last (always both ends)."""
    layers = sorted(layers)
    if len(layers) <= at_most:
        return layers
    pos = np.unique(np.round(np.linspace(0, len(layers) - 1, at_most)).astype(int))
    return [layers[p] for p in pos]


def plot_ablation_curves(df: pd.DataFrame, *, model: str, task: str, probe: Optional[str] = None,
                         eval_set: Optional[str] = None, layers: Optional[Sequence[int]] = None):
    """Per layer: accuracy of probes retrained on the top-k, random-k (band) and bottom-k neurons against
    k (log scale), the 95%-of-full-layer line, the smallest k reaching it and the majority class."""
    r = _neuron_rows(df, model, probe)
    r = r[r["task"] == task]
    probe = _single(r["probe"], "probes") if not r.empty else probe
    table = ablation_table(df, model=model, task=task, probe=probe, eval_set=eval_set)
    eval_set = eval_set or main_eval_set(r[r["probe"] == probe])
    shown = _pick_layers(table["layer"].unique()) if layers is None else list(layers)
    missing = sorted(set(shown) - set(table["layer"]))
    if missing:
        raise ProbesError(f"no ablation curve for layer(s) {missing} (have {sorted(table['layer'].unique())})")
    mink = _one_per_metric(r[(r["probe"] == probe) & (r["eval_set"] == eval_set) & (r["metric"] == MIN_K)])
    mink = dict(zip(mink["layer"], mink["value"]))
    maj = df[(df["model"] == model) & (df["task"] == task) & (df["probe"] == "majority") & (df["eval_set"] == eval_set)
             & (df["metric"] == "accuracy")]
    ncols = min(4, len(shown))
    fig, axes = style.panel_grid(len(shown), ncols, 1.9, sharey=True)
    legend = {}
    width = int(table["k"].max())
    for ax, layer in zip(axes.flat, shown):
        t = table[table["layer"] == layer]
        for side, (label, color, fmt) in SIDES.items():
            c = t[t["side"] == side].sort_values("k")
            if c.empty:
                continue
            (h,) = ax.plot(c["k"], c["value"], fmt, ms=2.5, lw=1.3, color=color, gid=f"{side}:{layer}")
            legend.setdefault(label, h)
            ok = np.isfinite(c["ci_low"]) & np.isfinite(c["ci_high"])
            if ok.any():
                ax.fill_between(c["k"][ok], c["ci_low"][ok], c["ci_high"][ok], color=color,
                                alpha=0.25 if side == "random" else 0.15, lw=0, gid=f"band:{side}:{layer}")
        full = t[(t["side"] == "top") & (t["k"] == width)]["value"]
        if len(full):
            h = ax.axhline(0.95 * float(full.iloc[0]), color="#999999", lw=0.8, ls="--", gid=f"target:{layer}")
            legend.setdefault("95% of the full layer", h)
        title = f"layer {layer}"
        if layer in mink and np.isfinite(mink[layer]):
            k95 = int(mink[layer])
            # black, not orange: the bottom-k curve is orange; the value goes in the title, clear of the curves
            h = ax.axvline(k95, color="black", lw=0.9, ls=":", gid=f"min_k:{layer}")
            legend.setdefault("smallest k reaching it", h)
            title += f": 95% at k = {k95}"
        if len(maj):
            h = ax.axhline(float(maj["value"].iloc[0]), color=style.BASELINE_GREY, lw=0.8, ls=(0, (1, 1)),
                           gid=f"majority:{layer}")
            legend.setdefault("majority class", h)
        ax.set_xscale("log")
        ax.set_xlim(0.8, width * 1.25)
        ticks = [k for k in (1, 10, 100, 1000, 10000) if k < width * 0.7] + [width]
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(k) for k in ticks])
        ax.minorticks_off()
        ax.set_title(title)
        ax.grid(color="#e5e5e5", lw=0.5)
    for col in range(ncols):  # under the lowest drawn panel of each column (the last row may be short)
        axes[(len(shown) - 1 - col) // ncols, col].set_xlabel("neurons kept (k)")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    ranking = str(probe).removeprefix("neurons-")
    fig.suptitle(f"{model}: {task} on {eval_set}, neurons ranked by {ranking}", fontsize=9)
    style.legend_below(fig, legend, 3)
    return fig


def plot_label_activations(ranking, *, layer: int, n_top: int = 12, title: Optional[str] = None):
    """Heatmap: the layer's ``n_top`` highest-ranked neurons (columns, in rank order) by label (rows):
    mean activation of the label's training items, in standard deviations from the neuron's mean.

    ``ranking``: a ``NeuronRanking`` or its ``profile()`` (the JSON a study keeps in extras.json)."""
    prof = ranking if isinstance(ranking, dict) else ranking.profile(n_top)
    layers = [int(l) for l in prof["layers"]]
    if layer not in layers:
        raise ProbesError(f"layer {layer} is not ranked (have {layers})")
    m = layers.index(layer)
    cols = np.asarray(prof["neurons"][m])[:n_top]
    Z = np.asarray(prof["class_means"][m], dtype=float)[:, :len(cols)]
    labels, counts, method = prof["labels"], prof["counts"], prof["method"]
    C, k = Z.shape
    fig, ax = style.new_figure(min(6.9, 1.6 + 0.32 * k), min(8.0, max(2.0, 0.9 + 0.2 * C)))
    lim = max(0.5, float(np.nanmax(np.abs(Z))))
    im = ax.imshow(Z, cmap=style.DIVERGING, norm=TwoSlopeNorm(0.0, -lim, lim), aspect="auto", gid=f"activations:{layer}")
    ax.set_xticks(range(k))
    ax.set_xticklabels([str(int(j)) for j in cols], rotation=90 if k > 16 else 0)
    ax.set_yticks(range(C))
    ax.set_yticklabels([f"{lab} ({int(n)})" for lab, n in zip(labels, counts)])
    ax.set_xlabel(f"neuron (top {k} by {method}, most important left)")
    ax.set_ylabel("label (training items)")
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    cb.set_label("mean activation\n(sd from neuron mean)")  # two short lines: one long one outgrew the axes
    cb.outline.set_visible(False)
    ax.set_title(title or f"layer {layer}: top neurons' mean activation per label")
    fig.tight_layout()
    return fig


def min_k_matrix(df: pd.DataFrame, *, model: str, probe: Optional[str] = None,
                 eval_set: Optional[str] = None) -> pd.DataFrame:
    """Rows tasks, columns layers: ``neuron_min_k95`` of each task on its main evaluation set."""
    r = _neuron_rows(df, model, probe)
    probe = _single(r["probe"], "probes")
    r = r[(r["probe"] == probe) & (r["metric"] == MIN_K)]
    out = {}
    for task in dict.fromkeys(r["task"]):
        t = r[r["task"] == task]
        es = eval_set if eval_set is not None else main_eval_set(t)
        t = _one_per_metric(t[t["eval_set"] == es])
        out[task] = pd.Series(t["value"].to_numpy(), index=t["layer"].astype(int).to_numpy())
    return pd.DataFrame(out).T.sort_index(axis=1)


def _widths(df: pd.DataFrame, model: str, probe: str, tasks) -> dict:
    """Layer width per task: the largest k of its ablation rows."""
    r = _neuron_rows(df, model, probe)
    ks = r["metric"].str.extract(CURVE)[1].astype(float)
    return {t: int(ks[r["task"] == t].max()) if (r["task"] == t).any() and ks[r["task"] == t].notna().any() else None
            for t in tasks}


def plot_min_k_map(df: pd.DataFrame, *, model: str, probe: Optional[str] = None, eval_set: Optional[str] = None):
    """Layer x task map of the smallest k whose top-k accuracy reaches 95% of the full layer's (log colour)."""
    probe = probe or _single(_neuron_rows(df, model, None)["probe"], "probes")
    M = min_k_matrix(df, model=model, probe=probe, eval_set=eval_set)
    if M.empty:
        raise ProbesError(f"no {MIN_K} rows for model {model}")
    widths = _widths(df, model, probe, M.index)
    V = M.to_numpy(dtype=float)
    fig, ax = style.new_figure(min(6.9, 1.8 + 0.42 * V.shape[1]), max(2.0, 1.1 + 0.32 * V.shape[0]))
    finite = V[np.isfinite(V)]
    hi = max(10.0, float(finite.max()) if finite.size else 10.0)
    im = ax.imshow(np.ma.masked_invalid(V), cmap=style.SEQUENTIAL, norm=LogNorm(1, hi), aspect="auto", gid="min_k_map")
    for i in range(V.shape[0]):
        for j in range(V.shape[1]):
            if np.isfinite(V[i, j]):
                frac = math.log(max(V[i, j], 1)) / math.log(hi)
                ax.text(j, i, f"{int(V[i, j])}", ha="center", va="center", fontsize=7,
                        color="black" if frac > 0.55 else "white", gid=f"cell:{M.index[i]}:{M.columns[j]}")
    ax.set_xticks(range(V.shape[1]))
    ax.set_xticklabels([str(c) for c in M.columns])
    ax.set_yticks(range(V.shape[0]))
    ax.set_yticklabels([f"{t} (of {widths[t]})" if widths.get(t) else t for t in M.index])
    ax.set_xlabel("layer")
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    cb.set_label("neurons needed (k)")
    # plain numbers on the grid of k (1, 2, 5, 10, ...), not powers of ten
    ticks = [m * 10 ** e for e in range(0, 6) for m in (1, 2, 5) if m * 10 ** e <= hi]
    cb.set_ticks(ticks)
    cb.set_ticklabels([str(t) for t in ticks])
    cb.minorticks_off()
    cb.outline.set_visible(False)
    ranking = probe.removeprefix("neurons-")
    ax.set_title(f"{model}: smallest k reaching 95% of the full layer's accuracy\n(top-k neurons by the {ranking} ranking)")
    fig.tight_layout()
    return fig
