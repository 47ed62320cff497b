"""Scalar mix probes (Tenney et al. 2019; Peters et al. 2018): h = gamma * sum_l softmax(a)_l h^(l)
feeding a linear classifier, learned together; ``cumulative`` trains one mix of layers 0..l per l."""

from __future__ import annotations

import numpy as np
import torch

from probes.device import fast_bf16
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
                 compute_dtype: str = "auto", device: str = "auto", random_state: int = 0):
        self.cumulative = cumulative
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.eval_every = eval_every
        self.standardize = standardize
        self.compute_dtype = compute_dtype
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

    def _first_user(self, idx: torch.Tensor) -> list[tuple[int, int]]:
        """For each layer some model in ``idx`` mixes: (layer, s) where positions s.. of idx mix it.

        The models that mix layer l are always a suffix of the (sorted) running models: every layer
        for the single mix, models l..L-1 for the cumulative ones (model m mixes layers 0..m). Slices,
        not index lists, so nothing is copied.
        """
        if not self.cumulative:
            return [(layer, 0) for layer in range(self.n_layers_in_)]
        ids = idx.tolist()
        return [(layer, next(p for p, m in enumerate(ids) if m >= layer))
                for layer in range(self.n_layers_in_) if ids and ids[-1] >= layer]

    @staticmethod
    def _mixed(c: torch.Tensor, Xc: torch.Tensor) -> torch.Tensor:
        """sum_l c_l X_l: (rows, dim) in Xc's dtype, one pass over the layers (a (1 x L) GEMM)."""
        L, r, _ = Xc.shape
        return (c.to(Xc.dtype) @ Xc.reshape(L, -1)).view(r, -1)

    @staticmethod
    def _project(mixed: torch.Tensor, W0: torch.Tensor, acc: torch.dtype) -> torch.Tensor:
        """The single mix's logits without the bias: mixed @ W0, summed in ``acc``."""
        return (mixed @ W0.to(mixed.dtype)).to(acc)

    def _mix_logits(self, users, coef, W, Xc) -> torch.Tensor:
        """Logits without the bias, (rows, m * C) with model k in columns k*C..(k+1)*C.

        The single mix forms the mixed vectors and applies its classifier (two cheap passes). The
        cumulative models use z_m = sum_l X_l (c_ml W_m): each layer is read once, in one GEMM
        against the side-by-side scaled classifiers of the models that mix it, so the L mixed
        stacks (m, rows, dim) are never written (a CPU's memory bandwidth pays for those) and a
        model never reads a layer outside its mask. Sums are float32 (float64 for float64 input).
        """
        m, d, C = W.shape
        acc = torch.float64 if Xc.dtype == torch.float64 else torch.float32
        if not self.cumulative:
            return self._project(self._mixed(coef[0], Xc), W[0], acc)
        z = torch.zeros(Xc.shape[1], m * C, dtype=acc, device=Xc.device)
        for layer, s in users:
            Wl = (W[s:] * coef[s:, layer, None, None]).transpose(0, 1).reshape(d, -1).to(Xc.dtype)
            if Xc.dtype == acc:
                z[:, s * C:].addmm_(Xc[layer], Wl)
            else:
                z[:, s * C:] += (Xc[layer] @ Wl).to(acc)
        return z

    def _logits(self, params: torch.Tensor, X: torch.Tensor, idx=None) -> torch.Tensor:
        a, gamma, W, b = self._unpack(params)
        idx = torch.arange(params.shape[0], device=params.device) if idx is None else idx
        coef = self._weights(a, idx) * gamma[:, None]
        z = self._mix_logits(self._first_user(idx), coef, W, X)
        m, _, C = W.shape
        return z.view(-1, m, C).transpose(0, 1) + b[:, None, :]

    def _dtypes(self, device: torch.device) -> tuple[torch.dtype, torch.dtype]:
        """GEMM dtypes of the (logits, gradient) passes.

        ``"auto"`` and ``"float32"``: both float32, the reference path. The mix weights are read as
        results, and they come from the iterate early stopping keeps, which moves with any rounding:
        ``"mixed"`` (float32 logits, bfloat16 gradient GEMMs where the CPU runs them natively) and
        ``"bfloat16"`` (both passes) are ~20% and ~45% faster on MiniLM UPOS/EWT but put the weights
        up to 0.07 from float32's (accuracy within 0.2 pt): named deviations for speed-only sweeps.
        """
        f32, bf16 = torch.float32, torch.bfloat16
        if self.compute_dtype in ("auto", "float32"):
            return f32, f32
        if self.compute_dtype == "bfloat16":
            return bf16, bf16
        if self.compute_dtype != "mixed":
            raise ProbesError(f"compute_dtype must be auto, float32, mixed or bfloat16, not {self.compute_dtype!r}")
        return f32, (bf16 if fast_bf16(device) else f32)

    def _train_input(self, Xt):
        """The training stack in the dtype of each pass: {dtype: tensor}, each cast once."""
        return {dt: Xt.to(dt) for dt in set(self._dtypes(Xt.device))}

    def _objective(self, X: dict, y: torch.Tensor):
        """Loss and its closed-form gradient, in row chunks, no autograd graph.

        With c_ml = gamma_m softmax(a_m)_l, z_m = sum_l c_ml X_l W_m + b_m and G_m the gradient of the
        mean cross-entropy in z_m, one GEMM per layer gives T_lm = X_l^T G_m for every model m mixing
        layer l; then dW_m = sum_l c_ml T_lm, dc_ml = <W_m, T_lm>, db_m = sum G_m, and gamma's and the
        mix logits' gradients follow through the softmax. The single mix instead keeps its mixed
        vectors h: dW = h^T G, dc_l = <X_l, G W^T> (fewer, wider passes than seven skinny GEMMs).
        Each layer is read twice per chunk (logits, gradient), like the linear probe; softmax, sums,
        parameters and L-BFGS state are float32.
        """
        f_dt, b_dt = self._dtypes(next(iter(X.values())).device)
        Xf, Xb = X[f_dt], X[b_dt]
        L, n, d = Xf.shape
        wd = float(self.weight_decay)
        multilabel = self.multilabel_
        single = not self.cumulative

        def fun(params: torch.Tensor, idx: torch.Tensor):
            a, gamma, W, b = self._unpack(params)
            m, _, C = W.shape
            w = self._weights(a, idx)
            coef = w * gamma[:, None]
            users = self._first_user(idx)
            loss = torch.zeros(m, dtype=params.dtype, device=params.device)
            acc = torch.float64 if Xb.dtype == torch.float64 else torch.float32
            if single:  # dW and dc of the one model, accumulated over the chunks
                T = []
                gW1 = torch.zeros(d, C, dtype=acc, device=params.device)
                gc1 = torch.zeros(L, dtype=acc, device=params.device)
            else:  # T_l = X_l^T G for the models s.. that mix layer l
                T = [torch.zeros(d, (m - s) * C, dtype=acc, device=params.device) for _, s in users]
            gb = torch.zeros(m, C, dtype=params.dtype, device=params.device)
            for r0 in range(0, n, features.CHUNK_ROWS):
                r = min(features.CHUNK_ROWS, n - r0)
                if single:  # keep the mixed vectors: the gradient reuses them
                    mixed = self._mixed(coef[0], Xf[:, r0:r0 + r])
                    z = self._project(mixed, W[0], acc).view(r, 1, C) + b[None]
                else:
                    z = self._mix_logits(users, coef, W, Xf[:, r0:r0 + r]).view(r, m, C) + b[None]
                if multilabel:
                    Yc = y[r0:r0 + r][:, None, :]
                    loss += (torch.nn.functional.softplus(z) - Yc * z).sum((0, 2))
                    G = torch.sigmoid(z) - Yc
                else:
                    yc = y[r0:r0 + r][:, None, None].expand(r, m, 1)
                    logp = torch.log_softmax(z, -1)
                    loss -= logp.gather(2, yc).sum((0, 2))
                    G = logp.exp_()
                    G.scatter_add_(2, yc, torch.full(yc.shape, -1.0, dtype=G.dtype, device=G.device))
                gb += G.sum(0)
                if single:  # dW = mixed^T G; dc_l = <X_l, G W^T>, one GEMV over all layers
                    G0 = G[:, 0]
                    gW1 += (mixed.T @ G0.to(mixed.dtype)).to(acc)
                    GWt = (G0 @ W[0].T).to(Xb.dtype)
                    gc1 += (Xb[:, r0:r0 + r].reshape(L, -1) @ GWt.reshape(-1)).to(acc)
                    continue
                Gm = G.reshape(r, m * C).to(Xb.dtype)
                for (layer, s), Tl in zip(users, T):
                    Xl = Xb[layer, r0:r0 + r]
                    if Xl.dtype == Tl.dtype:
                        Tl.addmm_(Xl.T, Gm[:, s * C:])
                    else:
                        Tl += (Xl.T @ Gm[:, s * C:]).to(Tl.dtype)
            gW = torch.zeros_like(W)
            gc = torch.zeros_like(w)
            if single:
                gW[0], gc[0] = gW1 / n, gc1 / n
            for (layer, s), Tl in zip(users, T):
                Tl = Tl.view(d, m - s, C).transpose(0, 1) / n
                gW[s:] += coef[s:, layer, None, None] * Tl
                gc[s:, layer] = (W[s:] * Tl).sum((1, 2))
            loss = loss / n + 0.5 * wd * (W * W).sum((1, 2))
            gW += wd * W
            g_gamma = (w * gc).sum(1)
            gw = gamma[:, None] * gc
            ga = w * (gw - (w * gw).sum(1, keepdim=True))  # through the softmax; masked layers have w = 0
            grad = torch.cat([ga, g_gamma[:, None], gW.flatten(1), gb / n], dim=1)
            return loss, grad

        return fun

    def _train(self, Xt, yt, Xd, yd, C, gen):
        self.n_layers_in_, _, d = next(iter(Xt.values())).shape
        L = self.n_layers_in_
        M = self._n_models(L)
        x0 = torch.zeros(M, L + 1 + d * C + C, device=yt.device)
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
