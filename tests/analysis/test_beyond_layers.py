"""The report's neurons, conditional and amnesic sections: drawn from their rows, with the right numbers,
and absent (not listed as missing) when a study did not ask for them."""

import pandas as pd
import pytest

from analysis.beyond_layers import amnesic_tables, conditional_table, neuron_summary
from analysis.report import write_report
from analysis.results import aggregate_seeds
from analysis.summary import expected_layers_table
from tests.analysis.synthetic import (AMNESIC, COND_VINFO, CUMULATIVE, DOWNSTREAM, MAJORITY, MODEL, TEST, TRAIN,
                                      make_beyond_layers_table, make_neuron_profile, make_results_table)
from probes.records import RESULT_COLUMNS

NOTE = f"{MODEL}: amnesic LM loss not measured: /home/me/models/tiny: the checkpoint has no trained language-modelling head"


def _with_baselines(df: pd.DataFrame) -> pd.DataFrame:
    """Beyond-layer rows plus the cumulative probe (for Δ(l)) and the majority class of each task."""
    rows = [[MODEL, t, "cumulative", l, TRAIN, TEST, -1, "accuracy", v, v - 0.02, v + 0.02, "test sentences"]
            for t, vals in CUMULATIVE.items() for l, v in enumerate(vals)]
    rows += [[MODEL, t, "majority", -1, TRAIN, TEST, -1, "accuracy", v, v, v, ""] for t, v in MAJORITY.items()]
    return pd.concat([df, pd.DataFrame(rows, columns=RESULT_COLUMNS)], ignore_index=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("beyond")
    path = write_report(_with_baselines(make_beyond_layers_table()), out,
                        config={"name": "b", "probe": {"kinds": ["neurons", "conditional", "cumulative"]}},
                        extras={"neuron_profiles": [make_neuron_profile("upos")]}, formats=("png",))
    return out, path.read_text(encoding="utf-8")


def test_sections_figures_and_tables_are_written(report):
    out, page = report
    for anchor in ("neurons", "conditional", "amnesic"):
        assert f'<section id="{anchor}">' in page
    figures = {p.stem for p in (out / "figures").glob("*.png")}
    assert {f"{MODEL}-upos-neurons-lca-ablation", f"{MODEL}-deprel-neurons-lca-ablation",
            f"{MODEL}-neurons-lca-min-k-map", f"{MODEL}-conditional", f"{MODEL}-amnesic-accuracy",
            f"{MODEL}-amnesic-lm-loss", f"{MODEL}-amnesic-other-tasks"} <= figures
    # the activation profile of upos at its best full-layer layer (2: 0.93); deprel has no profile saved
    assert f"{MODEL}-upos-neurons-lca-label-activations-2" in figures
    assert not any("deprel-neurons-lca-label-activations" in f for f in figures)
    tables = {p.stem for p in (out / "tables").glob("*.md")}
    assert {f"{MODEL}-neurons-lca-neurons", f"{MODEL}-conditional", f"{MODEL}-amnesic-accuracy",
            f"{MODEL}-amnesic-lm_loss", f"{MODEL}-amnesic-other_tasks"} <= tables
    assert "given layer 0" in page and "LEACE rank 16" in page


def test_tables_carry_the_rows_values():
    df = _with_baselines(make_beyond_layers_table())
    agg = aggregate_seeds(df)
    n = neuron_summary(df, MODEL, "neurons-lca").set_index(["task", "layer"])
    assert n.loc[("upos", 2), "min_k95"] == 5 and n.loc[("deprel", 0), "min_k95"] == 32
    assert n.loc[("upos", 2), "full_accuracy"] == pytest.approx(0.93)
    assert n.loc[("upos", 2), "width"] == 32 and "top-10" in n.columns
    c = conditional_table(agg, expected_layers_table(agg), MODEL).set_index(["task", "layer"])
    assert c.loc[("deprel", 3), "cond_vinfo_bits"] == pytest.approx(COND_VINFO["deprel"][3])
    assert c.loc[("deprel", 3), "cond_vinfo_bits lo"] == pytest.approx(COND_VINFO["deprel"][3] - 0.02)
    assert c.loc[("upos", 3), "delta_x100"] == pytest.approx(100 * (CUMULATIVE["upos"][3] - CUMULATIVE["upos"][2]))
    assert pd.isna(c.loc[("upos", 0), "delta_x100"])  # layer 0 has no differential score
    t = amnesic_tables(agg, MODEL)
    acc = t["accuracy"].set_index("layer")
    assert acc.loc[1, "accuracy_erased"] == pytest.approx(AMNESIC[1]["accuracy_erased"])
    assert acc.loc[3, "majority"] == pytest.approx(0.30)
    lm = t["lm_loss"].set_index("layer")
    assert lm.loc[1, "lm_loss_delta_vs_random"] == pytest.approx(0.35)
    other = t["other_tasks"].set_index(["erased_layer", "layer"])
    clean, erased, rnd = DOWNSTREAM[1][3]
    assert other.loc[(1, 3), "erased"] == pytest.approx(erased) and other.loc[(1, 3), "clean"] == pytest.approx(clean)
    assert other.loc[(1, 3), "delta_vs_random"] == pytest.approx(erased - rnd)
    assert list(other.index) == [(1, 2), (1, 3), (1, 4), (3, 4)]


def test_no_rows_no_section_and_nothing_listed_as_missing(tmp_path):
    page = write_report(make_results_table(), tmp_path, config={"name": "r", "probe": {"kinds": ["linear"]}},
                        formats=("png",)).read_text(encoding="utf-8")
    for anchor in ("neurons", "conditional", "amnesic"):
        assert f'id="{anchor}"' not in page
    assert "neuron" not in page.lower() and "amnesic" not in page.lower() and "V-information" not in page


def test_without_lm_loss_rows_the_report_says_why(tmp_path):
    df = _with_baselines(make_beyond_layers_table(lm_loss=False, downstream=False))
    page = write_report(df, tmp_path / "a", config={"name": "r"}, extras={"amnesic_notes": [NOTE]},
                        formats=("png",)).read_text(encoding="utf-8")
    assert "No LM-loss change is reported: amnesic LM loss not measured: tiny: the checkpoint has no trained" in page
    assert "/home/me" not in page.split('id="run"')[0]  # the section names the model folder, not its machine path
    assert not (tmp_path / "a" / "figures" / f"{MODEL}-amnesic-lm-loss.png").exists()
    assert not (tmp_path / "a" / "figures" / f"{MODEL}-amnesic-other-tasks.png").exists()
    # The same note from an older run's manifest, and a study that did not ask for the LM loss.
    page = write_report(df, tmp_path / "b", config={"name": "r"}, manifest={"probe_kinds_not_run": [NOTE]},
                        formats=("png",)).read_text(encoding="utf-8")
    assert "No LM-loss change is reported: amnesic LM loss not measured" in page
    page = write_report(df, tmp_path / "c", config={"name": "r", "amnesic": {"task": "upos", "lm_loss": False}},
                        formats=("png",)).read_text(encoding="utf-8")
    assert "The LM loss was not asked for ([amnesic] lm_loss = false)." in page
