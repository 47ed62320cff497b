"""Edge probing (Tenney et al., ICLR 2019): span representations pooled from word vectors and a
classifier over one or two spans, one per layer, all layers trained at once.

Architecture (per layer): a projection of each word to ``proj_dim`` (separate for span 1 and
span 2); span pooling, either self-attentive (a learned score per word, softmax within the span,
weighted sum) or endpoint ([first word; last word]); then Linear -> tanh -> LayerNorm -> dropout
-> Linear to the labels. Multi-label targets (y of shape (n, C), 0/1) get one sigmoid per label
with binary cross-entropy, as Tenney et al.; one label per item gets a softmax with cross-entropy
(the same classifier, normalised over the labels).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

from probes.device import resolve_device
from probes.errors import ProbesError
from probes.probing.dropout import dropout_generator, seeded_dropout
from probes.probing.features import Standardizer, as_layer_stack, dev_split, encode_labels, standardize_mode, to_tensor

POOLINGS = ("attention", "endpoint")


def _span_table(spans: np.ndarray) -> tuple[np.ndarray, int]:
    spans = np.asarray(spans, dtype=np.int64)
    if spans.ndim != 2 or spans.shape[1] not in (2, 4):
        raise ProbesError(f"spans must be (n, 2) [start, end) or (n, 4) for two spans, got {spans.shape}")
    for k in range(0, spans.shape[1], 2):
        if np.any(spans[:, k + 1] <= spans[:, k]):
            bad = int(np.flatnonzero(spans[:, k + 1] <= spans[:, k])[0])
            raise ProbesError(f"span {bad}: empty or reversed span {spans[bad, k:k + 2].tolist()}")
    return spans, spans.shape[1] // 2


class EdgeProbe(BaseEstimator):
    """Span classifier of Tenney et al. (2019). X = (word_vectors, spans): word vectors (n_words, dim)
    or (n_layers, n_words, dim), spans (n, 2) or (n, 4) [start, end) word rows into them."""

    def __init__(self, pooling: str = "attention", proj_dim: int = 256, hidden_size: int = 256, dropout: float = 0.3,
                 lr: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 256, max_epochs: int = 30,
                 early_stopping: bool = True, validation_fraction: float = 0.1, n_iter_no_change: int = 3,
                 standardize: bool = True, device: str = "auto", random_state: int = 0):
        self.pooling = pooling
        self.proj_dim = proj_dim
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.standardize = standardize
        self.device = device
        self.random_state = random_state

    # ----- model -------------------------------------------------------------------------------
    def _init_params(self, L, d, C, gen):
        P, H = self.proj_dim, self.hidden_size
        span_dim = P if self.pooling == "attention" else 2 * P
        u = lambda *shape, fan: (torch.rand(shape, generator=gen) * 2 - 1) / np.sqrt(fan)
        p = {}
        for s in range(self.n_spans_):
            p[f"proj{s}"] = u(L, d, P, fan=d)
            p[f"proj{s}_b"] = torch.zeros(L, P)
            if self.pooling == "attention":
                p[f"att{s}"] = u(L, P, fan=P)
        p["W1"] = u(L, span_dim * self.n_spans_, H, fan=span_dim * self.n_spans_)
        p["b1"] = torch.zeros(L, H)
        p["ln_g"] = torch.ones(L, H)
        p["ln_b"] = torch.zeros(L, H)
        p["W2"] = u(L, H, C, fan=H)
        p["b2"] = torch.zeros(L, C)
        return {k: v.to(self.device_).requires_grad_(True) for k, v in p.items()}

    def _pool(self, p, s, H, a, b):
        """Pool span s of a batch: H (L, n_words, d) all word vectors, a / b (B,) span starts and
        ends -> (L, B, span_dim).

        Endpoint pooling projects the first and last word. Attention pooling works on the words the
        spans cover, concatenated (no padding to the widest span of the batch): a score per word, a
        softmax within each span (segment max, exp, segment sum), and the weighted sum of the words.
        The projection is affine and the weights of a span sum to one, so pooling the words first and
        projecting the pooled vector is the same function as projecting every word and pooling, at a
        fraction of the cost; a word's score att . (W h + c) is computed as h . (W att) + c . att.
        """
        W, c = p[f"proj{s}"], p[f"proj{s}_b"]
        if self.pooling == "endpoint":
            ends = torch.stack([H[:, a], H[:, b - 1]], 2)  # (L, B, 2, d)
            return (torch.einsum("lbed,ldp->lbep", ends, W) + c[:, None, None, :]).flatten(2)
        lengths = b - a
        seg = torch.repeat_interleave(torch.arange(len(a), device=H.device), lengths)
        starts = torch.repeat_interleave(a, lengths)
        offsets = torch.arange(len(seg), device=H.device) - torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths,
                                                                                     lengths)
        Hw = H[:, starts + offsets]  # (L, R, d): every covered word once per span
        att = p[f"att{s}"]
        scores = torch.einsum("lrd,ld->lr", Hw, torch.einsum("ldp,lp->ld", W, att)) + (c * att).sum(-1)[:, None]
        L, B = H.shape[0], len(a)
        top = torch.full((L, B), float("-inf"), device=H.device, dtype=scores.dtype)
        top = top.scatter_reduce(1, seg[None].expand(L, -1), scores.detach(), "amax")  # for stability only
        e = torch.exp(scores - top[:, seg])
        total = torch.zeros((L, B), device=H.device, dtype=e.dtype).index_add(1, seg, e)
        weights = e / total[:, seg]
        pooled = torch.zeros((L, B, H.shape[2]), device=H.device, dtype=H.dtype).index_add(1, seg, weights[..., None] * Hw)
        return torch.baddbmm(c[:, None, :], pooled, W)

    def _forward(self, p, H, spans, drop=None):
        """(L, n, C) logits; `drop` (the fit's dropout generator) turns dropout on."""
        reps = [self._pool(p, s, H, spans[:, 2 * s], spans[:, 2 * s + 1]) for s in range(self.n_spans_)]
        h = torch.tanh(torch.baddbmm(p["b1"][:, None, :], torch.cat(reps, -1), p["W1"]))
        h = F.layer_norm(h, h.shape[-1:]) * p["ln_g"][:, None, :] + p["ln_b"][:, None, :]
        if drop is not None and self.dropout > 0:
            h = seeded_dropout(h, self.dropout, drop)
        return torch.baddbmm(p["b2"][:, None, :], h, p["W2"])

    # ----- sklearn interface -------------------------------------------------------------------
    def _unpack_X(self, X):
        try:
            V, spans = X
        except (TypeError, ValueError):
            raise ProbesError("EdgeProbe input X must be a pair (word_vectors, spans)") from None
        Vs, single = as_layer_stack(V)
        spans, n_spans = _span_table(spans)
        if spans.max() > Vs.shape[1]:
            raise ProbesError(f"spans reach word {int(spans.max())} but only {Vs.shape[1]} word vectors are given")
        return Vs, single, spans, n_spans

    def _tensors(self, X):
        Vs, single, spans, n_spans = self._unpack_X(X)
        H = to_tensor(Vs, device=self.device_)
        if self.scaler_ is not None:
            H = self.scaler_.transform_(H)  # to_tensor gave us our own copy
        return H, torch.as_tensor(spans, device=self.device_), single

    def fit(self, X, y, X_dev=None, y_dev=None, groups=None, classes=None):
        """Train the span classifier on every layer at once, early stopping per layer."""
        if self.pooling not in POOLINGS:
            raise ProbesError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}")
        self.device_ = resolve_device(self.device)
        Vs, single, spans, self.n_spans_ = self._unpack_X(X)
        y = np.asarray(y)
        if len(y) != len(spans):
            raise ProbesError(f"{len(spans)} spans but {len(y)} labels")
        self.multilabel_ = y.ndim == 2  # (n, C) 0/1: one sigmoid per label, as Tenney et al.
        if self.multilabel_:
            self.classes_, ids = np.arange(y.shape[1]), y.astype(np.float32)
        else:
            self.classes_, ids = encode_labels(y) if classes is None else (np.unique(classes), np.searchsorted(np.unique(classes), y))
        self._single = single
        self.scaler_ = None
        Hfull = to_tensor(Vs, device=self.device_)
        mode = standardize_mode(self.standardize)
        if mode != "none":  # the shared Standardizer, applied in place on our own copy
            self.scaler_ = Standardizer(shared=mode == "shared").fit(Hfull)
            Hfull = self.scaler_.transform_(Hfull)
        L, _, d = Hfull.shape
        self.n_layers_in_ = L
        tr = np.arange(len(y))
        dev = None
        if self.early_stopping and X_dev is not None:
            Hd, sd, _ = self._tensors(X_dev)
            if self.multilabel_:
                yd = np.asarray(y_dev, dtype=np.float32)
            else:
                pos = np.clip(np.searchsorted(self.classes_, np.asarray(y_dev)), 0, len(self.classes_) - 1)
                yd = np.where(self.classes_[pos] == np.asarray(y_dev), pos, -1)
            dev = (Hd, sd, torch.as_tensor(yd, device=self.device_))
        elif self.early_stopping and len(y) >= 10:
            tr, dv = dev_split(len(y), self.validation_fraction, self.random_state, groups)
            dev = (Hfull, torch.as_tensor(spans[dv], device=self.device_), torch.as_tensor(ids[dv], device=self.device_))
        gen = torch.Generator().manual_seed(int(self.random_state))
        p = self._init_params(L, d, len(self.classes_), gen)
        opt = torch.optim.Adam(list(p.values()), lr=self.lr, weight_decay=self.weight_decay)
        drop = dropout_generator(int(self.random_state) + 1, Hfull.device)
        sp_tr = torch.as_tensor(spans[tr], device=self.device_)
        y_tr = torch.as_tensor(ids[tr], device=self.device_)
        best = {k: v.detach().clone() for k, v in p.items()}
        best_acc = torch.full((L,), -1.0, device=self.device_)
        bad = torch.zeros(L, dtype=torch.long, device=self.device_)
        active = torch.ones(L, dtype=torch.bool, device=self.device_)
        epochs = np.zeros(L, dtype=int)
        C = len(self.classes_)
        for epoch in range(self.max_epochs):
            perm = torch.randperm(len(tr), generator=gen).to(self.device_)
            for a in range(0, len(tr), self.batch_size):
                idx = perm[a:a + self.batch_size]
                logits = self._forward(p, Hfull, sp_tr[idx], drop=drop)
                if self.multilabel_:
                    ce = F.binary_cross_entropy_with_logits(logits, y_tr[idx][None].expand_as(logits),
                                                            reduction="none").sum(2).mean(1)
                else:
                    ce = F.cross_entropy(logits.reshape(-1, C), y_tr[idx].repeat(L), reduction="none").view(L, -1).mean(1)
                opt.zero_grad()
                (ce * active).sum().backward()
                opt.step()
            epochs += active.cpu().numpy()
            if dev is None:
                continue
            with torch.no_grad():
                acc = self._dev_score(self._predict_ids(p, dev[0], dev[1]), dev[2])
            better = acc > best_acc + 1e-6
            for k, v in p.items():
                best[k][better] = v.detach()[better]
            best_acc = torch.where(better, acc, best_acc)
            bad = torch.where(better, torch.zeros_like(bad), bad + 1)
            active &= bad < self.n_iter_no_change
            if not bool(active.any()):
                break
        self.params_ = best if dev is not None else {k: v.detach() for k, v in p.items()}
        self.best_dev_accuracy_ = best_acc.cpu().numpy() if dev is not None else np.full(L, np.nan)
        self.n_iter_ = epochs
        return self

    def _dev_score(self, pred: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
        """Accuracy per layer, or micro-F1 over every (item, label) decision for multi-label targets."""
        if not self.multilabel_:
            return (pred == gold).float().mean(1)
        g = gold.bool()[None]
        tp = (pred & g).float().sum((1, 2))
        return 2 * tp / (2 * tp + (pred ^ g).float().sum((1, 2))).clamp(min=1)

    @torch.no_grad()
    def _predict_ids(self, p, H, spans) -> torch.Tensor:
        """Predicted class ids (L, n), or label decisions (L, n, C) for multi-label targets."""
        out = []
        for a in range(0, len(spans), 4096):
            logits = self._forward(p, H, spans[a:a + 4096])
            out.append(logits > 0 if self.multilabel_ else logits.argmax(-1))
        return torch.cat(out, 1)

    @torch.no_grad()
    def _logits_eval(self, X) -> torch.Tensor:
        H, spans, _ = self._tensors(X)
        return torch.cat([self._forward(self.params_, H, spans[a:a + 4096]) for a in range(0, len(spans), 4096)], 1)

    def predict(self, X) -> np.ndarray:
        """Predicted labels, (n,) for single-layer input else (n_layers, n); multi-label: 0/1 (.., n, C)."""
        logits = self._logits_eval(X)
        out = (logits > 0).to(torch.uint8).cpu().numpy() if self.multilabel_ else self.classes_[logits.argmax(-1).cpu().numpy()]
        return out[0] if self._single else out

    def score(self, X, y):
        """Accuracy (= micro-F1 for one label per item; micro-F1 for multi-label): float or per layer."""
        if self.multilabel_:
            pred = torch.as_tensor(self._logits_eval(X) > 0)
            s = self._dev_score(pred, torch.as_tensor(np.asarray(y))).cpu().numpy()
            return float(s[0]) if self._single else s
        acc = (self.predict(X) == np.asarray(y)).mean(-1)
        return float(acc) if np.ndim(acc) == 0 else acc
