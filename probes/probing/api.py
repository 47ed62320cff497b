"""Python API: train a probe on every layer of extracted caches and return tidy ResultRows.

A *split* is ``(vectors, TaskData)`` where ``vectors`` is a ``VectorCache`` or an array
(n_layers, n_words, dim) whose word rows follow ``TaskData.sentence_offsets`` (layer ids are then
0..n_layers-1). Several test sets (e.g. other languages' treebanks) give zero-shot rows, one
``eval_set`` each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from probes import progress
from probes.errors import ProbesError
from probes.probing.edge import EdgeProbe
from probes.probing.bootstrap import (ReplicateBook, aggregate_seeds, grouped_mean_replicates, percentile_interval,
                                      ratio_replicates, resample_counts)
from probes.probing.features import lazy_rows, to_tensor
from probes.probing.linear import LinearProbe
from probes.probing.metrics import expected_layers, score_replicates, sentence_of_rows
from probes.probing.mix import ScalarMixProbe
from probes.probing.mlp import MLPProbe
from probes.records import ResultRow
from probes.tasks.base import TaskData

CLASSIFIER_PROBES = {"linear": LinearProbe, "mlp": MLPProbe, "mix": ScalarMixProbe, "cumulative": ScalarMixProbe,
                     "edge": EdgeProbe}
PER_LAYER = ("linear", "mlp", "cumulative", "edge")


@dataclass
class Inputs:
    """Probe inputs of one split: features (L, n_items, dim'), class ids and each item's sentence."""

    X: object
    y: np.ndarray
    sent: np.ndarray
    n_sentences: int
    layers: list[int]
    positive: Optional[int] = None  # class id whose F1 is the metric (positive_f1 tasks)


def cache_arrays(vectors) -> tuple[object, list[int], Optional[np.ndarray]]:
    """(vectors (L, n_words, dim), layer ids, offsets or None) of a VectorCache or a plain array."""
    if hasattr(vectors, "vectors") and hasattr(vectors, "layers"):
        if hasattr(vectors, "verify"):
            vectors.verify()  # checksums and NaN/Inf of every layer, once per opened cache, before any probe reads it
        return vectors.vectors, list(vectors.layers), np.asarray(vectors.sentence_offsets)
    if getattr(vectors, "ndim", 0) != 3:
        raise ProbesError("vectors must be a VectorCache or an array of shape (n_layers, n_words, dim)")
    return vectors, list(range(vectors.shape[0])), None


def _offsets(task: TaskData, cache_offsets: Optional[np.ndarray], n_words: int) -> np.ndarray:
    offsets = task.sentence_offsets if task.sentence_offsets is not None else cache_offsets
    if offsets is None:
        raise ProbesError(f"task {task.name}: no sentence_offsets to map words to sentences")
    offsets = np.asarray(offsets)
    if cache_offsets is not None and not np.array_equal(offsets, cache_offsets):
        raise ProbesError(f"task {task.name}: its sentence offsets do not match the vector cache's "
                          "(built from a different corpus or sentence order?)")
    if offsets[-1] != n_words:
        raise ProbesError(f"task {task.name}: offsets cover {offsets[-1]} words but the vectors hold {n_words}")
    return offsets


def _edge_inputs(V, task: TaskData, offsets: np.ndarray):
    """(word vectors of the rows the spans touch, spans renumbered into them, sentence per item)."""
    if task.kind == "token":
        rows = np.asarray(task.index)
        spans = np.stack([rows, rows + 1], 1)
    elif task.kind == "edge":
        pr = np.asarray(task.pairs)
        spans = np.stack([pr[:, 0], pr[:, 0] + 1, pr[:, 1], pr[:, 1] + 1], 1)
    elif task.kind == "span":
        spans = np.asarray(task.spans)
    else:
        raise ProbesError(f"task {task.name} is a {task.kind} task; the edge probe takes token, edge or span tasks")
    starts, ends = spans[:, 0::2].ravel(), spans[:, 1::2].ravel()
    lens = ends - starts
    if np.any(lens <= 0):
        raise ProbesError(f"task {task.name}: span item {int(np.flatnonzero(lens <= 0)[0]) // (spans.shape[1] // 2)} is empty")
    words = np.unique(np.repeat(starts, lens) + (np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)))
    local = np.searchsorted(words, spans)
    local[:, 1::2] = np.searchsorted(words, spans[:, 1::2] - 1) + 1
    return (to_tensor(V, words), local), sentence_of_rows(spans[:, 0], offsets)


def task_inputs(vectors, task: TaskData, classes: Optional[np.ndarray] = None, probe: str = "linear") -> Inputs:
    """Float32 features of a task's items, all layers, read from the cache in chunks.

    token: the word's vector; edge: [h_i; h_j]; span: [h_start; h_end-1] (endpoint
    representation); sentence: mean of the sentence's word vectors. For ``probe="edge"`` X is
    (word vectors, spans) for EdgeProbe instead. ``classes`` (from training) turns labels into
    ids, unseen ones -1.
    """
    V, layers, cache_offsets = cache_arrays(vectors)
    offsets = _offsets(task, cache_offsets, V.shape[1])
    if task.y is None and task.Y is None:
        raise ProbesError(f"task {task.name} ({task.kind}) has no class labels for a classifier probe")
    y = np.asarray(task.y if task.Y is None else task.Y)
    if probe == "edge":
        X, sent = _edge_inputs(V, task, offsets)
        n_items = len(X[1])
    elif task.kind == "token":
        rows = np.asarray(task.index)
        X = lazy_rows(V, rows)  # a RowStack past the memory budget: the linear probe streams it
        sent = sentence_of_rows(rows, offsets)
    elif task.kind in ("edge", "span"):
        items = np.asarray(task.pairs if task.kind == "edge" else task.spans)
        if task.kind == "span":  # endpoints of each span: start and end - 1 (two-span items: four rows)
            items = items.copy()
            items[:, 1::2] -= 1
        import torch
        X = torch.cat([to_tensor(V, items[:, k]) for k in range(items.shape[1])], dim=2)
        sent = sentence_of_rows(items[:, 0], offsets)
    elif task.kind == "sentence":
        import torch
        sent = np.asarray(task.index)
        X = torch.empty((V.shape[0], len(sent), V.shape[2]))
        for k, s in enumerate(sent):
            X[:, k] = to_tensor(V, np.arange(offsets[s], offsets[s + 1])).mean(1)
    else:
        raise ProbesError(f"task {task.name} is a {task.kind} task: use structural_layers for distance/depth")
    if probe != "edge":
        n_items = X.shape[1]
    if len(y) != n_items:
        raise ProbesError(f"task {task.name}: {len(y)} labels for {n_items} items")
    ids = y
    if classes is not None and task.Y is None:
        pos = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        ids = np.where((classes[pos] == y) & (y >= 0), pos, -1)
    positive = None
    if task.positive_label is not None:
        from probes.tasks.baselines import positive_id

        positive = positive_id(task)
        if classes is not None:  # as an id into the fitted probe's classes
            hit = np.flatnonzero(np.asarray(classes) == positive)
            positive = int(hit[0]) if len(hit) else -2  # never predicted: positive F1 0 where gold has it
    return Inputs(X, ids, sent, len(offsets) - 1, layers, positive)


def _require_layer0(layers: Sequence[int], what: str) -> None:
    if 0 not in layers:
        raise ProbesError(f"{what}: layer 0 (the non-contextual baseline) is missing from the vectors "
                          f"(have {list(layers)}); extract it too")


def probe_parameters(probe: str) -> set[str]:
    """The hyper-parameters a probe kind takes (its estimator's constructor arguments, set by the
    suite itself excluded): linear, mlp, mix, cumulative, edge, structural-distance/-depth."""
    import inspect

    from probes.probing.structural import DepthProbe, DistanceProbe

    classes = {**CLASSIFIER_PROBES, "structural": DistanceProbe, "structural-depth": DepthProbe}
    if probe not in classes:
        raise ProbesError(f"unknown probe {probe!r}; choose one of {', '.join(classes)}")
    names = set(inspect.signature(classes[probe].__init__).parameters) - {"self", "device", "random_state"}
    return names - ({"cumulative"} if probe in ("mix", "cumulative") else set())


def _check_hyper(probe: str, hyper: dict) -> None:
    unknown = sorted(set(hyper) - probe_parameters(probe))
    if unknown:
        raise ProbesError(f"the {probe} probe has no hyper-parameter {unknown[0]!r}; it takes "
                          f"{', '.join(sorted(probe_parameters(probe)))}")


def make_probe(probe: str, seed: int, device: str, **hyper):
    """The estimator for a probe name with its hyper-parameters."""
    if probe not in CLASSIFIER_PROBES:
        raise ProbesError(f"unknown probe {probe!r}; choose one of {', '.join(CLASSIFIER_PROBES)}")
    _check_hyper(probe, hyper)
    cls = CLASSIFIER_PROBES[probe]
    extra = {"cumulative": True} if probe == "cumulative" else {}
    return cls(device=device, random_state=seed, **extra, **hyper)


def fit_probe(train: tuple, dev: Optional[tuple] = None, probe: str = "linear", seed: int = 0,
              device: str = "auto", **hyper):
    """Train one probe (all layers at once) on a split; returns the fitted estimator."""
    tr = task_inputs(*train, probe=probe)
    _require_layer0(tr.layers, f"train set of {train[1].name}")
    est = make_probe(probe, seed, device, **hyper)
    Xd = yd = None
    if dev is not None:
        dv = task_inputs(*dev, probe=probe)
        Xd, yd = dv.X, dv.y
    est.fit(tr.X, tr.y, Xd, yd, groups=tr.sent)
    est.layer_ids_ = tr.layers
    return est


def predict_labels(est, vectors, task: TaskData, probe: str = "linear") -> dict:
    """For a report: a fitted classifier probe's predicted and gold labels on a split.

    Returns {"layers": layer ids (or [-1] for a single mix), "pred": (M, n_items) label ids into
    ``est.classes_``, "gold": (n_items,) ids (-1 = unseen in training), "sentence": (n_items,)}.
    """
    inputs = task_inputs(vectors, task, est.classes_, probe)
    pred = _predictions(est, inputs)
    layers = inputs.layers if probe in PER_LAYER else [-1]
    return {"layers": layers, "pred": pred, "gold": inputs.y, "sentence": inputs.sent}


def _predictions(est, inputs: Inputs) -> np.ndarray:
    """(M, n) predicted class ids, or (M, n, C) 0/1 label decisions for multi-label targets."""
    logits = est._logits_eval(inputs.X)
    if getattr(est, "multilabel_", False):
        out = (logits > 0).cpu().numpy()
        return out.reshape((-1,) + out.shape[-2:])
    return np.atleast_2d(logits.argmax(-1).cpu().numpy())


def _rows_for(est, probe: str, inputs: Inputs, metrics: Sequence[str], counts: np.ndarray, key: dict,
              seed: int) -> tuple[list[ResultRow], dict]:
    """Score a fitted probe on one evaluation split; returns rows and bootstrap replicates per metric."""
    pred = _predictions(est, inputs)
    layer_ids = inputs.layers if probe in PER_LAYER else [-1]
    rows, reps_out = [], {}
    for metric in metrics:
        point, reps = score_replicates(metric, pred, inputs.y, inputs.sent, inputs.n_sentences, counts,
                                       len(est.classes_), inputs.positive)
        lo, hi = percentile_interval(reps)
        reps_out[metric] = (np.atleast_1d(point), reps)
        for m, layer in enumerate(layer_ids):
            rows.append(ResultRow(key["model"], key["task"], probe, int(layer), key["train_set"], key["eval_set"],
                                  seed, metric, float(np.atleast_1d(point)[m]), float(np.atleast_1d(lo)[m]),
                                  float(np.atleast_1d(hi)[m]), "test sentences"))
    return rows, reps_out


def _role(model: str, task: str) -> str:
    """What a fit trains, for progress lines: task, control, random-init or random-init control."""
    twin = model.endswith(":random-init")
    control = task.endswith(":control")
    return f"{'random-init ' if twin else ''}{'control' if control else 'task' if not twin else ''}".strip()


def _metrics_of(task: TaskData) -> list[str]:
    return [task.metric] + (["accuracy"] if task.metric != "accuracy" else [])


def seed_varies(probe: str, has_dev: bool, hyper: Mapping, n_train: Optional[int] = None) -> list[str]:
    """What a probe's seed redraws in its training; [] = deterministic (one run stands for every seed).

    The classifiers hold out part of the training rows only from 10 rows up (``n_train``)."""
    holds_out = not has_dev and hyper.get("early_stopping", True) and (n_train is None or n_train >= 10)
    split = ["held-out split"] if holds_out else []
    if probe in ("linear", "mix", "cumulative"):  # full-batch L-BFGS from a fixed start
        return split
    return ["initialisation", "batch order"] + split


def _n_items(task: TaskData) -> int:
    return len(task.Y) if task.Y is not None else len(task.y)


def covers_text(n_seeds: int, sources: Sequence[str]) -> str:
    """The ``covers`` of an interval: test sentences, plus the seeds and what they redraw."""
    if n_seeds < 2 or not sources:
        return "test sentences"
    return f"test sentences + {n_seeds} seeds ({', '.join(sources)})"


def _classifier_rows(train, tests, dev, probe, seeds, model, task, train_set, n_boot, ci_seed, device, hyper,
                     book: ReplicateBook):
    """Rows of one probe on one model and task (per seed); each seed's replicates go to ``book``."""
    rows = []
    metrics = _metrics_of(train[1])
    test_inputs, counts = {}, {}
    for seed in seeds:
        progress.fit(_role(model, task), seed)
        est = fit_probe(train, dev, probe, seed, device, **hyper)
        progress.step(f"scoring on {len(tests)} test set{'s' if len(tests) != 1 else ''}")
        for name, (vectors, tdata) in tests.items():
            if name not in test_inputs:
                test_inputs[name] = task_inputs(vectors, tdata, est.classes_, probe)
                # One set of sentence resamples for every seed: the multi-bootstrap pairs them.
                counts[name] = resample_counts(test_inputs[name].n_sentences, n_boot, ci_seed)
            key = dict(model=model, task=task, train_set=train_set, eval_set=name)
            r, rp = _rows_for(est, probe, test_inputs[name], metrics, counts[name], key, seed)
            rows += r
            layer_ids = test_inputs[name].layers if probe in PER_LAYER else [-1]
            for metric, (point, reps) in rp.items():
                book.add((model, task, probe, train_set, name, metric), seed, layer_ids, point, reps)
            if probe == "cumulative" and len(est.layer_ids_) >= 2:
                rows.append(_expected_layer_row(rp[metrics[0]], est.layer_ids_, key, seed))
        if probe in ("mix", "cumulative"):
            rows += _mix_rows(est, probe, model, task, train_set, seed)
    return rows


def _expected_layer_row(point_reps, layer_ids, key: dict, seed: int) -> ResultRow:
    """E_delta of the cumulative scores (layer -1, metric ``expected_layer``) with the percentile interval
    of its values over the same test-sentence resamples that give the scores' intervals."""
    point, reps = point_reps
    value = float(expected_layers(np.atleast_1d(point), layer_ids))
    lo, hi = percentile_interval(expected_layers(reps, layer_ids))
    return ResultRow(key["model"], key["task"], "cumulative", -1, key["train_set"], key["eval_set"], seed,
                     "expected_layer", value, float(lo), float(hi), "test sentences")


def _mix_rows(est, probe: str, model: str, task: str, train_set: str, seed: int) -> list[ResultRow]:
    """Learned mix weights and gamma (learned on train, so eval_set repeats train_set; no interval).

    mix: ``mix_weight`` at each layer l and ``mix_gamma`` at layer -1. cumulative: the model of
    layer l has rows ``mix_weight:<l'>`` (weight of layer l' <= l) and ``mix_gamma`` at layer l.
    """
    rows = []
    ids = est.layer_ids_
    for m, weights in enumerate(est.mix_weights_):
        at = -1 if probe == "mix" else ids[m]
        for l, w in zip(ids, weights):
            if probe == "mix":
                rows.append(ResultRow(model, task, probe, int(l), train_set, train_set, seed, "mix_weight", float(w)))
            elif l <= at:
                rows.append(ResultRow(model, task, probe, int(at), train_set, train_set, seed, f"mix_weight:{l}",
                                      float(w)))
        rows.append(ResultRow(model, task, probe, int(at), train_set, train_set, seed, "mix_gamma", float(est.gamma_[m])))
    return rows


def majority_rows(train: tuple, tests: Mapping[str, tuple], model: str, task: str, train_set: str,
                  n_boot: int = 1000, ci_seed: int = 0) -> list[ResultRow]:
    """The majority-class baseline (most frequent training label everywhere), seed -1, layer -1."""
    if train[1].Y is not None:
        return _majority_multilabel_rows(train, tests, model, task, train_set, n_boot, ci_seed)
    y_train = np.asarray(train[1].y)
    classes, freq = np.unique(y_train, return_counts=True)
    rows = []
    for name, (vectors, tdata) in tests.items():
        V, _, cache_offsets = cache_arrays(vectors)
        offsets = _offsets(tdata, cache_offsets, V.shape[1])
        y = np.asarray(tdata.y)
        sent = _item_sentences(tdata, offsets)
        pos = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        ids = np.where((classes[pos] == y) & (y >= 0), pos, -1)
        pred = np.full((1, len(y)), int(np.argmax(freq)))
        counts = resample_counts(len(offsets) - 1, n_boot, ci_seed)
        positive = None
        if tdata.positive_label is not None:
            from probes.tasks.baselines import positive_id

            hit = np.flatnonzero(classes == positive_id(tdata))
            positive = int(hit[0]) if len(hit) else -2
        for metric in _metrics_of(tdata):
            point, reps = score_replicates(metric, pred, ids, sent, len(offsets) - 1, counts, len(classes), positive)
            lo, hi = percentile_interval(reps)
            rows.append(ResultRow(model, task, "majority", -1, train_set, name, -1, metric,
                                  float(np.atleast_1d(point)[0]), float(np.atleast_1d(lo)[0]), float(np.atleast_1d(hi)[0]),
                                  "test sentences"))
    return rows


def _item_sentences(tdata: TaskData, offsets: np.ndarray) -> np.ndarray:
    """Sentence of each item (the first word of its first span), the unit of the bootstrap."""
    if tdata.kind == "token":
        return sentence_of_rows(np.asarray(tdata.index), offsets)
    if tdata.kind == "edge":
        return sentence_of_rows(np.asarray(tdata.pairs)[:, 0], offsets)
    if tdata.kind == "span":
        return sentence_of_rows(np.asarray(tdata.spans)[:, 0], offsets)
    return np.asarray(tdata.index)


def _majority_multilabel_rows(train, tests, model, task, train_set, n_boot, ci_seed) -> list[ResultRow]:
    """Majority baseline of a multi-label task: every label that most training items carry."""
    guess = np.asarray(train[1].Y).mean(0) > 0.5
    rows = []
    for name, (vectors, tdata) in tests.items():
        V, _, cache_offsets = cache_arrays(vectors)
        offsets = _offsets(tdata, cache_offsets, V.shape[1])
        Y = np.asarray(tdata.Y)
        counts = resample_counts(len(offsets) - 1, n_boot, ci_seed)
        pred = np.broadcast_to(guess, Y.shape)[None]
        for metric in _metrics_of(tdata):
            point, reps = score_replicates(metric, pred, Y, _item_sentences(tdata, offsets), len(offsets) - 1, counts,
                                           Y.shape[1])
            lo, hi = percentile_interval(reps)
            rows.append(ResultRow(model, task, "majority", -1, train_set, name, -1, metric,
                                  float(np.atleast_1d(point)[0]), float(np.atleast_1d(lo)[0]), float(np.atleast_1d(hi)[0]),
                                  "test sentences"))
    return rows


def probe_layers(train: tuple, tests: Mapping[str, tuple], dev: Optional[tuple] = None, probe: str = "linear",
                 seeds: Sequence[int] = (0,), model: str = "model", task: Optional[str] = None,
                 train_set: str = "train", control: Optional[Mapping] = None,
                 random_init: Optional[Mapping] = None, majority: bool = True, n_boot: int = 1000,
                 ci_seed: int = 0, device: str = "auto", **hyper) -> list[ResultRow]:
    """Train and score a probe on every layer; tidy rows with 95% sentence-bootstrap intervals.

    * ``probe``: linear | mlp | mix (one scalar mix, layer -1, plus ``mix_weight`` rows per layer
      and ``mix_gamma``) | cumulative (mix of layers 0..l at layer l; its weights are rows
      ``mix_weight:<l'>`` at layer l) | edge (Tenney et al.'s span classifier; hyper ``pooling``
      = attention | endpoint). Linear and MLP probes read edge items as [h_i; h_j] and spans as
      [h_start; h_end-1].
    * ``control``: ``{"train": TaskData, "tests": {name: TaskData}, "dev": TaskData}`` of the
      control task on the same vectors: rows for ``<task>:control`` and ``selectivity`` rows
      (task score - control score, interval from the same paired sentence resamples).
    * ``random_init``: ``{"train": vectors, "tests": {name: vectors}, "dev": vectors}`` of the
      re-initialised model: the same rows under model ``<model>:random-init``; or ``{seed: {...}}``
      with one random model per seed, so that the seeds also redraw the random weights.
    * With several seeds, rows aggregated over seeds follow (seed -1, see ``aggregate_seeds``).
    ``hyper`` goes to the estimator (e.g. weight_decay, hidden_size).
    """
    task = task or train[1].name
    seeds = list(seeds)
    book, covers = ReplicateBook(), {}
    primary = _metrics_of(train[1])[0]
    rows = _probe_rows(train, tests, dev, probe, seeds, model, task, train_set, control, majority, n_boot, ci_seed,
                       device, hyper, book, covers)
    out = rows + _seed_aggregate(rows, book, covers, probe, primary, ci_seed)
    out += _best_vs_top_rows(book, covers, probe, primary, ci_seed)
    if random_init is not None:
        ri_model = f"{model}:random-init"
        per_seed = {s: random_init[s] for s in seeds} if "train" not in random_init else None
        ri_book, ri_covers, ri_rows = ReplicateBook(), {}, []
        # Same targets (and control targets) on the re-initialised model's vectors; with one random
        # model per seed ({seed: vectors}), each seed probes its own draw of the weights.
        for group in ([[s] for s in seeds] if per_seed else [seeds]):
            v = per_seed[group[0]] if per_seed else random_init
            ri_train = (v["train"], train[1])
            ri_tests = {name: (v["tests"][name], td) for name, (_, td) in tests.items()}
            ri_dev = (v["dev"], dev[1]) if dev is not None and v.get("dev") is not None else None
            ctl = control if control is None or "train" in control or not per_seed else {group[0]: control[group[0]]}
            ri_rows += _probe_rows(ri_train, ri_tests, ri_dev, probe, group, ri_model, task, train_set, ctl, False,
                                   n_boot, ci_seed, device, hyper, ri_book, ri_covers,
                                   extra=["random-init weights"] if per_seed else [], n_total=len(seeds))
        out += ri_rows + _seed_aggregate(ri_rows, ri_book, ri_covers, probe, primary, ci_seed)
        out += _best_vs_top_rows(ri_book, ri_covers, probe, primary, ci_seed)
        out += _gain_rows(book, ri_book, covers, ri_covers, model, ri_model, task, probe, primary, ci_seed)
    return out


def _difference_rows(key, layer, point, reps, metric, covers) -> list[ResultRow]:
    """A difference with its percentile interval and its two-sided bootstrap p-value (a second row)."""
    model, task, probe, train_set, eval_set = key
    reps = reps[np.isfinite(reps)]
    if not len(reps):
        return []
    lo, hi = percentile_interval(reps[:, None])
    # Two-sided, with the +1 of a Monte Carlo p-value (as analysis.significance): never exactly 0.
    p = min(1.0, 2 * (min(int(np.sum(reps <= 0)), int(np.sum(reps >= 0))) + 1) / (len(reps) + 1))
    base, _, score = metric.partition(":")
    return [ResultRow(model, task, probe, int(layer), train_set, eval_set, -1, metric, float(point), float(lo[0]),
                      float(hi[0]), covers),
            ResultRow(model, task, probe, int(layer), train_set, eval_set, -1, f"{base}_p:{score}", p, covers=covers)]


def _best_vs_top_rows(book: ReplicateBook, covers: dict, probe: str, primary: str, ci_seed: int,
                      per_layer: bool = False) -> list[ResultRow]:
    """Does the curve fall after its peak? ``best_minus_top:<metric>`` at the best layer: score(best) -
    score(top), from the same resamples of sentences (and seeds), with ``best_minus_top_p:<metric>``."""
    if probe not in PER_LAYER and not per_layer:
        return []
    out = []
    for key, by_seed in book.entries.items():
        if key[5] != primary or len(next(iter(by_seed.values()))[0]) < 2:
            continue
        layers, point, joint = book.joint(key, ci_seed)
        if not len(joint) or not np.all(np.isfinite(point)):
            continue  # an undefined score at some layer (no positives): no best-versus-top test
        best = int(np.argmax(point))
        if best == len(layers) - 1:
            continue
        out += _difference_rows(key[:5], layers[best], point[best] - point[-1], joint[:, best] - joint[:, -1],
                                f"best_minus_top:{primary}", covers.get(key[:3], ""))
    return out


def _gain_rows(book, ri_book, covers, ri_covers, model, ri_model, task, probe, primary, ci_seed) -> list[ResultRow]:
    """Model against its random-init twin per layer: ``gain_over_random_init:<metric>`` = score - twin's score on the
    same sentence resamples, seeds paired (a deterministic run is paired with every twin seed)."""
    out = []
    for key, by_seed in book.entries.items():
        if key[:3] != (model, task, probe) or key[5] != primary:
            continue
        twin = ri_book.entries.get((ri_model, *key[1:]))
        if not twin:
            continue
        diff = ReplicateBook()
        for seed in sorted(set(by_seed) | set(twin)):
            a = by_seed.get(seed) or by_seed[min(by_seed)]
            b = twin.get(seed) or twin[min(twin)]
            diff.add(key, seed, a[0], a[1] - b[1], a[2] - b[2])
        layers, point, joint = diff.joint(key, ci_seed)
        # The twin's seeds redraw at least what the model's do (plus, maybe, its weights).
        what = max(covers.get(key[:3], ""), ri_covers.get((ri_model, task, probe), ""), key=len)
        for m, layer in enumerate(layers):
            out += _difference_rows(key[:5], layer, point[m], joint[:, m], f"gain_over_random_init:{primary}", what)
    return out


def _probe_rows(train, tests, dev, probe, seeds, model, task, train_set, control, majority, n_boot, ci_seed, device,
                hyper, book: ReplicateBook, covers: dict, extra: Sequence[str] = (), n_total: Optional[int] = None):
    """Per-seed rows of one model: the task, its majority baseline, its control task and selectivity;
    replicates go to ``book`` and what each interval over seeds will cover to ``covers``. ``extra``:
    sources that differ between the seeds of the calls sharing ``book`` (e.g. random-init weights);
    ``n_total``: how many seeds those calls cover together."""
    varies = seed_varies(probe, dev is not None, hyper, _n_items(train[1])) + list(extra)
    # A deterministic probe gives the same result for every seed: run it once, report one seed.
    task_seeds = seeds if varies else seeds[:1]
    rows = _classifier_rows(train, tests, dev, probe, task_seeds, model, task, train_set, n_boot, ci_seed, device,
                            hyper, book)
    covers[(model, task, probe)] = covers_text(n_total or len(task_seeds) if varies else 1, varies)
    if majority:
        rows += majority_rows(train, tests, model, task, train_set, n_boot, ci_seed)
    if control is not None:
        # Either one control task for every seed, or {seed: control} with a fresh label draw per seed.
        per_seed = {s: control for s in seeds} if "train" in control else {s: control[s] for s in seeds}
        redrawn = len({id(c["train"]) for c in per_seed.values()}) > 1 or (n_total and "train" not in control)
        c_sources = (["control labels"] if redrawn else []) + varies
        c_seeds = seeds if c_sources else seeds[:1]
        for s in c_seeds:
            c = per_seed[s]
            c_train = (train[0], c["train"])
            c_tests = {name: (tests[name][0], td) for name, td in c["tests"].items()}
            c_dev = (dev[0], c["dev"]) if dev is not None and c.get("dev") is not None else None
            rows += _classifier_rows(c_train, c_tests, c_dev, probe, [s], model, f"{task}:control", train_set,
                                     n_boot, ci_seed, device, hyper, book)
        n_c = n_total or len(c_seeds) if c_sources else 1
        covers[(model, f"{task}:control", probe)] = covers_text(n_c, c_sources)
        rows += _selectivity_rows(book, _metrics_of(train[1])[0], probe, model, task, train_set, seeds)
        sel_sources = list(dict.fromkeys(c_sources + varies))
        covers[("selectivity", model, task, probe)] = covers_text(n_total or max(len(c_seeds), len(task_seeds))
                                                                  if sel_sources else 1, sel_sources)
    return rows


def _covers_of(covers: dict):
    """``covers(key)`` of a book key: selectivity rows have their own entry (task and control draws)."""
    return lambda key: covers.get(("selectivity", *key[:3]) if key[5] == "selectivity" else key[:3], "")


def _is_mix_value(metric: str) -> bool:
    return metric.startswith("mix_weight") or metric == "mix_gamma"


def _seed_aggregate(rows, book: ReplicateBook, covers: dict, probe: str, primary: str, ci_seed: int) -> list[ResultRow]:
    """Seed -1 rows: multi-bootstrap over seeds and sentences for scores and selectivity, E_delta on
    the seed-resampled cumulative curves, the seed spread alone for mix weights and gamma."""
    what = _covers_of(covers)
    agg = book.rows(what, ci_seed)
    if probe == "cumulative":
        for key, by_seed in book.entries.items():
            if key[5] != primary or len(by_seed) < 2:
                continue
            ids, point, joint = book.joint(key, ci_seed)  # the same seed draws as the scores' aggregate
            if len(ids) >= 2:
                lo, hi = percentile_interval(expected_layers(joint, ids)) if len(joint) else (np.nan, np.nan)
                model, task, _, train_set, eval_set, _ = key
                agg.append(ResultRow(model, task, "cumulative", -1, train_set, eval_set, -1, "expected_layer",
                                     float(expected_layers(point, ids)), float(lo), float(hi), what(key)))
    # Mix weights and gamma have no sentence replicates: the spread over the seeds alone.
    agg += aggregate_seeds([r for r in rows if r.seed != -1 and _is_mix_value(r.metric)])
    return agg


def _selectivity_rows(book: ReplicateBook, metric: str, probe, model, task, train_set,
                      seeds: Sequence[int]) -> list[ResultRow]:
    """Task score - control score per layer, eval set and seed, with paired bootstrap intervals
    (the same sentence resamples); a deterministic task run is paired with every control draw."""
    out = []
    for key, c_by_seed in list(book.entries.items()):
        if key[:3] != (model, f"{task}:control", probe) or key[5] != metric:
            continue
        t_by_seed = book.entries.get((model, task, probe, train_set, key[4], metric))
        if not t_by_seed:
            continue
        for seed, (layers, p_c, r_c) in c_by_seed.items():
            if seed not in seeds:
                continue  # another call's seed, already paired there
            t_layers, p_t, r_t = t_by_seed.get(seed) or t_by_seed[min(t_by_seed)]
            diff_point, diff_reps = p_t - p_c, r_t - r_c
            book.add((model, task, probe, train_set, key[4], "selectivity"), seed, layers, diff_point, diff_reps)
            lo, hi = percentile_interval(diff_reps) if len(diff_reps) else (np.full(len(layers), np.nan),) * 2
            for m, layer in enumerate(layers):
                out.append(ResultRow(model, task, probe, int(layer), train_set, key[4], seed, "selectivity",
                                     float(diff_point[m]), float(lo[m]), float(hi[m]), "test sentences"))
    return out


# ----- structural probes ---------------------------------------------------------------------------
STRUCTURAL = {"distance": ("structural-distance", ("uuas", "dspr")), "depth": ("structural-depth", ("root_acc", "nspr"))}


def _structural_targets(task: TaskData) -> list[np.ndarray]:
    if task.kind == "distance" and task.matrices is not None:
        return [np.asarray(m, dtype=np.float32) for m in task.matrices]
    if task.kind == "depth" and task.depths is not None:
        return [np.asarray(d, dtype=np.float32) for d in task.depths]
    raise ProbesError(f"task {task.name} ({task.kind}) has no distance matrices or depths for a structural probe")


def fit_structural(train: tuple, dev: Optional[tuple] = None, seed: int = 0, device: str = "auto", **hyper):
    """Train a distance or depth probe (by the task's kind) on every layer at once."""
    from probes.probing.structural import DepthProbe, DistanceProbe
    vectors, task = train
    V, layers, cache_offsets = cache_arrays(vectors)
    _require_layer0(layers, f"train set of {task.name}")
    offsets = _offsets(task, cache_offsets, V.shape[1])
    cls = DistanceProbe if task.kind == "distance" else DepthProbe
    _check_hyper("structural" if task.kind == "distance" else "structural-depth", hyper)
    est = cls(device=device, random_state=seed, **hyper)
    kw = {}
    if dev is not None:
        Vd, _, dco = cache_arrays(dev[0])
        kw = dict(X_dev=Vd, targets_dev=_structural_targets(dev[1]), offsets_dev=_offsets(dev[1], dco, Vd.shape[1]))
    est.fit(V, _structural_targets(task), offsets, **kw)
    est.layer_ids_ = layers
    return est


def structural_scores(est, vectors, task: TaskData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-sentence statistics of a fitted structural probe on one split.

    Returns {metric: (numerator (S, L), denominator (S,))} for uuas / root_acc and
    {metric: (values (S, L), lengths (S,))} for dspr / nspr (NaN outside lengths 5-50).
    """
    from probes.probing.structural_metrics import (depth_spearman, distance_spearman, in_spearman_range,
                                                   root_correct, uuas_counts)
    V, _, cache_offsets = cache_arrays(vectors)
    offsets = _offsets(task, cache_offsets, V.shape[1])
    gold = _structural_targets(task)
    punct = np.zeros(V.shape[1], bool) if task.punct is None else np.asarray(task.punct, bool)
    preds = est.predict(V, offsets)
    S, L = len(gold), V.shape[0]
    ratio_num, ratio_den = np.zeros((S, L)), np.zeros(S)
    spear = np.full((S, L), np.nan)
    lengths = np.array([len(g) for g in gold])
    for s in range(S):
        pu = punct[offsets[s]:offsets[s + 1]]
        for l in range(L):
            if task.kind == "distance":
                c, t = uuas_counts(preds[s][l], gold[s], pu)
                if in_spearman_range(len(gold[s])):
                    spear[s, l] = distance_spearman(preds[s][l], gold[s])
            else:
                c, t = root_correct(preds[s][l], gold[s], pu)
                if in_spearman_range(len(gold[s])):
                    spear[s, l] = depth_spearman(preds[s][l], gold[s])
            ratio_num[s, l] = c
            ratio_den[s] = t
    first, second = STRUCTURAL[task.kind][1]
    return {first: (ratio_num, ratio_den), second: (spear, lengths)}


def structural_layers(train: tuple, tests: Mapping[str, tuple], dev: Optional[tuple] = None,
                      seeds: Sequence[int] = (0,), model: str = "model", task: Optional[str] = None,
                      train_set: str = "train", random_init: Optional[Mapping] = None, n_boot: int = 1000,
                      ci_seed: int = 0, device: str = "auto", **hyper) -> list[ResultRow]:
    """Distance probe (uuas, dspr) or depth probe (root_acc, nspr) per layer, by the task's kind.

    Intervals: sentence bootstrap; UUAS and root accuracy are pooled ratios, DSpr/NSpr are means
    over sentence lengths 5-50 of per-length means, recomputed on every resample.
    """
    task = task or train[1].name
    probe_name, _ = STRUCTURAL[train[1].kind] if train[1].kind in STRUCTURAL else (None, None)
    if probe_name is None:
        raise ProbesError(f"task {train[1].name} is a {train[1].kind} task; structural probes need distance or depth")
    # The structural probe starts from a random projection and visits sentences in a seeded order.
    sources = ["initialisation", "batch order"] + ([] if dev is not None else ["held-out split"])
    book = ReplicateBook()
    rows = _structural_seed_rows(train, tests, dev, seeds, model, task, probe_name, train_set, n_boot, ci_seed,
                                 device, hyper, book)
    covers = {(model, task, probe_name): covers_text(len(seeds), sources)}
    rows += book.rows(_covers_of(covers), ci_seed)
    for metric in STRUCTURAL[train[1].kind][1]:
        rows += _best_vs_top_rows(book, covers, probe_name, metric, ci_seed, per_layer=True)
    if random_init is not None:
        ri_model = f"{model}:random-init"
        per_seed = "train" not in random_init  # {seed: vectors}: one random model per seed
        ri_book = ReplicateBook()
        for group in ([[s] for s in seeds] if per_seed else [list(seeds)]):
            v = random_init[group[0]] if per_seed else random_init
            ri_tests = {name: (v["tests"][name], td) for name, (_, td) in tests.items()}
            ri_dev = (v["dev"], dev[1]) if dev is not None and v.get("dev") is not None else None
            rows += _structural_seed_rows((v["train"], train[1]), ri_tests, ri_dev, group, ri_model, task, probe_name,
                                          train_set, n_boot, ci_seed, device, hyper, ri_book)
        ri_sources = sources + (["random-init weights"] if per_seed else [])
        rows += ri_book.rows(_covers_of({(ri_model, task, probe_name): covers_text(len(seeds), ri_sources)}), ci_seed)
    return rows


def _structural_seed_rows(train, tests, dev, seeds, model, task, probe_name, train_set, n_boot, ci_seed, device,
                          hyper, book: ReplicateBook) -> list[ResultRow]:
    """Per-seed structural rows with sentence-bootstrap intervals; replicates go to ``book``."""
    rows = []
    for seed in seeds:
        progress.fit(_role(model, task), seed)
        est = fit_structural(train, dev, seed, device, **hyper)
        progress.step(f"scoring on {len(tests)} test set{'s' if len(tests) != 1 else ''}")
        for name, (vectors, tdata) in tests.items():
            stats = structural_scores(est, vectors, tdata)
            counts = resample_counts(len(tdata.matrices if tdata.kind == "distance" else tdata.depths), n_boot, ci_seed)
            for metric, (a, b) in stats.items():
                if metric in ("uuas", "root_acc"):
                    point, reps = ratio_replicates(a, b, counts)
                else:
                    point, reps = grouped_mean_replicates(a, b, counts)
                lo, hi = percentile_interval(reps)
                book.add((model, task, probe_name, train_set, name, metric), seed, est.layer_ids_, point, reps)
                for m, layer in enumerate(est.layer_ids_):
                    rows.append(ResultRow(model, task, probe_name, int(layer), train_set, name, seed, metric,
                                          float(point[m]), float(lo[m]), float(hi[m]), "test sentences"))
    return rows


def structural_predictions(est, vectors, task: TaskData, sentence: int) -> dict:
    """For a report: one sentence's predicted distances/depths per layer, predicted and gold MST edges.

    Returns {"layers", "pred" (L, n, n) or (L, n), "gold", "punct", and for distance probes
    "pred_edges" (one edge set per layer, punctuation removed) and "gold_edges"}.
    """
    from probes.probing.structural_metrics import mst_edges
    V, layers, cache_offsets = cache_arrays(vectors)
    offsets = _offsets(task, cache_offsets, V.shape[1])
    if not 0 <= sentence < len(offsets) - 1:
        raise ProbesError(f"sentence {sentence} out of range (0..{len(offsets) - 2})")
    a, b = offsets[sentence], offsets[sentence + 1]
    pred = est.predict(V[:, a:b], np.array([0, b - a]))[0]
    gold = _structural_targets(task)[sentence]
    punct = np.zeros(b - a, bool) if task.punct is None else np.asarray(task.punct[a:b], bool)
    out = {"layers": layers, "pred": pred, "gold": gold, "punct": punct}
    if task.kind == "distance":
        keep = np.flatnonzero(~punct)
        sub = np.ix_(keep, keep)
        relabel = lambda edges: {(int(keep[i]), int(keep[j])) for i, j in edges}
        out["pred_edges"] = [relabel(mst_edges(p[sub])) for p in pred]
        out["gold_edges"] = relabel(mst_edges(gold[sub]))
    return out


# ----- MDL -----------------------------------------------------------------------------------------
def mdl_layers(train: tuple, probe: str = "linear", seeds: Sequence[int] = (0,), model: str = "model",
               task: Optional[str] = None, train_set: str = "train", device: str = "auto",
               fractions: Sequence[float] = None, **hyper) -> list[ResultRow]:
    """Online codelength (``codelength_bits``, in bits) and ``compression`` (uniform / online) per layer.

    The data are the training split; each seed shuffles the rows differently. Rows have
    eval_set = train_set and no bootstrap interval; aggregated rows (seed -1) carry the seed spread.
    """
    from probes.probing.mdl import BLOCK_FRACTIONS, probe_codelength
    tr = task_inputs(*train)
    _require_layer0(tr.layers, f"train set of {train[1].name}")
    task = task or train[1].name
    classes = np.unique(tr.y)
    rows = []
    for seed in seeds:
        progress.fit(f"{_role(model, task)} codelength", seed)
        factory = lambda: make_probe(probe, seed, device, **hyper)
        online, uniform, _ = probe_codelength(factory, tr.X, tr.y, classes, seed,
                                              fractions or BLOCK_FRACTIONS, groups=tr.sent)
        layer_ids = tr.layers if probe in ("linear", "mlp", "cumulative") else [-1]
        for m, layer in enumerate(layer_ids):
            rows.append(ResultRow(model, task, f"mdl-{probe}" if probe != "linear" else "mdl", int(layer), train_set,
                                  train_set, seed, "codelength_bits", float(online[m])))
            rows.append(ResultRow(model, task, f"mdl-{probe}" if probe != "linear" else "mdl", int(layer), train_set,
                                  train_set, seed, "compression", float(uniform / online[m])))
    if len(seeds) > 1:
        # No sentence resamples for a codelength: the spread over the seeds' row orders alone.
        rows += aggregate_seeds(rows, covers=f"{len(seeds)} seeds (row order, blocks; normal approximation)")
    return rows


def mdl_study(train: tuple, seeds: Sequence[int] = (0,), model: str = "model", task: Optional[str] = None,
              train_set: str = "train", device: str = "auto", control: Optional[Mapping] = None,
              random_init: Optional[Mapping] = None, **hyper) -> list[ResultRow]:
    """``mdl_layers`` of a task, of its control task and of the random-init twin, as in ``probe_layers``:
    ``control`` and ``random_init`` are one split for every seed or ``{seed: ...}``, one draw per seed."""
    seeds = list(seeds)
    task = task or train[1].name
    common = dict(train_set=train_set, device=device, **hyper)
    rows = mdl_layers(train, seeds=seeds, model=model, task=task, **common)

    def per_seed(mapping, name, sources, make_split):
        # One draw per seed: each seed's codelength is of its own draw, aggregated over the draws.
        if "train" in mapping:
            return mdl_layers(make_split(mapping), seeds=seeds, **name, **common)
        out = [r for s in seeds for r in mdl_layers(make_split(mapping[s]), seeds=[s], **name, **common)]
        return out + aggregate_seeds(out, covers=f"{len(seeds)} seeds ({sources}, row order; normal approximation)")

    if control is not None:
        rows += per_seed(control, dict(model=model, task=f"{task}:control"), "control labels",
                         lambda c: (train[0], c["train"]))
    if random_init is not None:
        rows += per_seed(random_init, dict(model=f"{model}:random-init", task=task), "random-init weights",
                         lambda v: (v["train"], train[1]))
    return rows


# ----- neurons: rankings and ablation curves (Dalvi et al. 2019; Antverg & Belinkov 2022) ---------------
NEURON_KINDS = ("token", "sentence")  # one model vector per item: its coordinates are the layer's neurons


def _neuron_inputs(split: tuple, classes: Optional[np.ndarray] = None) -> Inputs:
    """Inputs of a split for neuron analysis; refuses tasks whose items are not one vector of the layer."""
    task = split[1]
    if task.kind not in NEURON_KINDS:
        what = {"edge": "pairs of words ([h_i; h_j])", "span": "spans ([h_start; h_end-1])"}.get(task.kind, task.kind)
        raise ProbesError(f"neuron analysis ranks the neurons of one word's (or sentence's) vector; task {task.name} "
                          f"is a {task.kind} task whose items are {what}, so its features are not a layer's neurons: "
                          "use a token or sentence task")
    if task.Y is not None:
        raise ProbesError(f"task {task.name} has several labels per item; neuron analysis takes one label per item")
    return task_inputs(*split, classes=classes)


def _label_names(task: TaskData) -> Optional[list[str]]:
    """Label strings by class id where the task's ids index ``task.classes``, else None (ids shown)."""
    y = np.asarray(task.y)
    ok = task.classes and np.issubdtype(y.dtype, np.integer) and len(y) and y.min() >= 0 and y.max() < len(task.classes)
    return list(task.classes) if ok else None


def rank_neurons(train: tuple, ranking: str = "lca", device: str = "auto", **params):
    """Rank each layer's neurons on the training split: ``lca`` (elastic-net weights) or ``probeless``.

    Returns a ``probes.probing.neurons.NeuronRanking`` (overall and per-label orders, scores and the
    labels' mean activations per neuron); ``params`` go to ``ElasticNetProbe`` (alpha, l1_ratio, ...).
    """
    tr = _neuron_inputs(train)
    _require_layer0(tr.layers, f"train set of {train[1].name}")
    return _rank_inputs(tr, train[1], ranking, device, params)


def _rank_inputs(tr: Inputs, task: TaskData, ranking: str, device: str, params: Mapping):
    from probes.probing.neurons import rank_stack
    return rank_stack(tr.X, tr.y, ranking, tr.layers, _label_names(task), device, **params)


def neuron_rows(train: tuple, tests: Mapping[str, tuple], dev: Optional[tuple] = None, ranking: str = "lca",
                ks: Optional[Sequence[int]] = None, seeds: Sequence[int] = (0,), model: str = "model",
                task: Optional[str] = None, train_set: str = "train", n_boot: int = 1000, ci_seed: int = 0,
                device: str = "auto", ranking_params: Optional[Mapping] = None, fraction: float = 0.95,
                ranked=None, **hyper) -> list[ResultRow]:
    """Ablation curves of a ranking per layer: accuracy of a linear probe retrained on k neurons.

    Probe ``neurons-<ranking>``; metrics ``neuron_acc_top:<k>``, ``neuron_acc_bottom:<k>``,
    ``neuron_acc_random:<k>`` for k in 1, 2, 5, 10, 20, 50, ... and the layer width (or ``ks``), and
    ``neuron_min_k95``: the smallest k whose top-k accuracy reaches ``fraction`` (95%) of the full
    layer's. The ranking is fitted on ``train`` only. Top/bottom rows and min_k95 have seed
    ``seeds[0]`` and sentence-bootstrap intervals (min_k95: the smallest k on each resample);
    random rows are the mean over ``seeds`` (seed -1 with two or more seeds), the interval over seeds
    (neuron draws) and sentences by the multi-bootstrap. ``hyper`` goes to the LinearProbe,
    ``ranking_params`` to the ranking (e.g. alpha, l1_ratio of the elastic net). ``ranked``: that
    ranking already fitted on ``train`` (``rank_neurons``), e.g. to keep it; it is then not refitted.
    """
    from probes.probing.neurons import ablation_predictions, min_k
    task = task or train[1].name
    seeds = list(seeds)
    if not seeds:
        raise ProbesError("neuron_rows needs at least one seed")
    _check_hyper("linear", hyper)
    tr = _neuron_inputs(train)
    _require_layer0(tr.layers, f"train set of {train[1].name}")
    if ranked is None:
        ranked = _rank_inputs(tr, train[1], ranking, device, dict(ranking_params or {}))  # train split only
    elif ranked.method != ranking or list(ranked.layers) != list(tr.layers) or ranked.order.shape[1] != tr.X.shape[2]:
        raise ProbesError(f"the given ranking ({ranked.method}, layers {ranked.layers}, {ranked.order.shape[1]} "
                          f"neurons) is not a {ranking} ranking of this training set's layers {tr.layers}")
    classes = np.unique(tr.y)
    evals = {name: _neuron_inputs(split, classes) for name, split in tests.items()}
    dv = _neuron_inputs(dev, classes) if dev is not None else None
    pred = ablation_predictions(tr.X, tr.y, ranked.order, {name: e.X for name, e in evals.items()}, ks, seeds,
                                None if dv is None else dv.X, None if dv is None else dv.y, tr.sent, device, **hyper)
    probe, layers, C = f"neurons-{ranking}", tr.layers, len(classes)
    rand_covers = covers_text(len(seeds), ["random neurons"])
    rows = []
    for name, e in evals.items():
        counts = resample_counts(e.n_sentences, n_boot, ci_seed)

        def score(p):
            return score_replicates("accuracy", p, e.y, e.sent, e.n_sentences, counts, C)

        def emit(metric, seed, point, lo, hi, covers):
            rows.extend(ResultRow(model, task, probe, int(l), train_set, name, seed, metric, float(point[m]),
                                  float(lo[m]), float(hi[m]), covers) for m, l in enumerate(layers))

        top_point, top_reps = [], []
        for k in pred.ks:
            for side, p in (("top", pred.top[k][name]), ("bottom", pred.bottom[k][name])):
                point, reps = score(p)
                emit(f"neuron_acc_{side}:{k}", seeds[0], point, *percentile_interval(reps), "test sentences")
                if side == "top":
                    top_point.append(point)
                    top_reps.append(reps)
            book = ReplicateBook()
            for s, p in zip(seeds, pred.random[k][name]):
                book.add("random", s, layers, *score(p))
            _, point, joint = book.joint("random", ci_seed)
            emit(f"neuron_acc_random:{k}", -1 if len(seeds) > 1 else seeds[0], point, *percentile_interval(joint),
                 rand_covers)
        tp, trp = np.stack(top_point, -1), np.stack(top_reps, -1)  # (L, K), (B, L, K); the last k is the width
        point = min_k(pred.ks, tp, tp[..., -1], fraction)
        lo, hi = percentile_interval(min_k(pred.ks, trp, trp[..., -1], fraction)) if len(trp) else (point * np.nan,) * 2
        emit(f"neuron_min_k{round(fraction * 100)}", seeds[0], point, lo, hi, "test sentences")
    return rows
