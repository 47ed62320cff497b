"""Cross-lingual figures: transfer heatmaps (train x eval language) per layer, zero-shot score
curves per language, and linear CKA between languages by layer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns

from analysis.figures import style
from analysis.results import language_of
from probes.errors import ProbesError


def plot_transfer_heatmaps(matrices: dict[int, pd.DataFrame], *, title: str | None = None, max_panels: int = 25):
    """One small heatmap per layer (rows: training language, columns: evaluation language), shared scale."""
    if not matrices:
        raise ProbesError("transfer figure: no layers")
    if len(matrices) > max_panels:
        raise ProbesError(f"transfer figure: {len(matrices)} layers, more than {max_panels} panels; pass a subset")
    layers = sorted(matrices)
    vals = np.concatenate([m.to_numpy(dtype=float).ravel() for m in matrices.values()])
    vmin, vmax = float(np.nanmin(vals)), float(np.nanmax(vals))
    ncols = min(len(layers), 5)
    nrows = math.ceil(len(layers) / ncols)
    m0 = matrices[layers[0]]
    w = 0.45 * m0.shape[1] + 0.5
    fig, axes = style.plt.subplots(nrows, ncols, figsize=(min(6.9, w * ncols + 1.0), (0.4 * m0.shape[0] + 0.8) * nrows),
                                   squeeze=False)
    for ax in axes.flat[len(layers):]:
        ax.set_visible(False)
    for ax, layer in zip(axes.flat, layers):
        sns.heatmap(matrices[layer], ax=ax, vmin=vmin, vmax=vmax, cmap=style.SEQUENTIAL, annot=True, fmt=".2f",
                    annot_kws={"fontsize": 6}, cbar=False, square=True, linewidths=0.5, linecolor="white")
        ax.set_title(f"layer {layer}", fontsize=8)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="y", rotation=0)
        ax.set_gid(f"transfer:{layer}")
    fig.supxlabel("evaluation language", fontsize=8)
    fig.supylabel("training language", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_zero_shot_curves(rows: pd.DataFrame, *, train_language: str, title: str | None = None):
    """Score by layer per evaluation language for probes trained on `train_language` (95% bands).

    `rows`: aggregated rows of one model, task, probe and metric, one evaluation set per language.
    """
    r = rows[np.array([language_of(t) == train_language for t in rows["train_set"]], dtype=bool) & (rows["layer"] >= 0).to_numpy()]
    if r.empty:
        raise ProbesError(f"zero-shot figure: no rows trained on language {train_language!r}")
    fig, ax = style.new_figure(3.4, 2.4)
    langs = list(dict.fromkeys(language_of(e) for e in r["eval_set"]))
    langs = [train_language] + [l for l in langs if l != train_language] if train_language in langs else langs
    for i, lang in enumerate(langs):
        g = r[[language_of(e) == lang for e in r["eval_set"]]].sort_values("layer")
        if g["layer"].duplicated().any():
            raise ProbesError(f"zero-shot figure: several evaluation sets for language {lang}: {sorted(set(g['eval_set']))}")
        color = style.LINE_PALETTE[i % len(style.LINE_PALETTE)]
        label = f"{lang} (in-language)" if lang == train_language else f"{lang} (zero-shot)"
        ax.plot(g["layer"], g["value"], "-o", ms=2.5, lw=1.4 if lang != train_language else 2.0, color=color,
                label=label, gid=f"zs:{lang}")
        if np.isfinite(g["ci_low"]).all() and np.isfinite(g["ci_high"]).all():
            ax.fill_between(g["layer"], g["ci_low"], g["ci_high"], color=color, alpha=0.18, lw=0)
    ax.set_xlabel("layer")
    style.integer_layers(ax)
    ax.set_ylabel(r["metric"].iloc[0])
    ax.set_title(title or f"trained on {train_language}")
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # never over the curves
    ax.grid(color="#e5e5e5", lw=0.5)
    return fig


def plot_cka(cka: pd.DataFrame, *, title: str | None = None):
    """Linear CKA by layer, one line per language pair (columns layer, lang_a, lang_b, cka); where the
    frame has null_low/null_high (the permutation null), their envelope over the pairs is a grey band."""
    need = {"layer", "lang_a", "lang_b", "cka"}
    if not need <= set(cka.columns):
        raise ProbesError(f"CKA figure: need columns {sorted(need)}, got {list(cka.columns)}")
    fig, ax = style.new_figure(3.4, 2.4)
    has_null = {"null_low", "null_high"} <= set(cka.columns) and cka["null_low"].notna().any()
    for i, ((a, b), g) in enumerate(cka.groupby(["lang_a", "lang_b"], sort=False)):
        g = g.sort_values("layer")
        color = style.LINE_PALETTE[i % len(style.LINE_PALETTE)]
        ax.plot(g["layer"], g["cka"], "-o", ms=2.5, lw=1.3, color=color, label=f"{a}–{b}", gid=f"cka:{a}:{b}",
                zorder=3)
    if has_null:
        # The pairs share n and nearly d, so their nulls nearly coincide: one grey band, the envelope
        # of every pair's central 95%, instead of overlapping coloured ones.
        env = cka.groupby("layer").agg(low=("null_low", "min"), high=("null_high", "max")).sort_index()
        ax.fill_between(env.index, env["low"], env["high"], color="#9a9a9a", alpha=0.35, lw=0, zorder=1,
                        gid="cka-null")
    low = min(0.0, float(np.nanmin(cka[["cka"] + (["null_low"] if has_null else [])].to_numpy())))
    ax.set_ylim(low - 0.02 if low < 0 else 0, 1.02)
    ax.axhline(0, color="#999999", lw=0.6, zorder=0)
    ax.set_xlabel("layer")
    style.integer_layers(ax)
    estimator = str(cka["estimator"].iloc[0]) if "estimator" in cka else "debiased"
    ax.set_ylabel("linear CKA" + (" (biased estimator)" if estimator == "biased" else " (debiased)"))
    ax.set_title(title or "parallel sentences across languages")
    if has_null:
        ax.fill_between([], [], [], color="#9a9a9a", alpha=0.35, lw=0, label="95% null (shuffled pairs)")
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(color="#e5e5e5", lw=0.5)
    return fig
