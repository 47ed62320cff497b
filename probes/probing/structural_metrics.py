"""Hewitt & Manning (2019) structural-probe metrics, per sentence so they can be bootstrapped:
UUAS (MST over predicted distances, punctuation removed, undirected), DSpr/NSpr (row-wise
Spearman, averaged per sentence length 5-50, then over lengths), root accuracy."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

SPEARMAN_LENGTHS = (5, 50)


def mst_edges(dist: np.ndarray) -> set[tuple[int, int]]:
    """Undirected edges (i < j) of a minimum spanning tree of a full distance matrix (Prim)."""
    n = len(dist)
    if n < 2:
        return set()
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best = dist[0].astype(float).copy()
    parent = np.zeros(n, dtype=int)
    edges = set()
    for _ in range(n - 1):
        cand = np.where(in_tree, np.inf, best)
        j = int(np.argmin(cand))
        i = int(parent[j])
        edges.add((min(i, j), max(i, j)))
        in_tree[j] = True
        closer = dist[j] < best
        best = np.where(closer, dist[j], best)
        parent = np.where(closer, j, parent)
    return edges


def uuas_counts(pred: np.ndarray, gold: np.ndarray, punct: np.ndarray) -> tuple[int, int]:
    """(correct, gold edges) of one sentence: MSTs of predicted and gold distances, punctuation removed."""
    keep = np.flatnonzero(~np.asarray(punct, dtype=bool))
    if len(keep) < 2:
        return 0, 0
    sub = np.ix_(keep, keep)
    g, p = mst_edges(gold[sub]), mst_edges(pred[sub])
    return len(g & p), len(g)


def _rowwise_spearman(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row pair (average ranks for ties); NaN for a constant row."""
    rp = rankdata(pred, axis=-1)
    rg = rankdata(gold, axis=-1)
    rp = rp - rp.mean(-1, keepdims=True)
    rg = rg - rg.mean(-1, keepdims=True)
    with np.errstate(all="ignore"):
        return (rp * rg).sum(-1) / np.sqrt((rp * rp).sum(-1) * (rg * rg).sum(-1))


def distance_spearman(pred: np.ndarray, gold: np.ndarray) -> float:
    """Mean over words of the Spearman correlation between predicted and gold distance rows."""
    return float(np.nanmean(_rowwise_spearman(pred, gold))) if len(gold) > 1 else float("nan")


def depth_spearman(pred: np.ndarray, gold: np.ndarray) -> float:
    """Spearman correlation between predicted and gold depths of one sentence."""
    return float(_rowwise_spearman(pred[None], gold[None])[0]) if len(gold) > 1 else float("nan")


def root_correct(pred_depth: np.ndarray, gold_depth: np.ndarray, punct: np.ndarray) -> tuple[int, int]:
    """(1 if the shallowest predicted non-punctuation word is the gold root else 0, 1); (0, 0) if all punct."""
    keep = np.flatnonzero(~np.asarray(punct, dtype=bool))
    if len(keep) == 0:
        return 0, 0
    pred_root = keep[int(np.argmin(pred_depth[keep]))]
    return int(pred_root == int(np.argmin(gold_depth))), 1


def in_spearman_range(length: int) -> bool:
    """Whether a sentence of this length counts for DSpr/NSpr (5..50 words inclusive)."""
    return SPEARMAN_LENGTHS[0] <= length <= SPEARMAN_LENGTHS[1]
