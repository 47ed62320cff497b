"""Where in the network a task is resolved (Tenney, Das & Pavlick 2019): center of gravity,
differential scores, expected layer and the KL-from-uniform annotations of their Figure 2."""

from __future__ import annotations

import numpy as np

from probes.errors import ProbesError
from probes.probing.metrics import expected_layers


def _vector(values, name: str, min_len: int = 1) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size < min_len:
        raise ProbesError(f"{name}: expected a 1-D sequence of at least {min_len} numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ProbesError(f"{name}: contains NaN or infinite values ({arr.tolist()})")
    return arr


def softmax(logits) -> np.ndarray:
    """Softmax of the scalar-mix parameters a: the mixing weights s."""
    a = _vector(logits, "mix logits")
    e = np.exp(a - a.max())
    return e / e.sum()


def mixing_weights(weights, *, tol: float = 1e-3) -> np.ndarray:
    """Validate softmax mixing weights s_0..s_L (non-negative, summing to 1 within `tol`)."""
    s = _vector(weights, "mixing weights")
    if np.any(s < 0):
        raise ProbesError(f"mixing weights must be non-negative, got {s.tolist()}")
    total = s.sum()
    if abs(total - 1.0) > tol:
        raise ProbesError(f"mixing weights must sum to 1 (softmax), they sum to {total:.6f}")
    # Weights read back from a CSV or averaged over seeds sum to 1 only up to rounding.
    return s / total


def center_of_gravity(weights, layer_ids=None) -> float:
    """E_s = sum_l l * s_l over the softmax mixing weights (layer 0 = embeddings); ``layer_ids`` are
    the true ids of the mixed layers when they are a subset (default 0..L)."""
    s = mixing_weights(weights)
    ids = np.arange(s.size) if layer_ids is None else _vector(layer_ids, "layer ids")
    if ids.size != s.size or np.any(np.diff(ids) <= 0):
        raise ProbesError(f"center of gravity: {s.size} weights need as many increasing layer ids, got {ids.tolist()}")
    return float(np.dot(ids, s))


def differential_scores(cumulative_scores) -> np.ndarray:
    """delta(l) = score(l) - score(l-1) for l = 1..L under cumulative scoring (negatives kept)."""
    scores = _vector(cumulative_scores, "cumulative scores", min_len=2)
    return np.diff(scores)


def expected_layer(cumulative_scores, layer_ids=None) -> float:
    """E_delta = sum_{l>=1} l * delta(l) / sum_{l>=1} delta(l) from cumulative scores 0..L (or of the
    layers ``layer_ids``, each difference credited to its true layer id)."""
    scores = _vector(cumulative_scores, "cumulative scores", min_len=2)
    if np.diff(scores).sum() == 0:
        raise ProbesError("expected layer undefined: the cumulative score does not change from layer 0 to L")
    return float(expected_layers(scores, np.arange(scores.size) if layer_ids is None else layer_ids))


def kl_from_uniform_bits(p) -> float:
    """KL(p || uniform) in bits over p's support size (0 * log 0 = 0)."""
    q = _vector(p, "distribution")
    if np.any(q < 0) or q.sum() <= 0:
        raise ProbesError(f"KL from uniform needs non-negative values with a positive sum, got {q.tolist()}")
    q = q / q.sum()
    nz = q > 0
    return float(np.sum(q[nz] * np.log2(q[nz] * q.size)))


def k_s(weights) -> float:
    """K(s) = KL(s || uniform over layers 0..L) in bits."""
    return kl_from_uniform_bits(mixing_weights(weights))


def k_delta(cumulative_scores) -> float:
    """K(delta) = KL(normalised max(delta, 0) || uniform over l = 1..L) in bits; NaN if no delta > 0."""
    pos = np.clip(differential_scores(cumulative_scores), 0.0, None)
    if pos.sum() == 0:
        return float("nan")
    return kl_from_uniform_bits(pos)
