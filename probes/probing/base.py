"""What every classifier probe shares: sklearn-style fit/predict/score over a stack of models (one
per layer, or one per mix), label encoding, standardisation and per-model early stopping on dev."""

from __future__ import annotations

import copy
from typing import Optional, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone

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
    _shares_targets = False  # True where _train fits K targets' stacked models at once (fit_shared)
    _per_model_attributes: tuple[str, ...] = ()  # fitted arrays with one row per model, split by fit_shared
    multilabel_ = False
    _targets = 1  # label vectors trained together; model i of the stack serves target i % _targets
    _class_mask = None  # (K, C) 0 / -inf: the padding classes of each target of a stacked fit

    # ----- sklearn interface -------------------------------------------------------------------
    def fit(self, X, y, X_dev=None, y_dev=None, groups: Optional[np.ndarray] = None, classes=None):
        """Train every model at once; dev data (or a held-out part of train) drives early stopping.

        ``groups`` (n,) e.g. sentence ids keeps whole sentences on one side of a held-out split.
        ``classes`` fixes the output label set (like sklearn's partial_fit), e.g. when a training
        prefix has not seen every class yet (online codelength).
        """
        self._fit_targets(X, [y], X_dev, [y_dev], groups, classes)
        return self

    def fit_shared(self, X, ys: Sequence, X_dev=None, y_devs: Optional[Sequence] = None,
                   groups: Optional[np.ndarray] = None) -> list["StackedClassifier"]:
        """One fitted copy of this estimator per label vector in ``ys``, all on the same X (and X_dev).

        Equal to ``[clone(self).fit(X, y, X_dev, y_dev, groups) for ...]`` (a control task's seeds,
        the task itself): the K targets' models are stacked into one batched L-BFGS run, each with
        its own curvature pairs, steps, convergence and early stopping, so only the reading,
        standardising and casting of X and the GEMMs over it are shared (a target with fewer
        classes is padded with classes whose logits are -inf: zero gradient, weights that stay 0).
        Multi-label targets, or a probe without stacked targets, are fitted one by one.
        """
        ys = [np.asarray(y) for y in ys]
        y_devs = list(y_devs) if y_devs is not None else [None] * len(ys)
        if len(ys) != len(y_devs):
            raise ProbesError(f"fit_shared: {len(ys)} training targets but {len(y_devs)} dev targets")
        if len(ys) == 1 or not self._shares_targets or any(y.ndim != 1 for y in ys):
            return [clone(self).fit(X, y, X_dev, yd, groups) for y, yd in zip(ys, y_devs)]
        est = clone(self)
        est._fit_targets(X, ys, X_dev, y_devs, groups, None)
        return est._split_targets()

    def _fit_targets(self, X, ys: list, X_dev, y_devs: list, groups, classes) -> None:
        """Fit the stacked models of every target in ``ys`` (one target: the ordinary fit)."""
        Xs, single = as_layer_stack(X)
        self._single_layer_input = single
        ys = [np.asarray(y) for y in ys]
        for y in ys:
            if Xs.shape[1] != len(y):
                raise ProbesError(f"probe input has {Xs.shape[1]} rows but {len(y)} labels")
            if len(y) == 0:
                raise ProbesError("cannot train a probe on zero examples")
        self.device_ = resolve_device(getattr(self, "device", "auto"))
        self.multilabel_ = ys[0].ndim == 2
        encoded = [self._encode_train(y, classes) for y in ys]
        K = len(ys)
        if K == 1:
            self.classes_, ids = encoded[0]
            self._class_mask = None
        else:  # model i of the stack serves target i % K; classes padded to the largest set
            self._target_classes = [c for c, _ in encoded]
            C = max(len(c) for c in self._target_classes)
            self.classes_ = np.arange(C)
            ids = np.stack([i for _, i in encoded], axis=1)
            mask = torch.zeros(K, C)
            for k, c in enumerate(self._target_classes):
                mask[k, len(c):] = float("-inf")
            self._class_mask = mask.to(self.device_)
        self._targets = K
        train_rows = np.arange(len(ys[0]))
        Xd = yd = None
        if self.early_stopping:
            if X_dev is not None:
                Xd_s, _ = as_layer_stack(X_dev)
                Xd = to_tensor(Xd_s, device=self.device_)
                if K == 1:
                    yd = self._encode_eval(y_devs[0])
                else:
                    yd = torch.stack([self._eval_ids(c, yv) for c, yv in zip(self._target_classes, y_devs)], 1)
            elif len(ys[0]) >= 10:
                train_rows, dev_rows = dev_split(len(ys[0]), self.validation_fraction, self.random_state, groups)
                Xd = to_tensor(Xs, dev_rows, device=self.device_)
                yd = torch.as_tensor(ids[dev_rows], device=self.device_)
        lazy = isinstance(Xs, RowStack) and self._streams
        subset = None if len(train_rows) == len(ys[0]) else train_rows
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

    def _encode_train(self, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
        """(classes_, class ids or 0/1 float targets) of one training target."""
        if y.ndim == 2:
            if not self._multilabel:
                raise ProbesError(f"{type(self).__name__} takes one label per item; for a multi-label task use "
                                  "the linear, mix, cumulative or edge probe")
            return np.arange(y.shape[1]), y.astype(np.float32)
        if classes is None:
            return encode_labels(y)
        classes_ = np.unique(np.asarray(classes))
        ids = np.searchsorted(classes_, y)
        if np.any(ids >= len(classes_)) or np.any(classes_[np.minimum(ids, len(classes_) - 1)] != y):
            raise ProbesError("training labels outside the given classes")
        return classes_, ids

    def _split_targets(self) -> list["StackedClassifier"]:
        """The K fitted estimators of a stacked fit, each as its own ``fit`` would have left it."""
        K, out = self._targets, []
        for k, classes in enumerate(self._target_classes):
            est = copy.copy(self)
            est._targets, est._class_mask, est.classes_ = 1, None, classes
            del est._target_classes
            rows = slice(k, None, K)
            est.params_ = self._target_params(self.params_[rows], len(classes))
            est.n_iter_ = self.n_iter_[rows]
            est.best_dev_accuracy_ = self.best_dev_accuracy_[rows]
            for name in self._per_model_attributes:
                setattr(est, name, getattr(self, name)[rows])
            out.append(est)
        return out

    def _target_params(self, params: torch.Tensor, C: int) -> torch.Tensor:
        """One target's parameter rows without its padding classes (C of them kept)."""
        raise NotImplementedError

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
        return self._eval_ids(self.classes_, y)

    def _eval_ids(self, classes: np.ndarray, y) -> torch.Tensor:
        y = np.asarray(y)
        pos = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        return torch.as_tensor(np.where(classes[pos] == y, pos, -1), device=self.device_)

    def _model_targets(self, n_models: int) -> Optional[torch.Tensor]:
        """Target of each model of the stack (None for an ordinary one-target fit)."""
        if self._targets == 1:
            return None
        return torch.arange(n_models, device=self.device_) % self._targets

    def _eval_labels(self, y: torch.Tensor, n_models: int) -> torch.Tensor:
        """Labels each model is scored on: y (n,) for every model, or (M, n) from y (n, K) by target."""
        return y if y.ndim == 1 or self.multilabel_ else y.T[self._model_targets(n_models)]

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
        y = self._eval_labels(y, params.shape[0])
        for a in range(0, X.shape[1], features.CHUNK_ROWS):
            pred = self._logits(params, X[:, a:a + features.CHUNK_ROWS]).argmax(-1)
            correct += (pred == y[..., a:a + features.CHUNK_ROWS]).float().sum(1)
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
