"""Trivial baselines each task is judged against, computed from the train and evaluation TaskData.

* Classification tasks (token, edge, span, sentence): the majority class of the training labels,
  scored on the evaluation set with the task's metric (accuracy or macro-F1); an evaluation label
  unseen in training (-1) is always wrong.
* ``distance``: UUAS of the linear chain (each non-punctuation word linked to the next one), the
  "linear" baseline of Hewitt & Manning 2019.
* ``depth``: NSpr of predicting depth by word position (left to right), H&M's averaging: Spearman
  per sentence, mean per sentence length, mean over lengths 5..50.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy.stats import spearmanr

from probes.errors import ProbesError
from probes.tasks.base import TaskData

MIN_LEN, MAX_LEN = 5, 50


def majority_class(train: TaskData) -> int:
    """The most frequent class id of the training labels (lowest id on ties)."""
    y = train.y[train.y >= 0] if train.y is not None else np.array([], dtype=np.int64)
    if not len(y):
        raise ProbesError(f"task {train.name!r}: the training data has no labels")
    return int(np.bincount(y, minlength=len(train.classes)).argmax())


def macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the classes present in gold or predictions (-1 gold never matches)."""
    classes = sorted(set(int(c) for c in gold if c >= 0) | set(int(c) for c in pred))
    if not classes:
        return 0.0
    scores = []
    for c in classes:
        tp = int(((pred == c) & (gold == c)).sum())
        fp = int(((pred == c) & (gold != c)).sum())
        fn = int(((pred != c) & (gold == c)).sum())
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def _words(data: TaskData, i: int) -> np.ndarray:
    """Non-punctuation positions of sentence i."""
    a, b = data.sentence_offsets[i], data.sentence_offsets[i + 1]
    return np.flatnonzero(~data.punct[a:b]) if data.punct is not None else np.arange(b - a)


def linear_uuas(data: TaskData) -> float:
    """UUAS of the left-to-right chain over non-punctuation words, pooled over sentences."""
    hit = total = 0
    for i, dist in enumerate(data.matrices):
        keep = _words(data, i)
        if len(keep) < 2:
            continue
        sub = dist[np.ix_(keep, keep)]
        gold = {(a, b) for a in range(len(keep)) for b in range(a + 1, len(keep)) if sub[a, b] == 1}
        total += len(keep) - 1  # a spanning tree over the kept words has n-1 edges
        hit += sum((k, k + 1) in gold for k in range(len(keep) - 1))
    return hit / total if total else float("nan")


def linear_nspr(data: TaskData) -> float:
    """NSpr of 'depth = position': per-sentence Spearman averaged by length over 5..50 words."""
    by_len: dict[int, list[float]] = defaultdict(list)
    for i, depth in enumerate(data.depths):
        keep = _words(data, i)
        if not MIN_LEN <= len(keep) <= MAX_LEN:
            continue
        rho = spearmanr(np.arange(len(keep)), depth[keep]).statistic
        if np.isfinite(rho):
            by_len[len(keep)].append(float(rho))
    return float(np.mean([np.mean(v) for v in by_len.values()])) if by_len else float("nan")


def majority_baseline(train: TaskData, evaluation: TaskData) -> float:
    """The task's trivial baseline on ``evaluation`` (see the module docstring), in its metric."""
    if evaluation.kind == "distance":
        return linear_uuas(evaluation)
    if evaluation.kind == "depth":
        return linear_nspr(evaluation)
    if list(train.classes) != list(evaluation.classes):
        raise ProbesError(f"task {evaluation.name!r}: build the evaluation set with train=<training TaskData> "
                          "so both share one class list")
    maj = majority_class(train)
    gold = evaluation.y
    if not len(gold):
        return float("nan")
    pred = np.full_like(gold, maj)
    if evaluation.metric == "macro_f1":
        return macro_f1(gold, pred)
    return float((gold == maj).mean())
