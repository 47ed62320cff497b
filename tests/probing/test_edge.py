import numpy as np
import pytest
from sklearn.base import clone

from probes.errors import ProbesError
from probes.probing.edge import EdgeProbe


def edge_data(n_words, n_items, seed):
    """Label = whether feature 0 of span 1's first word plus that of span 2 is positive (layer 1 only)."""
    rng = np.random.default_rng(seed)
    V = rng.normal(size=(2, n_words, 8)).astype(np.float32)
    a = rng.integers(0, n_words - 3, n_items)
    b = rng.integers(0, n_words - 1, n_items)
    spans = np.stack([a, a + rng.integers(1, 3, n_items), b, b + 1], 1)
    y = (V[1, a, 0] + V[1, b, 0] > 0).astype(int)
    return V, spans, y


@pytest.mark.parametrize("pooling", ["endpoint", "attention"])
def test_edge_probe_learns_a_two_span_relation(pooling):
    V, spans, y = edge_data(300, 600, 0)
    Vt, st, yt = edge_data(200, 300, 1)
    probe = EdgeProbe(pooling=pooling, proj_dim=8, hidden_size=8, dropout=0.0, lr=2e-2, batch_size=100,
                      max_epochs=8, device="cpu").fit((V, spans), y)
    acc = probe.score((Vt, st), yt)
    assert acc[1] > 0.85 and acc[0] < 0.62
    assert clone(probe).get_params()["pooling"] == pooling


def test_bad_spans_are_reported():
    V, spans, y = edge_data(50, 20, 0)
    spans[3, 1] = spans[3, 0]
    with pytest.raises(ProbesError, match="span 3"):
        EdgeProbe(device="cpu").fit((V, spans), y)
