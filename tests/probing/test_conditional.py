import numpy as np
import pytest

from probes.errors import ProbesError
from probes.probing.conditional import Baseline, conditional_rows
from probes.tasks.base import TaskData


def planted(n_sentences=120, length=8, dim=12, seed=0):
    """Labels y = 2a + b (4 classes, uniform): layer 0 encodes a, layer 1 is an exact copy of layer 0,
    layer 2 is layer 0 plus b. So H(Y) = 2 bits, layer 0 carries 1 bit, layer 2 adds the other."""
    rng = np.random.default_rng(seed)
    n = n_sentences * length
    a, b = rng.integers(0, 2, n), rng.integers(0, 2, n)
    base = rng.normal(size=(n, dim)) * 0.3
    base[:, 0] += 3 * (2 * a - 1)
    top = base.copy()
    top[:, 1] += 3 * (2 * b - 1)
    V = np.stack([base, base, top]).astype(np.float32)
    task = TaskData(name="planted", kind="token", metric="accuracy", classes=["0", "1", "2", "3"], y=2 * a + b,
                    index=np.arange(n), sentence_offsets=np.arange(0, n + 1, length))
    return V, task


def by(rows, metric, eval_set="test"):
    return {r.layer: r for r in rows if r.metric == metric and r.eval_set == eval_set}


def test_conditional_information_is_zero_for_a_copy_and_positive_for_a_planted_feature():
    V, task = planted()
    Vt, tt = planted(n_sentences=60, seed=1)
    rows = conditional_rows((V, task), {"test": (Vt, tt)}, n_boot=200, device="cpu")
    cond, plain = by(rows, "cond_vinfo_bits"), by(rows, "vinfo_bits")
    assert sorted(cond) == [0, 1, 2] and all(r.probe == "conditional" for r in rows)
    # Layer 1 equals the baseline: it adds nothing (the duplicated input only halves the weight decay).
    assert abs(cond[1].value) < 0.05 and cond[1].ci_low < 0.05
    assert abs(cond[0].value) < 0.05
    # Layer 2 adds b: one bit beyond layer 0, with an interval clear of zero.
    assert cond[2].value == pytest.approx(1.0, abs=0.15) and cond[2].ci_low > 0.7
    # Unconditional V-information: layer 0 knows a (1 bit of 2), layer 2 both (2 bits).
    assert plain[0].value == pytest.approx(1.0, abs=0.15) and plain[2].value == pytest.approx(2.0, abs=0.15)
    for r in rows:
        assert r.ci_low <= r.value <= r.ci_high
    assert cond[2].covers == "test sentences (given layer 0)"


def test_previous_layer_baseline_and_another_models_layer():
    V, task = planted()
    Vt, tt = planted(n_sentences=60, seed=1)
    prev = by(conditional_rows((V, task), {"test": (Vt, tt)}, baseline="previous", n_boot=100, device="cpu"),
              "cond_vinfo_bits")
    assert abs(prev[1].value) < 0.05 and prev[2].value == pytest.approx(1.0, abs=0.15)
    # Another "model" whose layer already holds a and b: no layer adds anything beyond it.
    other = Baseline("oracle", train=V[[2]], tests={"test": Vt[[2]]})
    rows = conditional_rows((V, task), {"test": (Vt, tt)}, baseline=other, n_boot=100, device="cpu")
    given = by(rows, "cond_vinfo_bits")
    assert max(abs(r.value) for r in given.values()) < 0.05
    assert given[2].covers.endswith("(given oracle layer 0)")


def test_unseen_test_labels_are_left_out_and_counted():
    V, task = planted()
    Vt, tt = planted(n_sentences=60, seed=1)
    y = tt.y.copy()
    y[:5] = 4  # a class never seen in training
    tt = TaskData(name="planted", kind="token", metric="accuracy", classes=["0", "1", "2", "3", "4"], y=y,
                  index=tt.index, sentence_offsets=tt.sentence_offsets)
    rows = conditional_rows((V, task), {"test": (Vt, tt)}, n_boot=50, device="cpu")
    assert all(np.isfinite(r.value) for r in rows)
    assert by(rows, "vinfo_bits")[0].covers == "test sentences; 5 test items with labels unseen in training left out"


def test_bad_baseline_is_refused():
    V, task = planted()
    with pytest.raises(ProbesError, match="baseline must be"):
        conditional_rows((V, task), {}, baseline="layer3")
