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


def _set_up(cumulative: bool, L: int, d: int, C: int, multilabel: bool) -> ScalarMixProbe:
    """A probe ready to build its objective in float64 (the shapes fit() would record)."""
    p = ScalarMixProbe(cumulative=cumulative, weight_decay=0.3)
    p.n_layers_in_, p.n_features_in_, p.classes_, p.multilabel_ = L, d, np.arange(C), multilabel
    p._dtypes = lambda device: (torch.float64, torch.float64)
    return p


def _autograd_objective(p: ScalarMixProbe, X, y, params, idx):
    """The objective by its definition: the explicit mix, cross-entropy (or per-label BCE), autograd."""
    params = params.detach().requires_grad_(True)
    a, gamma, W, b = p._unpack(params)
    mixed = torch.einsum("ml,lnd->mnd", p._weights(a, idx) * gamma[:, None], X)
    z = torch.baddbmm(b[:, None, :], mixed, W)
    if p.multilabel_:
        loss = (torch.nn.functional.softplus(z) - y[None] * z).sum((1, 2)) / X.shape[1]
    else:
        loss = -torch.log_softmax(z, -1).gather(2, y[None, :, None].expand(len(idx), -1, 1)).sum((1, 2)) / X.shape[1]
    loss = loss + 0.5 * p.weight_decay * (W * W).sum((1, 2))
    loss.sum().backward()
    return loss.detach(), params.grad


@pytest.mark.parametrize("cumulative", [False, True])
@pytest.mark.parametrize("multilabel", [False, True])
def test_closed_form_gradient_equals_autograd_of_the_defined_loss(cumulative, multilabel, monkeypatch):
    monkeypatch.setattr("probes.probing.features.CHUNK_ROWS", 7)  # several row chunks, a ragged last one
    L, n, d, C = 4, 30, 5, 3
    g = torch.Generator().manual_seed(0)
    X = torch.randn(L, n, d, generator=g, dtype=torch.float64)
    y = (torch.rand(n, C, generator=g) > 0.5).double() if multilabel else torch.randint(0, C, (n,), generator=g)
    p = _set_up(cumulative, L, d, C, multilabel)
    fun = p._objective(p._train_input(X), y)
    M = L if cumulative else 1
    for idx in ([torch.arange(M)] + ([torch.tensor([1, 3]), torch.tensor([0])] if cumulative else [])):
        params = torch.randn(len(idx), L + 1 + d * C + C, generator=g, dtype=torch.float64)
        loss, grad = fun(params, idx)
        ref_loss, ref_grad = _autograd_objective(p, X, y, params, idx)
        assert torch.allclose(loss, ref_loss, rtol=1e-12, atol=1e-12)
        assert torch.allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)


def test_cumulative_model_l_never_reads_the_layers_above_l():
    L, n, d, C = 4, 40, 5, 3
    g = torch.Generator().manual_seed(1)
    X = torch.randn(L, n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, C, (n,), generator=g)
    p = _set_up(True, L, d, C, False)
    params = torch.randn(L, L + 1 + d * C + C, generator=g, dtype=torch.float64)
    poisoned = X.clone()
    poisoned[2:] = float("nan")  # models 0 and 1 must not see layers 2 and 3 at all
    idx = torch.arange(L)
    clean, dirty = (p._objective(p._train_input(x), y)(params, idx) for x in (X, poisoned))
    assert torch.equal(clean[0][:2], dirty[0][:2]) and torch.equal(clean[1][:2], dirty[1][:2])
    assert torch.isnan(dirty[0][2:]).all()
    logits_clean, logits_dirty = p._logits(params, X), p._logits(params, poisoned)
    assert torch.equal(logits_clean[:2], logits_dirty[:2]) and torch.isnan(logits_dirty[2:]).all()


def test_cumulative_fit_of_model_l_is_unchanged_by_what_the_upper_layers_hold():
    V, task = planted_corpus(n_sentences=60, signal_layer=1)
    V = np.asarray(V, dtype=np.float32)
    noisy = V.copy()
    noisy[2:] = np.random.default_rng(5).normal(scale=30.0, size=noisy[2:].shape)
    fits = [ScalarMixProbe(cumulative=True, device="cpu", max_iter=80).fit(x, task.y) for x in (V, noisy)]
    assert np.array_equal(fits[0].mix_weights_[:2], fits[1].mix_weights_[:2])
    assert np.array_equal(fits[0].score(V, task.y)[:2], fits[1].score(noisy, task.y)[:2])
    assert np.all(fits[0].mix_weights_[0, 1:] == 0) and np.all(fits[0].mix_weights_[1, 2:] == 0)


class _AutogradReference(ScalarMixProbe):
    """The objective by autograd through the explicit float32 mix (the implementation before the closed form)."""

    def _objective(self, Xs, y):
        X = Xs[torch.float32]
        return lambda params, idx: _autograd_objective(self, X, y, params, idx)


@pytest.mark.parametrize("cumulative", [False, True])
def test_closed_form_training_reaches_the_autograd_optimum(cumulative):
    def noisy(task, seed):  # a quarter of the labels redrawn: a finite optimum, not a separable drift
        rng = np.random.default_rng(seed)
        flip = rng.random(len(task.y)) < 0.25
        return np.where(flip, rng.integers(0, 5, len(task.y)), task.y)

    V, task = planted_corpus(n_sentences=150, signal_layer=2, n_classes=5)
    Vte, te = planted_corpus(n_sentences=60, signal_layer=2, n_classes=5, seed=3)
    y, yte = noisy(task, 1), noisy(te, 2)
    kw = dict(cumulative=cumulative, device="cpu", max_iter=150, early_stopping=False, weight_decay=1e-2)
    fast, ref = ScalarMixProbe(**kw).fit(V, y), _AutogradReference(**kw).fit(V, y)
    assert np.abs(fast.mix_weights_ - ref.mix_weights_).max() < 0.02
    # gamma alone is not identified (the decay on W trades against an unpenalised gamma, as in
    # Tenney et al.), so the classifiers are compared by what they predict.
    assert np.abs(fast.predict_proba(Vte) - ref.predict_proba(Vte)).max() < 0.02
    acc_fast, acc_ref = np.atleast_1d(fast.score(Vte, yte)), np.atleast_1d(ref.score(Vte, yte))
    assert np.abs(acc_fast - acc_ref).max() <= 0.005
    assert acc_fast[-1] > 0.6 and np.argmax(fast.mix_weights_[-1]) == 2


def test_compute_dtype_is_checked_and_the_bfloat16_deviations_stay_close():
    V, task = planted_corpus(n_sentences=80, signal_layer=2)
    with pytest.raises(ProbesError, match="compute_dtype must be"):
        ScalarMixProbe(compute_dtype="float16", device="cpu").fit(V, task.y)
    kw = dict(device="cpu", max_iter=100, early_stopping=False)
    ref = ScalarMixProbe(**kw).fit(V, task.y)
    assert ref._dtypes(torch.device("cpu")) == (torch.float32, torch.float32)  # auto is the float32 path
    for dt in ("mixed", "bfloat16"):
        other = ScalarMixProbe(compute_dtype=dt, **kw).fit(V, task.y)
        assert np.argmax(other.mix_weights_[0]) == 2
        assert abs(other.score(V, task.y) - ref.score(V, task.y)) < 0.03
