"""Conditional probing (Hewitt et al. 2021): what a layer adds about a task beyond a baseline.

V-information with V = the linear probes (``LinearProbe``, its defaults):
H_V(Y | Z) is the test cross-entropy, in bits per item, of the probe trained on Z; the probe family
sees nothing for H_V(Y), which is then the cross-entropy of the training label frequencies.

* ``vinfo_bits`` at layer l: I_V(X_l -> Y) = H_V(Y) - H_V(Y | X_l);
* ``cond_vinfo_bits`` at layer l: I_V(X_l -> Y | B) = H_V(Y | B) - H_V(Y | B, X_l), where the probe
  for H_V(Y | B, X_l) reads the concatenation [B; X_l] and B is layer 0 of the same model
  (``baseline="layer0"``, the paper's choice: what contextualisation adds), the previous layer in the
  cache (``"previous"``: what layer l adds beyond l-1), or a layer of another model's cache.

At layer 0 with ``layer0`` or ``previous`` the layer is its own baseline, and ``cond_vinfo_bits`` is
0 by definition (no joint probe is scored there).
Both sides of each difference are scored on the same bootstrap resamples of test sentences, so the
interval is that of the difference. Test items whose label never occurs in training have no finite
cross-entropy; they are left out of every term and counted in ``covers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
import torch

from probes.errors import ProbesError
from probes.probing.api import _require_layer0, task_inputs
from probes.probing.bootstrap import percentile_interval, ratio_replicates, resample_counts
from probes.probing.features import to_tensor
from probes.probing.linear import LinearProbe
from probes.records import ResultRow
from probes.tasks.base import TaskData

LN2 = float(np.log(2.0))


@dataclass
class Baseline:
    """Another model's vectors as the conditioning baseline B (same corpora, same words)."""

    name: str
    train: object
    tests: Mapping[str, object]
    dev: object = None
    layer: int = 0


def _features(vectors, task: TaskData, classes=None):
    inputs = task_inputs(vectors, task, classes)
    if task.Y is not None:
        raise ProbesError(f"task {task.name}: conditional probing needs one label per item, not a multi-label task")
    return to_tensor(inputs.X), inputs


def _layer_index(layers: list[int], layer: int, what: str) -> int:
    if layer not in layers:
        raise ProbesError(f"{what} has no layer {layer} (it holds layers {layers})")
    return layers.index(layer)


def _bits(est: LinearProbe, X: torch.Tensor, y: np.ndarray) -> np.ndarray:
    """(M, n) cross-entropy in bits of each model's probabilities of the gold labels (y >= 0)."""
    logp = est.predict_log_proba(X)
    if logp.ndim == 2:
        logp = logp[None]
    return -np.take_along_axis(logp, np.maximum(y, 0)[None, :, None], axis=2)[..., 0] / LN2


def _per_sentence(values: np.ndarray, sent: np.ndarray, n_sentences: int) -> np.ndarray:
    """(S, M) sums over each sentence's items of (M, n) values."""
    out = np.zeros((n_sentences, values.shape[0]))
    np.add.at(out, sent, values.T)
    return out


def _fit(X, y, Xd, yd, sent, seed: int, device: str, hyper: dict) -> LinearProbe:
    return LinearProbe(device=device, random_state=seed, **hyper).fit(X, y, Xd, yd, groups=sent)


def conditional_rows(train: tuple, tests: Mapping[str, tuple], dev: Optional[tuple] = None,
                     baseline="layer0", seed: int = 0, model: str = "model", task: Optional[str] = None,
                     train_set: str = "train", n_boot: int = 1000, ci_seed: int = 0, device: str = "auto",
                     **hyper) -> list[ResultRow]:
    """``vinfo_bits`` and ``cond_vinfo_bits`` rows per layer and evaluation set (probe ``conditional``).

    ``baseline``: ``"layer0"``, ``"previous"`` or a ``Baseline`` (another model's caches of the same
    data sets). ``hyper`` goes to every ``LinearProbe``.
    """
    vectors, tdata = train
    task = task or tdata.name
    Xtr, tr = _features(vectors, tdata)
    layers = list(tr.layers)
    y = tr.y
    classes = np.unique(y)  # the probes' classes_: test labels become ids into it (-1 unseen)
    Xdv = ydv = keep = None
    if dev is not None:
        Xdv, dv = _features(*dev, classes=classes)
        keep = dv.y >= 0
        Xdv, ydv = Xdv[:, keep], classes[dv.y[keep]]

    # The baseline's features on every split, as a function of the split (train / dev / test name).
    if isinstance(baseline, Baseline):
        b_name = f"{baseline.name} layer {baseline.layer}"

        def base_of(split: str, X: torch.Tensor, ds_vectors, ds_task, keep=None):
            src = {"train": baseline.train, "dev": baseline.dev}.get(split, baseline.tests.get(split))
            if src is None:
                raise ProbesError(f"baseline {baseline.name} has no vectors for the {split} set")
            Xb, inp = _features(src, ds_task)
            Xb = Xb[_layer_index(inp.layers, baseline.layer, f"baseline {baseline.name}")]
            return (Xb if keep is None else Xb[keep])[None].expand(len(layers), -1, -1)
    elif baseline == "layer0":
        _require_layer0(layers, f"train set of {tdata.name}")
        b_name = "layer 0"

        def base_of(split, X, ds_vectors, ds_task, keep=None):
            return X[:1].expand(len(layers), -1, -1)
    elif baseline == "previous":
        if len(layers) < 2:
            raise ProbesError("baseline 'previous' needs at least two layers in the cache")
        b_name = "the previous layer"

        def base_of(split, X, ds_vectors, ds_task, keep=None):
            return torch.cat([X[:1], X[:-1]])  # layer 0 has no previous layer: conditioned on itself
    else:
        raise ProbesError(f"baseline must be 'layer0', 'previous' or a Baseline, not {baseline!r}")

    def paired(X, B):
        return torch.cat([B, X], dim=2)

    plain = _fit(Xtr, y, Xdv, ydv, tr.sent, seed, device, hyper)
    Btr = base_of("train", Xtr, vectors, tdata)
    Bdv = base_of("dev", Xdv, dev[0], dev[1], keep) if dev is not None else None
    joint = _fit(paired(Xtr, Btr), y, None if Xdv is None else paired(Xdv, Bdv), ydv, tr.sent, seed, device, hyper)
    # H_V(Y | B): for layer 0 or the previous layer that is the plain probe of that layer (same inputs,
    # seed and settings); another model's layer gets its own probe.
    other = _fit(Btr[:1], y, None if Bdv is None else Bdv[:1], ydv, tr.sent, seed, device, hyper) \
        if isinstance(baseline, Baseline) else None
    prior = np.bincount(np.searchsorted(classes, y), minlength=len(classes)) / len(y)

    rows = []
    for name, (tv, tt) in tests.items():
        Xte, te = _features(tv, tt, classes=classes)
        known = te.y >= 0
        n_unseen = int((~known).sum())
        Bte = base_of(name, Xte, tv, tt)
        counts = resample_counts(te.n_sentences, n_boot, ci_seed)
        yk = te.y[known]
        sent = te.sent[known]
        den = np.bincount(sent, minlength=te.n_sentences).astype(float)
        h_prior = -np.log2(prior[yk])[None]                           # (1, n)
        h_x = _bits(plain, Xte[:, known], yk)                          # (L, n)
        if other is not None:
            h_b = np.broadcast_to(_bits(other, Bte[:1, known], yk), h_x.shape)
        elif baseline == "layer0":
            h_b = np.broadcast_to(h_x[:1], h_x.shape)
        else:
            h_b = np.concatenate([h_x[:1], h_x[:-1]])
        h_bx = _bits(joint, paired(Xte, Bte)[:, known], yk)
        if not isinstance(baseline, Baseline):
            # Layer 0 given layer 0 (the first layer of both baselines): [B; X] is X twice, and linear
            # probes of X twice are the linear probes of X, so I(X -> Y | X) = 0 by definition; the
            # joint probe's estimate would differ only by how its regulariser treats the copy.
            h_bx[0] = h_b[0]
        covers = "test sentences" + (f"; {n_unseen} test items with labels unseen in training left out" if n_unseen else "")
        for metric, gain in (("vinfo_bits", h_prior - h_x), ("cond_vinfo_bits", h_b - h_bx)):
            point, reps = ratio_replicates(_per_sentence(gain, sent, te.n_sentences), den, counts)
            lo, hi = percentile_interval(reps)
            for m, layer in enumerate(layers):
                rows.append(ResultRow(model, task, "conditional", int(layer), train_set, name, seed, metric,
                                      float(point[m]), float(lo[m]), float(hi[m]),
                                      covers + (f" (given {b_name})" if metric == "cond_vinfo_bits" else "")))
    return rows
