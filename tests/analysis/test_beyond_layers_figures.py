"""The conditional and amnesic figures draw the numbers of their rows, on the axes they say."""

import numpy as np
import pytest

from analysis.figures import amnesic as afig
from analysis.figures import conditional as cfig
from analysis.figures import style
from analysis.results import aggregate_seeds
from analysis.summary import expected_layers_table
from probes.errors import ProbesError
from tests.analysis.synthetic import (AMNESIC, COND_VINFO, CUMULATIVE, DOWNSTREAM, MODEL, VINFO,
                                      make_beyond_layers_table, make_results_table)


def _gids(fig, prefix):
    return {o.get_gid(): o for o in fig.findobj(lambda o: (o.get_gid() or "").startswith(prefix))}


def test_conditional_bits_beside_differential_scores(tmp_path):
    import pandas as pd

    agg = aggregate_seeds(pd.concat([make_results_table(), make_beyond_layers_table()], ignore_index=True))
    fig = cfig.plot_conditional(agg, model=MODEL, exp=expected_layers_table(agg))
    try:
        for task in ("upos", "deprel"):
            x, y = _gids(fig, f"cond_vinfo_bits:{task}")[f"cond_vinfo_bits:{task}"].get_data()
            assert list(x) == [0, 1, 2, 3, 4] and np.allclose(y, COND_VINFO[task])
            assert np.allclose(_gids(fig, f"vinfo_bits:{task}")[f"vinfo_bits:{task}"].get_ydata(), VINFO[task])
            bars = _gids(fig, f"delta:{task}:")
            heights = [bars[f"delta:{task}:{l}"].get_height() for l in range(1, 5)]
            assert np.allclose(heights, 100 * np.diff(CUMULATIVE[task]))
        left, right = fig.axes[0], fig.axes[1]
        assert left.get_xlim() == right.get_xlim()  # one layer axis
        assert any("layer 0" in t.get_text() for t in fig.legends[0].get_texts())
        style.save_figure(fig, tmp_path, "conditional", formats=("png",))
    finally:
        style.close(fig)
    # Without the cumulative probe: one column, no Δ(l) bars.
    fig = cfig.plot_conditional(agg, model=MODEL, exp=None)
    try:
        assert not _gids(fig, "delta:") and len([a for a in fig.axes if a.get_visible()]) == 2
    finally:
        style.close(fig)
    with pytest.raises(ProbesError, match="no conditional-probing rows"):
        cfig.plot_conditional(agg, model="other")


def test_amnesic_figures_draw_accuracies_loss_changes_and_other_tasks(tmp_path):
    agg = aggregate_seeds(make_beyond_layers_table())
    fig = afig.plot_erasure_accuracy(agg, model=MODEL)
    try:
        bars = _gids(fig, "accuracy_erased:")
        line = bars["accuracy_erased:en_ewt-ud-test"]  # the errorbar's data line
        assert np.allclose(line.get_ydata(), [AMNESIC[1]["accuracy_erased"], AMNESIC[3]["accuracy_erased"]])
        assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "3"]
        style.save_figure(fig, tmp_path, "acc", formats=("png",))
    finally:
        style.close(fig)
    fig = afig.plot_lm_loss_change(agg, model=MODEL)
    try:
        d = _gids(fig, "lm_loss_delta_vs_random")["lm_loss_delta_vs_random"]
        assert np.allclose(d.get_ydata(), [0.35, 0.16])
        r = _gids(fig, "lm_loss_delta_random")["lm_loss_delta_random"]
        assert np.allclose(r.get_ydata(), [0.05, 0.04])
    finally:
        style.close(fig)
    fig = afig.plot_downstream(agg, model=MODEL)
    try:
        e = _gids(fig, "other:deprel:1:erased")["other:deprel:1:erased"]
        assert np.allclose(e.get_ydata(), [DOWNSTREAM[1][l][1] for l in (2, 3, 4)])
        assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()  # a row shares its layer axis
        style.save_figure(fig, tmp_path, "down", formats=("png",))
    finally:
        style.close(fig)
    bare = aggregate_seeds(make_beyond_layers_table(lm_loss=False, downstream=False))
    assert not afig.has_lm_loss(bare, MODEL)
    with pytest.raises(ProbesError, match="no LM-loss rows"):
        afig.plot_lm_loss_change(bare, model=MODEL)
    with pytest.raises(ProbesError, match="no other-task rows"):
        afig.plot_downstream(bare, model=MODEL)
