"""Turning stored word vectors into float32 probe inputs: layer stacking, row gathering in chunks,
per-layer standardisation. Inputs may be numpy arrays (memmaps included) or torch tensors."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from probes.errors import ProbesError

CHUNK_ROWS = 16384  # rows converted to float32 at a time when reading a (memory-mapped) cache


def as_layer_stack(X) -> tuple[object, bool]:
    """View X as (n_layers, n, dim); the flag says whether the input had a single layer (n, dim)."""
    ndim = X.ndim
    if ndim == 2:
        return X[None], True
    if ndim == 3:
        return X, False
    raise ProbesError(f"probe input must be (n, dim) or (n_layers, n, dim), got shape {tuple(X.shape)}")


def to_tensor(X, rows: Optional[np.ndarray] = None, device: torch.device | str = "cpu",
              layers: Optional[Sequence[int]] = None, chunk: int = CHUNK_ROWS) -> torch.Tensor:
    """Float32 tensor (L, n_rows, dim) of the selected rows and layer positions, read chunk by chunk.

    ``rows`` index the word axis (default: all); ``layers`` index positions on the first axis.
    A memory-mapped float16 cache is never converted whole: each chunk is read, cast and copied.
    """
    if isinstance(X, torch.Tensor):
        t = X if layers is None else X[list(layers)]
        if rows is not None:
            t = t[:, torch.as_tensor(np.asarray(rows), device=t.device)]
        return t.to(device=device, dtype=torch.float32, copy=True)  # callers may scale it in place
    L = X.shape[0] if layers is None else len(layers)
    n = X.shape[1] if rows is None else len(rows)
    out = torch.empty((L, n, X.shape[2]), dtype=torch.float32, device=device)
    lay = list(range(X.shape[0])) if layers is None else list(layers)
    for a in range(0, n, chunk):
        if rows is None:
            sel = slice(a, min(a + chunk, n))
        else:
            r = np.asarray(rows[a:a + chunk])
            order = np.argsort(r, kind="stable")  # sorted reads are sequential on a memmap
            sel = r[order]
        for li, l in enumerate(lay):
            block = np.asarray(X[l, sel], dtype=np.float32)
            if rows is not None:
                unsorted = np.empty_like(block)
                unsorted[order] = block
                block = unsorted
            out[li, a:a + block.shape[0]] = torch.from_numpy(block).to(device)
    return out


class Standardizer:
    """Per-layer, per-feature mean and standard deviation fitted on training rows."""

    def fit(self, X: torch.Tensor) -> "Standardizer":
        """Fit on a (L, n, dim) tensor, accumulating in chunks to bound temporary memory."""
        L, n, d = X.shape
        s = torch.zeros(L, d, dtype=torch.float64, device=X.device)
        ss = torch.zeros_like(s)
        for a in range(0, n, CHUNK_ROWS):
            c = X[:, a:a + CHUNK_ROWS]
            s += c.sum(1, dtype=torch.float64)
            ss += (c * c).sum(1, dtype=torch.float64)
        mean = s / n
        var = (ss / n - mean * mean).clamp(min=0)
        std = var.sqrt()
        self.mean_ = mean.float()
        self.scale_ = torch.where(std > 1e-8, std, torch.ones_like(std)).float()
        return self

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Standardise into a new tensor."""
        return (X - self.mean_[:, None, :]) / self.scale_[:, None, :]

    def transform_(self, X: torch.Tensor) -> torch.Tensor:
        """Standardise in place (for tensors the caller owns: saves a copy of the whole stack)."""
        return X.sub_(self.mean_[:, None, :]).div_(self.scale_[:, None, :])


def encode_labels(y) -> tuple[np.ndarray, np.ndarray]:
    """(classes, y as ids 0..C-1) like sklearn's LabelEncoder."""
    classes, ids = np.unique(np.asarray(y), return_inverse=True)
    return classes, ids.astype(np.int64)


def dev_split(n: int, fraction: float, seed: int, groups: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Train/dev row indices; with ``groups`` (e.g. sentence ids) whole groups go to one side."""
    rng = np.random.default_rng(seed)
    if groups is None:
        perm = rng.permutation(n)
        k = max(1, int(round(n * fraction)))
        return np.sort(perm[k:]), np.sort(perm[:k])
    uniq = np.unique(groups)
    perm = rng.permutation(uniq)
    k = max(1, int(round(len(uniq) * fraction)))
    dev_groups = np.isin(groups, perm[:k])
    return np.flatnonzero(~dev_groups), np.flatnonzero(dev_groups)
