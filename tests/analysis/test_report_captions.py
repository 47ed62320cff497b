"""Captions that name what a reader would misread: expected layers outside 0..L in the summary table,
E_Δ intervals that run past the layers in Figure 1."""

import pandas as pd

from analysis.report import _odd_expected_layers, _runaway_intervals
from analysis.results import aggregate_seeds
from analysis.summary import expected_layers_table, summarize
from tests.analysis.synthetic import MODEL, TEST, TRAIN, make_results_table


def _with_expected_layers(values: dict) -> pd.DataFrame:
    df = make_results_table()
    extra = [[MODEL, "upos", "cumulative", -1, TRAIN, ev, 0, "expected_layer", v, v - 1, v + 1, "test sentences"]
             for ev, v in values.items()]
    return pd.concat([df, pd.DataFrame(extra, columns=df.columns)], ignore_index=True)


def _caption(df: pd.DataFrame) -> str:
    agg = aggregate_seeds(df)
    return _odd_expected_layers(agg, summarize(df, agg=agg), MODEL)


def test_an_expected_layer_outside_the_layers_is_named_with_why():
    text = _caption(_with_expected_layers({TEST: 1.5, "de_pud-ud-test": -58.5, "es_pud-ud-test": 17.3}))
    # synthetic layers 0..4: two rows outside, the farther one named as the example
    assert text.startswith(" 2 rows of metric expected_layer outside layers 0–4 (e.g. upos on de_pud-ud-test: -58.50): no layer")
    assert "cumulative score falls or hardly rises with depth" in text


def test_no_sentence_when_every_expected_layer_is_a_layer():
    assert _caption(_with_expected_layers({TEST: 1.5, "de_pud-ud-test": 4.0})) == ""
    assert _caption(make_results_table()) == ""


def test_figure_1_names_the_intervals_that_run_past_the_layers():
    agg = aggregate_seeds(make_results_table())
    exp = expected_layers_table(agg)
    assert _runaway_intervals(exp) == ""  # synthetic: no interval of E_Δ at all
    exp = exp.assign(expected_layer_ci_low=[0.5, -1.8], expected_layer_ci_high=[3.0, 4.5])  # layers 0..4
    text = _runaway_intervals(exp)
    assert "(deprel [-1.80, 4.50])" in text and "upos" not in text
    assert _runaway_intervals(exp.assign(expected_layer_ci_low=0.5, expected_layer_ci_high=4.0)) == ""  # 0..L inclusive
