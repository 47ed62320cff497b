"""The two summary figures of Tenney, Das & Pavlick (2019): expected layers (Figure 1) and
mixing weights with differential scores per layer (Figure 2).

Both take a table like ``analysis.summary.expected_layers_table`` for ONE model, rows in the
order to draw them (top to bottom): columns task, center_of_gravity, expected_layer,
first_score, last_score, n_layers, and for Figure 2 the arrays ``weights`` (s_0..s_L) and
``cumulative`` (scores 0..L), optionally with ``weight_layers`` / ``cumulative_layers``, their true
layer ids when the model was probed on a subset. NaN / None where a quantity is not available.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from analysis import layers
from analysis.figures import style
from probes.errors import ProbesError

NO_WEIGHTS_NOTE = "E_s not shown: no mixing weights in this table (cumulative scores only)"


def _score_text(v: float, percent: bool) -> str:
    if not np.isfinite(v):
        return "–"
    return f"{100 * v:.1f}" if percent else f"{v:.2f}"


def _layer_ticks(ax, n_layers: int) -> None:
    step = 1 if n_layers <= 12 else 2 if n_layers <= 24 else 4
    ax.set_xticks(range(0, n_layers + 1, step))


def _bar_label(ax, y: float, value: float, *, color: str, n_layers: int, outside: bool = False) -> None:
    # Bold value inside the bar's end, as in the paper; outside when the bar is too short to hold it.
    inside = value >= 0.09 * n_layers and not outside
    ax.text(value - 0.012 * n_layers if inside else value + 0.012 * n_layers, y, f"{value:.2f}",
            ha="right" if inside else "left", va="center", fontsize=7, fontweight="bold",
            color=color if inside else "black", zorder=5)


def plot_expected_layers(table: pd.DataFrame, *, n_layers: int | None = None, score_label: str = "F1",
                         title: str | None = None):
    """Figure 1: per task a blue bar to E_s and a lavender bar to E_delta (values printed on them),
    with the first- and last-layer scores in a grey panel on the left; layer axis on top."""
    if table.empty:
        raise ProbesError("Figure 1: no task has mixing weights or cumulative scores")
    if n_layers is None:
        n_layers = int(np.nanmax(table["n_layers"].to_numpy(dtype=float)))
    tasks = list(table["task"])
    n = len(tasks)
    scores = table[["first_score", "last_score"]].to_numpy(dtype=float)
    percent = bool(np.all(scores[np.isfinite(scores)] <= 1.0))
    fig = style.plt.figure(figsize=(style.figure_width(6.9), 0.32 * n + 1.0))
    # the score panel holds two 7 pt columns: a larger share of a narrow (single-column) figure
    ratios = [1.0, 4.2] if style.grid_columns(2) == 2 else [1.7, 4.2]
    gs = fig.add_gridspec(1, 2, width_ratios=ratios, wspace=0.03)
    ax_t = fig.add_subplot(gs[0])
    ax = fig.add_subplot(gs[1], sharey=ax_t)
    ys = np.arange(n)

    ax_t.set_facecolor(style.PANEL_GREY)
    ax_t.set_xlim(0, 2)
    for i, (first, last) in enumerate(scores):
        ax_t.text(0.5, i, _score_text(first, percent), ha="center", va="center", fontsize=7, gid=f"first:{tasks[i]}")
        ax_t.text(1.5, i, _score_text(last, percent), ha="center", va="center", fontsize=7, gid=f"last:{tasks[i]}")
    ax_t.xaxis.tick_top()
    ax_t.set_xticks([0.5, 1.5], [f"{score_label}\n(l=0)", f"{score_label}\n(l={n_layers})"])
    ax_t.tick_params(axis="x", length=0)
    ax_t.set_yticks(ys, tasks)
    ax_t.tick_params(axis="y", length=0)
    for side in ("top", "right", "bottom", "left"):
        ax_t.spines[side].set_visible(False)

    height = 0.62
    has_es = False
    # E_delta leaves 0..L when the cumulative score falls with depth (the sum of the deltas is negative)
    # or its gains and losses nearly cancel out: the axis then reaches past 0 (or L), shaded, so that
    # the bar and its value stay visible and never run over the task labels on the left.
    eds = table["expected_layer"].to_numpy(dtype=float)
    eds = eds[np.isfinite(eds)]
    pad = 0.1 * n_layers + 0.6
    x_lo = min(0.0, float(eds.min()) - pad) if len(eds) and eds.min() < 0 else 0.0
    x_hi = max(float(n_layers), float(eds.max()) + pad) if len(eds) and eds.max() > n_layers else float(n_layers)
    if x_lo < 0:
        ax.axvspan(x_lo, 0, color="#eeeeee", zorder=0, lw=0)
    if x_hi > n_layers:
        ax.axvspan(n_layers, x_hi, color="#eeeeee", zorder=0, lw=0)
    flagged, notes = [], []
    span = x_hi - x_lo
    for i, row in enumerate(table.itertuples(index=False)):
        es, ed = float(row.center_of_gravity), float(row.expected_layer)
        bars = []
        if np.isfinite(es):
            has_es = True
            bars.append((es, dict(color=style.BLUE, edgecolor=style.BLUE), "white", "E_s"))
        outside = np.isfinite(ed) and not 0 <= ed <= n_layers
        first, last = float(row.first_score), float(row.last_score)
        falls = np.isfinite(first) and np.isfinite(last) and last < first
        if np.isfinite(ed) and not outside:
            bars.append((ed, dict(color=style.LAVENDER_FILL, edgecolor=style.PURPLE, linewidth=1.0), "black", "E_delta"))
        elif outside:
            flagged.append(tasks[i])
            ax.barh(i, ed, height=height, zorder=2, color="white", edgecolor=style.ORANGE_EDGE, hatch="////",
                    linewidth=1.0, gid=f"E_delta:{tasks[i]}")
            mark = "†" * len(flagged)
            ax.text(ed - 0.015 * n_layers if ed < 0 else ed + 0.015 * n_layers, i, f"{ed:.2f}{mark}",
                    ha="right" if ed < 0 else "left", va="center", fontsize=7, fontweight="bold",
                    color=style.ORANGE_EDGE, zorder=5, gid=f"E_delta_value:{tasks[i]}")
            why = (f"the cumulative score falls with depth ({_score_text(first, percent)} at l=0, "
                   f"{_score_text(last, percent)} at l={n_layers}), so E_Δ is not a layer" if falls else
                   "the layers' gains and losses under cumulative scoring nearly cancel out, so E_Δ is not a layer")
            notes.append(f"{mark} {tasks[i]}: E_Δ = {ed:.2f} lies outside 0–{n_layers}: {why}.")
        # The longer bar goes behind so that both ends stay visible; when the ends are too close
        # for two labels, the longer bar's value moves just outside its end.
        ordered = sorted(bars, key=lambda b: -b[0])
        # a bold value is ~0.3 in wide: crowded when the bar ends are closer than that on this axis
        axis_in = fig.get_figwidth() * 0.775 * ratios[1] / sum(ratios)
        crowded = len(ordered) == 2 and ordered[0][0] - ordered[1][0] < max(0.1, 0.32 / axis_in) * span
        for z, (v, kw, tcolor, name) in enumerate(ordered):
            ax.barh(i, v, height=height, zorder=2 + z, gid=f"{name}:{tasks[i]}", **kw)
            _bar_label(ax, i, v, color=tcolor, n_layers=n_layers, outside=crowded and z == 0)
        lo, hi = (float(getattr(row, c, np.nan)) for c in ("expected_layer_ci_low", "expected_layer_ci_high"))
        if np.isfinite(ed) and np.isfinite(lo) and np.isfinite(hi):
            # the 95% interval of E_delta over resampled test sentences, as a thin whisker below the bar;
            # an end beyond the axis is drawn as an arrow at the axis
            y = i + height / 2 + 0.06
            a, b = max(lo, x_lo), min(hi, x_hi)
            color = style.ORANGE_EDGE if outside else style.PURPLE
            ax.plot([a, b], [y, y], color=color, linewidth=1.1, zorder=7, solid_capstyle="butt",
                    gid=f"E_delta_ci:{tasks[i]}")
            for end, clipped, marker in ((a, lo < x_lo, "<"), (b, hi > x_hi, ">")):
                if clipped:
                    ax.plot([end], [y], marker=marker, color=color, markersize=4, zorder=7, clip_on=False)
                else:
                    ax.plot([end, end], [y - 0.07, y + 0.07], color=color, linewidth=1.1, zorder=7)
    ax.set_xlim(x_lo, x_hi)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("layer")
    _layer_ticks(ax, n_layers)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6, zorder=0)
    ax.tick_params(axis="y", left=False, labelleft=False)
    ax.spines["left"].set_visible(False)
    ax.spines["bottom"].set_visible(False)
    ax.spines["top"].set_visible(True)
    ax.set_ylim(n - 0.5, -0.5)
    handles = []
    if np.isfinite(table["expected_layer"].to_numpy(dtype=float)).any():
        handles.append(Patch(facecolor=style.LAVENDER_FILL, edgecolor=style.PURPLE, label="expected layer E_Δ (cumulative scores)"))
    if "expected_layer_ci_low" in table and np.isfinite(table["expected_layer_ci_low"].to_numpy(dtype=float)).any():
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color=style.PURPLE, linewidth=1.1, label="95% interval of E_Δ (test resamples)"))
    if has_es:
        handles.insert(0, Patch(facecolor=style.BLUE, label="center of gravity E_s (mixing weights)"))
    if flagged:
        handles.append(Patch(facecolor="white", edgecolor=style.ORANGE_EDGE, hatch="////",
                             label="E_Δ outside 0–L (shaded): not a layer"))
    ncol = style.legend_columns(2, [h.get_label() for h in handles], fig.get_figwidth())
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=ncol, frameon=False)
    if notes:
        rows_ = -(-len(handles) // ncol)
        y0 = -(0.16 * rows_ + 0.12) / fig.get_figheight()
        fig.text(0.13, y0, style.wrap("\n".join(notes), 6.5), ha="left", va="top", fontsize=6.5, color=style.ORANGE_EDGE,
                 gid="E_delta_notes")
    if not has_es:
        fig.text(0.5, -0.02 - 0.02 * (6 / max(n, 1)) - (0.11 * len(notes) / fig.get_figheight()), style.wrap(NO_WEIGHTS_NOTE, 7), ha="center", va="top", fontsize=7, style="italic")
    if title:
        fig.suptitle(style.wrap(title), y=1.0 + 0.45 / fig.get_figheight(), fontsize=9)
    return fig


def _layer_ids(row, column: str, size: int) -> list[int]:
    """The true layer ids of a row's weights or scores (a layer subset keeps its ids), else 0..size-1."""
    ids = getattr(row, column, None)
    if ids is None or np.ndim(ids) == 0 or len(ids) != size:
        return list(range(size))
    return [int(i) for i in ids]


def plot_layer_weights(table: pd.DataFrame, *, title: str | None = None):
    """Figure 2: per task, mixing weights s_l as blue bars and differential scores delta(l) as
    outlined purple bars (negative ones orange, by magnitude), with K(delta) and K(s) written.

    Each row's bars are scaled to that row's largest s_l and largest |delta(l)|.
    """
    if table.empty:
        raise ProbesError("Figure 2: no task has mixing weights or cumulative scores")
    n = len(table)
    n_layers = int(np.nanmax(table["n_layers"].to_numpy(dtype=float)))
    fig, axes = style.plt.subplots(n, 1, sharex=True, figsize=(style.figure_width(4.8), 0.42 * n + 0.9),
                                   gridspec_kw={"hspace": 0.08})
    axes = np.atleast_1d(axes)
    any_w = False
    for ax, row in zip(axes, table.itertuples(index=False)):
        task = row.task
        ax.set_facecolor(style.BAND)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel(task, rotation=0, ha="right", va="center", fontsize=8)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        notes = []
        if row.cumulative is not None:
            delta = layers.differential_scores(row.cumulative)
            top = np.max(np.abs(delta)) or 1.0
            ids = _layer_ids(row, "cumulative_layers", len(row.cumulative))
            for l, d in zip(ids[1:], delta):
                pos = d >= 0
                ax.bar(l, abs(d) / top * 0.9, width=0.85, bottom=0,
                       color=style.DELTA_FILL if pos else style.ORANGE_FILL,
                       edgecolor=style.PURPLE if pos else style.ORANGE_EDGE, linewidth=0.9, zorder=2,
                       gid=f"delta:{task}:{l}")
            kd = layers.k_delta(row.cumulative)
            notes.append(f"K(Δ) = {kd:.2f}" if np.isfinite(kd) else "K(Δ) = –")
        if row.weights is not None:
            any_w = True
            s = np.asarray(row.weights, dtype=float)
            for l, w in zip(_layer_ids(row, "weight_layers", len(s)), s):
                ax.bar(l, w / s.max() * 0.9, width=0.45, color=style.BLUE, edgecolor="none", zorder=3,
                       gid=f"s:{task}:{l}")
            notes.append(f"K(s) = {layers.k_s(s):.2f}")
        for k, text in enumerate(notes):
            ax.text(1.01, 0.72 - 0.42 * k, text, transform=ax.transAxes, fontsize=7, va="center", ha="left",
                    gid=f"K:{task}:{k}")
    axes[-1].set_xlim(-0.6, n_layers + 0.6)
    note = "bar heights scaled to each row's largest value"
    if not any_w:
        note += "; no mixing weights in this table (cumulative scores only)"
    axes[-1].set_xlabel(f"layer\n({note})")
    _layer_ticks(axes[-1], n_layers)
    handles = [Patch(facecolor=style.DELTA_FILL, edgecolor=style.PURPLE, label="Δ(l) > 0"),
               Patch(facecolor=style.ORANGE_FILL, edgecolor=style.ORANGE_EDGE, label="Δ(l) < 0")]
    if any_w:
        handles.insert(0, Patch(facecolor=style.BLUE, label="mixing weight s_l"))
    axes[0].legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.02),
                   ncol=style.legend_columns(3, [h.get_label() for h in handles], fig.get_figwidth()), frameon=False)
    if title:
        fig.suptitle(style.wrap(title), y=1.0 + 0.3 / fig.get_figheight(), fontsize=9)
    return fig
