"""Trivial baselines each task is judged against, computed from the train and evaluation TaskData.

* Classification tasks (token, edge, span, sentence): the majority class of the training labels,
  scored on the evaluation set with the task's metric (accuracy, macro-F1, F1 of the positive
  class); an evaluation label unseen in training (-1) is always wrong. Multi-label tasks: every
  label that most training items carry, scored by micro-F1.
* ``distance``: UUAS of the linear chain (each non-punctuation word linked to the next one), the
  "linear" baseline of Hewitt & Manning 2019.
* ``depth``: NSpr of predicting depth by word position (left to right).
The scores use the probes' own metric code (``probes.probing.metrics``, ``structural_metrics``), so a
baseline and a probe row of the same task are always comparable.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from probes.errors import ProbesError
from probes.probing.metrics import point_score
from probes.probing.structural_metrics import depth_spearman, in_spearman_range, uuas_counts
from probes.tasks.base import TaskData


def majority_class(train: TaskData) -> int:
    """The most frequent class id of the training labels (lowest id on ties)."""
    y = train.y[train.y >= 0] if train.y is not None else np.array([], dtype=np.int64)
    if not len(y):
        raise ProbesError(f"task {train.name!r}: the training data has no labels")
    return int(np.bincount(y, minlength=len(train.classes)).argmax())


def _punct(data: TaskData, i: int) -> np.ndarray:
    a, b = data.sentence_offsets[i], data.sentence_offsets[i + 1]
    return data.punct[a:b] if data.punct is not None else np.zeros(b - a, dtype=bool)


def linear_uuas(data: TaskData) -> float:
    """UUAS of the left-to-right chain (distance |i - j|), scored exactly as the distance probe is."""
    hit = total = 0
    for i, gold in enumerate(data.matrices):
        pos = np.arange(len(gold))
        c, t = uuas_counts(np.abs(np.subtract.outer(pos, pos)).astype(float), gold, _punct(data, i))
        hit, total = hit + c, total + t
    return hit / total if total else float("nan")


def linear_nspr(data: TaskData) -> float:
    """NSpr of 'depth = position', scored exactly as the depth probe is (mean per length, 5..50)."""
    by_len: dict[int, list[float]] = defaultdict(list)
    for depth in data.depths:
        if in_spearman_range(len(depth)):
            rho = depth_spearman(np.arange(len(depth), dtype=float), np.asarray(depth, dtype=float))
            if np.isfinite(rho):
                by_len[len(depth)].append(rho)
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
    if evaluation.Y is not None:  # multi-label: each label predicted when most training items carry it
        if not len(evaluation.Y):
            return float("nan")
        guess = np.broadcast_to(np.asarray(train.Y).mean(0) > 0.5, evaluation.Y.shape)
        return point_score(evaluation.metric, guess, evaluation.Y, len(train.classes))
    maj = majority_class(train)
    gold = evaluation.y
    if not len(gold):
        return float("nan")
    return point_score(evaluation.metric, np.full_like(gold, maj), gold, len(train.classes),
                       positive_id(evaluation))


def positive_id(data: TaskData):
    """Class id of the positive label of a positive_f1 task (None for other tasks)."""
    if data.positive_label is None:
        return None
    if data.positive_label not in data.classes:
        raise ProbesError(f"task {data.name!r}: the positive class {data.positive_label!r} is not among its classes "
                          f"{data.classes}")
    return data.classes.index(data.positive_label)
