"""Shared fits: the task's probe and its control draws' probes on the same vectors, trained as one
stacked L-BFGS run (``fit_shared``), equal the fits one by one within the optimizer's rounding."""

import numpy as np
import pytest
import torch

from probes.probing import api
from probes.probing.features import log_softmax
from probes.probing.linear import LinearProbe
from probes.probing.mix import ScalarMixProbe
from probes.probing.mlp import MLPProbe
from probes.tasks.base import TaskData
from tests.probing.planted import planted_corpus

PROBES = {"linear": lambda: LinearProbe(device="cpu"),
          "mix": lambda: ScalarMixProbe(device="cpu"),
          "cumulative": lambda: ScalarMixProbe(cumulative=True, device="cpu")}


def _targets(y: np.ndarray, seed: int) -> list[np.ndarray]:
    """The planted labels, a draw with fewer classes (padding in the stack) and a shuffled draw."""
    rng = np.random.default_rng(seed)
    return [y, rng.integers(0, 3, len(y)), rng.permutation(y)]


@pytest.mark.parametrize("probe", list(PROBES))
@pytest.mark.parametrize("with_dev", [True, False])
def test_shared_fits_equal_the_fits_one_by_one(probe, with_dev):
    V, task = planted_corpus(n_sentences=60, signal_layer=2)
    Vd, dev = planted_corpus(n_sentences=20, signal_layer=2, seed=5)
    ys, yds = _targets(task.y, 1), _targets(dev.y, 2)
    dev_args = (Vd, yds) if with_dev else (None, None)
    groups = np.arange(len(task.y)) // 8  # the planted sentences: the held-out split keeps them whole
    alone = [PROBES[probe]().fit(V, y, Vd if with_dev else None, yd if with_dev else None, groups=groups)
             for y, yd in zip(ys, yds)]
    shared = PROBES[probe]().fit_shared(V, ys, *dev_args, groups=groups)
    assert len(shared) == 3
    # Float rounding differs (wider GEMMs, batched mixes); the planted task has a well-defined optimum,
    # while the random-label draws sit on a flat loss where the early-stopped iterate drifts more.
    for a, b, y, tol in zip(alone, shared, ys, (2e-4, 5e-3, 5e-3)):
        assert np.array_equal(a.classes_, b.classes_) and len(b.classes_) == len(np.unique(y))
        assert b.params_.shape == a.params_.shape  # the padding classes are gone
        assert a.best_dev_accuracy_ == pytest.approx(b.best_dev_accuracy_, abs=1e-6)
        assert np.abs(a.predict_proba(Vd) - b.predict_proba(Vd)).max() < tol
        assert np.mean(a.predict(Vd) != b.predict(Vd)) < 0.005
        if probe != "linear":
            assert b.mix_weights_.shape == a.mix_weights_.shape
            assert np.abs(a.mix_weights_ - b.mix_weights_).max() < tol
    # The planted task is still learned in the stack: its signal layer, near-perfect.
    acc = np.atleast_1d(shared[0].score(Vd, dev.y))
    assert acc.max() > 0.9
    if probe == "cumulative":
        assert np.all(shared[0].mix_weights_[1, 2:] == 0)  # model 1 mixes layers 0 and 1 only


def test_stacked_cumulative_models_never_read_the_layers_above_theirs():
    V, task = planted_corpus(n_sentences=60, signal_layer=1)
    V = np.asarray(V, dtype=np.float32)
    noisy = V.copy()
    noisy[2:] = np.random.default_rng(5).normal(scale=30.0, size=noisy[2:].shape)
    ys = _targets(task.y, 3)
    fits = [ScalarMixProbe(cumulative=True, device="cpu", max_iter=80).fit_shared(x, ys) for x in (V, noisy)]
    for a, b in zip(*fits):
        assert np.array_equal(a.mix_weights_[:2], b.mix_weights_[:2])


def test_the_stack_pads_classes_with_logits_that_never_win():
    V, task = planted_corpus(n_sentences=40, signal_layer=2)
    ys = [task.y, np.random.default_rng(0).integers(0, 2, len(task.y))]
    p = LinearProbe(device="cpu", max_iter=30)
    p._fit_targets(V, ys, None, [None, None], None, None)
    assert p._class_mask.shape == (2, 4) and torch.isinf(p._class_mask[1, 2:]).all()
    W, b = p._unpack(p.params_)
    assert torch.all(W[1::2, :, 2:] == 0) and torch.all(b[1::2, 2:] == 0)  # no gradient ever reached them
    small = p._split_targets()[1]
    assert list(small.classes_) == [0, 1] and set(np.unique(small.predict(V))) <= {0, 1}


def test_multilabel_and_unstacked_probes_fall_back_to_fits_one_by_one():
    V, task = planted_corpus(n_sentences=40, signal_layer=2)
    Y = np.eye(4)[task.y]
    fits = LinearProbe(device="cpu", max_iter=20).fit_shared(V, [Y, Y[:, ::-1]])
    assert [f.multilabel_ for f in fits] == [True, True]
    one = LinearProbe(device="cpu", max_iter=20).fit(V, Y[:, ::-1])
    assert torch.equal(one.params_, fits[1].params_)
    mlp = MLPProbe(device="cpu", max_epochs=2, hidden_size=16).fit_shared(V, [task.y, task.y])
    assert len(mlp) == 2 and mlp[0] is not mlp[1]


def test_fast_log_softmax_is_torchs_within_rounding():
    z = torch.randn(300, 7, 15, generator=torch.Generator().manual_seed(0)) * 8
    z[0, 0, 3] = float("-inf")  # a padding class
    ours, ref = log_softmax(z), torch.log_softmax(z, -1)
    assert torch.isinf(ours[0, 0, 3]) and torch.allclose(ours, ref, atol=1e-5, rtol=1e-6)


def _control(task: TaskData, seed: int, n_classes: int) -> TaskData:
    rng = np.random.default_rng(seed)
    return TaskData(name=task.name + ":control", kind="token", metric="accuracy", classes=task.classes,
                    y=rng.integers(0, n_classes, len(task.y)), index=task.index,
                    sentence_offsets=task.sentence_offsets)


@pytest.mark.parametrize("probe", list(PROBES))
def test_probe_layers_rows_are_the_same_with_shared_fits(probe, monkeypatch):
    V, task = planted_corpus(n_sentences=60, signal_layer=2)
    Vd, dev = planted_corpus(n_sentences=20, signal_layer=2, seed=7)
    Vt, test = planted_corpus(n_sentences=30, signal_layer=2, seed=1)
    control = {s: {"train": _control(task, 10 + s, 4 - s), "dev": _control(dev, 20 + s, 4 - s),
                   "tests": {"test": _control(test, 30 + s, 4 - s)}} for s in (0, 1, 2)}
    rows = {}
    for share in (False, True):
        monkeypatch.setattr(api, "SHARE_FITS", share)
        out = api.probe_layers((V, task), {"test": (Vt, test)}, (Vd, dev), probe=probe, seeds=(0, 1, 2),
                               model="toy", control=control, n_boot=100, device="cpu")
        rows[share] = {(r.model, r.task, r.probe, r.layer, r.eval_set, r.seed, r.metric): r for r in out}
    assert rows[True].keys() == rows[False].keys()
    assert {k[1] for k in rows[True]} == {"planted", "planted:control"}
    # Rounding differs between the two (wider GEMMs, batched mixes) and early stopping on a small dev
    # set amplifies it (on the demo an ulp-level change alone moves scores as much: see
    # benchmarks/demo_probe_stage.py --noise-floor), so: scores within two test items in a hundred,
    # mix weights within 0.02 (issue 16's bound for a reimplemented mix), gamma (not identified on
    # its own: the decay on W trades against it) within 2%.
    for key, a in rows[False].items():
        b = rows[True][key]
        if np.isnan(a.value) or np.isnan(b.value):
            assert np.isnan(a.value) and np.isnan(b.value), key
            continue
        tol = {"mix_gamma": 0.02 * abs(a.value)}.get(key[-1], 0.02)
        if key[-1].endswith(("_p:accuracy",)):
            continue  # a p-value of a difference near 0 moves with any rounding; its difference is checked
        assert abs(a.value - b.value) <= tol, (key, a.value, b.value)
