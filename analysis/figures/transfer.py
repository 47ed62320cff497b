"""Cross-lingual figures: one transfer matrix figure (a panel per task: layer x evaluation language,
one shared colour scale), zero-shot score curves per language with each language's majority and
random-init baselines, and linear CKA between languages by layer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns

from analysis.figures import style
from analysis.results import language_of
from probes.errors import ProbesError


def transfer_order(matrices: dict[int, pd.DataFrame]) -> list[str]:
    """The evaluation languages in the order the transfer figure draws them (in-language first)."""
    cols: list[str] = []
    for m in matrices.values():
        cols += [c for c in m.columns if c not in cols]
    return cols


def plot_transfer_matrix(panels: dict[str, dict[int, pd.DataFrame]], *, title: str | None = None,
                         vmin: float | None = None, vmax: float | None = None, ncols: int = 5):
    """One figure for a model's cross-lingual transfer: a panel per task (key = panel title), rows =
    layer (prefixed by the training language when there are several), columns = evaluation
    language in plot order; every panel on one shared colour scale with one colour bar."""
    if not panels:
        raise ProbesError("transfer figure: no panels")
    mats = {}
    for name, by_layer in panels.items():
        if not by_layer:
            raise ProbesError(f"transfer figure: panel {name!r} has no layers")
        cols = transfer_order(by_layer)
        trains = list(dict.fromkeys(t for m in by_layer.values() for t in m.index))
        rows, index = [], []
        for src in trains:
            for layer in sorted(by_layer):
                m = by_layer[layer].reindex(columns=cols)
                if src in m.index:
                    rows.append(m.loc[src].to_numpy(dtype=float))
                    index.append(f"{src} → L{layer}" if len(trains) > 1 else str(layer))
        mats[name] = (pd.DataFrame(rows, index=index, columns=cols), len(trains) > 1)
    vals = np.concatenate([m.to_numpy(dtype=float).ravel() for m, _ in mats.values()])
    vals = vals[np.isfinite(vals)]
    lo = float(vmin) if vmin is not None else (float(vals.min()) if len(vals) else 0.0)
    hi = float(vmax) if vmax is not None else (float(vals.max()) if len(vals) else 1.0)
    n = len(mats)
    ncols = style.grid_columns(n, ncols, single=2)
    nrows = math.ceil(n / ncols)
    most_rows = max(m.shape[0] for m, _ in mats.values())
    most_cols = max(m.shape[1] for m, _ in mats.values())
    cell = 0.3
    panel_w, panel_h = cell * most_cols + 0.25, cell * most_rows + 0.95
    height = panel_h * nrows + (0.3 if title else 0.05)
    fig = style.plt.figure(figsize=(style.figure_width(min(7.2, panel_w * ncols + 1.3)), height))
    # room above the top row for its titles, top tick labels and "evaluated on", then the suptitle
    gs = fig.add_gridspec(nrows, ncols + 1, width_ratios=[1.0] * ncols + [0.08], wspace=0.25,
                          hspace=0.95 / (cell * most_rows),
                          top=1 - (1.15 if title else 0.9) / height, bottom=0.05 / height)
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    norm = Normalize(vmin=lo, vmax=hi)
    for k, (name, (m, multi)) in enumerate(mats.items()):
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        # values at 6.5 pt, not 5.5 (too small to read in report.html), panels 0.25 apart, not 0.35: with five tasks of
        # four languages and seven layers (the demo), each "0.92" still fits its cell
        sns.heatmap(m, ax=ax, vmin=lo, vmax=hi, cmap=style.SEQUENTIAL, annot=True, fmt=".2f",
                    annot_kws={"fontsize": 6.5}, cbar=False, linewidths=0.4, linecolor="white")
        head, _, sub = name.partition("\n")
        ax.set_title(head + ("\n" + sub.replace(", ", "\n", 1) if sub else ""), fontsize=7)
        ax.set_xlabel("evaluated on", fontsize=7)
        ax.set_ylabel("trained on → layer" if multi else ("layer" if k % ncols == 0 else ""), fontsize=7)
        ax.tick_params(axis="both", labelsize=6.5, length=0)
        ax.tick_params(axis="y", rotation=0)
        ax.xaxis.tick_top()
        ax.xaxis.set_label_position("top")
        ax.set_gid(f"transfer:{name}")
    cax = fig.add_subplot(gs[:, ncols])
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=style.SEQUENTIAL), cax=cax)
    cb.set_label("score (shared scale)", fontsize=7)
    cb.ax.tick_params(labelsize=6.5)
    if title:
        fig.suptitle(style.wrap(title), fontsize=9, y=1 - 0.05 / height, va="top")
    return fig


def plot_zero_shot_panels(views: dict[str, pd.DataFrame], *, train_language: str, majority: dict | None = None,
                          random_init: dict | None = None, title: str | None = None, ncols: int = 3):
    """Zero-shot score by layer, a panel per task (key = panel title; value: aggregated rows of one
    model, task, probe and metric, one evaluation set per language), one colour per evaluation
    language with its 95% band; per language, its majority-class score (``majority``: title ->
    {language: score}) as a dashed horizontal line and the random-init model's curve (``random_init``:
    title -> rows like ``views``) dotted, both in the language's colour. One legend, outside."""
    from matplotlib.lines import Line2D

    majority, random_init = majority or {}, random_init or {}
    names = list(views)
    if not names:
        raise ProbesError("zero-shot figure: no panels")
    n = len(names)
    ncols = style.grid_columns(n, ncols)
    nrows = math.ceil(n / ncols)
    fig, axes = style.plt.subplots(nrows, ncols, figsize=(style.figure_width(6.9 if ncols > 1 else 3.6), 2.2 * nrows + 0.6),
                                   squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    colors: dict[str, tuple] = {}
    styles_used = set()
    for ax, name in zip(axes.flat, names):
        r = views[name]
        r = r[np.array([language_of(t) == train_language for t in r["train_set"]], dtype=bool) & (r["layer"] >= 0).to_numpy()]
        if r.empty:
            raise ProbesError(f"zero-shot figure: no rows of {name!r} trained on language {train_language!r}")
        langs = list(dict.fromkeys(language_of(e) for e in r["eval_set"]))
        langs = [train_language] + [l for l in langs if l != train_language] if train_language in langs else langs
        rnd = random_init.get(name)
        for lang in langs:
            color = colors.setdefault(lang, style.LINE_PALETTE[len(colors) % len(style.LINE_PALETTE)])
            g = r[[language_of(e) == lang for e in r["eval_set"]]].sort_values("layer")
            if g["layer"].duplicated().any():
                raise ProbesError(f"zero-shot figure: several evaluation sets for language {lang}: {sorted(set(g['eval_set']))}")
            ax.plot(g["layer"], g["value"], "-o", ms=2.2, lw=1.8 if lang == train_language else 1.2, color=color,
                    gid=f"zs:{name}:{lang}", zorder=3)
            if np.isfinite(g["ci_low"]).all() and np.isfinite(g["ci_high"]).all():
                ax.fill_between(g["layer"], g["ci_low"], g["ci_high"], color=color, alpha=0.16, lw=0)
            if rnd is not None and len(rnd):
                q = rnd[[language_of(e) == lang for e in rnd["eval_set"]] & (rnd["layer"] >= 0).to_numpy()].sort_values("layer")
                if len(q) and not q["layer"].duplicated().any():
                    ax.plot(q["layer"], q["value"], ":", lw=1.0, color=color, gid=f"zs-random:{name}:{lang}", zorder=2)
                    styles_used.add("random")
            base = majority.get(name, {}).get(lang)
            if base is not None and np.isfinite(base):
                ax.axhline(base, ls=(0, (4, 2)), lw=0.9, color=color, alpha=0.9, gid=f"zs-majority:{name}:{lang}", zorder=1)
                styles_used.add("majority")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("layer")
        style.integer_layers(ax)
        ax.set_ylabel(r["metric"].iloc[0])
        ax.grid(color="#e5e5e5", lw=0.5)
    handles = [Line2D([], [], color=c, lw=1.8 if l == train_language else 1.2, marker="o", ms=2.2,
                      label=f"{l} (in-language)" if l == train_language else f"{l} (zero-shot)")
               for l, c in colors.items()]
    if "random" in styles_used:
        handles.append(Line2D([], [], color="#555555", ls=":", lw=1.0, label="random-init model (same language)"))
    if "majority" in styles_used:
        handles.append(Line2D([], [], color="#555555", ls=(0, (4, 2)), lw=0.9, label="majority class (same language)"))
    ncol = style.legend_columns(4, [h.get_label() for h in handles], fig.get_figwidth())
    strip = (0.18 * math.ceil(len(handles) / ncol) + 0.1) / fig.get_figheight()
    fig.tight_layout(rect=(0, strip, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(style.wrap(title), fontsize=9, y=1.0, va="bottom")  # above the top panels' titles
    return fig


def plot_zero_shot_curves(rows: pd.DataFrame, *, train_language: str, title: str | None = None):
    """Score by layer per evaluation language for probes trained on `train_language` (95% bands).

    `rows`: aggregated rows of one model, task, probe and metric, one evaluation set per language.
    """
    r = rows[np.array([language_of(t) == train_language for t in rows["train_set"]], dtype=bool) & (rows["layer"] >= 0).to_numpy()]
    if r.empty:
        raise ProbesError(f"zero-shot figure: no rows trained on language {train_language!r}")
    fig, ax = style.new_figure(style.figure_width(3.4), 2.4)
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
    style.outside_legend(ax)  # never over the curves
    ax.grid(color="#e5e5e5", lw=0.5)
    return fig


def plot_cka(cka: pd.DataFrame, *, title: str | None = None):
    """Linear CKA by layer, one line per language pair (columns layer, lang_a, lang_b, cka); where the
    frame has null_low/null_high (the permutation null), their envelope over the pairs is a grey band."""
    need = {"layer", "lang_a", "lang_b", "cka"}
    if not need <= set(cka.columns):
        raise ProbesError(f"CKA figure: need columns {sorted(need)}, got {list(cka.columns)}")
    fig, ax = style.new_figure(style.figure_width(3.4), 2.4)
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
    style.outside_legend(ax)
    ax.grid(color="#e5e5e5", lw=0.5)
    return fig
