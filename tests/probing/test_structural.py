import numpy as np
import pytest
import torch

from probes.probing.structural import DepthProbe, DistanceProbe
from probes.probing.structural_metrics import (depth_spearman, distance_spearman, mst_edges, root_correct,
                                               uuas_counts)


def tree_distances(heads):
    """Gold distances and depths from 1-based heads (0 = root)."""
    n = len(heads)
    adj = {i: set() for i in range(n)}
    for i, h in enumerate(heads):
        if h:
            adj[i].add(h - 1)
            adj[h - 1].add(i)
    D = np.zeros((n, n))
    for s in range(n):
        seen, frontier, d = {s}, [s], 0
        while frontier:
            d += 1
            nxt = [v for u in frontier for v in adj[u] if v not in seen]
            for v in nxt:
                seen.add(v)
                D[s, v] = d
            frontier = nxt
    root = heads.index(0)
    return D, D[root].copy()


def test_mst_and_uuas_hand_made():
    # Gold tree: 0 <- 1 -> 2, 2 -> 3, word 4 is punctuation attached to 1.
    gold, _ = tree_distances([2, 0, 2, 3, 2])
    punct = np.array([False, False, False, False, True])
    assert mst_edges(gold[:4, :4]) == {(0, 1), (1, 2), (2, 3)}
    # Prediction: a chain 0-1, 1-3 (wrong), 3-2 edges by distance; punctuation hugely wrong (ignored).
    pred = np.array([[0, 1, 5, 6, 0.1], [1, 0, 4, 2, 0.1], [5, 4, 0, 1, 0.1], [6, 2, 1, 0, 0.1],
                     [0.1, 0.1, 0.1, 0.1, 0]], dtype=float)
    assert mst_edges(pred[:4, :4]) == {(0, 1), (1, 3), (2, 3)}
    assert uuas_counts(pred, gold, punct) == (2, 3)  # (0,1) and (2,3) right, (1,2) missed


def test_spearman_and_root_hand_made():
    gold = np.array([[0, 1, 2], [1, 0, 1], [2, 1, 0]], dtype=float)
    pred = np.array([[0, 2, 1], [2, 0, 1], [1, 1, 0]], dtype=float)
    # Row 0: ranks gold (1,2,3) vs pred (1,3,2): rho = 1 - 6*2/(3*8) = 0.5.
    # Row 1: gold (2.5,1,2.5) vs pred (3,1,2): rho = 0.866...; row 2: gold (3,2,1) vs pred (2.5,2.5,1): 0.866...
    expected = np.mean([0.5, np.sqrt(3) / 2, np.sqrt(3) / 2])
    assert distance_spearman(pred, gold) == pytest.approx(expected)
    assert depth_spearman(np.array([0.1, 2.0, 1.0]), np.array([0.0, 2.0, 1.0])) == pytest.approx(1.0)
    punct = np.array([True, False, False])
    # Shallowest predicted word is punctuation 0; among non-punct it is word 2, but the gold root is 1.
    assert root_correct(np.array([0.0, 0.5, 0.2]), np.array([1.0, 0.0, 1.0]), punct) == (0, 1)
    assert root_correct(np.array([0.0, 0.1, 0.2]), np.array([1.0, 0.0, 1.0]), punct) == (1, 1)


def planted_trees(n_sent=60, dim=16, n_layers=3, signal=1, seed=0):
    """Vectors whose layer `signal` embeds each tree exactly: ||h_i - h_j||^2 = d(i, j), ||h_i||^2 = depth."""
    rng = np.random.default_rng(seed)
    vecs, dists, depths, heads_all, offsets = [], [], [], [], [0]
    for _ in range(n_sent):
        n = int(rng.integers(5, 9))
        root = int(rng.integers(n))
        heads = [0] * n
        order = [root] + [i for i in rng.permutation(n) if i != root]
        for k, w in enumerate(order[1:], 1):
            heads[w] = order[int(rng.integers(k))] + 1
        D, depth = tree_distances(heads)
        Q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        H = np.zeros((n, dim))
        for w in range(n):  # sum of one orthonormal direction per edge on the root path
            v = w
            while heads[v]:
                H[w] += Q[:, v]
                v = heads[v] - 1
        layers = rng.normal(size=(n_layers, n, dim)) * 0.5
        layers[signal] = H
        vecs.append(layers)
        dists.append(D)
        depths.append(depth)
        offsets.append(offsets[-1] + n)
    return np.concatenate(vecs, 1).astype(np.float32), dists, depths, np.array(offsets)


def test_distance_probe_recovers_planted_trees():
    X, dists, _, offs = planted_trees()
    probe = DistanceProbe(rank=16, lr=1e-2, max_epochs=15, device="cpu").fit(X, dists, offs)
    Xt, dt, _, ot = planted_trees(n_sent=20, seed=1)
    pred = probe.predict(Xt, ot)
    uuas = []
    for l in range(3):
        c = np.array([uuas_counts(p[l], g, np.zeros(len(g), bool)) for p, g in zip(pred, dt)]).sum(0)
        uuas.append(c[0] / c[1])
    assert uuas[1] >= 0.95
    assert uuas[0] < 0.6 and uuas[2] < 0.6


def test_depth_probe_finds_roots():
    X, _, depths, offs = planted_trees()
    probe = DepthProbe(rank=16, lr=1e-2, max_epochs=15, device="cpu").fit(X, depths, offs)
    Xt, _, dt, ot = planted_trees(n_sent=20, seed=1)
    pred = probe.predict(Xt, ot)
    acc = [np.mean([root_correct(p[l], g, np.zeros(len(g), bool))[0] for p, g in zip(pred, dt)]) for l in range(3)]
    assert acc[1] >= 0.95 and max(acc[0], acc[2]) < 0.6


def test_hewitt_manning_regimen_decays_the_rate_on_a_plateau_and_stops_after_five_epochs(monkeypatch):
    X, dists, _, offs = planted_trees(n_sent=20, n_layers=2)
    # Scripted dev losses: layer 0 improves at epochs 0-1 then plateaus; layer 1 keeps improving.
    script = iter([[1.0, 1.0], [0.9, 0.9], [0.95, 0.8], [0.95, 0.7], [0.95, 0.6], [0.95, 0.5], [0.95, 0.4],
                   [0.95, 0.3], [0.95, 0.2]])
    monkeypatch.setattr(DistanceProbe, "_dataset_loss", lambda self, B, *dev: torch.tensor(next(script)))
    probe = DistanceProbe(rank=4, max_epochs=9, device="cpu").fit(X, dists, offs, X, dists, offs)
    # Layer 0: best at epoch 1; epochs 2-6 do not improve: stopped after epoch 6 (7 epochs), as
    # min_dev_loss_epoch < epoch - 4 in the reference; layer 1 trains all 9 epochs.
    assert probe.n_iter_.tolist() == [7, 9]
    assert probe.best_dev_loss_.tolist() == pytest.approx([0.9, 0.2])
    assert probe.lr_[0] == 0.0  # stopped
    assert probe.lr_[1] == pytest.approx(1e-3)  # never plateaued: never decayed
    assert DistanceProbe().get_params()["batch_size"] == 20 and DistanceProbe().get_params()["lr_decay"] == 0.1


@pytest.mark.parametrize("cls", [DistanceProbe, DepthProbe])
def test_closed_form_batch_gradient_equals_autograd(cls):
    X, dists, depths, offs = planted_trees(n_sent=12, n_layers=3)
    targets = [torch.as_tensor(t, dtype=torch.float64) for t in (dists if cls is DistanceProbe else depths)]
    H = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    B = torch.randn(3, H.shape[2], 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    probe = cls(rank=5)
    sents = np.array([7, 2, 9, 0, 4])  # a batch of different lengths, unsorted
    loss, grad = probe._batch_grad(B, H, targets, np.asarray(offs), sents)
    Bg = B.clone().requires_grad_(True)
    ref = probe._batch_loss(Bg, H, targets, np.asarray(offs), sents)
    ref.sum().backward()
    assert torch.allclose(loss, ref.detach(), rtol=1e-12, atol=1e-12)
    assert torch.allclose(grad, Bg.grad, rtol=1e-9, atol=1e-12)


def test_batched_adam_equals_torch_adam_per_layer():
    from probes.probing.structural import _BatchedAdam

    g = torch.Generator().manual_seed(0)
    P = torch.randn(3, 4, 2, generator=g, dtype=torch.float64)
    mine = _BatchedAdam(P.clone(), 1e-2)
    ref = [P[l].clone().requires_grad_(True) for l in range(3)]
    opt = torch.optim.Adam([{"params": [r], "lr": 1e-2} for r in ref])
    for step in range(6):
        grads = torch.randn(3, 4, 2, generator=g, dtype=torch.float64)
        if step == 3:  # a layer decays and one stops, as the regimen does
            mine.lr[1] *= 0.1
            opt.param_groups[1]["lr"] *= 0.1
            mine.lr[2] = 0.0
            opt.param_groups[2]["lr"] = 0.0
        mine.step(grads)
        for l, r in enumerate(ref):
            r.grad = grads[l].clone()
        opt.step()
    assert torch.allclose(mine.params, torch.stack([r.detach() for r in ref]), rtol=1e-12, atol=1e-14)


def test_gram_distances_equal_the_explicit_differences():
    g = torch.Generator().manual_seed(0)
    H = torch.randn(3, 2, 6, 10, generator=g, dtype=torch.float64)  # (layers, sentences, width, dim)
    H[:, 0, 4] = H[:, 0, 1]  # two identical words: distance exactly 0, never negative
    B = torch.randn(3, 10, 4, generator=g, dtype=torch.float64)
    T = torch.einsum("lswd,ldk->lswk", H, B)
    explicit = ((T[:, :, :, None] - T[:, :, None]) ** 2).sum(-1)
    D = DistanceProbe()._pred(B, H)
    assert torch.allclose(D, explicit, atol=1e-10)
    assert (D >= 0).all() and torch.all(D.diagonal(dim1=-2, dim2=-1) == 0)
    assert D[:, 0, 1, 4].abs().max() < 1e-10
