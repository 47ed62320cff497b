"""Caches larger than the memory budget: the linear probe reads them chunk by chunk."""

import numpy as np
import pytest

from probes.probing import features
from probes.probing.api import probe_layers, task_inputs
from probes.probing.features import RowStack, lazy_rows
from probes.probing.linear import LinearProbe
from tests.probing.planted import planted_corpus


def test_streamed_fit_equals_in_memory_fit(monkeypatch):
    V, task = planted_corpus(n_sentences=120, signal_layer=2)
    V16 = V.astype(np.float16)
    rows = np.asarray(task.index)
    monkeypatch.setattr(features, "CHUNK_ROWS", 64)        # many chunks even on small data
    kw = dict(device="cpu", compute_dtype="float32", early_stopping=False, max_iter=60)
    dense = LinearProbe(**kw).fit(features.to_tensor(V16, rows), task.y)
    reads = []
    block = RowStack.block
    monkeypatch.setattr(RowStack, "block", lambda self, layer, a, b, *args: reads.append(b - a) or block(self, layer, a, b, *args))
    streamed = LinearProbe(**kw).fit(RowStack(V16, rows[::-1].copy()).take(np.arange(len(rows))[::-1]), task.y)
    assert len(rows) > 64 * 4 and max(reads) == 64      # training really read the cache in 64-row chunks
    assert np.allclose(streamed.coef_, dense.coef_, atol=1e-4)
    reads.clear()
    assert (streamed.predict(RowStack(V16, rows)) == dense.predict(V16[:, rows])).all()
    assert len(reads) >= len(rows) // 64                  # and so did prediction


def test_api_streams_past_the_budget_with_the_same_scores(monkeypatch):
    V, task = planted_corpus(n_sentences=120, signal_layer=2)
    Vt, tt = planted_corpus(n_sentences=50, signal_layer=2, seed=1)
    kw = dict(probe="linear", seeds=(0,), n_boot=20, device="cpu", majority=False, compute_dtype="float32")
    in_memory = probe_layers((V, task), {"t": (Vt, tt)}, **kw)
    monkeypatch.setenv("PROBES_MEMORY_BUDGET_MB", "0.001")
    assert isinstance(lazy_rows(V, np.asarray(task.index)), RowStack)
    assert isinstance(task_inputs(V, task).X, RowStack)
    streamed = probe_layers((V, task), {"t": (Vt, tt)}, **kw)
    acc = lambda rows: [(r.layer, round(r.value, 6)) for r in rows if r.metric == "accuracy"]  # noqa: E731
    assert acc(streamed) == acc(in_memory)
    assert max(v for layer, v in acc(streamed) if layer == 2) > 0.9


def test_rowstack_only_selects_rows():
    V = np.zeros((2, 5, 3), np.float16)
    with pytest.raises(TypeError):
        RowStack(V)[0]
    assert RowStack(V)[:, 1:4].shape == (2, 3, 3)
