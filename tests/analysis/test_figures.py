"""Every figure renders from the fixed results table, and draws the numbers it is given."""

from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pytest

from analysis import layers
from analysis.figures import curves, pipeline, structural, style
from analysis.figures import transfer as tfig
from analysis.reference import DEFAULT_PATH, load_reference
from analysis.results import aggregate_seeds
from analysis.summary import expected_layers_table
from analysis.transfer import parallel_view, transfer_matrices
from probes.errors import ProbesError
from tests.analysis.synthetic import CODELENGTH, CONTROL, CUMULATIVE, LINEAR, MAJORITY, MODEL, RANDOM_INIT, TRANSFER, WEIGHTS


@pytest.fixture
def agg(results):
    return aggregate_seeds(results)


def _by_gid(fig, prefix):
    return {a.get_gid(): a for a in fig.findobj(lambda o: (o.get_gid() or "").startswith(prefix))}


def _texts(fig):
    return [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text") and hasattr(o, "get_position"))]


def test_figure1_bars_and_printed_values(agg):
    table = expected_layers_table(agg)
    fig = pipeline.plot_expected_layers(table)
    try:
        es, ed = _by_gid(fig, "E_s:"), _by_gid(fig, "E_delta:")
        assert set(es) == {"E_s:upos", "E_s:deprel"} and set(ed) == {"E_delta:upos", "E_delta:deprel"}
        assert es["E_s:upos"].get_width() == pytest.approx(1.7)
        assert ed["E_delta:deprel"].get_width() == pytest.approx(0.83 / 0.42)
        assert mcolors.to_hex(es["E_s:upos"].get_facecolor()) == style.BLUE
        assert mcolors.to_hex(ed["E_delta:upos"].get_facecolor()).lower() == style.LAVENDER_FILL.lower()
        # Both bars of a task share its row, tasks top to bottom in table order.
        assert es["E_s:upos"].get_y() == ed["E_delta:upos"].get_y() < es["E_s:deprel"].get_y()
        texts = _texts(fig)
        for v in ("1.70", "1.53", "2.45", "1.98", "80.0", "95.0", "40.0", "82.0"):
            assert v in texts, v
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert labels == ["upos", "deprel"]
    finally:
        style.close(fig)


@pytest.mark.integration
@pytest.mark.skipif(not Path(DEFAULT_PATH).is_file(), reason="reference table absent")
def test_figure1_from_the_papers_table_draws_e_delta_only():
    table = expected_layers_table(aggregate_seeds(load_reference()))
    large = table[table["model"] == "bert-large-uncased"]
    fig = pipeline.plot_expected_layers(large)
    try:
        assert not _by_gid(fig, "E_s:")
        bars = _by_gid(fig, "E_delta:")
        assert len(bars) == 8
        assert round(bars["E_delta:Coref."].get_width(), 2) == 9.47
        assert round(bars["E_delta:POS"].get_width(), 2) == 3.39
        texts = _texts(fig)
        assert "3.39" in texts and "9.47" in texts and pipeline.NO_WEIGHTS_NOTE in texts
        assert [t.get_text() for t in fig.axes[0].get_yticklabels()][:3] == ["POS", "Consts.", "Deps."]
    finally:
        style.close(fig)


def test_figure2_weight_and_delta_bars(agg):
    table = expected_layers_table(agg)
    fig = pipeline.plot_layer_weights(table)
    try:
        assert len([ax for ax in fig.axes if ax.get_visible()]) == 2  # one row per task
        s = _by_gid(fig, "s:upos:")
        w = np.array(WEIGHTS["upos"])
        heights = np.array([s[f"s:upos:{l}"].get_height() for l in range(5)])
        assert heights == pytest.approx(w / w.max() * 0.9)
        d = np.diff(CUMULATIVE["upos"])
        bars = _by_gid(fig, "delta:upos:")
        assert np.array([bars[f"delta:upos:{l}"].get_height() for l in range(1, 5)]) == pytest.approx(np.abs(d) / np.abs(d).max() * 0.9)
        assert mcolors.to_hex(bars["delta:upos:3"].get_facecolor()) == style.ORANGE_FILL  # 0.93 after 0.94
        assert mcolors.to_hex(bars["delta:upos:1"].get_edgecolor()) == style.PURPLE
        texts = _texts(fig)
        assert f"K(s) = {layers.k_s(w):.2f}" in texts
        assert f"K(Δ) = {layers.k_delta(CUMULATIVE['upos']):.2f}" in texts
    finally:
        style.close(fig)


def test_layer_curves_with_baselines(agg):
    fig = curves.plot_layer_curves(agg, model=MODEL)
    try:
        assert [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()] == [
            f"{t} (evaluated on en_ewt-ud-test)" for t in ("upos", "deprel", "tree")]
        lines = _by_gid(fig, "")
        assert lines["score:upos:linear"].get_ydata() == pytest.approx(LINEAR["upos"])
        assert lines["score:deprel:mlp"].get_ydata() == pytest.approx(np.add(LINEAR["deprel"], 0.01))
        assert lines["control:upos:linear"].get_ydata() == pytest.approx(CONTROL["upos"])
        assert lines["random-init:deprel:linear"].get_ydata() == pytest.approx(RANDOM_INIT["deprel"])
        assert lines["majority:upos"].get_ydata() == pytest.approx([MAJORITY["upos"]] * 2)
        assert lines["mix:deprel"].get_ydata() == pytest.approx([CUMULATIVE["deprel"][-1]] * 2)
        assert "band:upos:linear" in lines and "score:tree:structural-distance" in lines
        assert lines["control:upos:linear"].get_linestyle() == "--"
    finally:
        style.close(fig)


def test_heatmap_cells(agg):
    fig = curves.plot_layer_task_heatmap(agg, model=MODEL, probe="linear")
    try:
        ax = fig.axes[0]
        cells = np.asarray(ax.collections[0].get_array()).reshape(2, 5)
        assert cells == pytest.approx(np.array([LINEAR["upos"], LINEAR["deprel"]]))
        assert [t.get_text() for t in ax.get_yticklabels()] == ["upos (accuracy)", "deprel (accuracy)"]
        assert "0.93" in [t.get_text() for t in ax.texts]
    finally:
        style.close(fig)


def test_selectivity_and_codelength_lines(agg):
    fig = curves.plot_selectivity(agg, model=MODEL)
    try:
        lines = _by_gid(fig, "sel:")
        assert lines["sel:upos:linear"].get_ydata() == pytest.approx(np.subtract(LINEAR["upos"], CONTROL["upos"]))
        assert set(lines) == {"sel:upos:linear", "sel:deprel:linear"}
    finally:
        style.close(fig)
    fig = curves.plot_codelength(agg, model=MODEL)
    try:
        lines = _by_gid(fig, "mdl:")
        assert lines["mdl:upos:en_ewt-ud-test"].get_ydata() == pytest.approx(np.array(CODELENGTH["upos"]) / 1000)
        assert lines["mdl:upos:control:en_ewt-ud-test"].get_linestyle() == "--"
    finally:
        style.close(fig)


def test_transfer_heatmaps_and_zero_shot_curves(agg):
    pv = parallel_view(agg, model=MODEL, task="upos", probe="linear", metric="accuracy")
    assert set(pv["eval_set"]) == {f"{l}_pud-ud-test" for l in TRANSFER}
    mats = transfer_matrices(pv, model=MODEL, task="upos", probe="linear", metric="accuracy")
    fig = tfig.plot_transfer_matrix({"upos": mats})
    try:
        (panel,) = [ax for ax in fig.axes if (ax.get_gid() or "").startswith("transfer:")]
        assert panel.get_title() == "upos"
        assert [t.get_text() for t in panel.get_yticklabels()] == [str(l) for l in range(5)]
        assert [t.get_text() for t in panel.get_xticklabels()] == ["en", "de", "es", "zh"]
        cells = np.asarray(panel.collections[0].get_array()).reshape(5, 4)
        for layer in range(5):  # one row per layer, languages in plot order
            assert cells[layer] == pytest.approx([TRANSFER[l][layer] for l in ("en", "de", "es", "zh")])
    finally:
        style.close(fig)
    fig = tfig.plot_zero_shot_curves(pv, train_language="en")
    try:
        lines = _by_gid(fig, "zs:")
        assert set(lines) == {"zs:en", "zs:de", "zs:es", "zs:zh"}
        assert lines["zs:zh"].get_ydata() == pytest.approx(TRANSFER["zh"])
        assert "en (in-language)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    finally:
        style.close(fig)


def test_structural_trees_and_distance_matrices(structural_extra):
    x = structural_extra
    assert structural.tree_distances([2, 0, 2]).tolist() == [[0, 1, 2], [1, 0, 1], [2, 1, 0]]
    gold = structural.gold_tree_svg(x["words"], x["gold_heads"], x["gold_deprels"])
    assert gold.count('class="displacy-arc"') == 5 and gold.count("displacy-arrowhead") == 5
    for w in x["words"] + ["nsubj", "obl", "ROOT"]:
        assert f">{w}<" in gold
    pred = structural.predicted_tree_svg(x["words"], x["predicted_edges"], x["gold_heads"])
    assert pred.count('class="displacy-arc"') == 5 and "displacy-arrowhead" not in pred
    assert pred.count(">✓<") == 4 and pred.count(">✗<") == 1
    fig = structural.plot_distance_matrices(x["predicted_distances"], x["words"], x["gold_heads"])
    try:
        imgs = [ax.images[0] for ax in fig.axes if ax.images]
        assert np.asarray(imgs[0].get_array()) == pytest.approx(x["predicted_distances"])
        assert np.asarray(imgs[1].get_array()) == pytest.approx(structural.tree_distances(x["gold_heads"]))
        assert np.asarray(imgs[1].get_array())[0, 3] == 4  # The -> cat -> sat -> mat -> on
    finally:
        style.close(fig)
    with pytest.raises(ProbesError, match="exactly one 0"):
        structural.gold_tree_svg(["a", "b"], [0, 0])
    with pytest.raises(ProbesError, match="not a pair of word indices"):
        structural.predicted_tree_svg(["a", "b"], [(0, 2)])


def test_cka_figure():
    import pandas as pd
    cka = pd.DataFrame({"layer": [0, 1, 2] * 2, "lang_a": ["en"] * 6, "lang_b": ["de"] * 3 + ["zh"] * 3,
                        "cka": [0.3, 0.5, 0.7, 0.2, 0.3, 0.4]})
    fig = tfig.plot_cka(cka)
    try:
        assert _by_gid(fig, "cka:")["cka:en:zh"].get_ydata() == pytest.approx([0.2, 0.3, 0.4])
        assert not _by_gid(fig, "cka-null")
    finally:
        style.close(fig)
    cka["null_low"], cka["null_high"] = -0.05, 0.06
    fig = tfig.plot_cka(cka)
    try:
        bands = _by_gid(fig, "cka-null")
        assert set(bands) == {"cka-null"}
        verts = bands["cka-null"].get_paths()[0].vertices
        assert verts[:, 1].min() == pytest.approx(-0.05) and verts[:, 1].max() == pytest.approx(0.06)
        assert fig.axes[0].get_ylim()[0] < -0.05  # a negative null is visible, not clipped at 0
    finally:
        style.close(fig)
