"""Probing the semantic task shapes: two-span items, the F1 of the positive class, multi-label
targets (linear, mix and edge probes), the edge probe's pooling and the expected-layer rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probes.errors import ProbesError
from probes.probing.api import probe_layers, task_inputs
from probes.probing.edge import EdgeProbe
from probes.probing.linear import LinearProbe
from probes.probing.metrics import expected_layers, point_score, score_replicates
from probes.probing.mix import ScalarMixProbe
from probes.probing.mlp import MLPProbe
from probes.tasks.base import TaskData


def pair_task(n_sent=60, length=6, dim=8, n_layers=3, signal=2, seed=0, name="pairs"):
    """Two-span items whose label '1' means: feature 0 of both spans' first words sums to more than 0."""
    rng = np.random.default_rng(seed)
    n = n_sent * length
    V = rng.normal(size=(n_layers, n, dim)).astype(np.float32)
    off = np.arange(0, n + 1, length)
    items, y = [], []
    for s in range(n_sent):
        a = off[s]
        for i in range(0, length - 2, 2):
            j = i + 2
            items.append((a + i, a + i + 2, a + j, a + j + 1))
            y.append(int(V[signal, a + i, 0] + V[signal, a + j, 0] > 0))
    t = TaskData(name=name, kind="span", metric="positive_f1", classes=["0", "1"], y=np.array(y),
                 spans=np.array(items), sentence_offsets=off, positive_label="1")
    return V.astype(np.float16), t


def test_two_span_items_give_four_endpoint_vectors():
    V, t = pair_task()
    inp = task_inputs(V, t)
    assert inp.X.shape == (3, len(t.y), 4 * 8)
    r = t.spans[0]
    expect = np.concatenate([V[1, r[0]], V[1, r[1] - 1], V[1, r[2]], V[1, r[3] - 1]]).astype(np.float32)
    assert np.allclose(inp.X[1, 0].numpy(), expect)
    assert inp.positive == 1


def test_positive_f1_by_hand_and_bootstrap_covers_it():
    pred = np.array([[1, 1, 0, 0, 1]])
    gold = np.array([1, 0, 1, 0, 1])
    assert point_score("positive_f1", pred[0], gold, 2, positive=1) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    point, reps = score_replicates("positive_f1", pred, gold, np.arange(5), 5, np.ones((3, 5)), 2, positive=1)
    assert point[0] == pytest.approx(2 / 3) and np.allclose(reps, 2 / 3)
    with pytest.raises(ProbesError, match="needs the id of the positive class"):
        score_replicates("positive_f1", pred, gold, np.arange(5), 5, np.ones((1, 5)), 2)


def test_probe_layers_scores_a_pair_task_with_positive_f1_and_edge_probe():
    V, t = pair_task(n_sent=150)
    Vt, tt = pair_task(n_sent=60, seed=1)
    rows = probe_layers((V, t), {"test": (Vt, tt)}, probe="edge", model="m", n_boot=100, device="cpu",
                        proj_dim=16, hidden_size=16, dropout=0.0, lr=1e-2, batch_size=64, max_epochs=25,
                        pooling="endpoint")  # the signal sits on the span's first word: endpoints see it
    f1 = {r.layer: r.value for r in rows if r.probe == "edge" and r.metric == "positive_f1"}
    assert set(f1) == {0, 1, 2} and f1[2] > 0.85 and f1[2] > f1[1] + 0.3
    maj = [r for r in rows if r.probe == "majority" and r.metric == "positive_f1"]
    assert len(maj) == 1


def multilabel_data(n=600, dim=10, n_layers=3, signal=1, seed=0):
    """Three labels, each a half-space of the signal layer: label c holds when h[c] > 0."""
    rng = np.random.default_rng(seed)
    V = rng.normal(size=(n_layers, n, dim)).astype(np.float32)
    Y = (V[signal, :, :3] > 0).astype(np.uint8)
    return V, Y


@pytest.mark.parametrize("cls", [LinearProbe, ScalarMixProbe])
def test_multilabel_linear_and_mix(cls):
    V, Y = multilabel_data()
    Vt, Yt = multilabel_data(seed=1)
    probe = cls(device="cpu").fit(V, Y)
    score = np.atleast_1d(probe.score(Vt, Yt))
    pred = probe.predict(Vt)
    assert pred.shape[-2:] == Yt.shape and set(np.unique(pred)) <= {0, 1}
    if cls is LinearProbe:
        assert score[1] > 0.95 and score[0] < 0.75
    else:
        assert score[0] > 0.95 and probe.mix_weights_[0].argmax() == 1


def test_multilabel_edge_probe_and_mlp_refusal():
    V, Y = multilabel_data()
    spans = np.stack([np.arange(600), np.arange(600) + 1], 1)
    spans[-1] = [598, 600]
    probe = EdgeProbe(proj_dim=16, hidden_size=16, dropout=0.0, lr=1e-2, batch_size=64, max_epochs=15,
                      device="cpu").fit((V, spans), Y)
    s = probe.score((V, spans), Y)
    assert s[1] > 0.9 and s[0] < 0.75
    with pytest.raises(ProbesError, match="multi-label task use the linear, mix, cumulative or edge probe"):
        MLPProbe(device="cpu").fit(V, Y)


def test_multilabel_task_through_probe_layers_with_majority_baseline():
    V, Y = multilabel_data()
    off = np.arange(0, 601, 6)
    t = TaskData(name="ml", kind="span", metric="micro_f1", classes=["a", "b", "c"], Y=Y,
                 spans=np.stack([np.arange(600), np.arange(600) + 1], 1), sentence_offsets=off)
    rows = probe_layers((V, t), {"test": (V, t)}, probe="linear", model="m", n_boot=50, device="cpu")
    f1 = {r.layer: r.value for r in rows if r.probe == "linear" and r.metric == "micro_f1"}
    assert f1[1] > 0.95
    maj = next(r for r in rows if r.probe == "majority" and r.metric == "micro_f1")
    guess = Y.mean(0) > 0.5
    tp = (Y & guess).sum()
    assert maj.value == pytest.approx(2 * tp / (2 * tp + (guess & ~Y.astype(bool)).sum() + (~guess & Y.astype(bool)).sum()))


def test_pooling_equals_projecting_every_padded_word_first():
    """The segment pooling (no padding) gives what projecting every word of padded spans and
    pooling gives (the paper's order of operations)."""
    probe = EdgeProbe(proj_dim=5, device="cpu")
    probe.n_spans_, probe.device_ = 1, torch.device("cpu")
    p = probe._init_params(2, 7, 3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        p["proj0_b"].normal_()
    H = torch.randn(2, 20, 7)
    a, b = torch.tensor([0, 3, 9, 12]), torch.tensor([2, 6, 10, 14])
    width = int((b - a).max())
    pos = torch.arange(width)[None]
    mask = pos < (b - a)[:, None]
    Hw = H[:, torch.where(mask, a[:, None] + pos, a[:, None])]
    proj = torch.einsum("lbwd,ldp->lbwp", Hw, p["proj0"]) + p["proj0_b"][:, None, None, :]
    scores = torch.einsum("lbwp,lp->lbw", proj, p["att0"]).masked_fill(~mask[None], float("-inf"))
    naive = torch.einsum("lbw,lbwp->lbp", torch.softmax(scores, -1), proj)
    probe.pooling = "attention"
    assert torch.allclose(probe._pool(p, 0, H, a, b), naive, atol=1e-5)
    probe.pooling = "endpoint"
    last = mask.long().sum(1) - 1
    naive_end = torch.cat([proj[:, :, 0], proj[:, torch.arange(4), last]], -1)
    assert torch.allclose(probe._pool(p, 0, H, a, b), naive_end, atol=1e-5)
    # gradients flow through the segment softmax
    probe.pooling = "attention"
    probe._pool(p, 0, H, a, b).sum().backward()
    assert p["att0"].grad is not None and torch.isfinite(p["att0"].grad).all()


def test_expected_layer_rows_with_intervals_and_true_layer_ids():
    assert expected_layers(np.array([0.5, 0.7, 0.8, 0.8]), [0, 1, 2, 3]) == pytest.approx((1 * .2 + 2 * .1) / .3)
    # layers 0, 2, 4, 6: each difference credited to its own layer id
    assert expected_layers(np.array([0.5, 0.7, 0.8, 0.8]), [0, 2, 4, 6]) == pytest.approx((2 * .2 + 4 * .1) / .3)
    assert np.isnan(expected_layers(np.array([0.5, 0.5]), [0, 1]))
    from tests.probing.planted import planted_corpus

    V, t = planted_corpus(n_sentences=80, signal_layer=2)
    Vt, tt = planted_corpus(n_sentences=40, signal_layer=2, seed=1)
    rows = probe_layers((V, t), {"test": (Vt, tt)}, probe="cumulative", model="m", n_boot=200, device="cpu")
    (e,) = [r for r in rows if r.metric == "expected_layer"]
    scores = [r.value for r in sorted((r for r in rows if r.probe == "cumulative" and r.metric == "accuracy"),
                                      key=lambda r: r.layer)]
    assert e.layer == -1 and e.value == pytest.approx(float(expected_layers(np.array(scores), range(4))))
    assert e.ci_low <= e.value <= e.ci_high and 1.5 < e.value < 2.6
