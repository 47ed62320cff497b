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
