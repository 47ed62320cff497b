"""Classification scores with sentence-bootstrap intervals, from predicted and gold class ids."""

from __future__ import annotations

import numpy as np

from probes.errors import ProbesError
from probes.probing.bootstrap import macro_f1_replicates, ratio_replicates

METRICS = ("accuracy", "micro_f1", "macro_f1")


def sentence_of_rows(rows: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sentence number of each global word row."""
    return np.searchsorted(offsets, rows, side="right") - 1


def score_replicates(metric: str, pred: np.ndarray, y: np.ndarray, sent: np.ndarray, n_sentences: int,
                     counts: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Point scores (M,) and bootstrap replicates (B, M) of one metric for M models' predictions.

    pred: (M, n) predicted ids; y: (n,) gold ids, -1 = label unseen in training (always wrong);
    sent: (n,) sentence of each item. ``micro_f1`` over all classes with one gold and one
    predicted label per item equals accuracy, and is computed as such.
    """
    pred = np.atleast_2d(pred)
    M = pred.shape[0]
    if metric in ("accuracy", "micro_f1"):
        correct = (pred == y[None, :]).astype(float)  # (M, n)
        num = np.stack([np.bincount(sent, weights=c, minlength=n_sentences) for c in correct], axis=1)
        den = np.bincount(sent, minlength=n_sentences).astype(float)
        return ratio_replicates(num, den, counts)
    if metric == "macro_f1":
        C = n_classes
        tp = np.zeros((n_sentences, M, C))
        fp = np.zeros_like(tp)
        fn = np.zeros_like(tp)
        for m in range(M):
            hit = pred[m] == y
            np.add.at(tp[:, m], (sent[hit], y[hit]), 1)
            np.add.at(fp[:, m], (sent[~hit], pred[m][~hit]), 1)
            seen = (~hit) & (y >= 0)
            np.add.at(fn[:, m], (sent[seen], y[seen]), 1)
        # Gold labels unseen in training (-1) are misses of a class the probe cannot predict.
        unseen = y < 0
        if unseen.any():
            extra = np.zeros((n_sentences, M, 1))
            np.add.at(extra[:, :, 0], sent[unseen], 1)
            tp = np.concatenate([tp, np.zeros_like(extra)], 2)
            fp = np.concatenate([fp, np.zeros_like(extra)], 2)
            fn = np.concatenate([fn, extra], 2)
        return macro_f1_replicates(tp, fp, fn, counts)
    raise ProbesError(f"unknown classification metric {metric!r}; choose one of {', '.join(METRICS)}")


def point_score(metric: str, pred: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    """One model's score without intervals, by the same definition as ``score_replicates``."""
    y = np.asarray(y)
    point, _ = score_replicates(metric, np.asarray(pred)[None], y, np.zeros(len(y), dtype=np.int64), 1,
                                np.ones((1, 1)), n_classes)
    return float(point[0])
