"""Dropout masks come from the probe's seed: the same fit whatever torch's global generator holds."""

from __future__ import annotations

import numpy as np
import torch

from probes.probing.dropout import dropout_generator, seeded_dropout
from probes.probing.edge import EdgeProbe
from probes.probing.mlp import MLPProbe


def _data():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(2, 300, 16)).astype(np.float32)
    spans = np.stack([np.arange(0, 290, 2), np.arange(0, 290, 2) + 2], 1)
    y = (V[0, spans[:, 0], 0] + 0.5 * rng.normal(size=len(spans)) > 0).astype(int)
    return V, spans, y


def _fits(make, fit, global_seeds=(1, 2)):
    out = []
    for s in global_seeds:
        torch.manual_seed(s)  # what ran before in the process (another probe, a model's initialisation)
        out.append(fit(make()))
    return out


def test_edge_probe_dropout_depends_on_its_seed_only():
    V, spans, y = _data()

    def params(dropout):
        a, b = _fits(lambda: EdgeProbe(device="cpu", random_state=0, max_epochs=5, proj_dim=8, hidden_size=8,
                                       dropout=dropout),
                     lambda p: p.fit((V, spans), y).params_)
        return a, b

    a, b = params(0.3)
    assert all(torch.equal(a[k], b[k]) for k in a)  # differed by 2e-3 with the global generator's masks
    clean, _ = params(0.0)
    assert any(not torch.equal(a[k], clean[k]) for k in a)  # and dropout is still applied


def test_mlp_probe_dropout_depends_on_its_seed_only():
    V, spans, y = _data()
    X = V[:, spans[:, 0]]

    def weights(dropout):
        return _fits(lambda: MLPProbe(device="cpu", random_state=0, max_epochs=5, hidden_size=8, dropout=dropout),
                     lambda p: p.fit(X, y).params_)

    a, b = weights(0.3)
    assert torch.equal(a, b)
    assert not torch.equal(a, weights(0.0)[0])


def test_seeded_dropout_keeps_the_expected_share_and_scales():
    h = torch.ones(200, 500)
    out = seeded_dropout(h, 0.25, dropout_generator(3, "cpu"))
    kept = out > 0
    assert abs(kept.float().mean().item() - 0.75) < 0.01 and torch.allclose(out[kept], torch.tensor(1 / 0.75))
    assert torch.equal(out, seeded_dropout(h, 0.25, dropout_generator(3, "cpu")))
