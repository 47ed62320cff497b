"""Overlapping windows for sentences longer than the model's maximum length, and their stitching.

A sentence of n content subwords (specials excluded) that does not fit in `size` goes through
windows of `size` subwords that overlap by half a window; the last window ends at the sentence's
end. Each subword then takes its vector from the window in which it has the most context: for a
bidirectional model the largest distance to that window's nearer edge, for a causal (left-to-right)
model the most words to its left. Nothing is ever truncated.
"""

from __future__ import annotations

import numpy as np


def plan_windows(n: int, size: int) -> list[tuple[int, int]]:
    """Content windows [start, end) covering n subwords with windows of at most `size`."""
    if size < 1:
        raise ValueError(f"window size must be positive, got {size}")
    if n <= size:
        return [(0, n)]
    stride = max(1, size // 2)
    starts = list(range(0, n - size, stride)) + [n - size]
    return [(a, a + size) for a in starts]


def owners(n: int, windows: list[tuple[int, int]], causal: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """For each content subword: (index of the window it is read from, its position in that window)."""
    if len(windows) == 1:
        return np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64)
    pos = np.arange(n)
    best_ctx = np.full(n, -1, dtype=np.int64)
    owner = np.zeros(n, dtype=np.int64)
    for w, (a, b) in enumerate(windows):
        inside = (pos >= a) & (pos < b)
        ctx = np.where(inside, pos - a if causal else np.minimum(pos - a, b - 1 - pos), -1)
        better = ctx > best_ctx
        owner[better] = w
        best_ctx[better] = ctx[better]
    starts = np.array([a for a, _ in windows], dtype=np.int64)
    return owner, pos - starts[owner]
