"""Aggregates of a results table: per-curve best layer, first/last layer, expected layers, selectivity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import layers
from analysis.results import (metric_base, score_mask, CURVE_COLUMNS, aggregate_seeds, is_control, is_random_init, main_eval_set,
                              primary_metric)
from probes.errors import ProbesError
from analysis.selectivity import selectivity_table
from analysis.significance import best_layer, compare_layers_from_rows

LOWER_IS_BETTER = {"codelength_bits"}
SKIP_IN_SUMMARY = {"mix_weight", "mix_gamma", "selectivity", "best_minus_top", "best_minus_top_p",
                   "gain_over_random_init", "gain_over_random_init_p"}


def expected_layers_table(agg: pd.DataFrame) -> pd.DataFrame:
    """Per model, task and training set: E_s, K(s) from the mix probe's weights and E_delta, K(delta),
    first and last layer scores from the cumulative probe (Tenney et al. 2019, Figures 1 and 2).

    Object columns ``weights`` (s_0..s_L) and ``cumulative`` (scores 0..L) keep the profiles for
    Figure 2; NaN where the table lacks the mix or cumulative probe.
    """
    rows = []
    models = [m for m in dict.fromkeys(agg["model"]) if not is_random_init(m)]
    for model in models:
        for task in dict.fromkeys(agg.loc[agg["model"] == model, "task"]):
            if is_control(task):
                continue
            t = agg[(agg["model"] == model) & (agg["task"] == task)]
            for train_set in dict.fromkeys(t["train_set"]):
                tt = t[t["train_set"] == train_set]
                row = _profile_row(tt)
                if row is not None:
                    rows.append({"model": model, "task": task, "train_set": train_set, **row})
    cols = ["model", "task", "train_set", "eval_set", "metric", "n_layers", "center_of_gravity", "k_s",
            "expected_layer", "expected_layer_ci_low", "expected_layer_ci_high", "expected_layer_covers", "k_delta",
            "first_score", "last_score", "mix_score", "mix_gamma", "weights", "cumulative", "weight_layers", "cumulative_layers"]
    out = pd.DataFrame(rows, columns=cols)
    # Rows in the order of Tenney et al.'s figures (POS, Consts., Deps., Entities, SRL, Coref., SPR,
    # Relations), other tasks after them in the order they came.
    from probes.tasks.registry import pipeline_rank

    order = sorted(range(len(out)), key=lambda i: (list(dict.fromkeys(out["model"])).index(out["model"].iloc[i]),
                                                   pipeline_rank(out["task"].iloc[i]), i))
    return out.iloc[order].reset_index(drop=True)


def _profile_row(tt: pd.DataFrame) -> dict | None:
    # Scores only: a cumulative probe's rows also carry its mixing weights ('mix_weight:<l>').
    cum = tt[(tt["probe"] == "cumulative") & (tt["layer"] >= 0) & score_mask(tt["metric"])]
    w = tt[(tt["probe"] == "mix") & (tt["metric"] == "mix_weight") & (tt["layer"] >= 0)]
    if cum.empty and w.empty:
        return None
    out = {k: np.nan for k in ["center_of_gravity", "k_s", "expected_layer", "expected_layer_ci_low",
                               "expected_layer_ci_high", "k_delta", "first_score", "last_score", "mix_score",
                               "mix_gamma"]}
    out.update(weights=None, cumulative=None, weight_layers=None, cumulative_layers=None, eval_set="", metric="",
               n_layers=np.nan, expected_layer_covers="")
    # The probing stage writes mixing weights on the training set: choose among score rows.
    mix_all = tt[tt["probe"] == "mix"]
    mix_scores = mix_all[score_mask(mix_all["metric"])]
    eval_set = main_eval_set(cum if len(cum) else mix_scores if len(mix_scores) else mix_all)
    out["eval_set"] = eval_set
    if len(cum):
        cum = cum[cum["eval_set"] == eval_set]
        metric = primary_metric(cum["metric"])
        c = cum[cum["metric"] == metric].sort_values("layer")
        scores = c["value"].to_numpy()
        ids = c["layer"].to_numpy(dtype=int)
        if len(set(ids)) != len(ids):
            raise ProbesError(f"cumulative scores of {tt['model'].iloc[0]}/{tt['task'].iloc[0]}: layer ids repeat "
                              f"({list(ids)})")
        # A layer subset (layers = [0, 2, 4, 6]) keeps its true ids: each gain is credited to its layer.
        out.update(metric=metric, cumulative=scores, cumulative_layers=ids, first_score=float(scores[0]),
                   last_score=float(scores[-1]), n_layers=int(ids[-1]))
        if len(scores) >= 2:
            delta_sum = scores[-1] - scores[0]
            out["expected_layer"] = layers.expected_layer(scores, ids) if delta_sum != 0 else np.nan
            out["k_delta"] = layers.k_delta(scores)
            # The probing stage's E_delta rows carry an interval over test-sentence resamples.
            e = tt[(tt["probe"] == "cumulative") & (tt["metric"] == "expected_layer") & (tt["eval_set"] == eval_set)]
            if len(e):
                e = e.iloc[0]
                out.update(expected_layer=float(e["value"]), expected_layer_ci_low=float(e["ci_low"]),
                           expected_layer_ci_high=float(e["ci_high"]),
                           expected_layer_covers=str(e["covers"]) if "covers" in e else "")
    if len(w):
        # Mixing weights belong to the trained probe; when repeated per evaluation set, take that set's copy.
        if w["eval_set"].nunique() > 1:
            w = w[w["eval_set"] == (eval_set if eval_set in set(w["eval_set"]) else sorted(w["eval_set"])[0])]
        w = w.sort_values("layer")
        s = layers.mixing_weights(w["value"].to_numpy())
        wids = w["layer"].to_numpy(dtype=int)
        out.update(weights=s, weight_layers=wids, center_of_gravity=layers.center_of_gravity(s, wids),
                   k_s=layers.k_s(s))
        if np.isnan(out["n_layers"]):
            out["n_layers"] = int(wids[-1])
        mix = tt[(tt["probe"] == "mix") & (tt["layer"] == -1)]
        gamma = mix[mix["metric"] == "mix_gamma"]
        if len(gamma):
            out["mix_gamma"] = float(gamma["value"].iloc[0])
        sc = mix[(mix["eval_set"] == eval_set) & score_mask(mix["metric"])]
        if len(sc):
            m = out["metric"] or primary_metric(sc["metric"])
            sc = sc[sc["metric"] == m]
            if len(sc):
                out["mix_score"] = float(sc["value"].iloc[0])
    return out


def summarize(results: pd.DataFrame, *, agg: pd.DataFrame | None = None, exp: pd.DataFrame | None = None,
              sel: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per curve (model, task, probe, sets, metric), aggregated over seeds: n_layers, seeds,
    layer-0 and top-layer values, best layer and its interval (lowest for codelengths), the p-value of
    best layer against top layer (``compare_layers_from_rows``: seeds, else intervals), the value of
    layer -1 rows (mix, majority), expected layers (cumulative and mix rows) and the highest selectivity.
    ``agg``, ``exp`` and ``sel`` are the aggregates of ``results`` when the caller has them already."""
    # A caller that already has the aggregates (write_report) passes them instead of recomputing.
    agg = aggregate_seeds(results) if agg is None else agg
    exp = expected_layers_table(agg) if exp is None else exp
    sel = selectivity_table(agg) if sel is None else sel
    # The probing stage's own best-versus-top tests, by (curve, best layer), looked up once.
    p_rows = agg[metric_base(agg["metric"]) == "best_minus_top_p"]
    own_test = {(r.model, r.task, r.probe, r.train_set, r.eval_set, r.metric.split(":", 1)[1], int(r.layer)): r
                for r in p_rows.itertuples(index=False)}
    rows = []
    for key, g in agg[~metric_base(agg["metric"]).isin(SKIP_IN_SUMMARY)].groupby(CURVE_COLUMNS, sort=False):
        r = dict(zip(CURVE_COLUMNS, key))
        r["n_seeds"] = int(g["n_seeds"].max())
        curve = g[g["layer"] >= 0].sort_values("layer")
        flat = g[g["layer"] == -1]
        if len(curve):
            lower = r["metric"] in LOWER_IS_BETTER
            b = best_layer(curve.assign(value=-curve["value"]) if lower else curve)
            bi = curve[curve["layer"] == b["best_layer"]].iloc[0]
            r.update(n_layers=int(curve["layer"].max()), layer0_value=float(curve["value"].iloc[0]),
                     top_value=float(curve["value"].iloc[-1]), best_layer=b["best_layer"],
                     best_value=float(bi["value"]), best_ci_low=float(bi["ci_low"]), best_ci_high=float(bi["ci_high"]),
                     interval_covers=str(bi.get("covers", "") or ""))
            top = int(curve["layer"].max())
            # The probing stage's own test: best minus top layer on the same sentence (and seed) resamples.
            own = own_test.get((*key, int(b["best_layer"])))
            if b["best_layer"] != top and own is not None:
                r.update(p_best_vs_top=float(own.value),
                         best_vs_top_method=f"paired bootstrap over {own.covers or 'test sentences'}")
            elif b["best_layer"] != top:
                # Does the curve really fall after its peak? Best layer against the top layer.
                seeds = results[(results["seed"] != -1)
                                & np.logical_and.reduce([results[c] == v for c, v in zip(CURVE_COLUMNS, key)])]
                try:
                    cmp = compare_layers_from_rows(curve, seeds, b["best_layer"], top)
                    r.update(p_best_vs_top=cmp.p_value, best_vs_top_method=cmp.method)
                except ProbesError as exc:
                    r.update(best_vs_top_method=f"not tested: {exc}")
        if len(flat):
            r.update(value=float(flat["value"].iloc[0]), ci_low=float(flat["ci_low"].iloc[0]),
                     ci_high=float(flat["ci_high"].iloc[0]))
            if not r.get("interval_covers"):
                r["interval_covers"] = str(flat["covers"].iloc[0] if "covers" in flat else "" or "")
        e = exp[(exp["model"] == r["model"]) & (exp["task"] == r["task"]) & (exp["train_set"] == r["train_set"])
                & (exp["eval_set"] == r["eval_set"])]
        if len(e):
            e = e.iloc[0]
            if r["probe"] == "cumulative" and r["metric"] == e["metric"]:
                r.update(expected_layer=e["expected_layer"], k_delta=e["k_delta"])
            if r["probe"] == "mix":
                r.update(center_of_gravity=e["center_of_gravity"], k_s=e["k_s"])
        s = sel[(sel["model"] == r["model"]) & (sel["task"] == r["task"]) & (sel["probe"] == r["probe"])
                & (sel["train_set"] == r["train_set"]) & (sel["eval_set"] == r["eval_set"])
                & (sel["score_metric"] == r["metric"]) & (sel["layer"] >= 0)]
        if len(s):
            top = s.loc[s["selectivity"].idxmax()]
            r.update(max_selectivity=float(top["selectivity"]), max_selectivity_layer=int(top["layer"]))
        rows.append(r)
    cols = CURVE_COLUMNS + ["n_seeds", "n_layers", "layer0_value", "top_value", "best_layer", "best_value",
                            "best_ci_low", "best_ci_high", "value", "ci_low", "ci_high", "expected_layer",
                            "k_delta", "center_of_gravity", "k_s", "max_selectivity", "max_selectivity_layer",
                            "p_best_vs_top", "best_vs_top_method", "interval_covers"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ("best_layer", "n_layers", "max_selectivity_layer"):
        out[c] = out[c].astype("Int64")
    return out
