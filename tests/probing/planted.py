"""Tiny planted datasets for the probing tests: labels readable from one layer only."""

from __future__ import annotations

import numpy as np

from probes.tasks.base import TaskData


def planted_corpus(n_sentences: int = 120, length: int = 8, n_layers: int = 4, dim: int = 12, n_classes: int = 4,
                   signal_layer: int = 2, seed: int = 0, shuffle: bool = False):
    """(vectors (L, n_words, dim) float16, token TaskData): the label is argmax(W h) of one layer."""
    rng = np.random.default_rng(seed)
    n = n_sentences * length
    V = rng.normal(size=(n_layers, n, dim)).astype(np.float32)
    W = np.random.default_rng(99).normal(size=(dim, n_classes))
    y = (V[signal_layer] @ W).argmax(1)
    if shuffle:
        y = rng.permutation(y)
    offsets = np.arange(0, n + 1, length, dtype=np.int64)
    task = TaskData(name="planted", kind="token", metric="accuracy", classes=[str(c) for c in range(n_classes)],
                    y=y, index=np.arange(n), sentence_offsets=offsets)
    return V.astype(np.float16), task
