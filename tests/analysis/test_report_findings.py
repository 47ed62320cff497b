"""The report's opening: findings sentences computed from the numbers, the data and model described,
tables folded, the manifest once; Figure 1 with a negative E_delta; the one transfer figure."""

import json
import re
import struct

import numpy as np
import pandas as pd
import pytest

from analysis.figures import pipeline, style
from analysis.figures import transfer as tfig
from analysis.report import _without_punctuation, write_report
from analysis.results import aggregate_seeds
from analysis.selectivity import selectivity_table
from analysis.summary import describe_data, expected_layers_table, findings, model_facts, summarize
from probes.records import RESULT_COLUMNS

M = "toy"
COVERS = "test sentences + 3 seeds (multi-bootstrap)"
# A hand-made table: every number below is what the sentences must print.
LINEAR = [0.50, 0.80, 0.90, 0.85]          # best layer 2: 0.900 [0.870, 0.930]
CONTROL = [0.40, 0.55, 0.60, 0.70]         # selectivity .10 .25 .30 .15 -> peak at layer 2
ZERO_DE = [0.30, 0.50, 0.60, 0.55]         # de zero-shot; its majority baseline 0.65 is above every layer
RANDOM = [0.45, 0.46, 0.47, 0.47]
CUM_FALLS = [0.93, 0.92, 0.92, 0.91]       # feats: the cumulative score falls with depth


def _table() -> pd.DataFrame:
    rows = []

    def add(task, probe, layer, value, *, ev="en", model=M, metric="accuracy", half=0.03, covers=COVERS):
        lo, hi = (value - half, value + half) if half is not None else (np.nan, np.nan)
        rows.append([model, task, probe, layer, "en-train", ev, -1, metric, value, lo, hi, covers])

    for layer in range(4):
        add("upos", "linear", layer, LINEAR[layer])
        add("upos:control", "linear", layer, CONTROL[layer])
        add("upos", "linear", layer, ZERO_DE[layer], ev="de")
        add("upos:control", "linear", layer, CONTROL[layer] - 0.1, ev="de")
        add("upos", "linear", layer, RANDOM[layer], model=M + ":random-init")
        add("upos", "linear", layer, RANDOM[layer] - 0.1, ev="de", model=M + ":random-init")
        add("upos", "linear", layer, LINEAR[layer] - CONTROL[layer], metric="selectivity", half=0.02,
            covers="test sentences (paired bootstrap)")
        add("feats", "linear", layer, 0.9)
        add("feats", "cumulative", layer, CUM_FALLS[layer])
    add("upos", "majority", -1, 0.20, half=None, covers="")
    add("upos", "majority", -1, 0.65, ev="de", half=None, covers="")
    add("feats", "cumulative", -1, -1.75, metric="expected_layer", half=None)
    rows[-1][9:11] = [-4.0, 0.5]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


@pytest.fixture(scope="module")
def aggregates():
    df = _table()
    agg = aggregate_seeds(df)
    exp = expected_layers_table(agg)
    sel = selectivity_table(agg)
    return df, agg, exp, sel, summarize(df, agg=agg, exp=exp, sel=sel)


def test_findings_state_best_layer_interval_covers_selectivity_and_transfer(aggregates):
    _, agg, exp, sel, summary = aggregates
    lines = findings(agg, summary, exp, sel, M)
    upos = next(l for l in lines if l.startswith("upos:"))
    assert "best at layer 2 of 0–3 with the linear probe, accuracy 0.900 on en" in upos
    assert f"95% interval [0.870, 0.930] over {COVERS}" in upos
    assert "layer 0: 0.500, top layer: 0.850" in upos
    assert "Selectivity (task minus control task) peaks at layer 2: 0.300, 95% interval [0.280, 0.320] over " \
           "test sentences (paired bootstrap)" in upos
    assert "random-init model scores 0.470 at layer 2" in upos
    assert "zero-shot at layer 2: de 0.600 (gap +0.300)" in upos
    assert "de stays at or below its majority baseline 0.650 at every layer (best 0.600)" in upos
    # The sentences follow the paper's pipeline order: POS (upos) before feats' row.
    feats = next(l for l in lines if l.startswith("feats:"))
    assert "E_Δ = -1.75, 95% interval [-4.00, 0.50]" in feats and "the cumulative score falls with depth" in feats


def test_figure1_negative_expected_layer_stays_visible_and_is_explained(aggregates):
    exp = aggregates[2]
    fig = pipeline.plot_expected_layers(exp[exp["model"] == M])
    try:
        ax = fig.axes[1]
        bar = next(o for o in fig.findobj() if (o.get_gid() or "") == "E_delta:feats")
        assert bar.get_width() == pytest.approx(-1.75)
        lo, hi = ax.get_xlim()
        assert lo < -1.75 - 0.3 and hi == 3  # the axis reaches past the bar's end, with room for its value
        value = next(o for o in fig.findobj() if (o.get_gid() or "") == "E_delta_value:feats")
        assert value.get_text() == "-1.75†" and lo < value.get_position()[0] < 0
        note = next(o for o in fig.findobj() if (o.get_gid() or "") == "E_delta_notes").get_text()
        assert "† feats: E_Δ = -1.75 lies outside 0–3" in note and "falls with depth (93.0 at l=0, 91.0 at l=3)" in note
    finally:
        style.close(fig)


def test_transfer_is_one_matrix_figure_without_control_tasks(aggregates, tmp_path):
    df = aggregates[0]
    page = write_report(df, tmp_path, formats=("png",)).read_text(encoding="utf-8")
    figs = sorted(p.name for p in (tmp_path / "figures").glob("*transfer*"))
    assert figs == [f"{M}-transfer.png"]
    assert "columns = evaluation language in the order drawn (en, de;" in page
    assert sorted(p.name for p in (tmp_path / "figures").glob("*zero-shot*")) == [f"{M}-zero-shot-en.png"]
    gap = (tmp_path / "tables" / f"{M}-transfer-gap.md").read_text()
    assert "control" not in gap and "| upos | linear | accuracy | 2 | en | 0.300 |" in gap


def test_transfer_matrix_shares_one_colour_scale_with_a_colour_bar():
    m = {l: pd.DataFrame([[0.9 - l / 10, 0.5 + l / 10]], index=["en"], columns=["en", "zh"]) for l in range(3)}
    other = {l: pd.DataFrame([[0.3, 0.2]], index=["en"], columns=["en", "zh"]) for l in range(3)}
    fig = tfig.plot_transfer_matrix({"upos": m, "tree": other})
    try:
        meshes = [ax.collections[0] for ax in fig.axes if (ax.get_gid() or "").startswith("transfer:")]
        assert len(meshes) == 2
        for mesh in meshes:
            assert mesh.get_clim() == pytest.approx((0.2, 0.9))
        assert np.asarray(meshes[0].get_array()).reshape(3, 2)[:, 1] == pytest.approx([0.5, 0.6, 0.7])
        assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["en", "zh"]
        assert len(fig.axes) == 3  # two panels and the colour bar
    finally:
        style.close(fig)


def test_zero_shot_panels_carry_majority_and_random_init(aggregates):
    agg = aggregates[1]
    view = agg[(agg["model"] == M) & (agg["task"] == "upos") & (agg["probe"] == "linear") & (agg["metric"] == "accuracy")]
    rnd = agg[(agg["model"] == M + ":random-init") & (agg["task"] == "upos")]
    fig = tfig.plot_zero_shot_panels({"upos": view}, train_language="en", majority={"upos": {"en": 0.2, "de": 0.65}},
                                     random_init={"upos": rnd})
    try:
        g = {o.get_gid(): o for o in fig.findobj() if o.get_gid()}
        assert g["zs:upos:de"].get_ydata() == pytest.approx(ZERO_DE)
        assert g["zs-majority:upos:de"].get_ydata() == pytest.approx([0.65, 0.65])
        assert g["zs-random:upos:en"].get_ydata() == pytest.approx(RANDOM)
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "majority class (same language)" in labels and "random-init model (same language)" in labels
    finally:
        style.close(fig)


def _model_dir(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"],
                                               "num_hidden_layers": 3, "hidden_size": 8, "vocab_size": 100}))
    header = json.dumps({"a": {"dtype": "F32", "shape": [100, 8], "data_offsets": [0, 3200]},
                         "b": {"dtype": "F32", "shape": [8], "data_offsets": [3200, 3232]},
                         "__metadata__": {"format": "pt"}}).encode()
    (d / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(3232))
    (d / "README.md").write_text("---\nlanguage: en\nlicense: x\n---\n# card\n")
    return d


def test_model_facts_from_a_model_directory(tmp_path):
    f = model_facts(_model_dir(tmp_path))
    assert f == {"model_type": "bert", "architecture": "BertModel", "layers": 3, "hidden_size": 8, "vocab_size": 100,
                 "parameters": 808, "languages": ["en"]}
    assert model_facts("org/hub-id") == {}


def test_page_opens_with_findings_then_data_then_figures(aggregates, tmp_path):
    df = aggregates[0]
    d = _model_dir(tmp_path)
    config = {"name": "toy-study", "probe": {"kinds": ["linear", "cumulative"], "control": True},
              "tasks": [{"name": "upos", "train": {"name": "en-train"}, "test": [{"name": "en"}, {"name": "de"}]}]}
    manifest = {"name": "toy-study", "config": config, "seeds": [0, 1, 2],
                "data": [{"name": "en-train", "source": "/x/en.conllu", "sentences": 150, "words": 1800, "selection": "1-150"},
                         {"name": "en", "source": "/x/en.conllu", "sentences": 40, "words": 376, "selection": "171-"},
                         {"name": "de", "source": "/x/de.conllu", "sentences": 40, "words": 401, "selection": "171-"}],
                "models": {M: {"model": str(d), "pooling": "mean"}, M + ":random-init": {"model": str(d)}}}
    out = tmp_path / "out"
    page = write_report(df, out, config=config, manifest=manifest, formats=("png",)).read_text(encoding="utf-8")
    h2 = re.findall(r"<h2>([^<]*)</h2>", page)
    assert h2[:3] == ["Findings", "Data and model", f"Model: {M}"]
    first_fig = page.index("<figure>")
    assert page.index("best at layer 2 of 0–3") < page.index("<h2>Data and model") < first_fig
    assert "3 data sets in 2 languages (en, de); probes trained on en-train (150 sentences, 1800 words)" in page
    assert "evaluated on en (40 sentences, 376 words), de (40 sentences, 401 words)" in page
    assert (f"{M}: BertModel, 3 transformer layers, probed as layers 0–3 (0 = embedding output), 8-dimensional "
            "word vectors, 808 parameters, a vocabulary of 100 subwords, subwords pooled by mean; loaded from "
            f"{d.parent.name}/model.") in page
    assert "Its model card lists one language, en: a monolingual model; de is new to the model as well as to the probe." in page
    assert f"{M}:random-init:" not in page  # the random-init twin is not described as a model of its own
    # The configuration and manifest appear once, folded; MDL was not asked, so it is not listed as missing.
    assert page.count("&quot;toy-study&quot;") == 2  # name and config.name, in the one JSON block
    assert page.count("<pre>") == 1 and re.search(r"<details><summary>Configuration and manifest[^<]*</summary><pre>", page)
    assert "MDL" not in re.sub(r"base64,[A-Za-z0-9+/=]+", "", page)
    # Every table sits in a horizontally scrolling wrapper; the long ones are folded.
    n_tables = len(re.findall(r'<table class="tbl', page))
    assert n_tables and len(re.findall(r'<div class="tblwrap"><table class="tbl[ "]', page)) == n_tables
    assert re.search(r"<details><summary>toy: summary over seeds[^<]*\(\d+ rows\)</summary>", page)
    extras = json.loads((out / "extras.json").read_text())
    assert extras["model_facts"][M]["parameters"] == 808  # kept for a re-render elsewhere


def test_data_table_roles_and_languages():
    manifest = {"data": [{"name": "en-train", "source": "/d/en.conllu", "sentences": 3, "words": 9},
                         {"name": "zh", "source": "/d/zh.conllu", "sentences": 2, "words": 7}]}
    config = {"tasks": [{"name": "upos", "train": {"name": "en-train"}, "test": [{"name": "zh"}]}]}
    t = describe_data(manifest, config)
    assert t[["set", "language", "role", "sentences", "words", "file"]].values.tolist() == [
        ["en-train", "en", "train", 3, 9, "en.conllu"], ["zh", "zh", "test", 2, 7, "zh.conllu"]]


def test_structural_sample_leaves_punctuation_out():
    it = {"words": ["The", "cat", "sat", "."], "gold_heads": [2, 3, 0, 3], "gold_deprels": ["det", "nsubj", "root", "punct"],
          "predicted_edges": [(0, 1), (1, 2)], "predicted_distances": np.arange(16.0).reshape(4, 4)}
    out, dropped = _without_punctuation(it)
    assert dropped == ["."] and out["words"] == ["The", "cat", "sat"] and out["gold_heads"] == [2, 3, 0]
    assert np.asarray(out["predicted_distances"]).tolist() == [[0, 1, 2], [4, 5, 6], [8, 9, 10]]


def test_every_figure_as_png_svg_and_pdf_with_text_as_text(tmp_path):
    from tests.analysis.synthetic import make_results_table

    write_report(make_results_table(), tmp_path)
    figs = tmp_path / "figures"
    stems = {p.stem for p in figs.glob("*.png")}
    assert stems and stems == {p.stem for p in figs.glob("*.svg")} == {p.stem for p in figs.glob("*.pdf")}
    svg = (figs / "tiny-bert-layer-curves.svg").read_text()
    assert "<text" in svg and ">upos (evaluated on en_ewt-ud-test)<" in svg  # text stays text (svg.fonttype none)
    pdf = (figs / "tiny-bert-layer-curves.pdf").read_bytes()
    assert b"/FontFile2" in pdf  # TrueType fonts embedded (pdf.fonttype 42)


def test_dependency_tree_svg_levels_nested_arcs_and_spreads_arc_ends():
    from analysis.figures.structural import gold_tree_svg

    # The city council approved the plan: det (0->2) encloses compound (1->2); both end at 'council'.
    svg = gold_tree_svg(["The", "city", "council", "approved", "the", "plan"], [3, 3, 4, 0, 6, 4],
                        ["det", "compound", "nsubj", "root", "det", "obj"])
    arcs = [list(map(float, re.findall(r"[\d.]+", d))) for d in re.findall(r'class="displacy-arc"[^>]* d="([^"]+)"', svg)]
    assert len(arcs) == 5
    tops = {round(a[3]) for a in arcs[:2]}
    assert len(tops) == 2  # the enclosing arc sits one level higher than the arc inside it
    ends = [round(a[0], 1) for a in arcs] + [round(a[4], 1) for a in arcs]
    assert len(ends) == len(set(ends))  # no two arc ends (nor arrowheads) on the same spot
    heads = re.findall(r'class="displacy-arrowhead" d="M([\d.]+),', svg)
    assert len(heads) == len(set(heads)) == 5


def test_a_one_language_study_is_not_told_about_other_languages_or_missing_transfer():
    from analysis.summary import describe_models

    manifest = {"models": {"m": {"model": "/x/m", "pooling": "first"}}}
    facts = {"m": {"languages": ["en"]}}
    assert describe_models(manifest, facts, ["en"])[0].endswith("a monolingual model, probed here on en only.")
    assert "de, zh are new to the model" in describe_models(manifest, facts, ["en", "de", "zh"])[0]


def test_transfer_is_listed_as_not_drawn_only_where_several_languages_were_evaluated(aggregates, tmp_path):
    df = aggregates[0]
    one = df[df["eval_set"].map(lambda e: not str(e).startswith("de"))]
    assert set(df["eval_set"]) - set(one["eval_set"])  # the table had another language to leave out
    page_one = write_report(one, tmp_path / "b", formats=("png",)).read_text(encoding="utf-8")
    assert "cross-lingual transfer" not in page_one
