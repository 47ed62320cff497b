"""The MLP probe (Hewitt & Liang 2019's MLP-1): one hidden ReLU layer per layer of the model, all
layers trained at once with Adam on shared mini-batches, early stopping per layer."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from probes.probing.base import EarlyStopper, StackedClassifier
from probes.probing.dropout import dropout_generator, seeded_dropout


class MLPProbe(StackedClassifier):
    """Linear -> ReLU -> (dropout) -> Linear per layer; hidden_size 1000 as in Hewitt & Liang's MLP-1.

    Loss per layer: mean cross-entropy + weight_decay / 2 * (||W1||^2 + ||W2||^2). Each epoch ends
    with a dev check; every layer keeps its best epoch and stops after ``n_iter_no_change`` epochs
    without improvement (the others go on).
    """

    def __init__(self, hidden_size: int = 1000, weight_decay: float = 1e-5, lr: float = 1e-3,
                 batch_size: int = 512, max_epochs: int = 40, dropout: float = 0.0,
                 early_stopping: bool = True, validation_fraction: float = 0.1, n_iter_no_change: int = 3,
                 standardize: bool = True, device: str = "auto", random_state: int = 0):
        self.hidden_size = hidden_size
        self.weight_decay = weight_decay
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.standardize = standardize
        self.device = device
        self.random_state = random_state

    def _shapes(self):
        d, H, C = self.n_features_in_, self.hidden_size, len(self.classes_)
        return [(d, H), (H,), (H, C), (C,)]

    def _unpack(self, params: torch.Tensor):
        out, a = [], 0
        for shape in self._shapes():
            size = math.prod(shape)
            out.append(params[:, a:a + size].reshape(params.shape[0], *shape))
            a += size
        return out

    def _logits(self, params: torch.Tensor, X: torch.Tensor, drop: Optional[torch.Generator] = None) -> torch.Tensor:
        W1, b1, W2, b2 = self._unpack(params)
        h = torch.relu(torch.baddbmm(b1[:, None, :], X, W1))
        if drop is not None and self.dropout > 0:  # in training: the fit's own dropout generator
            h = seeded_dropout(h, self.dropout, drop)
        return torch.baddbmm(b2[:, None, :], h, W2)

    def _init(self, L: int, gen: torch.Generator, device) -> torch.Tensor:
        parts = []
        for shape, fan_in in zip(self._shapes(), (self.n_features_in_, self.n_features_in_, self.hidden_size, self.hidden_size)):
            bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default initialisation
            parts.append((torch.rand((L, math.prod(shape)), generator=gen) * 2 - 1) * bound)
        return torch.cat(parts, 1).to(device)

    def _train(self, Xt, yt, Xd, yd, C, gen):
        L, n, _ = Xt.shape
        self.n_features_in_ = Xt.shape[2]
        params = self._init(L, gen, Xt.device).requires_grad_(True)
        opt = torch.optim.Adam([params], lr=self.lr)
        stopper = EarlyStopper(self, Xd, yd, 1, self.n_iter_no_change, params) if Xd is not None else None
        active = torch.ones(L, dtype=torch.bool, device=Xt.device)
        epochs = np.zeros(L, dtype=int)
        torch_gen = torch.Generator(device="cpu").manual_seed(int(self.random_state) + 1)
        drop = dropout_generator(int(self.random_state) + 2, Xt.device)
        wd = float(self.weight_decay)
        for epoch in range(self.max_epochs):
            perm = torch.randperm(n, generator=torch_gen).to(Xt.device)
            for a in range(0, n, self.batch_size):
                idx = perm[a:a + self.batch_size]
                logits = self._logits(params, Xt[:, idx], drop=drop)
                ce = torch.nn.functional.cross_entropy(logits.reshape(-1, C), yt[idx].repeat(L), reduction="none")
                loss_l = ce.view(L, -1).mean(1)
                W1, _, W2, _ = self._unpack(params)
                loss_l = loss_l + 0.5 * wd * ((W1 * W1).sum((1, 2)) + (W2 * W2).sum((1, 2)))
                opt.zero_grad()
                (loss_l * active).sum().backward()
                opt.step()
            epochs += active.cpu().numpy()
            if stopper is not None:
                active &= ~stopper.update(params.detach())
                if not bool(active.any()):
                    break
        if stopper is not None:
            self.params_ = stopper.best
            self.best_dev_accuracy_ = stopper.best_acc.cpu().numpy()
        else:
            self.params_ = params.detach()
            self.best_dev_accuracy_ = np.full(L, np.nan)
        self.n_iter_ = epochs
