import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from probes.errors import ProbesError
from probes.probing.linear import LinearProbe
from tests.probing.planted import planted_corpus


def test_planted_signal_recovered_only_at_its_layer():
    V, task = planted_corpus(n_sentences=150, signal_layer=2)
    Vt, tt = planted_corpus(n_sentences=60, signal_layer=2, seed=1)
    p = LinearProbe(device="cpu").fit(V, task.y)
    acc = p.score(Vt, tt.y)
    assert acc.shape == (4,)
    assert acc[2] >= 0.97
    for l in (0, 1, 3):
        assert abs(acc[l] - np.bincount(tt.y).max() / len(tt.y)) < 0.12  # chance level: the majority rate


def test_shuffled_labels_give_chance():
    V, task = planted_corpus(n_sentences=150, shuffle=True)
    Vt, tt = planted_corpus(n_sentences=60, seed=1)
    acc = LinearProbe(device="cpu").fit(V, task.y).score(Vt, tt.y)
    assert np.all(acc < 0.45)  # 4 classes, majority share ~0.3


def test_batched_equals_each_layer_alone():
    V, task = planted_corpus(n_sentences=100)
    Vt, tt = planted_corpus(n_sentences=40, seed=1)
    hyper = dict(device="cpu", early_stopping=False, weight_decay=1e-3, tol=1e-6)
    together = LinearProbe(**hyper).fit(V, task.y)
    for l in range(V.shape[0]):
        alone = LinearProbe(**hyper).fit(V[l], task.y)
        assert alone.score(Vt[l], tt.y) == together.score(Vt, tt.y)[l]
        assert np.allclose(alone.coef_[0], together.coef_[l], atol=2e-3)


def test_matches_sklearn_solution():
    V, task = planted_corpus(n_sentences=100)
    X = V[2].astype(np.float64)
    Z = (X - X.mean(0)) / X.std(0)
    n = len(task.y)
    sk = LogisticRegression(C=1.0, max_iter=5000, tol=1e-10).fit(Z, task.y)
    ours = LinearProbe(device="cpu", early_stopping=False, weight_decay=1.0 / n, tol=1e-7,
                       compute_dtype="float32").fit(V[2], task.y)
    assert np.allclose(ours.coef_[0], sk.coef_, atol=5e-3 * np.abs(sk.coef_).max())


def test_bfloat16_matmuls_reach_the_float32_solution_within_rounding():
    V, task = planted_corpus(n_sentences=100)
    n = len(task.y)
    kw = dict(device="cpu", early_stopping=False, weight_decay=1.0 / n, max_iter=300)
    f32 = LinearProbe(compute_dtype="float32", **kw).fit(V, task.y)
    bf16 = LinearProbe(compute_dtype="bfloat16", **kw).fit(V, task.y)
    scale = np.abs(f32.coef_).max()
    assert np.abs(bf16.coef_ - f32.coef_).max() < 0.05 * scale
    agree = (bf16.predict(V) == f32.predict(V)).mean()
    assert agree > 0.99
    with pytest.raises(ProbesError, match="compute_dtype"):
        LinearProbe(compute_dtype="float8").fit(V[0], task.y)


def test_sklearn_conventions():
    p = LinearProbe(weight_decay=0.5, device="cpu")
    c = clone(p)
    assert c.get_params()["weight_decay"] == 0.5 and c is not p
    V, task = planted_corpus(n_sentences=30)
    p.fit(V[2], task.y)
    assert p.predict(V[2]).shape == (len(task.y),)
    assert isinstance(p.score(V[2], task.y), float)
    assert p.predict_proba(V[2]).shape == (len(task.y), 4)
    with pytest.raises(ProbesError):
        p.fit(V[2][:10], task.y)
