"""The scalar mix (Tenney et al. 2019; AllenNLP's ScalarMix): softmax weights times gamma over the
raw layers by default; per-layer standardisation is a named option."""

import numpy as np
import pytest
import torch

from probes.errors import ProbesError
from probes.probing.features import Standardizer, standardize_mode
from probes.probing.mix import ScalarMixProbe
from tests.probing.planted import planted_corpus


def test_the_mix_is_softmax_weights_times_gamma_over_the_raw_layers():
    V, task = planted_corpus(n_sentences=80, signal_layer=2)
    p = ScalarMixProbe(device="cpu", max_iter=60).fit(V, task.y)
    assert p.get_params()["standardize"] == "none" and p.scaler_ is None
    a, gamma, W, b = p._unpack(p.params_)
    X = torch.as_tensor(np.asarray(V[:, :7], dtype=np.float32))
    # AllenNLP's ScalarMix: gamma * sum_l softmax(a)_l h_l, then the linear classifier.
    mixed = gamma[0] * (torch.softmax(a[0], 0)[:, None, None] * X).sum(0)
    logits = mixed @ W[0] + b[0]
    assert p.mix_weights_[0] == pytest.approx(torch.softmax(a[0], 0).detach().numpy(), abs=1e-6)
    proba = p.predict_proba(V[:, :7])
    proba = proba[0] if proba.ndim == 3 else proba
    assert proba == pytest.approx(torch.softmax(logits, -1).detach().numpy(), abs=1e-5)
    assert np.argmax(p.mix_weights_[0]) == 2  # the planted layer gets the largest weight


def test_raw_mix_sees_a_layers_scale_and_per_layer_standardising_hides_it():
    V, task = planted_corpus(n_sentences=80, signal_layer=2)
    V = np.asarray(V, dtype=np.float32)
    scaled = V.copy()
    scaled[2] *= 50.0
    per_layer = [ScalarMixProbe(device="cpu", standardize="per-layer", max_iter=60).fit(x, task.y).mix_weights_[0]
                 for x in (V, scaled)]
    assert per_layer[0] == pytest.approx(per_layer[1], abs=1e-4)  # invariant: it mixes rescaled layers
    raw = [ScalarMixProbe(device="cpu", max_iter=60).fit(x, task.y).mix_weights_[0] for x in (V, scaled)]
    assert np.abs(raw[0] - raw[1]).max() > 0.05


def test_shared_standardizer_is_one_map_for_every_layer():
    X = torch.as_tensor(np.random.default_rng(0).normal(size=(3, 50, 4)) * [[[1.0]], [[5.0]], [[9.0]]],
                        dtype=torch.float32)
    shared = Standardizer(shared=True).fit(X)
    pooled = X.reshape(-1, 4)
    assert torch.allclose(shared.mean_, pooled.mean(0).expand(3, 4), atol=1e-5)
    assert torch.allclose(shared.scale_, pooled.std(0, unbiased=False).expand(3, 4), atol=1e-4)
    per = Standardizer().fit(X)
    assert not torch.allclose(per.scale_[0], per.scale_[2])
    assert [standardize_mode(v) for v in (True, False, "shared")] == ["per-layer", "none", "shared"]
    with pytest.raises(ProbesError, match="standardize must be one of"):
        standardize_mode("z-score")
