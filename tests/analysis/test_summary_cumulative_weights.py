"""Cumulative probes report their per-mix weights as 'mix_weight:<l>' rows beside the scores."""

import pandas as pd
import pytest

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


def _mix_and_cumulative_rows(layer_ids, weights, cumulative):
    rows = [dict(model="m", task="upos", probe="mix", layer=-1, train_set="tr", eval_set="te", seed=0,
                 metric="accuracy", value=0.9, ci_low=0.88, ci_high=0.92)]
    for layer, w, c in zip(layer_ids, weights, cumulative):
        rows.append(dict(model="m", task="upos", probe="mix", layer=layer, train_set="tr", eval_set="tr", seed=0,
                         metric="mix_weight", value=w, ci_low=float("nan"), ci_high=float("nan")))
        rows.append(dict(model="m", task="upos", probe="cumulative", layer=layer, train_set="tr", eval_set="te",
                         seed=0, metric="accuracy", value=c, ci_low=c - .01, ci_high=c + .01))
    return pd.DataFrame(rows)


def test_a_layer_subset_keeps_its_true_layer_ids():
    # The README's layers = [0, 2, 4, 6]: E_s = 2*.2 + 4*.3 + 6*.4 = 4.0 (not 2.0 from positions 0..3);
    # E_delta = (2*.10 + 4*.05 + 6*.05) / .20 = 3.5.
    table = expected_layers_table(aggregate_seeds(_mix_and_cumulative_rows(
        [0, 2, 4, 6], [0.1, 0.2, 0.3, 0.4], [0.70, 0.80, 0.85, 0.90])))
    row = table.iloc[0]
    assert row["center_of_gravity"] == pytest.approx(4.0)
    assert row["expected_layer"] == pytest.approx(3.5)
    assert row["n_layers"] == 6
    assert list(row["weight_layers"]) == [0, 2, 4, 6] and list(row["cumulative_layers"]) == [0, 2, 4, 6]


def test_figure2_draws_a_subset_at_its_true_layers():
    from analysis.figures import pipeline, style

    table = expected_layers_table(aggregate_seeds(_mix_and_cumulative_rows(
        [0, 2, 4, 6], [0.1, 0.2, 0.3, 0.4], [0.70, 0.80, 0.85, 0.90])))
    fig = pipeline.plot_layer_weights(table)
    try:
        gids = {a.get_gid() for a in fig.findobj(lambda o: (o.get_gid() or "").startswith(("s:", "delta:")))}
        assert gids == {"s:upos:0", "s:upos:2", "s:upos:4", "s:upos:6", "delta:upos:2", "delta:upos:4", "delta:upos:6"}
    finally:
        style.close(fig)


def test_summary_takes_the_probing_stages_best_versus_top_test():
    from analysis.summary import summarize

    base = dict(model="m", task="upos", probe="linear", train_set="tr", eval_set="te", seed=-1)
    rows = [{**base, "layer": l, "metric": "accuracy", "value": v, "ci_low": v - .01, "ci_high": v + .01,
             "covers": "test sentences"} for l, v in enumerate([0.7, 0.9, 0.8])]
    rows += [{**base, "layer": 1, "metric": "best_minus_top:accuracy", "value": 0.1, "ci_low": 0.05, "ci_high": 0.15,
              "covers": "test sentences"},
             {**base, "layer": 1, "metric": "best_minus_top_p:accuracy", "value": 0.002, "ci_low": float("nan"),
              "ci_high": float("nan"), "covers": "test sentences"}]
    s = summarize(pd.DataFrame(rows))
    assert len(s) == 1  # the difference rows are not curves of their own
    r = s.iloc[0]
    assert r["best_layer"] == 1 and r["p_best_vs_top"] == pytest.approx(0.002)
    assert r["best_vs_top_method"] == "paired bootstrap over test sentences"
