"""Layer-wise figures from an aggregated results table (``analysis.results.aggregate_seeds``):
score curves with baselines, a layer x task heatmap, selectivity and MDL codelength by layer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns

from analysis.figures import style
from analysis.results import (CONTROL_SUFFIX, score_mask, RANDOM_INIT_SUFFIX, is_control, main_eval_set,
                              primary_metric)
from analysis.selectivity import selectivity_table
from probes.errors import ProbesError

NOT_CURVES = {"mix", "mdl", "majority"}


def _grid(n: int, ncols: int = 2, panel_h: float = 2.4):
    # Two panels per row of a double-column page (3.45 in each), so that curves a few points apart
    # stay apart; a single task gets a single-column figure.
    ncols = style.grid_columns(n, ncols)
    nrows = math.ceil(n / ncols)
    fig, axes = style.plt.subplots(nrows, ncols, figsize=(style.figure_width(6.9 if ncols > 1 else 3.4), panel_h * nrows),
                                   squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _score_rows(agg: pd.DataFrame, model: str) -> pd.DataFrame:
    return agg[(agg["model"] == model) & score_mask(agg["metric"])]


def curve_tasks(agg: pd.DataFrame, model: str) -> list[str]:
    """Tasks (not control tasks) with per-layer score rows for `model`, in order of appearance."""
    r = _score_rows(agg, model)
    r = r[(r["layer"] >= 0) & ~r["probe"].isin(NOT_CURVES)]
    return [t for t in dict.fromkeys(r["task"]) if not is_control(t)]


def _curve(rows: pd.DataFrame) -> pd.DataFrame:
    c = rows[rows["layer"] >= 0].sort_values("layer")
    if c["layer"].duplicated().any():
        raise ProbesError(f"several rows per layer for {rows[['model', 'task', 'probe']].iloc[0].tolist()}")
    return c


def task_view(agg: pd.DataFrame, model: str, task: str) -> tuple[str, str]:
    """(eval_set, metric) a task's figures show: the in-language set with most rows, the primary metric."""
    r = _score_rows(agg, model)
    r = r[(r["task"] == task) & (r["layer"] >= 0) & ~r["probe"].isin(NOT_CURVES)]
    if r.empty:
        raise ProbesError(f"no per-layer scores for model {model}, task {task}")
    metric = primary_metric(r["metric"])
    return main_eval_set(r[r["metric"] == metric]), metric


def plot_layer_curves(agg: pd.DataFrame, *, model: str, tasks: list[str] | None = None):
    """Per task, score by layer for each probe with its 95% band, and the baselines: the control task
    (dashed), the random-init model (dotted), the majority class and the all-layer mix (horizontal)."""
    tasks = tasks or curve_tasks(agg, model)
    if not tasks:
        raise ProbesError(f"no per-layer scores for model {model}")
    fig, axes = _grid(len(tasks))
    probes_seen: list[str] = []
    legend = {}
    for ax, task in zip(axes, tasks):
        eval_set, metric = task_view(agg, model, task)
        sel = agg[(agg["eval_set"] == eval_set) & (agg["metric"] == metric)]
        own = sel[(sel["model"] == model) & (sel["task"] == task)]
        for probe in dict.fromkeys(own.loc[(own["layer"] >= 0) & ~own["probe"].isin(NOT_CURVES), "probe"]):
            if probe not in probes_seen:
                probes_seen.append(probe)
            color = style.LINE_PALETTE[probes_seen.index(probe) % len(style.LINE_PALETTE)]
            c = _curve(own[own["probe"] == probe])
            (h,) = ax.plot(c["layer"], c["value"], "-o", ms=2.5, lw=1.4, color=color, gid=f"score:{task}:{probe}")
            legend.setdefault(probe, h)
            if np.isfinite(c["ci_low"]).all() and np.isfinite(c["ci_high"]).all():
                ax.fill_between(c["layer"], c["ci_low"], c["ci_high"], color=color, alpha=0.2, lw=0,
                                gid=f"band:{task}:{probe}")
            ctrl = sel[(sel["model"] == model) & (sel["task"] == task + CONTROL_SUFFIX) & (sel["probe"] == probe)]
            if len(ctrl):
                c = _curve(ctrl)
                (h,) = ax.plot(c["layer"], c["value"], "--", lw=1.1, color=color, gid=f"control:{task}:{probe}")
                legend.setdefault(f"{probe}, control task", h)
            rnd = sel[(sel["model"] == model + RANDOM_INIT_SUFFIX) & (sel["task"] == task) & (sel["probe"] == probe)]
            if len(rnd):
                c = _curve(rnd)
                (h,) = ax.plot(c["layer"], c["value"], ":", lw=1.3, color=color, gid=f"random-init:{task}:{probe}")
                legend.setdefault(f"{probe}, random-init model", h)
        flat = own[own["layer"] == -1]
        # The majority line is solid grey: dotted, it read like the random-init curves beside it.
        for probe, ls, col in (("majority", "-", style.BASELINE_GREY), ("mix", "-.", style.PURPLE)):
            f = flat[flat["probe"] == probe]
            if len(f):
                h = ax.axhline(float(f["value"].iloc[0]), ls=ls, lw=1.0, color=col, gid=f"{probe}:{task}")
                legend.setdefault("majority class" if probe == "majority" else "scalar mix (all layers)", h)
        ax.set_title(f"{task} (evaluated on {eval_set})" if eval_set else task)
        ax.set_xlabel("layer")
        ax.set_ylabel(metric)
        layers_ = own.loc[own["layer"] >= 0, "layer"]
        if len(layers_):
            ax.set_xticks(range(0, int(layers_.max()) + 1, max(1, int(layers_.max()) // 6)))
        ax.grid(color="#e5e5e5", lw=0.5)
    # Reserve a strip at the bottom for the shared legend so it never covers the axis labels.
    ncol = style.legend_columns(4, legend, fig.get_figwidth())
    strip = (0.16 * math.ceil(len(legend) / ncol) + 0.08) / fig.get_figheight()
    fig.tight_layout(rect=(0, strip, 1, 1))
    fig.suptitle(model, fontsize=9, y=1.0, va="bottom")  # above the top panels' titles, at any height
    fig.legend(list(legend.values()), list(legend.keys()), loc="lower center", ncol=ncol,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    return fig


def layer_task_matrix(agg: pd.DataFrame, *, model: str, probe: str) -> pd.DataFrame:
    """Rows 'task (metric)', columns layers: each task's primary score of `probe` on its main eval set."""
    rows = {}
    for task in curve_tasks(agg, model):
        try:
            eval_set, metric = task_view(agg, model, task)
        except ProbesError:
            continue
        r = agg[(agg["model"] == model) & (agg["task"] == task) & (agg["probe"] == probe)
                & (agg["eval_set"] == eval_set) & (agg["metric"] == metric)]
        if len(r):
            c = _curve(r)
            rows[f"{task} ({metric})"] = pd.Series(c["value"].to_numpy(), index=c["layer"].to_numpy())
    if not rows:
        raise ProbesError(f"no per-layer scores of probe {probe} for model {model}")
    m = pd.DataFrame(rows).T
    m.columns.name = "layer"
    return m


def plot_layer_task_heatmap(agg: pd.DataFrame, *, model: str, probe: str):
    """Heatmap of scores, one row per task and one column per layer (values printed up to 13 layers);
    in a single paper column with more layers than tasks, one row per layer and one column per task."""
    m = layer_task_matrix(agg, model=model, probe=probe)
    # In 3.3 in, seven layer columns beside the task names leave cells narrower than their printed
    # values (0.92 ran into its neighbours): there the layers become the rows.
    tall = style.single_column() and m.shape[1] > m.shape[0]
    score = "score"
    if tall:
        m = m.T
        metrics = {c.rsplit(" (", 1)[-1].rstrip(")") for c in m.columns}
        if len(metrics) == 1:  # one metric: named once, on the colour bar, so that the task names fit
            score = f"score ({metrics.pop()})"
            m.columns = [c.rsplit(" (", 1)[0] for c in m.columns]
        else:
            m.columns = [c.replace(" (", "\n(", 1) for c in m.columns]  # 'upos\n(accuracy)': task over metric
        fig, ax = style.new_figure(style.figure_width(3.3), 1.0 + 0.26 * m.shape[0])
    else:
        fig, ax = style.new_figure(style.figure_width(min(6.9, 1.6 + 0.45 * m.shape[1])), 0.9 + 0.35 * m.shape[0])
    annotate = (m.shape[0] if tall else m.shape[1]) <= 13
    sns.heatmap(m, ax=ax, cmap=style.SEQUENTIAL, annot=annotate, fmt=".2f", annot_kws={"fontsize": 6.5},
                cbar_kws={"label": score, "shrink": 0.8}, linewidths=0.5, linecolor="white")
    ax.set_xlabel("" if tall else "layer")
    ax.set_ylabel("layer" if tall else "")
    if tall:
        ax.tick_params(axis="x", rotation=0 if score != "score" else 30)
    ax.set_title(f"{model}: {probe} probe")
    ax.tick_params(axis="y", rotation=0)
    return fig


def plot_selectivity(agg: pd.DataFrame, *, model: str, sel: pd.DataFrame | None = None):
    """Selectivity (task minus control score) by layer, one panel per task on its main evaluation set
    (in the training language, named in the panel title), one line per probe with its 95% band when
    the table has one; one legend below the panels. The other evaluation sets are in the selectivity
    table (``sel``: the selectivity table of ``agg`` when the caller has it)."""
    sel = selectivity_table(agg) if sel is None else sel
    sel = sel[(sel["model"] == model) & (sel["layer"] >= 0)]
    if sel.empty:
        raise ProbesError(f"no control-task rows for model {model}: selectivity needs <task>:control results")
    order = curve_tasks(agg, model)
    tasks = sorted(dict.fromkeys(sel["task"]), key=lambda t: order.index(t) if t in order else len(order))
    # probes in the order (and so the colours) of the layer curves
    seen = list(dict.fromkeys(agg.loc[(agg["model"] == model) & (agg["layer"] >= 0)
                                      & ~agg["probe"].isin(NOT_CURVES), "probe"]))
    probes = sorted(dict.fromkeys(sel["probe"]), key=lambda p: seen.index(p) if p in seen else len(seen))
    fig, axes = _grid(len(tasks), panel_h=2.1)
    legend = {}
    for ax, task in zip(axes, tasks):
        t = sel[sel["task"] == task]
        evs = []
        for (probe, metric), g in t.groupby(["probe", "score_metric"], sort=False):
            ev = main_eval_set(g)
            evs.append(ev)
            g = g[g["eval_set"] == ev].sort_values("layer")
            color = style.LINE_PALETTE[probes.index(probe) % len(style.LINE_PALETTE)]
            (h,) = ax.plot(g["layer"], g["selectivity"], "-o", ms=2.5, lw=1.4, color=color, gid=f"sel:{task}:{probe}")
            legend.setdefault(probe if metric == "reported" else f"{probe}", h)
            if np.isfinite(g["ci_low"]).all() and np.isfinite(g["ci_high"]).all():
                ax.fill_between(g["layer"], g["ci_low"], g["ci_high"], color=color, alpha=0.2, lw=0)
        ax.axhline(0, color=style.BASELINE_GREY, lw=0.6)
        ax.set_xlabel("layer")
        style.integer_layers(ax)
        ax.set_ylabel("task − control")
        evs = list(dict.fromkeys(evs))
        ax.set_title(f"{task} (evaluated on {', '.join(evs)})")
        ax.grid(color="#e5e5e5", lw=0.5)
    keys = sorted(legend, key=lambda p: probes.index(p) if p in probes else len(probes))
    ncol = style.legend_columns(4, [f"{k} probe" for k in keys], fig.get_figwidth())
    strip = (0.16 * math.ceil(len(legend) / ncol) + 0.1) / fig.get_figheight()
    fig.tight_layout(rect=(0, strip, 1, 1))
    fig.suptitle(style.wrap(f"{model}: selectivity (Hewitt & Liang 2019)"), fontsize=9, y=1.0, va="bottom")
    fig.legend([legend[k] for k in keys], [f"{k} probe" for k in keys], loc="lower center",
               ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return fig


def plot_codelength(agg: pd.DataFrame, *, model: str):
    """MDL online codelength (bits) by layer per task; control tasks dashed in the task's colour."""
    r = agg[(agg["model"] == model) & (agg["probe"] == "mdl") & (agg["metric"] == "codelength_bits") & (agg["layer"] >= 0)]
    if r.empty:
        raise ProbesError(f"no MDL codelength rows for model {model}")
    fig, ax = style.new_figure(style.figure_width(3.4), 2.4)
    bases = list(dict.fromkeys(t[: -len(CONTROL_SUFFIX)] if is_control(t) else t for t in r["task"]))
    for task in dict.fromkeys(r["task"]):
        base = task[: -len(CONTROL_SUFFIX)] if is_control(task) else task
        for ev, g in r[r["task"] == task].groupby("eval_set", sort=False):
            g = g.sort_values("layer")
            ax.plot(g["layer"], g["value"] / 1000.0, "--" if is_control(task) else "-o", ms=2.5, lw=1.3,
                    color=style.LINE_PALETTE[bases.index(base) % len(style.LINE_PALETTE)], label=task,
                    gid=f"mdl:{task}:{ev}")
    ax.set_xlabel("layer")
    style.integer_layers(ax)
    ax.set_ylabel("online codelength (kbits)")
    ax.set_title(f"{model}: MDL (lower = more extractable)")
    style.outside_legend(ax)
    ax.grid(color="#e5e5e5", lw=0.5)
    return fig
