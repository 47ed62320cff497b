import numpy as np
import pytest

from probes.probing.linear import LinearProbe
from probes.probing.mdl import block_ends, online_codelength, probe_codelength
from tests.probing.planted import planted_corpus


def test_online_code_by_hand():
    # Laplace (add-one) frequency model as the "probe": its codelength is computable by hand.
    y = np.array([0, 1, 0, 0, 1, 1, 0, 1, 0, 0])

    def laplace(train_rows, eval_rows):
        counts = np.bincount(y[train_rows], minlength=2) + 1.0
        return np.log(counts[y[eval_rows]] / counts.sum())[None]

    assert list(block_ends(10, (0.2, 0.5, 1.0))) == [2, 5, 10]
    online, uniform = online_codelength(10, 2, laplace, (0.2, 0.5, 1.0))
    # Block 1 (2 rows): 2 bits uniform. Block 2 (rows 2-4: 0,0,1) given counts 0:1, 1:1 -> p = 1/2 each: 3 bits.
    # Block 3 (rows 5-9: 1,0,1,0,0) given 0:3, 1:2 -> p0 = 4/7, p1 = 3/7: 2*log2(7/3) + 3*log2(7/4).
    expected = 2 + 3 + 2 * np.log2(7 / 3) + 3 * np.log2(7 / 4)
    assert online[0] == pytest.approx(expected)
    assert uniform == pytest.approx(10.0)


def test_probe_codelength_compresses_only_with_signal():
    V, task = planted_corpus(n_sentences=100, n_layers=2, signal_layer=1, n_classes=2)
    X = V.astype(np.float32)
    online, uniform, _ = probe_codelength(lambda: LinearProbe(device="cpu"), X, task.y, [0, 1], seed=0)
    compression = uniform / online
    assert compression[1] > 2.5
    assert 0.8 < compression[0] < 1.15
