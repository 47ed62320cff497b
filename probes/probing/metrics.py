"""Classification scores with sentence-bootstrap intervals, from predicted and gold class ids."""

from __future__ import annotations

import numpy as np

from probes.errors import ProbesError
from probes.probing.bootstrap import macro_f1_replicates, ratio_replicates

METRICS = ("accuracy", "micro_f1", "macro_f1", "positive_f1")


def f1_replicates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, counts: np.ndarray):
    """F1 = 2 TP / (2 TP + FP + FN) pooled over sentences, from per-sentence (S, M) counts, and its
    bootstrap replicates (B, M); NaN where nothing was predicted or gold."""
    def f1(t, p, n):
        with np.errstate(all="ignore"):
            d = 2 * t + p + n
            return np.where(d > 0, 2 * t / np.where(d > 0, d, 1), np.nan)
    return f1(tp.sum(0), fp.sum(0), fn.sum(0)), f1(counts @ tp, counts @ fp, counts @ fn)


def _per_sentence(values: np.ndarray, sent: np.ndarray, n_sentences: int) -> np.ndarray:
    """(M, n) per-item values -> (S, M) sums per sentence."""
    return np.stack([np.bincount(sent, weights=v, minlength=n_sentences) for v in values], axis=1)


def sentence_of_rows(rows: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sentence number of each global word row."""
    return np.searchsorted(offsets, rows, side="right") - 1


def score_replicates(metric: str, pred: np.ndarray, y: np.ndarray, sent: np.ndarray, n_sentences: int,
                     counts: np.ndarray, n_classes: int, positive: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Point scores (M,) and bootstrap replicates (B, M) of one metric for M models' predictions.

    pred: (M, n) predicted ids; y: (n,) gold ids, -1 = label unseen in training (always wrong);
    sent: (n,) sentence of each item. ``micro_f1`` over all classes with one gold and one
    predicted label per item equals accuracy, and is computed as such. ``positive_f1`` is the F1 of
    class ``positive`` (coreference: the "same entity" class, as Tenney et al.).
    Multi-label items: pred (M, n, C) 0/1 and y (n, C) 0/1; ``micro_f1`` pools TP, FP and FN over
    every (item, label) decision.
    """
    if np.ndim(y) == 2:
        if metric not in ("micro_f1", "accuracy"):
            raise ProbesError(f"metric {metric!r} is not defined for multi-label items; use micro_f1")
        pred = np.asarray(pred, dtype=bool).reshape((-1,) + np.shape(y))
        gold = np.asarray(y, dtype=bool)[None]
        if metric == "accuracy":  # every label of the item right
            exact = (pred == gold).all(2).astype(float)
            return ratio_replicates(_per_sentence(exact, sent, n_sentences),
                                    np.bincount(sent, minlength=n_sentences).astype(float), counts)
        tp = _per_sentence((pred & gold).sum(2).astype(float), sent, n_sentences)
        fp = _per_sentence((pred & ~gold).sum(2).astype(float), sent, n_sentences)
        fn = _per_sentence((~pred & gold).sum(2).astype(float), sent, n_sentences)
        return f1_replicates(tp, fp, fn, counts)
    pred = np.atleast_2d(pred)
    M = pred.shape[0]
    if metric == "positive_f1":
        if positive is None:
            raise ProbesError("positive_f1 needs the id of the positive class")
        hit, gold = pred == positive, (y == positive)[None, :]
        tp = _per_sentence((hit & gold).astype(float), sent, n_sentences)
        fp = _per_sentence((hit & ~gold).astype(float), sent, n_sentences)
        fn = _per_sentence((~hit & gold).astype(float), sent, n_sentences)
        return f1_replicates(tp, fp, fn, counts)
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


def point_score(metric: str, pred: np.ndarray, y: np.ndarray, n_classes: int, positive: int | None = None) -> float:
    """One model's score without intervals, by the same definition as ``score_replicates``."""
    y = np.asarray(y)
    point, _ = score_replicates(metric, np.asarray(pred)[None], y, np.zeros(len(y), dtype=np.int64), 1,
                                np.ones((1, 1)), n_classes, positive)
    return float(point[0])


def expected_layers(scores: np.ndarray, layer_ids) -> np.ndarray:
    """Tenney et al.'s expected layer E_delta of cumulative scores, per row of ``scores`` (..., L+1).

    E_delta = sum_k l_k delta_k / sum_k delta_k with delta_k = score_k - score_{k-1} over the layers
    ``layer_ids`` (l_0 < l_1 < ...; the paper's 0..L, or any subset: each difference is credited to
    the true id of the layer that brings it). NaN where the score does not change overall.
    """
    s = np.asarray(scores, dtype=float)
    ids = np.asarray(layer_ids, dtype=float)
    if s.shape[-1] != len(ids) or len(ids) < 2 or np.any(np.diff(ids) <= 0):
        raise ProbesError(f"expected layer: need scores for two or more increasing layers, got {s.shape[-1]} "
                          f"scores for layers {list(layer_ids)}")
    delta = np.diff(s, axis=-1)
    total = delta.sum(-1)
    with np.errstate(all="ignore"):
        return np.where(total != 0, (delta * ids[1:]).sum(-1) / np.where(total != 0, total, 1), np.nan)
