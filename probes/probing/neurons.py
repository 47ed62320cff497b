"""Which neurons carry a property: an elastic-net probe, neuron rankings and ablation curves.

* ``ElasticNetProbe``: multinomial logistic regression with an L1 + L2 penalty on standardised
  inputs, one model per layer, all layers at once (OWL-QN by default; FISTA, a gradient step on the
  smooth part then the L1 soft-threshold, as ``solver="fista"``).
* Rankings of the neurons of each layer, fitted on the training split only:
  ``lca`` (linguistic correlation analysis, Dalvi et al. 2019 / NeuroX): by the elastic-net
  probe's weights; overall by the per-class weight-mass sweep of NeuroX's
  ``get_neuron_ordering``, per label by |w_c|. ``probeless`` (Antverg & Belinkov 2022): by
  differences of class means; overall sum over label pairs of |mu_c - mu_c'|, per label
  |mu_c - mu_rest|.
* Ablation curves: a ``LinearProbe`` retrained on the top-k, bottom-k and random-k neurons of each
  layer (every layer and every random draw stacked into one batched fit per k), and the smallest
  k whose top-k score reaches 95% of the full layer's (``min_k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from probes.errors import ProbesError
from probes.probing import features
from probes.probing.features import encode_labels, to_tensor
from probes.probing.linear import LinearProbe

RANKINGS = ("lca", "probeless")


# ----- the elastic-net probe -----------------------------------------------------------------------
class ElasticNetProbe(LinearProbe):
    """Multinomial logistic regression with an elastic-net penalty, one per layer, solved by OWL-QN
    (``solver="owlqn"``, see ``_train_owlqn``) or by FISTA (``solver="fista"``, below).

    Objective per layer, on inputs standardised with the training rows' mean and sd:
    mean cross-entropy + alpha * (l1_ratio * ||W||_1 + (1 - l1_ratio) / 2 * ||W||_2^2), bias not
    penalised, the full (C, dim) softmax parameterisation. scikit-learn's
    ``LogisticRegression(C=c, l1_ratio=r, solver="saga")`` on n rows is ``alpha = 1 / (c * n)``.
    The smooth part takes a gradient step of 1 / Lipschitz (Böhning's bound: half the largest
    eigenvalue of [X 1]'[X 1] / n, plus the L2 term), then the L1 part its soft-threshold, with
    Nesterov momentum restarted whenever it points uphill (O'Donoghue & Candès 2015). A layer stops
    when no parameter moves by more than ``tol`` (relative to the largest); no early stopping:
    the solution of the penalised problem, not a dev-selected one, is what the ranking reads.
    """

    _streams = False  # FISTA's power iteration and steps read a tensor; the ranking fits are small enough
    # OWL-QN's line search compares objective values: summed in float64, their float32 rounding (~1e-7 of
    # the loss) no longer stops it ~sqrt(eps) short of the optimum
    _loss_dtype = torch.float64
    _multilabel = False
    early_stopping = False  # read by StackedClassifier.fit: no held-out split, no dev data

    def __init__(self, alpha: float = 1e-3, l1_ratio: float = 0.5, max_iter: int = 1000, tol: float = 1e-4,
                 standardize: bool = True, compute_dtype: str = "float32", device: str = "auto",
                 random_state: int = 0, solver: str = "owlqn", tol_grad: float = 1e-6):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.tol_grad = tol_grad
        self.standardize = standardize
        self.compute_dtype = compute_dtype
        self.device = device
        self.random_state = random_state

    @property
    def weight_decay(self) -> float:
        """The L2 part of the penalty (LinearProbe's smooth objective reads it)."""
        return float(self.alpha) * (1.0 - float(self.l1_ratio))

    def _lipschitz(self, X: torch.Tensor, n_power: int = 60) -> torch.Tensor:
        """(L,) largest eigenvalue of [X 1]'[X 1] / n per layer, by power iteration (never the d x d Gram)."""
        L, n, d = X.shape
        v = torch.ones(L, d + 1, device=X.device) / (d + 1) ** 0.5
        lam = torch.ones(L, device=X.device)
        Xf = X.float()
        for _ in range(n_power):
            u = torch.baddbmm(v[:, None, d:], Xf, v[:, :d, None]).squeeze(2)  # (L, n): [X 1] v
            w = torch.cat([torch.bmm(u[:, None, :], Xf).squeeze(1), u.sum(1, keepdim=True)], 1) / n
            lam = w.norm(dim=1)
            v = w / lam.clamp(min=1e-12)[:, None]
        return lam

    def _train(self, Xt, yt, Xd, yd, C, gen):
        if not 0.0 <= float(self.l1_ratio) <= 1.0 or float(self.alpha) < 0:
            raise ProbesError(f"elastic net needs alpha >= 0 and 0 <= l1_ratio <= 1, got {self.alpha}, {self.l1_ratio}")
        if self.solver not in ("owlqn", "fista"):
            raise ProbesError(f"elastic net solver must be owlqn or fista, not {self.solver!r}")
        if self.solver == "owlqn":
            return self._train_owlqn(Xt, yt, C)
        L, _, d = Xt.shape
        P = d * C + C
        fun = self._objective(Xt, yt, C)
        # Power iteration converges from below: 10% headroom, and Böhning's 1/2 is itself loose.
        lip = 0.5 * self._lipschitz(Xt) * 1.1 + self.weight_decay
        step = 1.0 / lip
        thresh = step * float(self.alpha) * float(self.l1_ratio)  # (L,) soft-threshold per step
        is_w = torch.zeros(P, dtype=torch.bool, device=Xt.device)
        is_w[:d * C] = True  # the bias is not penalised
        x = torch.zeros(L, P, device=Xt.device)
        yk = x.clone()
        t = torch.ones(L, device=Xt.device)
        active = torch.ones(L, dtype=torch.bool, device=Xt.device)
        n_iter = np.zeros(L, dtype=np.int64)
        for it in range(int(self.max_iter)):
            idx = torch.nonzero(active).flatten()
            if not len(idx):
                break
            _, g = fun(yk[idx], idx)
            z = yk[idx] - step[idx, None] * g
            shrunk = torch.sign(z) * (z.abs() - thresh[idx, None]).clamp(min=0)
            x_new = torch.where(is_w, shrunk, z)
            x_old = x[idx]
            delta = x_new - x_old
            # Restart where the momentum opposes the step just taken (gradient-mapping test).
            restart = ((yk[idx] - x_new) * delta).sum(1) > 0
            t_i = torch.where(restart, torch.ones_like(t[idx]), t[idx])
            t_new = (1 + torch.sqrt(1 + 4 * t_i * t_i)) / 2
            mom = torch.where(restart, torch.zeros_like(t_i), (t_i - 1) / t_new)
            yk[idx] = x_new + mom[:, None] * delta
            x[idx] = x_new
            t[idx] = t_new
            n_iter[idx.cpu().numpy()] += 1
            moved = delta.abs().amax(1) / x_new.abs().amax(1).clamp(min=1.0)
            done = (moved <= float(self.tol)) & (it > 0)
            active[idx[done]] = False
        self.params_ = x
        self.n_iter_ = n_iter
        self.converged_ = ~active.cpu().numpy()
        loss, _ = fun(x, torch.arange(L, device=x.device))
        W = self._unpack(x)[0]
        self.final_loss_ = (loss + float(self.alpha) * float(self.l1_ratio) * W.abs().sum((1, 2))).cpu().numpy()
        self.best_dev_accuracy_ = np.full(L, np.nan)

    def _train_owlqn(self, Xt, yt, C):
        """The same penalised problem by OWL-QN: L-BFGS on the smooth part, the L1 part through
        pseudo-gradients and orthant projections; a layer stops when no pseudo-gradient entry exceeds
        ``tol_grad`` or the objective changes by less than 1e-9 of itself (far tighter than FISTA's
        ``tol`` on parameter moves, which its 1000 iterations did not reach on MiniLM/EWT)."""
        from probes.probing.lbfgs import batched_lbfgs

        L, _, d = Xt.shape
        P = d * C + C
        l1 = torch.zeros(P, device=Xt.device)
        l1[:d * C] = float(self.alpha) * float(self.l1_ratio)  # the bias is not penalised
        x, info = batched_lbfgs(self._objective(Xt, yt, C), torch.zeros(L, P, device=Xt.device),
                                max_iter=int(self.max_iter), tol_grad=float(self.tol_grad), l1=l1)
        # Softmax biases are defined up to a shared constant (the bias is not penalised): centre them, as
        # gradient steps from zero keep them, so that rounding drift does not show in intercept_.
        x[:, d * C:] -= x[:, d * C:].mean(1, keepdim=True)
        self.params_ = x
        self.n_iter_ = info["n_iter"]
        self.converged_ = self.n_iter_ < int(self.max_iter)
        self.final_loss_ = info["loss"]
        self.best_dev_accuracy_ = np.full(L, np.nan)


# ----- rankings --------------------------------------------------------------------------------------
@dataclass
class NeuronRanking:
    """The neurons of each layer ranked for a task, fitted on the training split.

    ``order[m]``: neuron ids of layer ``layers[m]``, most important first (overall);
    ``label_order[m, c]``: the same for label ``labels[c]`` alone; ``score``/``label_score``: the
    ranking's value of each neuron (higher = more important; lca overall: 1 - the weight-mass
    fraction at which the sweep selects it). ``class_means[m, c, j]``: mean activation of neuron j
    over the training items of label c, in standard deviations from the neuron's training mean.
    """

    method: str
    layers: list[int]
    labels: list[str]
    order: np.ndarray
    score: np.ndarray
    label_order: np.ndarray
    label_score: np.ndarray
    class_means: np.ndarray
    counts: np.ndarray  # (C,) training items per label

    def top(self, layer: int, k: int, label: Optional[str] = None) -> np.ndarray:
        """The k highest-ranked neuron ids of a layer (by its id), overall or for one label."""
        if layer not in self.layers:
            raise ProbesError(f"layer {layer} is not ranked (have {self.layers})")
        m = self.layers.index(layer)
        if label is None:
            return self.order[m, :k]
        if label not in self.labels:
            raise ProbesError(f"label {label!r} is not among the ranked labels {self.labels}")
        return self.label_order[m, self.labels.index(label), :k]

    def profile(self, n_top: int = 12, decimals: Optional[int] = None) -> dict:
        """What the label-activation figure draws, as plain JSON: per layer the ``n_top`` highest-ranked
        neurons (overall) and each label's mean activation on them (sd from the neuron's mean,
        rounded to ``decimals`` when given, to keep a saved copy small)."""
        k = min(int(n_top), self.order.shape[1])
        top = self.order[:, :k]
        return {"method": self.method, "layers": [int(l) for l in self.layers], "labels": list(self.labels),
                "counts": [int(c) for c in self.counts], "neurons": top.tolist(),
                "class_means": [(Z if decimals is None else np.round(Z, decimals)).tolist()
                                for Z in (self.class_means[m][:, top[m]] for m in range(len(self.layers)))]}


def _descending(score: np.ndarray) -> np.ndarray:
    """Indices sorting the last axis by score, highest first; ties by the lower neuron id (stable)."""
    return np.argsort(-score, axis=-1, kind="stable")


def lca_order(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rankings from probe weights W (L, C, d): (order, score, label_order, label_score).

    Per label: by |w_c|. Overall: NeuroX's ``get_neuron_ordering`` sweeps a fraction p from 0 to 1
    and, for each class, selects its heaviest neurons until their |w_c| mass reaches p of the
    class's total; neurons join the ordering at the first p that selects them. Here the sweep is
    exact (the limit of a fine stride): a neuron joins at min over classes of the mass of that
    class's heavier neurons / the class's total; ties (e.g. weights L1 set to zero) by the largest
    |w_c|, then by id.
    """
    A = np.abs(np.asarray(W, dtype=np.float64))
    label_order = _descending(A)
    sorted_w = np.take_along_axis(A, label_order, -1)
    before = np.cumsum(sorted_w, -1) - sorted_w  # mass of the heavier neurons of the class
    total = A.sum(-1, keepdims=True)
    frac_sorted = np.where(total > 0, before / np.where(total > 0, total, 1), 1.0)
    frac = np.empty_like(frac_sorted)
    np.put_along_axis(frac, label_order, frac_sorted, -1)
    frac = np.where(A > 0, frac, 1.0)  # a zero weight never adds mass: it joins last for that class
    entry = frac.min(1)  # (L, d)
    peak = A.max(1)
    d = A.shape[-1]
    order = np.stack([np.lexsort((np.arange(d), -peak[m], entry[m])) for m in range(A.shape[0])])
    return order, 1.0 - entry, label_order, A


def class_means(X: torch.Tensor, y: np.ndarray, n_classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-class sums (L, C, d), total sums (L, d), sums of squares (L, d)) in float64, over row chunks."""
    L, n, d = X.shape
    yt = torch.as_tensor(np.asarray(y), device=X.device)
    sums = torch.zeros(L, n_classes, d, dtype=torch.float64, device=X.device)
    sq = torch.zeros(L, d, dtype=torch.float64, device=X.device)
    for a in range(0, n, features.CHUNK_ROWS):
        c = X[:, a:a + features.CHUNK_ROWS].double()
        sums.index_add_(1, yt[a:a + features.CHUNK_ROWS], c)
        sq += (c * c).sum(1)
    return sums, sums.sum(1), sq


def probeless_order(means: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Antverg & Belinkov's rankings from class means (L, C, d) and the means of the other items
    (L, C, d): overall by sum over label pairs |mu_c - mu_c'|, per label by |mu_c - mu_rest|."""
    mu = np.asarray(means, dtype=np.float64)
    C = mu.shape[1]
    score = np.zeros((mu.shape[0], mu.shape[2]))
    for c in range(C):  # pairs c < c': (C^2 / 2) d work without a (L, C, C, d) temporary
        score += np.abs(mu[:, c:c + 1] - mu[:, c + 1:]).sum(1)
    label_score = np.abs(mu - np.asarray(rest, dtype=np.float64))
    return _descending(score), score, _descending(label_score), label_score


def rank_stack(X, y: np.ndarray, method: str = "lca", layers: Optional[Sequence[int]] = None,
               labels: Optional[Sequence[str]] = None, device: str = "auto", **params) -> NeuronRanking:
    """Rank the neurons of every layer of X (L, n, d) for labels y (n,) (any values; classes sorted).

    ``params`` go to ``ElasticNetProbe`` (lca) and are refused by probeless, which has none.
    """
    from probes.device import resolve_device

    if method not in RANKINGS:
        raise ProbesError(f"unknown neuron ranking {method!r}; choose one of {', '.join(RANKINGS)}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ProbesError("neuron rankings take one label per item (not multi-label targets)")
    classes, ids = encode_labels(y)
    if len(classes) < 2:
        raise ProbesError(f"neuron rankings need at least two labels in the training data, got {len(classes)}")
    Xt = to_tensor(features.as_layer_stack(X)[0], device=resolve_device(device))
    L, n, d = Xt.shape
    sums, total, sq = class_means(Xt, ids, len(classes))
    counts = np.bincount(ids, minlength=len(classes)).astype(np.float64)
    mu = (sums / torch.as_tensor(counts, device=sums.device)[None, :, None]).cpu().numpy()
    grand = (total / n).cpu().numpy()
    sd = np.sqrt(np.clip((sq / n).cpu().numpy() - grand ** 2, 0, None))
    z = (mu - grand[:, None]) / np.where(sd > 1e-8, sd, 1.0)[:, None]
    if method == "lca":
        est = ElasticNetProbe(device=device, **params).fit(Xt, ids)
        order, score, label_order, label_score = lca_order(est.coef_)
    else:
        if params:
            raise ProbesError(f"the probeless ranking takes no parameters, got {', '.join(sorted(params))}")
        rest = ((total[:, None] - sums) / torch.as_tensor(n - counts, device=sums.device).clamp(min=1)[None, :, None])
        order, score, label_order, label_score = probeless_order(mu, rest.cpu().numpy())
    names = [str(c) for c in classes] if labels is None else [str(labels[int(c)]) for c in classes]
    return NeuronRanking(method, list(range(L)) if layers is None else list(layers), names, order, score,
                         label_order, label_score, z, counts)


# ----- ablation curves -------------------------------------------------------------------------------
def ablation_ks(width: int, ks: Optional[Sequence[int]] = None) -> list[int]:
    """k values of an ablation curve: 1, 2, 5, 10, 20, 50, ... below ``width`` (or ``ks`` within
    1..width), always ending with ``width`` itself."""
    if ks is None:
        grid, base = [], 1
        while base < width:
            grid += [m * base for m in (1, 2, 5) if m * base < width]
            base *= 10
    else:
        bad = [k for k in ks if int(k) < 1]
        if bad:
            raise ProbesError(f"ablation k must be at least 1, got {bad[0]}")
        grid = [int(k) for k in ks if int(k) < width]
    return sorted(set(grid)) + [int(width)]


def random_neurons(width: int, k: int, seed: int, layer: int) -> np.ndarray:
    """The random-k neurons of one seed and layer: a draw of its own for every (seed, k, layer)."""
    return np.sort(np.random.default_rng([int(seed), int(k), int(layer)]).choice(width, size=k, replace=False))


@dataclass
class AblationPredictions:
    """Predicted class ids on each evaluation split, per k: ``top[k][name]`` and ``bottom[k][name]``
    (L, n), ``random[k][name]`` (S, L, n) for the seeds ``seeds``; ``classes``: the probe's."""

    ks: list[int]
    seeds: list[int]
    classes: np.ndarray
    top: dict
    bottom: dict
    random: dict


def _gather(X: torch.Tensor, specs: Sequence[tuple[int, np.ndarray]]) -> torch.Tensor:
    """(M, n, k) stack of the columns ``idx`` of layer position ``m`` for each (m, idx) of specs."""
    return torch.stack([X[m][:, torch.as_tensor(idx, device=X.device)] for m, idx in specs])


def ablation_predictions(X_train, y_train: np.ndarray, order: np.ndarray, evals: Mapping[str, object],
                         ks: Optional[Sequence[int]] = None, seeds: Sequence[int] = (0,), X_dev=None,
                         y_dev: Optional[np.ndarray] = None, groups: Optional[np.ndarray] = None,
                         device: str = "auto", **hyper) -> AblationPredictions:
    """Retrain a LinearProbe on the top-k, bottom-k and random-k neurons of each layer, for every k.

    ``order`` (L, d): each layer's ranking, most important first; ``evals``: {name: X (L, n, d)}.
    One batched fit per k holds every layer's top, bottom and random (one per seed) subsets (split
    into several fits only past the memory budget); at k = width all three are the full layer,
    fitted once. The probe's dev data / held-out split (by ``seeds[0]``) is the same for all.
    """
    from probes.device import resolve_device

    dev_ = resolve_device(device)
    Xtr = to_tensor(features.as_layer_stack(X_train)[0], device=dev_)
    L, n, d = Xtr.shape
    order = np.asarray(order)
    if order.shape != (L, d):
        raise ProbesError(f"a ranking of shape {order.shape} for {L} layers of {d} neurons")
    Xev = {name: to_tensor(features.as_layer_stack(X)[0], device=dev_) for name, X in evals.items()}
    Xdv = None if X_dev is None else to_tensor(features.as_layer_stack(X_dev)[0], device=dev_)
    seeds = list(seeds)
    grid = ablation_ks(d, ks)
    classes = np.unique(np.asarray(y_train))
    top, bottom, rand = {}, {}, {}
    for k in grid:
        if k == d:
            specs = [(m, np.arange(d)) for m in range(L)]
        else:
            specs = ([(m, order[m, :k]) for m in range(L)] + [(m, order[m, d - k:]) for m in range(L)]
                     + [(m, random_neurons(d, k, s, m)) for s in seeds for m in range(L)])
        # Stay within the memory budget: train + dev + evaluation copies of each group's columns.
        rows = n + (0 if Xdv is None else Xdv.shape[1]) + sum(x.shape[1] for x in Xev.values())
        per_group = max(1, features.memory_budget() // max(1, 4 * rows * k))
        preds = {name: [] for name in Xev}
        for a in range(0, len(specs), per_group):
            group = specs[a:a + per_group]
            est = LinearProbe(device=str(dev_), random_state=seeds[0], **hyper)
            est.fit(_gather(Xtr, group), y_train, None if Xdv is None else _gather(Xdv, group), y_dev, groups=groups)
            for name, Xe in Xev.items():
                logits = est._logits_eval(_gather(Xe, group))
                preds[name].append(np.atleast_2d(logits.argmax(-1).cpu().numpy()))
        preds = {name: np.concatenate(p, 0) for name, p in preds.items()}
        if k == d:
            top[k] = bottom[k] = preds
            rand[k] = {name: np.broadcast_to(p, (len(seeds),) + p.shape) for name, p in preds.items()}
        else:
            top[k] = {name: p[:L] for name, p in preds.items()}
            bottom[k] = {name: p[L:2 * L] for name, p in preds.items()}
            rand[k] = {name: p[2 * L:].reshape(len(seeds), L, -1) for name, p in preds.items()}
    return AblationPredictions(grid, seeds, classes, top, bottom, rand)


def min_k(ks: Sequence[int], top: np.ndarray, full: np.ndarray, fraction: float = 0.95) -> np.ndarray:
    """Smallest k whose top-k score reaches ``fraction`` of the full-layer score.

    top: (..., K) scores at ``ks`` (ascending), full: (...) the full layer's; NaN where none does
    (only when the scores themselves are NaN: k = width is the full layer)."""
    top = np.asarray(top, dtype=float)
    reach = top >= fraction * np.asarray(full, dtype=float)[..., None] - 1e-12
    first = np.argmax(reach, axis=-1)
    out = np.asarray(ks, dtype=float)[first]
    return np.where(reach.any(-1), out, np.nan)
