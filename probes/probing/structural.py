"""Structural probes (Hewitt & Manning 2019): a rank-k linear map B per layer, all layers at once.

Distance probe: ||B(h_i - h_j)||^2 fits the tree distance; loss per sentence
(1/|s|^2) sum_ij |d_ij - d_B(i,j)^2|. Depth probe: ||B h_i||^2 fits the tree depth; loss
(1/|s|) sum_i |depth_i - ||B h_i||^2|. Losses are averaged over the sentences of a batch.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator

from probes.device import resolve_device
from probes.errors import ProbesError
from probes.probing.features import as_layer_stack, to_tensor


def _padded_rows(offsets: np.ndarray, sents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, maxlen) global word rows of the given sentences (0 where padded) and the mask."""
    lens = offsets[sents + 1] - offsets[sents]
    width = int(lens.max()) if len(lens) else 0
    pos = np.arange(width)[None, :]
    mask = pos < lens[:, None]
    rows = np.where(mask, offsets[sents][:, None] + pos, 0)
    return rows, mask


class _StructuralProbe(BaseEstimator):
    """Shared training loop; subclasses define the prediction and the per-sentence target."""

    kind = ""

    def __init__(self, rank: int = 128, lr: float = 1e-3, batch_size: int = 32, max_epochs: int = 40,
                 n_iter_no_change: int = 3, validation_fraction: float = 0.1, device: str = "auto",
                 random_state: int = 0):
        self.rank = rank
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    def _target_batch(self, targets: Sequence[np.ndarray], sents: np.ndarray, width: int) -> torch.Tensor:
        raise NotImplementedError

    def _pred(self, B: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _loss(self, pred, gold, mask) -> torch.Tensor:
        raise NotImplementedError

    def fit(self, X, targets: Sequence[np.ndarray], offsets: np.ndarray, X_dev=None,
            targets_dev: Optional[Sequence[np.ndarray]] = None, offsets_dev: Optional[np.ndarray] = None):
        """Train on word vectors X ((n_words, dim) or (L, n_words, dim)) and per-sentence targets."""
        Xs, single = as_layer_stack(X)
        offsets = np.asarray(offsets)
        if len(targets) != len(offsets) - 1:
            raise ProbesError(f"{len(targets)} target sentences for {len(offsets) - 1} sentences of vectors")
        for i, t in enumerate(targets):
            if t.shape[0] != offsets[i + 1] - offsets[i]:
                raise ProbesError(f"sentence {i}: target has {t.shape[0]} words, vectors have {offsets[i + 1] - offsets[i]}")
        self.device_ = resolve_device(self.device)
        self._single = single
        H = to_tensor(Xs, device=self.device_)
        L, _, d = H.shape
        self.n_layers_in_, self.n_features_in_ = L, d
        n_s = len(offsets) - 1
        rng = np.random.default_rng(self.random_state)
        if X_dev is not None:
            Hd = to_tensor(as_layer_stack(X_dev)[0], device=self.device_)
            dev = (Hd, list(targets_dev), np.asarray(offsets_dev), np.arange(len(offsets_dev) - 1))
            train_s = np.arange(n_s)
        else:
            perm = rng.permutation(n_s)
            k = max(1, int(round(n_s * self.validation_fraction))) if n_s >= 10 else 0
            train_s = np.sort(perm[k:])
            dev = (H, list(targets), offsets, np.sort(perm[:k])) if k else None
        gen = torch.Generator().manual_seed(int(self.random_state))
        B = ((torch.rand((L, d, self.rank), generator=gen) * 0.1 - 0.05)).to(self.device_).requires_grad_(True)
        opt = torch.optim.Adam([B], lr=self.lr)
        best = B.detach().clone()
        best_loss = torch.full((L,), float("inf"), device=self.device_)
        bad = torch.zeros(L, dtype=torch.long, device=self.device_)
        active = torch.ones(L, dtype=torch.bool, device=self.device_)
        epochs = np.zeros(L, dtype=int)
        for epoch in range(self.max_epochs):
            order = rng.permutation(train_s)
            for a in range(0, len(order), self.batch_size):
                loss = self._batch_loss(B, H, list(targets), offsets, order[a:a + self.batch_size])
                opt.zero_grad()
                (loss * active).sum().backward()
                opt.step()
            epochs += active.cpu().numpy()
            if dev is None:
                continue
            with torch.no_grad():
                dl = self._dataset_loss(B, *dev)
            better = dl < best_loss - 1e-6
            best[better] = B.detach()[better]
            best_loss = torch.where(better, dl, best_loss)
            bad = torch.where(better, torch.zeros_like(bad), bad + 1)
            active &= bad < self.n_iter_no_change
            if not bool(active.any()):
                break
        self.B_ = best if dev is not None else B.detach()
        self.best_dev_loss_ = best_loss.cpu().numpy()
        self.n_iter_ = epochs
        return self

    def _batch_loss(self, B, H, targets, offsets, sents) -> torch.Tensor:
        rows, mask = _padded_rows(offsets, sents)
        Hb = H[:, torch.as_tensor(rows, device=H.device)]  # (L, S, W, d)
        gold = self._target_batch(targets, sents, rows.shape[1]).to(H.device)
        m = torch.as_tensor(mask, device=H.device)
        return self._loss(self._pred(B, Hb), gold, m)

    def _dataset_loss(self, B, H, targets, offsets, sents) -> torch.Tensor:
        total = torch.zeros(B.shape[0], device=B.device)
        for a in range(0, len(sents), 256):
            part = sents[a:a + 256]
            total += self._batch_loss(B, H, targets, offsets, part) * len(part)
        return total / max(1, len(sents))

    @torch.no_grad()
    def predict(self, X, offsets: np.ndarray) -> list[np.ndarray]:
        """Per sentence: predicted squared distances (L, n, n) or depths (L, n); no layer axis for 2-D X."""
        Xs, single = as_layer_stack(X)
        H = to_tensor(Xs, device=self.device_)
        offsets = np.asarray(offsets)
        out = []
        for s in range(len(offsets) - 1):
            rows = np.arange(offsets[s], offsets[s + 1])
            p = self._pred(self.B_, H[:, torch.as_tensor(rows, device=H.device)][:, None])[:, 0].cpu().numpy()
            out.append(p[0] if single else p)
        return out


class DistanceProbe(_StructuralProbe):
    """Squared distances ||B(h_i - h_j)||^2 trained against gold tree distances (L1)."""

    kind = "distance"

    def _target_batch(self, targets, sents, width):
        out = torch.zeros(len(sents), width, width)
        for k, s in enumerate(sents):
            n = targets[s].shape[0]
            out[k, :n, :n] = torch.as_tensor(np.asarray(targets[s], dtype=np.float32))
        return out

    def _pred(self, B, H):
        T = torch.einsum("lswd,ldk->lswk", H, B)
        diff = T[:, :, :, None, :] - T[:, :, None, :, :]
        return (diff * diff).sum(-1)

    def _loss(self, pred, gold, mask):
        pair = (mask[:, :, None] & mask[:, None, :]).float()
        lens = mask.sum(1).float().clamp(min=1)
        per_sent = ((pred - gold[None]).abs() * pair[None]).sum((2, 3)) / (lens * lens)[None]
        return per_sent.mean(1)


class DepthProbe(_StructuralProbe):
    """Squared norms ||B h_i||^2 trained against gold tree depths (L1)."""

    kind = "depth"

    def _target_batch(self, targets, sents, width):
        out = torch.zeros(len(sents), width)
        for k, s in enumerate(sents):
            n = targets[s].shape[0]
            out[k, :n] = torch.as_tensor(np.asarray(targets[s], dtype=np.float32))
        return out

    def _pred(self, B, H):
        T = torch.einsum("lswd,ldk->lswk", H, B)
        return (T * T).sum(-1)

    def _loss(self, pred, gold, mask):
        m = mask.float()
        lens = m.sum(1).clamp(min=1)
        per_sent = ((pred - gold[None]).abs() * m[None]).sum(2) / lens[None]
        return per_sent.mean(1)
