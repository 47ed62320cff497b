"""Turning stored word vectors into float32 probe inputs: layer stacking, row gathering in chunks,
per-layer standardisation. Inputs may be numpy arrays (memmaps included) or torch tensors."""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
import torch

from probes.errors import ProbesError

CHUNK_ROWS = 16384  # rows per chunk everywhere: reading a (memory-mapped) cache, training and scoring passes


def memory_budget() -> int:
    """Bytes of float32 features a probe may hold in memory ($PROBES_MEMORY_BUDGET_MB, default 4096)."""
    return int(float(os.environ.get("PROBES_MEMORY_BUDGET_MB", 4096)) * (1 << 20))


class RowStack:
    """Selected word rows of a (n_layers, n_words, dim) vector stack, read in chunks, never whole.

    Lets a probe train on a cache larger than memory: each access reads rows from the (memory-
    mapped, float16) cache, converts them and applies the probe's standardisation.
    """

    ndim = 3

    def __init__(self, V, rows: Optional[np.ndarray] = None, device: torch.device | str = "cpu", scaler=None):
        self.V, self.rows = V, None if rows is None else np.asarray(rows)
        n = V.shape[1] if rows is None else len(self.rows)
        self.shape = (V.shape[0], n, V.shape[2])
        self.device, self.scaler = torch.device(device), scaler
        # the standardiser's moments on this view's device, moved once rather than at every read
        self._moments = None if scaler is None else (scaler.mean_.to(self.device), scaler.scale_.to(self.device))

    def take(self, rows: np.ndarray) -> "RowStack":
        """The sub-selection `rows` (positions within this selection)."""
        base = np.asarray(rows) if self.rows is None else self.rows[np.asarray(rows)]
        return RowStack(self.V, base, self.device, self.scaler)

    def __getitem__(self, key) -> "RowStack":
        """X[:, rows] selects rows (a slice, indices or a tensor of indices), lazily."""
        if isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None):
            sel = key[1]
            if isinstance(sel, slice):
                return self.take(np.arange(self.shape[1])[sel])
            return self.take(sel.cpu().numpy() if isinstance(sel, torch.Tensor) else np.asarray(sel))
        raise TypeError("a RowStack supports only X[:, rows]")

    def with_(self, device=None, scaler=None) -> "RowStack":
        """The same rows on another device and/or with a standardiser applied on read."""
        return RowStack(self.V, self.rows, device or self.device, scaler if scaler is not None else self.scaler)

    def block(self, layer: Optional[int], a: int, b: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Rows a..b of one layer (b-a, dim), or of every layer (L, b-a, dim) when layer is None."""
        lay = slice(None) if layer is None else layer
        if self.rows is None:
            block = np.asarray(self.V[lay, a:b], dtype=np.float32)
        else:
            r = self.rows[a:b]
            order = np.argsort(r, kind="stable")  # sorted reads are sequential on a memmap
            block = np.empty(((self.shape[0],) if layer is None else ()) + (len(r), self.shape[2]), np.float32)
            block[..., order, :] = np.asarray(self.V[lay, r[order]], dtype=np.float32)
        t = torch.from_numpy(block).to(self.device)
        if self.scaler is not None:
            mean, scale = self._moments
            t = (t - mean[lay]) / scale[lay] if layer is not None else (t - mean[:, None]) / scale[:, None]
        return t.to(dtype)


def lazy_rows(V, rows: Optional[np.ndarray] = None):
    """Float32 tensor of the selected rows, or a RowStack when that tensor would exceed the budget."""
    n = V.shape[1] if rows is None else len(rows)
    if V.shape[0] * n * V.shape[2] * 4 > memory_budget():
        return RowStack(V, rows)
    return to_tensor(V, rows)


def as_layer_stack(X) -> tuple[object, bool]:
    """View X as (n_layers, n, dim); the flag says whether the input had a single layer (n, dim)."""
    ndim = X.ndim
    if ndim == 2:
        return X[None], True
    if ndim == 3:
        return X, False
    raise ProbesError(f"probe input must be (n, dim) or (n_layers, n, dim), got shape {tuple(X.shape)}")


def to_tensor(X, rows: Optional[np.ndarray] = None, device: torch.device | str = "cpu",
              layers: Optional[Sequence[int]] = None, chunk: Optional[int] = None) -> torch.Tensor:
    """Float32 tensor (L, n_rows, dim) of the selected rows and layer positions, read chunk by chunk.

    ``rows`` index the word axis (default: all); ``layers`` index positions on the first axis.
    A memory-mapped float16 cache is never converted whole: each chunk is read, cast and copied.
    """
    chunk = chunk or CHUNK_ROWS
    if isinstance(X, RowStack):
        X = X if rows is None else X.take(rows)
        lay = list(range(X.shape[0])) if layers is None else list(layers)
        out = torch.empty((len(lay), X.shape[1], X.shape[2]), dtype=torch.float32, device=device)
        for a in range(0, X.shape[1], chunk):
            block = X.block(None, a, min(a + chunk, X.shape[1]))
            out[:, a:a + block.shape[1]] = block[lay].to(device)
        return out
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


STANDARDIZE_MODES = ("per-layer", "shared", "none")


def standardize_mode(value) -> str:
    """A probe's ``standardize`` hyper-parameter as a mode: True = per-layer, False = none."""
    mode = {True: "per-layer", False: "none"}.get(value, value) if isinstance(value, bool) else value
    if mode not in STANDARDIZE_MODES:
        raise ProbesError(f"standardize must be one of {', '.join(STANDARDIZE_MODES)} (or true/false), got {value!r}")
    return mode


class Standardizer:
    """Per-feature mean and standard deviation fitted on training rows: per layer, or with
    ``shared=True`` one pooled over all layers (the same affine map for every layer, so a scalar mix
    of the standardised layers is the standardised mix of the raw layers)."""

    def __init__(self, shared: bool = False):
        self.shared = shared

    def fit(self, X: torch.Tensor) -> "Standardizer":
        """Fit on a (L, n, dim) tensor, accumulating in chunks to bound temporary memory."""
        L, n, d = X.shape
        s = torch.zeros(L, d, dtype=torch.float64, device=X.device)
        ss = torch.zeros_like(s)
        for a in range(0, n, CHUNK_ROWS):
            c = X.block(None, a, min(a + CHUNK_ROWS, n)) if isinstance(X, RowStack) else X[:, a:a + CHUNK_ROWS]
            s += c.sum(1, dtype=torch.float64)
            ss += (c * c).sum(1, dtype=torch.float64)
        if self.shared:
            s, ss, n = s.sum(0, keepdim=True).expand(L, d), ss.sum(0, keepdim=True).expand(L, d), n * L
        mean = s / n
        var = (ss / n - mean * mean).clamp(min=0)
        std = var.sqrt()
        self.mean_ = mean.float()
        self.scale_ = torch.where(std > 1e-8, std, torch.ones_like(std)).float()
        return self

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
        k = min(n - 1, max(1, int(round(n * fraction))))
        return np.sort(perm[k:]), np.sort(perm[:k])
    uniq = np.unique(groups)
    if len(uniq) < 2:
        # Holding out whole sentences from one sentence would leave nothing to train on.
        raise ProbesError(f"cannot hold out a validation part: all {n} training rows come from one sentence; "
                          "pass a dev set, more training sentences, or early_stopping=False")
    perm = rng.permutation(uniq)
    k = min(len(uniq) - 1, max(1, int(round(len(uniq) * fraction))))
    dev_groups = np.isin(groups, perm[:k])
    return np.flatnonzero(~dev_groups), np.flatnonzero(dev_groups)
