"""Neuron figures draw the numbers they are given: ablation curves, activation heatmap, minimal-k map."""

import numpy as np
import pandas as pd
import pytest

from analysis.figures import neurons as nfig
from analysis.figures import style
from probes.errors import ProbesError
from probes.probing.neurons import NeuronRanking, ablation_ks, min_k
from probes.records import ResultRow

WIDTH = 384
LAYERS = range(7)
K0 = {"upos": [40, 12, 6, 5, 6, 9, 15], "number": [30, 3, 2, 2, 2, 3, 4]}  # curve scale per layer


def neuron_table() -> pd.DataFrame:
    """Rows as ``neuron_rows`` writes them, from smooth saturation curves with known minimal k."""
    ks = ablation_ks(WIDTH)
    rows = []
    for task, k0s in K0.items():
        for layer in LAYERS:
            full = 0.9 + 0.01 * layer
            top = {k: full * (1 - 0.7 * np.exp(-k / k0s[layer])) if k < WIDTH else full for k in ks}
            for k in ks:
                for side, v, seed in (("top", top[k], 0), ("random", 0.5 * (top[k] + 0.3) if k < WIDTH else full, -1),
                                      ("bottom", 0.3 + 0.6 * (k / WIDTH) ** 2 if k < WIDTH else full, 0)):
                    rows.append(ResultRow("toy", task, "neurons-lca", layer, "train", "en", seed,
                                          f"neuron_acc_{side}:{k}", v, v - 0.02, v + 0.02, "test sentences"))
            k95 = float(min_k(ks, np.array([top[k] for k in ks]), full))
            rows.append(ResultRow("toy", task, "neurons-lca", layer, "train", "en", 0, "neuron_min_k95", k95,
                                  k95, k95 * 2, "test sentences"))
        rows.append(ResultRow("toy", task, "majority", -1, "train", "en", -1, "accuracy", 0.3, 0.28, 0.32))
    return pd.DataFrame([r.as_dict() for r in rows])


def _gids(fig, prefix):
    return {o.get_gid(): o for o in fig.findobj(lambda o: (o.get_gid() or "").startswith(prefix))}


def test_ablation_curves_draw_top_random_bottom_per_layer(tmp_path):
    df = neuron_table()
    t = nfig.ablation_table(df, model="toy", task="upos")
    assert set(t["side"]) == {"top", "bottom", "random"} and sorted(t["k"].unique()) == ablation_ks(WIDTH)
    fig = nfig.plot_ablation_curves(df, model="toy", task="upos")
    try:
        tops = _gids(fig, "top:")
        assert set(tops) == {f"top:{l}" for l in LAYERS}
        x, y = tops["top:2"].get_data()
        assert list(x) == ablation_ks(WIDTH) and y[-1] == pytest.approx(0.92)
        assert _gids(fig, "band:random:")  # the random band
        vline = _gids(fig, "min_k:2")["min_k:2"]
        k95 = df[(df.task == "upos") & (df.layer == 2) & (df.metric == "neuron_min_k95")]["value"].iloc[0]
        assert vline.get_xdata()[0] == k95 == 20
        target = _gids(fig, "target:2")["target:2"]
        assert target.get_ydata()[0] == pytest.approx(0.95 * 0.92)
        assert _gids(fig, "majority:0")["majority:0"].get_ydata()[0] == pytest.approx(0.3)
        assert fig.axes[0].get_xscale() == "log"
        paths = style.save_figure(fig, tmp_path, "ablation", formats=("png",))
        assert paths["png"].stat().st_size > 10_000
    finally:
        style.close(fig)
    with pytest.raises(ProbesError, match="layer"):
        nfig.plot_ablation_curves(df, model="toy", task="upos", layers=[9])
    with pytest.raises(ProbesError, match="no neuron rows"):
        nfig.plot_ablation_curves(df, model="other", task="upos")


def test_min_k_map_shows_each_task_and_layer(tmp_path):
    df = neuron_table()
    M = nfig.min_k_matrix(df, model="toy")
    assert list(M.index) == ["upos", "number"] and list(M.columns) == list(LAYERS)
    assert M.loc["number", 2] == 10 and M.loc["upos", 0] == 200  # 1 - 0.7 exp(-k / k0) >= 0.95 from k = ln(14) k0
    fig = nfig.plot_min_k_map(df, model="toy")
    try:
        cells = _gids(fig, "cell:")
        assert cells["cell:number:2"].get_text() == "10" and cells["cell:upos:0"].get_text() == "200"
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert labels == ["upos (of 384)", "number (of 384)"]
        style.save_figure(fig, tmp_path, "min_k", formats=("png",))
    finally:
        style.close(fig)


def test_label_activation_heatmap_uses_the_ranking_order(tmp_path):
    rng = np.random.default_rng(0)
    L, C, d = 2, 4, 30
    order = np.stack([rng.permutation(d) for _ in range(L)])
    z = rng.normal(size=(L, C, d))
    r = NeuronRanking("probeless", [0, 1], ["NOUN", "VERB", "ADJ", "DET"], order, rng.random((L, d)),
                      np.zeros((L, C, d), int), np.zeros((L, C, d)), z, np.array([50, 30, 10, 10]))
    fig = nfig.plot_label_activations(r, layer=1, n_top=8)
    try:
        im = _gids(fig, "activations:1")["activations:1"]
        assert np.allclose(im.get_array(), z[1][:, order[1, :8]])
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(j) for j in order[1, :8]]
        assert [t.get_text() for t in ax.get_yticklabels()][0] == "NOUN (50)"
        style.save_figure(fig, tmp_path, "activations", formats=("png",))
    finally:
        style.close(fig)
    with pytest.raises(ProbesError, match="not ranked"):
        nfig.plot_label_activations(r, layer=5)
