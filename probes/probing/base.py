"""What every classifier probe shares: sklearn-style fit/predict/score over a stack of models (one
per layer, or one per mix), label encoding, standardisation and per-model early stopping on dev."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from sklearn.base import BaseEstimator

from probes.device import resolve_device
from probes.errors import ProbesError
from probes.probing import features
from probes.probing.features import (RowStack, Standardizer, as_layer_stack, dev_split, encode_labels,
                                     standardize_mode, to_tensor)



class StackedClassifier(BaseEstimator):
    """Base of the classifier probes. X is (n, dim) for one layer or (n_layers, n, dim) for all.

    Subclasses set ``_n_models(L)`` and train ``self.params_`` (one row of parameters per model) in
    ``_train``; ``_logits(params, X)`` maps standardised inputs to (M, n, C) logits.
    Fitted attributes: ``classes_``, ``n_iter_`` (per model), ``best_dev_accuracy_`` (per model,
    NaN without early stopping).
    """

    _single_layer_input = False
    _streams = False  # True where _train reads a RowStack chunk by chunk instead of a tensor
    _multilabel = False  # True where _train also fits (n, C) 0/1 targets (one sigmoid per label)
    multilabel_ = False

    # ----- sklearn interface -------------------------------------------------------------------
    def fit(self, X, y, X_dev=None, y_dev=None, groups: Optional[np.ndarray] = None, classes=None):
        """Train every model at once; dev data (or a held-out part of train) drives early stopping.

        ``groups`` (n,) e.g. sentence ids keeps whole sentences on one side of a held-out split.
        ``classes`` fixes the output label set (like sklearn's partial_fit), e.g. when a training
        prefix has not seen every class yet (online codelength).
        """
        Xs, single = as_layer_stack(X)
        self._single_layer_input = single
        y = np.asarray(y)
        if Xs.shape[1] != len(y):
            raise ProbesError(f"probe input has {Xs.shape[1]} rows but {len(y)} labels")
        if len(y) == 0:
            raise ProbesError("cannot train a probe on zero examples")
        self.device_ = resolve_device(getattr(self, "device", "auto"))
        self.multilabel_ = y.ndim == 2
        if self.multilabel_:
            if not self._multilabel:
                raise ProbesError(f"{type(self).__name__} takes one label per item; for a multi-label task use "
                                  "the linear, mix, cumulative or edge probe")
            self.classes_ = np.arange(y.shape[1])
            ids = y.astype(np.float32)
        elif classes is None:
            self.classes_, ids = encode_labels(y)
        else:
            self.classes_ = np.unique(np.asarray(classes))
            ids = np.searchsorted(self.classes_, y)
            if np.any(ids >= len(self.classes_)) or np.any(self.classes_[np.minimum(ids, len(self.classes_) - 1)] != y):
                raise ProbesError("training labels outside the given classes")
        train_rows = np.arange(len(y))
        Xd = yd = None
        if self.early_stopping:
            if X_dev is not None:
                Xd_s, _ = as_layer_stack(X_dev)
                Xd = to_tensor(Xd_s, device=self.device_)
                yd = self._encode_eval(y_dev)
            elif len(y) >= 10:
                train_rows, dev_rows = dev_split(len(y), self.validation_fraction, self.random_state, groups)
                Xd = to_tensor(Xs, dev_rows, device=self.device_)
                yd = torch.as_tensor(ids[dev_rows], device=self.device_)
        lazy = isinstance(Xs, RowStack) and self._streams
        subset = None if len(train_rows) == len(y) else train_rows
        if lazy:  # larger than the memory budget: read from the cache at every pass
            Xt = (Xs if subset is None else Xs.take(subset)).with_(device=self.device_)
        else:
            Xt = to_tensor(Xs, subset, device=self.device_)
        yt = torch.as_tensor(ids[train_rows], device=self.device_)
        mode = standardize_mode(self.standardize)
        self.scaler_ = None if mode == "none" else Standardizer(shared=mode == "shared").fit(Xt)
        if self.scaler_ is not None:  # to_tensor gave us fresh copies: scale them in place
            Xt = Xt.with_(scaler=self.scaler_) if lazy else self.scaler_.transform_(Xt)
            if Xd is not None:
                Xd = self.scaler_.transform_(Xd)
        self.n_layers_in_ = Xt.shape[0]
        self.n_features_in_ = Xt.shape[2]
        gen = torch.Generator(device="cpu").manual_seed(int(self.random_state))
        Xt = self._train_input(Xt)
        self._train(Xt, yt, Xd, yd, len(self.classes_), gen)
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted labels: (n,) for a single model, else (n_models, n); multi-label: 0/1 (.., n, C)."""
        logits = self._logits_eval(X)
        if self.multilabel_:
            return self._squeeze((logits > 0).to(torch.uint8).cpu().numpy())
        return self._squeeze(self.classes_[logits.argmax(-1).cpu().numpy()])

    def predict_log_proba(self, X) -> np.ndarray:
        """Natural-log class probabilities (per label for multi-label), (n, C) or (n_models, n, C)."""
        logits = self._logits_eval(X)
        logp = torch.nn.functional.logsigmoid(logits) if self.multilabel_ else torch.log_softmax(logits, -1)
        return self._squeeze(logp.cpu().numpy())

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, (n, C) or (n_models, n, C)."""
        return np.exp(self.predict_log_proba(X))

    def score(self, X, y):
        """Accuracy (micro-F1 for multi-label): a float for a single model, else one value per model."""
        pred = self.predict(X)
        if self.multilabel_:
            from probes.probing.metrics import score_replicates

            P = np.asarray(pred).reshape((-1,) + np.shape(y))
            out = np.array([score_replicates("micro_f1", p[None], np.asarray(y), np.zeros(len(y), np.int64), 1,
                                             np.ones((1, 1)), np.shape(y)[1])[0][0] for p in P])
            return float(out[0]) if np.ndim(pred) == 2 else out
        acc = (pred == np.asarray(y)).mean(axis=-1)
        return float(acc) if np.ndim(acc) == 0 else acc

    # ----- helpers -----------------------------------------------------------------------------
    def _squeeze(self, a: np.ndarray) -> np.ndarray:
        return a[0] if (a.shape[0] == 1 and self._n_models(self.n_layers_in_) == 1) else a

    def _train_input(self, Xt):
        """The training stack as `_train` reads it (a probe may change its dtype here, once)."""
        return Xt

    def _encode_eval(self, y) -> torch.Tensor:
        """Class ids of evaluation labels; labels unseen in training become -1 (always wrong)."""
        y = np.asarray(y)
        if self.multilabel_:
            return torch.as_tensor(y.astype(np.float32), device=self.device_)
        pos = np.searchsorted(self.classes_, y)
        pos = np.clip(pos, 0, len(self.classes_) - 1)
        ids = np.where(self.classes_[pos] == y, pos, -1)
        return torch.as_tensor(ids, device=self.device_)

    def _prepare(self, X) -> torch.Tensor:
        Xs, _ = as_layer_stack(X)
        if Xs.shape[0] != self.n_layers_in_:
            raise ProbesError(f"probe was trained on {self.n_layers_in_} layers, got {Xs.shape[0]}")
        if isinstance(Xs, RowStack):
            return Xs.with_(device=self.device_, scaler=self.scaler_)
        Xt = to_tensor(Xs, device=self.device_)
        return self.scaler_.transform_(Xt) if self.scaler_ is not None else Xt  # Xt is our own copy

    @torch.no_grad()
    def _logits_eval(self, X) -> torch.Tensor:
        Xt = self._prepare(X)
        n = Xt.shape[1]
        part = (lambda a: Xt.block(None, a, min(a + features.CHUNK_ROWS, n))) if isinstance(Xt, RowStack) \
            else (lambda a: Xt[:, a:a + features.CHUNK_ROWS])
        return torch.cat([self._logits(self.params_, part(a)) for a in range(0, n, features.CHUNK_ROWS)], dim=1)

    @torch.no_grad()
    def _accuracy(self, params: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Dev score per model: accuracy, or micro-F1 for multi-label targets."""
        if self.multilabel_:
            tp = torch.zeros(params.shape[0], device=X.device)
            wrong = torch.zeros_like(tp)
            for a in range(0, X.shape[1], features.CHUNK_ROWS):
                pred = self._logits(params, X[:, a:a + features.CHUNK_ROWS]) > 0
                gold = y[a:a + features.CHUNK_ROWS].bool()[None]
                tp += (pred & gold).float().sum((1, 2))
                wrong += (pred ^ gold).float().sum((1, 2))
            return 2 * tp / (2 * tp + wrong).clamp(min=1)
        correct = torch.zeros(params.shape[0], device=X.device)
        for a in range(0, X.shape[1], features.CHUNK_ROWS):
            pred = self._logits(params, X[:, a:a + features.CHUNK_ROWS]).argmax(-1)
            correct += (pred == y[a:a + features.CHUNK_ROWS]).float().sum(1)
        return correct / max(1, X.shape[1])

    def _n_models(self, n_layers: int) -> int:
        return n_layers


class EarlyStopper:
    """Keeps each model's best parameters by dev accuracy and says which models should stop."""

    def __init__(self, probe: StackedClassifier, Xd, yd, every: int, patience: int, x0: torch.Tensor):
        self.probe, self.Xd, self.yd, self.every, self.patience = probe, Xd, yd, every, patience
        self.best = x0.detach().clone()
        self.best_acc = torch.full((x0.shape[0],), -1.0, device=x0.device)
        self.bad = torch.zeros(x0.shape[0], dtype=torch.long, device=x0.device)

    def update(self, x: torch.Tensor) -> torch.Tensor:
        """Record dev accuracy of x; returns the models whose patience ran out."""
        acc = self.probe._accuracy(x, self.Xd, self.yd)
        better = acc > self.best_acc + 1e-6
        self.best[better] = x[better].detach()
        self.best_acc = torch.where(better, acc, self.best_acc)
        self.bad = torch.where(better, torch.zeros_like(self.bad), self.bad + 1)
        return self.bad >= self.patience

    def __call__(self, x: torch.Tensor, it: int) -> torch.Tensor:
        if it % self.every:
            return torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        return self.update(x)
