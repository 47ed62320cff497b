"""Cumulative probes report their per-mix weights as 'mix_weight:<l>' rows beside the scores."""

import pandas as pd

from analysis.summary import expected_layers_table
from analysis.results import aggregate_seeds


def test_cumulative_weight_rows_are_not_taken_for_scores():
    rows = []
    scores = [0.80, 0.90, 0.95]
    for layer, score in enumerate(scores):
        rows.append(dict(model="m", task="upos", probe="cumulative", layer=layer, train_set="en-train",
                         eval_set="en", seed=0, metric="accuracy", value=score, ci_low=score - .01,
                         ci_high=score + .01))
        for sub in range(layer + 1):  # the mix of layers 0..layer has layer+1 weights, stored on the train set
            rows.append(dict(model="m", task="upos", probe="cumulative", layer=layer, train_set="en-train",
                             eval_set="en-train", seed=0, metric=f"mix_weight:{sub}", value=1.0 / (layer + 1),
                             ci_low=float("nan"), ci_high=float("nan")))
    table = expected_layers_table(aggregate_seeds(pd.DataFrame(rows)))
    row = table.iloc[0]
    assert row["eval_set"] == "en" and row["metric"] == "accuracy"
    assert (row["first_score"], row["last_score"]) == (0.80, 0.95)
    # E_delta = (1 * 0.10 + 2 * 0.05) / 0.15
    assert abs(row["expected_layer"] - (0.10 + 2 * 0.05) / 0.15) < 1e-9


def test_mix_only_run_keeps_its_score_and_center_of_gravity_with_weights_on_the_train_set():
    rows = [dict(model="m", task="upos", probe="mix", layer=-1, train_set="en-train", eval_set="en", seed=0,
                 metric="accuracy", value=0.9, ci_low=0.88, ci_high=0.92)]
    for layer, w in enumerate([0.1, 0.2, 0.7]):  # as the probing API writes them: on the training set
        rows.append(dict(model="m", task="upos", probe="mix", layer=layer, train_set="en-train",
                         eval_set="en-train", seed=0, metric="mix_weight", value=w, ci_low=float("nan"),
                         ci_high=float("nan")))
    row = expected_layers_table(aggregate_seeds(pd.DataFrame(rows))).iloc[0]
    assert row["eval_set"] == "en" and row["mix_score"] == 0.9
    assert abs(row["center_of_gravity"] - (0.2 + 2 * 0.7)) < 1e-9


def test_selectivity_table_carries_the_reported_paired_interval():
    from analysis.selectivity import selectivity_table

    base = dict(model="m", probe="linear", layer=1, train_set="tr", eval_set="te", seed=-1)
    rows = pd.DataFrame([
        {**base, "task": "upos", "metric": "accuracy", "value": 0.9, "ci_low": 0.88, "ci_high": 0.92},
        {**base, "task": "upos:control", "metric": "accuracy", "value": 0.6, "ci_low": 0.57, "ci_high": 0.63},
        {**base, "task": "upos", "metric": "selectivity", "value": 0.3, "ci_low": 0.27, "ci_high": 0.33}])
    sel = selectivity_table(aggregate_seeds(rows))
    assert len(sel) == 1
    r = sel.iloc[0]
    assert abs(r["selectivity"] - 0.3) < 1e-12 and (r["ci_low"], r["ci_high"]) == (0.27, 0.33)
