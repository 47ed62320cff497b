"""Scalar mix probes (Tenney et al. 2019; Peters et al. 2018): h = gamma * sum_l softmax(a)_l h^(l)
feeding a linear classifier, learned together; ``cumulative`` trains one mix of layers 0..l per l."""

from __future__ import annotations

import numpy as np
import torch

from probes.errors import ProbesError
from probes.probing import features
from probes.probing.base import EarlyStopper, StackedClassifier
from probes.probing.lbfgs import batched_lbfgs


class ScalarMixProbe(StackedClassifier):
    """A linear probe over a learned scalar mix of all layers (X must be (n_layers, n, dim)).

    ``cumulative=False``: one model mixing every layer. ``cumulative=True``: model l mixes layers
    0..l only (Tenney's P^(l)), all L models trained at once. Fitted: ``mix_weights_`` (M, L)
    softmax weights (zero beyond l for cumulative models), ``gamma_`` (M,).
    The mix logits and gamma are not penalised; weight_decay is on the classifier weights.
    Multi-label targets (n, C) train one sigmoid per label.

    ``standardize``: ``"none"`` (default) mixes the raw layers, as Tenney et al. and AllenNLP's
    ScalarMix do; ``"shared"`` first scales every layer by one per-feature mean and standard
    deviation pooled over all layers (the same affine map for every layer, absorbed by the
    classifier: only the weight decay sees it; on MiniLM UPOS/GUM E_s 2.33 against 2.35 raw);
    ``"per-layer"`` standardises each layer on its own before mixing, which changes what the weights
    compare (E_s 2.22 there): a deviation from the paper, kept as a named option.
    """

    _multilabel = True

    def __init__(self, cumulative: bool = False, weight_decay: float = 1e-4, max_iter: int = 500,
                 tol: float = 1e-5, early_stopping: bool = True, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 4, eval_every: int = 5, standardize: str = "none",
                 device: str = "auto", random_state: int = 0):
        self.cumulative = cumulative
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.eval_every = eval_every
        self.standardize = standardize
        self.device = device
        self.random_state = random_state

    def fit(self, X, y, X_dev=None, y_dev=None, groups=None, classes=None):
        """Train the mix(es); X must hold every layer: (n_layers, n, dim)."""
        if X.ndim != 3:
            raise ProbesError("a scalar-mix probe needs all layers: X of shape (n_layers, n, dim)")
        return super().fit(X, y, X_dev, y_dev, groups, classes)

    def _n_models(self, n_layers: int) -> int:
        return n_layers if self.cumulative else 1

    def _mask(self, L: int, device) -> torch.Tensor:
        M = self._n_models(L)
        if not self.cumulative:
            return torch.zeros(1, L, device=device)
        keep = torch.arange(L, device=device)[None, :] <= torch.arange(M, device=device)[:, None]
        return torch.where(keep, 0.0, float("-inf"))

    def _unpack(self, params: torch.Tensor):
        L, d, C = self.n_layers_in_, self.n_features_in_, len(self.classes_)
        a = params[:, :L]
        gamma = params[:, L]
        W = params[:, L + 1:L + 1 + d * C].reshape(-1, d, C)
        b = params[:, L + 1 + d * C:]
        return a, gamma, W, b

    def _weights(self, a: torch.Tensor, idx=None) -> torch.Tensor:
        mask = self._mask(self.n_layers_in_, a.device)
        return torch.softmax(a + (mask if idx is None else mask[idx]), dim=1)

    def _logits(self, params: torch.Tensor, X: torch.Tensor, idx=None) -> torch.Tensor:
        a, gamma, W, b = self._unpack(params)
        mixed = torch.einsum("ml,lnd->mnd", self._weights(a, idx) * gamma[:, None], X)
        return torch.baddbmm(b[:, None, :], mixed, W)

    def _objective(self, X: torch.Tensor, y: torch.Tensor):
        n = X.shape[1]
        wd = float(self.weight_decay)

        def fun(params: torch.Tensor, idx: torch.Tensor):
            # Every mix reads every layer; evaluate the requested models only.
            p = params.detach().requires_grad_(True)
            total = torch.zeros(p.shape[0], device=p.device)
            for a in range(0, n, features.CHUNK_ROWS):
                z = self._logits(p, X[:, a:a + features.CHUNK_ROWS], idx)
                if self.multilabel_:  # one sigmoid per label
                    Yc = y[a:a + features.CHUNK_ROWS][None]
                    part = (torch.nn.functional.softplus(z) - Yc * z).sum((1, 2)) / n
                else:
                    logp = torch.log_softmax(z, -1)
                    yc = y[a:a + features.CHUNK_ROWS].expand(logp.shape[0], -1)[..., None]
                    part = -logp.gather(2, yc).squeeze(2).sum(1) / n
                part.sum().backward()
                total += part.detach()
            W = p[:, self.n_layers_in_ + 1:self.n_layers_in_ + 1 + self.n_features_in_ * len(self.classes_)]
            reg = 0.5 * wd * (W * W).sum(1)
            reg.sum().backward()
            return total + reg.detach(), p.grad

        return fun

    def _train(self, Xt, yt, Xd, yd, C, gen):
        self.n_layers_in_, _, d = Xt.shape
        L = self.n_layers_in_
        M = self._n_models(L)
        x0 = torch.zeros(M, L + 1 + d * C + C, device=Xt.device)
        x0[:, L] = 1.0  # gamma starts at 1, the mix at uniform
        stopper = EarlyStopper(self, Xd, yd, self.eval_every, self.n_iter_no_change, x0) if Xd is not None else None
        x, info = batched_lbfgs(self._objective(Xt, yt), x0, max_iter=self.max_iter, tol_grad=self.tol,
                                callback=stopper)
        if stopper is not None:
            stopper.update(x)
            x = stopper.best
            self.best_dev_accuracy_ = stopper.best_acc.cpu().numpy()
        else:
            self.best_dev_accuracy_ = np.full(M, np.nan)
        self.params_ = x
        self.n_iter_ = info["n_iter"]
        a, gamma, _, _ = self._unpack(x)
        self.mix_weights_ = self._weights(a).detach().cpu().numpy()
        self.gamma_ = gamma.detach().cpu().numpy()
