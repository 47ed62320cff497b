"""Structural probes (Hewitt & Manning 2019): a rank-k linear map B per layer, all layers at once.

Distance probe: ||B(h_i - h_j)||^2 fits the tree distance; loss per sentence
(1/|s|^2) sum_ij |d_ij - d_B(i,j)^2|. Depth probe: ||B h_i||^2 fits the tree depth; loss
(1/|s|) sum_i |depth_i - ||B h_i||^2|. Losses are averaged over the sentences of a batch.

Training follows Hewitt & Manning's regimen by default (their structural-probes code): Adam at
1e-3, batches of 20 sentences, up to 40 epochs, the learning rate multiplied by 0.1 whenever an
epoch does not lower the dev loss (ReduceLROnPlateau, patience 0), the best parameters kept, and
training stopped after 5 epochs without a dev-loss improvement of 1e-4; each layer on its own.
``lr_decay=1``, ``n_iter_no_change=3``, ``batch_size=32``, ``min_improvement=1e-6`` give this
suite's earlier regimen.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator

from probes import progress
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


def _by_length(offsets: np.ndarray, sents: np.ndarray) -> np.ndarray:
    """The sentences sorted by length (stable).

    The dev loss is a mean over sentences, so its batches may group similar lengths: padding to the
    longest sentence of a random batch of 256 made the (width x width) distance tensors mostly padding.
    """
    sents = np.asarray(sents)
    return sents[np.argsort(offsets[sents + 1] - offsets[sents], kind="stable")]


def _float_tensors(targets: Sequence[np.ndarray]) -> list[torch.Tensor]:
    """Per-sentence targets as float32 tensors."""
    return [torch.as_tensor(np.asarray(t, dtype=np.float32)) for t in targets]


class _BatchedAdam:
    """Adam (Kingma & Ba; PyTorch's update and defaults) on a stack of layers, each with its own rate.

    One set of fused updates for every layer instead of one optimizer group per layer; a layer
    whose rate is 0 keeps its parameters (its moments still update, as in torch.optim.Adam).
    """

    def __init__(self, params: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.betas, self.eps = params, betas, eps
        self.lr = torch.full((params.shape[0],), float(lr), dtype=params.dtype, device=params.device)
        self.m = torch.zeros_like(params)
        self.v = torch.zeros_like(params)
        self.t = 0

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        """One update of the parameters in place."""
        b1, b2 = self.betas
        self.t += 1
        self.m.lerp_(grad, 1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denom = (self.v.sqrt() / (1 - b2 ** self.t) ** 0.5).add_(self.eps)
        step = (self.lr / (1 - b1 ** self.t)).view(-1, *([1] * (self.params.dim() - 1)))
        self.params.sub_(step * self.m / denom)


class _StructuralProbe(BaseEstimator):
    """Shared training loop; subclasses define the prediction and the per-sentence target."""

    kind = ""

    def __init__(self, rank: int = 128, lr: float = 1e-3, batch_size: int = 20, max_epochs: int = 40,
                 n_iter_no_change: int = 5, lr_decay: float = 0.1, min_improvement: float = 1e-4,
                 validation_fraction: float = 0.1, device: str = "auto", random_state: int = 0):
        self.rank = rank
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.n_iter_no_change = n_iter_no_change
        self.lr_decay = lr_decay
        self.min_improvement = min_improvement
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
        # float32 tensors once, not a conversion per sentence at every step of every epoch
        targets = _float_tensors(targets)
        if targets_dev is not None:
            targets_dev = _float_tensors(targets_dev)
        H = to_tensor(Xs, device=self.device_)
        L, _, d = H.shape
        self.n_layers_in_, self.n_features_in_ = L, d
        n_s = len(offsets) - 1
        rng = np.random.default_rng(self.random_state)
        if X_dev is not None:
            Hd = to_tensor(as_layer_stack(X_dev)[0], device=self.device_)
            offsets_dev = np.asarray(offsets_dev)
            dev = (Hd, targets_dev, offsets_dev, _by_length(offsets_dev, np.arange(len(offsets_dev) - 1)))
            train_s = np.arange(n_s)
        else:
            perm = rng.permutation(n_s)
            k = max(1, int(round(n_s * self.validation_fraction))) if n_s >= 10 else 0
            train_s = np.sort(perm[k:])
            dev = (H, targets, offsets, _by_length(offsets, np.sort(perm[:k]))) if k else None
        gen = torch.Generator().manual_seed(int(self.random_state))
        init = (torch.rand((L, d, self.rank), generator=gen) * 0.1 - 0.05).to(self.device_)
        # Every layer is its own problem with its own learning rate (decayed on its own dev loss);
        # the layers are stacked so that one batched pass and one Adam update serve them all.
        B = init.clone()
        adam = _BatchedAdam(B, self.lr)
        best = init.clone()
        best_loss = np.full(L, np.inf)
        sched_best = np.full(L, np.inf)
        best_epoch = np.full(L, -1)
        active = np.ones(L, dtype=bool)
        epochs = np.zeros(L, dtype=int)
        for epoch in range(self.max_epochs):
            order = rng.permutation(train_s)
            for a in range(0, len(order), self.batch_size):
                _, grad = self._batch_grad(B, H, targets, offsets, order[a:a + self.batch_size])
                adam.step(grad)
            epochs += active
            progress.iteration(epoch + 1, self.max_epochs, "epoch")
            if dev is None:
                continue
            dl = self._dataset_loss(B, *dev).cpu().numpy()
            for l in np.flatnonzero(active):
                # Hewitt & Manning's regimen: ReduceLROnPlateau(factor lr_decay, patience 0) on the dev loss
                # (PyTorch's relative threshold 1e-4), keep the best parameters, and stop a layer after
                # n_iter_no_change epochs without an improvement of min_improvement.
                if dl[l] < sched_best[l] * (1 - 1e-4):
                    sched_best[l] = dl[l]
                else:
                    adam.lr[l] *= self.lr_decay
                if dl[l] < best_loss[l] - self.min_improvement:
                    best_loss[l], best_epoch[l] = dl[l], epoch
                    best[l] = B[l]
                elif best_epoch[l] < epoch - (self.n_iter_no_change - 1):
                    active[l] = False
                    adam.lr[l] = 0.0  # a stopped layer takes no more steps
            if not active.any():
                break
        self.lr_ = adam.lr.cpu().numpy().copy()
        self.B_ = best if dev is not None else B
        self.best_dev_loss_ = best_loss
        self.n_iter_ = epochs
        return self

    def _batch_loss(self, B, H, targets, offsets, sents) -> torch.Tensor:
        rows, mask = _padded_rows(offsets, sents)
        Hb = H[:, torch.as_tensor(rows, device=H.device)]  # (L, S, W, d)
        gold = self._target_batch(targets, sents, rows.shape[1]).to(H.device)
        m = torch.as_tensor(mask, device=H.device)
        return self._loss(self._pred(B, Hb), gold, m)

    def _batch_grad(self, B, H, targets, offsets, sents) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss per layer (L,) of one batch and its gradient in B (L, d, k), in closed form.

        Only the batch's real words are projected (one (L, N, d) x (L, d, k) GEMM, no padding rows);
        the projections are laid out (L, S, W, k) for the per-sentence terms, whose gradient in the
        projections ``_grad_T`` gives, and dB = H^T dT over the same words. No autograd graph.
        """
        rows, mask = _padded_rows(offsets, sents)
        real = torch.as_tensor(np.flatnonzero(mask.ravel()), device=H.device)
        Hf = H[:, torch.as_tensor(rows[mask], device=H.device)]  # (L, N, d)
        L, k = B.shape[0], B.shape[2]
        T = torch.zeros(L, mask.size, k, dtype=B.dtype, device=B.device)
        T.index_copy_(1, real, torch.bmm(Hf, B))
        T = T.view(L, *mask.shape, k)
        gold = self._target_batch(targets, sents, rows.shape[1]).to(H.device)
        loss, dT = self._grad_T(T, gold, torch.as_tensor(mask, device=H.device))
        dTf = dT.reshape(L, mask.size, k).index_select(1, real)
        return loss, torch.bmm(Hf.transpose(1, 2), dTf)

    def _grad_T(self, T, gold, mask) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
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
            out[k, :n, :n] = targets[s]
        return out

    def _pred(self, B, H):
        # ||t_i - t_j||^2 = ||t_i||^2 + ||t_j||^2 - 2 <t_i, t_j>: one Gram matmul per sentence instead of
        # the (width x width x rank) tensor of differences; the clamp and the zeroed diagonal remove the
        # rounding that the expansion leaves where the two vectors coincide (exactly 0 before).
        T = torch.einsum("lswd,ldk->lswk", H, B)
        sq = (T * T).sum(-1)
        D = (sq[..., :, None] + sq[..., None, :] - 2 * (T @ T.transpose(-1, -2))).clamp(min=0)
        off = 1.0 - torch.eye(D.shape[-1], dtype=D.dtype, device=D.device)
        return D * off

    def _grad_T(self, T, gold, mask):
        # D_ij = s_i + s_j - 2 t_i.t_j with s = ||t||^2, loss = mean_s sum_ij |D_ij - gold_ij| / n_s^2.
        # E = dloss/dD is symmetric (D, gold and the pair mask are), so dt_i = 4 (r_i t_i - (E T)_i)
        # with r the row sums of E. Zero where the clamp acts (D < 0) and on the diagonal, as for
        # the clamped, diagonal-free prediction that ``_pred`` returns.
        sq = (T * T).sum(-1)
        raw = sq[..., :, None] + sq[..., None, :] - 2 * (T @ T.transpose(-1, -2))
        pair = mask[:, :, None] & mask[:, None, :]
        pair &= ~torch.eye(pair.shape[-1], dtype=torch.bool, device=pair.device)
        lens = mask.sum(1).to(T.dtype).clamp(min=1)
        w = pair.to(T.dtype) / (lens * lens * mask.shape[0])[:, None, None]  # (S, W, W)
        err = raw.clamp(min=0) - gold[None]
        loss = (err.abs() * w[None]).sum((1, 2, 3))
        E = torch.sign(err) * w[None] * (raw >= 0)
        dT = 4 * (E.sum(-1, keepdim=True) * T - E @ T)
        return loss, dT

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
            out[k, :n] = targets[s]
        return out

    def _pred(self, B, H):
        T = torch.einsum("lswd,ldk->lswk", H, B)
        return (T * T).sum(-1)

    def _grad_T(self, T, gold, mask):
        # pred_i = ||t_i||^2, loss = mean_s sum_i |pred_i - depth_i| / n_s: dt_i = 2 e_i t_i.
        m = mask.to(T.dtype)
        w = m / (m.sum(1).clamp(min=1) * mask.shape[0])[:, None]  # (S, W)
        err = (T * T).sum(-1) - gold[None]
        loss = (err.abs() * w[None]).sum((1, 2))
        return loss, 2 * (torch.sign(err) * w[None])[..., None] * T

    def _loss(self, pred, gold, mask):
        m = mask.float()
        lens = m.sum(1).clamp(min=1)
        per_sent = ((pred - gold[None]).abs() * m[None]).sum(2) / lens[None]
        return per_sent.mean(1)
