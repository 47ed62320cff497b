import numpy as np
from sklearn.base import clone

from probes.probing.linear import LinearProbe
from probes.probing.mlp import MLPProbe


def xor_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2, n, 6)).astype(np.float32)
    y = (X[1, :, 0] * X[1, :, 1] > 0).astype(int)  # not linearly separable, only in layer 1
    return X, y


def test_mlp_learns_nonlinear_signal_that_linear_cannot():
    X, y = xor_data(600, 0)
    Xt, yt = xor_data(300, 1)
    mlp = MLPProbe(hidden_size=32, batch_size=100, lr=2e-2, max_epochs=20, device="cpu").fit(X, y)
    acc = mlp.score(Xt, yt)
    assert acc[1] > 0.9 and acc[0] < 0.62
    assert LinearProbe(device="cpu").fit(X, y).score(Xt, yt)[1] < 0.62
    assert clone(mlp).get_params()["hidden_size"] == 32
    assert MLPProbe().get_params()["hidden_size"] == 1000  # Hewitt & Liang's MLP-1 default


def test_one_training_sentence_is_a_clear_error_not_nan():
    import pytest

    from probes.errors import ProbesError

    X, y = xor_data(40, 0)
    with pytest.raises(ProbesError, match="one sentence.*dev set"):
        MLPProbe(device="cpu", max_epochs=2).fit(X, y, groups=np.zeros(40, dtype=int))
    # Two sentences: one is held out, the other trains, and the scores are numbers.
    groups = np.repeat([0, 1], 20)
    acc = MLPProbe(device="cpu", max_epochs=2).fit(X, y, groups=groups).score(X, y)
    assert np.all(np.isfinite(acc))
