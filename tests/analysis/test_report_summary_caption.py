"""The summary table's caption names expected-layer rows that are no layer (E_Δ outside 0..L)."""

import pandas as pd

from analysis.report import _odd_expected_layers
from analysis.results import aggregate_seeds
from analysis.summary import summarize
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
    assert text.startswith(" 2 rows of metric expected_layer outside layers 0–4 (e.g. upos on de_pud-ud-test: -58.50) are")
    assert "cumulative score falls or hardly rises with depth" in text


def test_no_sentence_when_every_expected_layer_is_a_layer():
    assert _caption(_with_expected_layers({TEST: 1.5, "de_pud-ud-test": 4.0})) == ""
    assert _caption(make_results_table()) == ""
