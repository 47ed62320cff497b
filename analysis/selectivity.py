"""Selectivity (Hewitt & Liang 2019): task score minus control-task score, per layer."""

from __future__ import annotations

import pandas as pd

from analysis.results import CONTROL_SUFFIX, score_mask

KEYS = ["model", "probe", "layer", "train_set", "eval_set", "metric"]
SELECTIVITY_COLUMNS = ["model", "task", "probe", "layer", "train_set", "eval_set", "score_metric",
                       "task_value", "control_value", "selectivity", "ci_low", "ci_high"]
PAIR = ["model", "task", "probe", "layer", "train_set", "eval_set"]


def selectivity_table(agg: pd.DataFrame) -> pd.DataFrame:
    """Selectivity per layer from an aggregated table: each ``<task>:control`` row is matched with the
    ``<task>`` row of the same model, probe, layer, sets and metric. Rows that the probing stage
    already reported as metric ``selectivity`` are kept (``score_metric`` = 'reported') where no
    task/control pair gives them."""
    scores = agg[score_mask(agg["metric"])]
    ctrl = scores[scores["task"].str.endswith(CONTROL_SUFFIX)].copy()
    ctrl["task"] = ctrl["task"].str[: -len(CONTROL_SUFFIX)]
    task = scores[~scores["task"].str.endswith(CONTROL_SUFFIX)]
    m = task.merge(ctrl[KEYS + ["task", "value"]], on=KEYS + ["task"], suffixes=("", "_control"))
    out = pd.DataFrame({
        "model": m["model"], "task": m["task"], "probe": m["probe"], "layer": m["layer"],
        "train_set": m["train_set"], "eval_set": m["eval_set"], "score_metric": m["metric"],
        "task_value": m["value"], "control_value": m["value_control"],
        "selectivity": m["value"] - m["value_control"],
    })
    rep = agg[agg["metric"] == "selectivity"]
    # The probing stage's rows carry paired-bootstrap intervals (task and control on the same resamples).
    ci = rep[PAIR + ["ci_low", "ci_high"]].drop_duplicates(PAIR)
    out = out.merge(ci, on=PAIR, how="left") if len(ci) else out.assign(ci_low=float("nan"), ci_high=float("nan"))
    if len(rep):
        have = set(zip(out["model"], out["task"], out["probe"], out["layer"], out["train_set"], out["eval_set"]))
        rep = rep[[k not in have for k in zip(rep["model"], rep["task"], rep["probe"], rep["layer"],
                                              rep["train_set"], rep["eval_set"])]]
        out = pd.concat([out, pd.DataFrame({
            "model": rep["model"], "task": rep["task"], "probe": rep["probe"], "layer": rep["layer"],
            "train_set": rep["train_set"], "eval_set": rep["eval_set"], "score_metric": "reported",
            "task_value": float("nan"), "control_value": float("nan"), "selectivity": rep["value"],
            "ci_low": rep["ci_low"], "ci_high": rep["ci_high"]})],
            ignore_index=True)
    return out[SELECTIVITY_COLUMNS].sort_values(["model", "task", "probe", "score_metric", "layer"]).reset_index(drop=True)
