"""Dependency-tree arithmetic: depths and pairwise tree distances from 1-based heads."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def ancestor_matrix(heads: Sequence[int]) -> np.ndarray:
    """(n, n) bool: ``A[i, k]`` is True when word k is word i or one of its ancestors."""
    n = len(heads)
    anc = np.zeros((n, n), dtype=bool)
    done = np.zeros(n, dtype=bool)
    for i in range(n):
        path = []
        j = i
        while j >= 0 and not done[j]:
            path.append(j)
            j = heads[j] - 1
        # j is -1 (above the root) or an already finished word; fill the path top-down
        for k in reversed(path):
            parent = heads[k] - 1
            if parent >= 0:
                anc[k] = anc[parent]
            anc[k, k] = True
            done[k] = True
    return anc


def tree_depths(heads: Sequence[int]) -> np.ndarray:
    """(n,) number of edges from each word to the root (root = 0)."""
    return ancestor_matrix(heads).sum(axis=1) - 1


def tree_distances(heads: Sequence[int]) -> np.ndarray:
    """(n, n) number of edges on the tree path between every two words."""
    anc = ancestor_matrix(heads).astype(np.int32)
    common = anc @ anc.T  # ancestors shared by i and j = depth(lca) + 1
    size = anc.sum(axis=1)  # depth + 1
    return size[:, None] + size[None, :] - 2 * common
