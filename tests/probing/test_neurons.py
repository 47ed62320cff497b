"""Neuron rankings and ablation curves on planted data where exactly three neurons carry the label."""

import numpy as np
import pytest

from probes.errors import ProbesError
from probes.probing.api import neuron_rows, rank_neurons
from probes.probing.neurons import ElasticNetProbe, ablation_ks, lca_order, min_k, probeless_order
from probes.tasks.base import TaskData

SIGNAL = {1: [3, 7, 11], 2: [0, 5, 9]}  # layer -> the three neurons that carry the label; layer 0 carries none
DIM = 16


def planted_neurons(n_sentences: int, seed: int, length: int = 8):
    """(vectors (3, n, 16), token task): label = argmax(h_a, h_b, h_c, 0) of the layer's three signal neurons;
    every other neuron is noise of its own scale (0.5 to 3), so raw magnitudes do not point at the signal."""
    rng = np.random.default_rng(seed)
    n = n_sentences * length
    scale = np.random.default_rng(7).uniform(0.5, 3.0, DIM)
    V = rng.normal(size=(3, n, DIM)) * scale
    z = rng.normal(size=(n, 3))
    y = np.concatenate([z, np.zeros((n, 1))], 1).argmax(1)
    for layer, cols in SIGNAL.items():
        V[layer][:, cols] = z + 0.05 * rng.normal(size=(n, 3))
    offsets = np.arange(0, n + 1, length, dtype=np.int64)
    task = TaskData(name="planted3", kind="token", metric="accuracy", classes=["a", "b", "c", "none"], y=y,
                    index=np.arange(n), sentence_offsets=offsets)
    return V.astype(np.float32), task


@pytest.fixture(scope="module")
def splits():
    return planted_neurons(80, 0), planted_neurons(40, 1), planted_neurons(30, 2)


def test_elastic_net_agrees_with_sklearn_saga():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    n, d = 300, 8
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.normal(size=d)
    W = rng.normal(size=(d, 3))
    W[4:] = 0
    y = (X @ W + rng.normal(size=(n, 3))).argmax(1)
    Xs = (X - X.mean(0)) / X.std(0)  # our probe standardises with the population sd of the training rows
    c, r = 0.05, 0.5
    sk = LogisticRegression(C=c, l1_ratio=r, solver="saga", tol=1e-10, max_iter=100000, random_state=0).fit(Xs, y)
    est = ElasticNetProbe(alpha=1 / (c * n), l1_ratio=r, tol=1e-9, max_iter=20000, device="cpu").fit(X, y)
    assert est.converged_.all()
    coef = est.coef_[0]
    intercept = est._unpack(est.params_)[1].numpy()[0]

    def objective(w, b):  # saga's objective: C * log-loss + l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|^2
        z = Xs @ np.asarray(w, np.float64).T + b
        z -= z.max(1, keepdims=True)
        nll = -(z[np.arange(n), y] - np.log(np.exp(z).sum(1))).sum()
        return c * nll + r * np.abs(w).sum() + (1 - r) / 2 * (np.asarray(w, np.float64) ** 2).sum()

    # both reach the same minimum; the float32 weights sit within float32 noise of it along flat directions
    assert objective(coef, intercept) == pytest.approx(objective(sk.coef_, sk.intercept_), rel=1e-7)
    assert np.abs(coef - sk.coef_).max() < 3e-4
    assert np.abs(intercept - sk.intercept_).max() < 3e-4
    # the L1 part zeroes exactly the weights saga zeroes, and some weights are zero
    assert ((coef == 0) == (sk.coef_ == 0)).all() and (coef == 0).sum() >= 8
    assert est.score(X, y) == pytest.approx(sk.score(Xs, y))


def test_elastic_net_layers_are_independent():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, 200, 5))
    y = (X[1, :, 0] > 0).astype(int)
    both = ElasticNetProbe(alpha=0.01, tol=1e-8, device="cpu").fit(X, y)
    one = ElasticNetProbe(alpha=0.01, tol=1e-8, device="cpu").fit(X[1], y)
    assert np.allclose(both.coef_[1], one.coef_[0], atol=1e-5)
    assert both.score(X, y)[1] > 0.95 and both.score(X, y)[0] < 0.7
    with pytest.raises(ProbesError, match="l1_ratio"):
        ElasticNetProbe(l1_ratio=1.5, device="cpu").fit(X, y)


@pytest.mark.parametrize("method", ["lca", "probeless"])
def test_rankings_put_the_three_planted_neurons_first(splits, method):
    (V, task), _, _ = splits
    r = rank_neurons((V, task), method, device="cpu")
    assert r.layers == [0, 1, 2] and r.labels == ["a", "b", "c", "none"]
    assert r.order.shape == (3, DIM) and r.label_order.shape == (3, 4, DIM)
    for layer, cols in SIGNAL.items():
        assert sorted(r.order[layer, :3]) == sorted(cols)
        # label a is neuron cols[0]'s high values: it leads that label's own ranking
        assert r.top(layer, 1, "a")[0] == cols[0] and r.top(layer, 1, "c")[0] == cols[2]
        assert all(sorted(o) == list(range(DIM)) for o in r.order)  # a permutation of the neurons
    # activation profile: label "a" sits high on its neuron, "none" low on all three
    z = r.class_means[1]
    assert z[0, 3] > 0.8 and (z[3, [3, 7, 11]] < -0.5).all()


def test_lca_order_is_the_exact_neurox_sweep():
    # Class 0 puts 0.6 of its mass on neuron 2, class 1 spreads over 0 and 1; neuron 3 has no weight.
    W = np.array([[[0.1, 0.3, 0.6, 0.0], [0.5, 0.45, 0.05, 0.0]]])
    order, score, label_order, _ = lca_order(W)
    # joins at p = 0 (heaviest of a class): 2 and 0; then neuron 1 at p = 0.5 / 1 (class 1) < 0.6 (class 0)
    assert order[0].tolist() == [2, 0, 1, 3]
    assert label_order[0, 0].tolist() == [2, 1, 0, 3]
    assert score[0].tolist() == pytest.approx([1.0, 0.5, 1.0, 0.0])


def test_probeless_scores_are_class_mean_differences():
    means = np.array([[[0.0, 1.0], [2.0, 1.0], [4.0, 0.0]]])  # (1 layer, 3 labels, 2 neurons)
    rest = np.array([[[3.0, 0.5], [2.0, 0.5], [1.0, 1.0]]])
    order, score, label_order, label_score = probeless_order(means, rest)
    assert score[0].tolist() == [2 + 4 + 2, 0 + 1 + 1] and order[0].tolist() == [0, 1]
    assert label_score[0].tolist() == [[3, 0.5], [0, 0.5], [3, 1]]
    assert label_order[0, 1].tolist() == [1, 0]


@pytest.fixture(scope="module")
def lca_rows(splits):
    (V, task), (Vt, tt), (Vd, td) = splits
    # k = 3 on the grid: the curve must saturate exactly there. Two seeds give the random band.
    return neuron_rows((V, task), {"test": (Vt, tt)}, dev=(Vd, td), ranking="lca", ks=[1, 2, 3, 5, 10],
                       seeds=(0, 1), model="toy", n_boot=200, device="cpu")


def test_ablation_rows_have_the_documented_names_and_finite_intervals(lca_rows):
    ks = [1, 2, 3, 5, 10, DIM]
    expected = {f"neuron_acc_{side}:{k}" for side in ("top", "bottom", "random") for k in ks} | {"neuron_min_k95"}
    assert {r.metric for r in lca_rows} == expected
    assert len(lca_rows) == len(expected) * 3  # one row per metric and layer
    assert {r.probe for r in lca_rows} == {"neurons-lca"} and {r.eval_set for r in lca_rows} == {"test"}
    for r in lca_rows:
        assert np.isfinite([r.value, r.ci_low, r.ci_high]).all(), r
        assert r.ci_low <= r.value + 1e-9 and r.value <= r.ci_high + 1e-9, r
    rnd = [r for r in lca_rows if r.metric.startswith("neuron_acc_random")]
    assert {r.seed for r in rnd} == {-1} and {r.covers for r in rnd} == {"test sentences + 2 seeds (random neurons)"}
    top = [r for r in lca_rows if r.metric.startswith("neuron_acc_top") or r.metric == "neuron_min_k95"]
    assert {r.seed for r in top} == {0} and {r.covers for r in top} == {"test sentences"}
    assert ablation_ks(DIM) == [1, 2, 5, 10, 16] and ablation_ks(384)[-3:] == [100, 200, 384]


def test_ablation_curve_saturates_at_three_neurons(splits, lca_rows):
    get = {(r.metric, r.layer): r for r in lca_rows}
    tt = splits[1][1]
    majority = np.bincount(tt.y).max() / len(tt.y)
    for layer in SIGNAL:
        full = get[(f"neuron_acc_top:{DIM}", layer)].value
        assert full > 0.9
        assert get[("neuron_acc_top:2", layer)].value < 0.9 * full  # two of the three neurons are not enough
        assert get[("neuron_acc_top:3", layer)].value >= 0.95 * full
        k95 = get[("neuron_min_k95", layer)]
        assert k95.value == 3 and k95.ci_low == 3 and k95.ci_high == 3
        for k in (1, 2, 3, 5, 10):  # the bottom neurons are all noise
            assert get[(f"neuron_acc_bottom:{k}", layer)].value < majority + 0.1
            # random neurons rarely hold all three: between bottom and top
            assert get[(f"neuron_acc_random:{k}", layer)].value <= get[(f"neuron_acc_top:{k}", layer)].value
        assert get[(f"neuron_acc_bottom:{DIM}", layer)].value == full == get[(f"neuron_acc_random:{DIM}", layer)].value
    # layer 0 has no signal: nothing beats the majority class by much, whatever k
    assert all(get[(f"neuron_acc_top:{k}", 0)].value < majority + 0.1 for k in (1, 2, 3, 5, 10, DIM))


def test_probeless_rows_and_refusals(splits):
    (V, task), (Vt, tt), _ = splits
    rows = neuron_rows((V, task), {"test": (Vt, tt)}, ranking="probeless", ks=[3], seeds=(0,), n_boot=100,
                       device="cpu")
    k95 = {r.layer: r.value for r in rows if r.metric == "neuron_min_k95"}
    assert k95[1] == k95[2] == 3
    assert {r.probe for r in rows} == {"neurons-probeless"}
    edge = TaskData(name="arcs", kind="edge", metric="accuracy", classes=["x", "y"], y=np.zeros(4, int),
                    pairs=np.array([[0, 1], [1, 2], [2, 3], [3, 4]]), sentence_offsets=task.sentence_offsets)
    with pytest.raises(ProbesError, match="edge task"):
        neuron_rows((V, edge), {})
    with pytest.raises(ProbesError, match="unknown neuron ranking"):
        neuron_rows((V, task), {}, ranking="magnitude")
    with pytest.raises(ProbesError, match="no hyper-parameter"):
        neuron_rows((V, task), {}, hidden_size=3)


def test_min_k_per_replicate():
    ks = [1, 2, 5, 10]
    top = np.array([[0.2, 0.5, 0.96, 1.0], [0.99, 0.99, 1.0, 1.0]])
    assert min_k(ks, top, top[:, -1]).tolist() == [5, 1]
    assert min_k(ks, top, np.array([1.0, 1.0]), fraction=0.5).tolist() == [2, 1]
