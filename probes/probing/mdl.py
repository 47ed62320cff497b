"""Minimum description length probing, online code (Voita & Titov 2020). Codelengths are in bits."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from probes.errors import ProbesError

BLOCK_FRACTIONS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)
LN2 = np.log(2.0)

# fit_logprob(train_rows, eval_rows) -> (M, len(eval_rows)) natural-log probability of each true label.
FitLogProb = Callable[[np.ndarray, np.ndarray], np.ndarray]


def block_ends(n: int, fractions: Sequence[float] = BLOCK_FRACTIONS) -> np.ndarray:
    """Increasing block end points t_1 < ... < t_k = n (at least 1 example in the first block)."""
    if n < 2:
        raise ProbesError(f"online codelength needs at least 2 examples, got {n}")
    ends = np.unique(np.clip(np.floor(np.asarray(fractions) * n).astype(int), 1, n))
    if ends[-1] != n:
        ends = np.append(ends, n)
    return ends


def online_codelength(n: int, n_classes: int, fit_logprob: FitLogProb,
                      fractions: Sequence[float] = BLOCK_FRACTIONS) -> tuple[np.ndarray, float]:
    """(online codelength in bits per model (M,), uniform codelength n*log2(K) in bits).

    Rows are taken in the given order (shuffle beforehand): the first block t_1 is sent with the
    uniform code, every next block with a model trained on all rows before it:
    L = t_1 log2 K + sum_i sum_{rows in block i+1} -log2 p_i(y | x).
    """
    ends = block_ends(n, fractions)
    log2k = np.log2(n_classes)
    total = None
    for start, end in zip(ends[:-1], ends[1:]):
        lp = np.atleast_2d(fit_logprob(np.arange(start), np.arange(start, end)))
        part = -lp.sum(1) / LN2  # nats -> bits
        total = part if total is None else total + part
    total = np.zeros(1) if total is None else total
    return ends[0] * log2k + total, n * log2k


def probe_codelength(make_probe: Callable[[], object], X, y: np.ndarray, n_classes_or_classes, seed: int = 0,
                     fractions: Sequence[float] = BLOCK_FRACTIONS, groups=None) -> tuple[np.ndarray, float, np.ndarray]:
    """Online codelength (bits, per layer) of labels y given vectors X with a fresh probe per block.

    ``X``: (L, n, dim) float array; rows are shuffled with ``seed`` first (whole data, as in the
    paper). Returns (codelength per layer, uniform codelength, the row order used).
    """
    classes = np.unique(np.asarray(n_classes_or_classes))
    order = np.random.default_rng(seed).permutation(len(y))
    y = np.asarray(y)
    Xo = X[:, torch.as_tensor(order)] if isinstance(X, torch.Tensor) else X[:, order]
    yo = y[order]
    go = None if groups is None else np.asarray(groups)[order]

    def fit_logprob(train_rows, eval_rows):
        probe = make_probe()
        probe.fit(Xo[:, train_rows], yo[train_rows], groups=None if go is None else go[train_rows], classes=classes)
        logp = probe.predict_log_proba(Xo[:, eval_rows])
        logp = logp if logp.ndim == 3 else logp[None]
        ids = np.searchsorted(probe.classes_, yo[eval_rows])
        return np.take_along_axis(logp, ids[None, :, None].repeat(logp.shape[0], 0), 2)[..., 0]

    online, uniform = online_codelength(len(y), len(classes), fit_logprob, fractions)
    return online, uniform, order
