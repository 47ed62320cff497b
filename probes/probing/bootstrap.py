"""95% intervals: percentile bootstrap over test sentences (vectorised as resampling counts), and
the combination of bootstrap and seed spread for rows aggregated over seeds."""

from __future__ import annotations

import warnings
from collections import defaultdict

import numpy as np

from probes.records import ResultRow

Z95 = 1.959963984540054


def resample_counts(n_sentences: int, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """(n_boot, n_sentences) multiplicities: each row is one resample of the sentences with replacement."""
    rng = np.random.default_rng(seed)
    if n_sentences == 0:
        return np.zeros((n_boot, 0))
    return rng.multinomial(n_sentences, np.full(n_sentences, 1.0 / n_sentences), size=n_boot).astype(np.float64)


def percentile_interval(reps: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile bounds over the first axis (NaN replicates ignored)."""
    q = (1 - level) / 2
    # An all-NaN column (a metric undefined on every replicate) has no interval: NaN, said by the caller.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(reps, q, axis=0), np.nanquantile(reps, 1 - q, axis=0)


def ratio_replicates(num: np.ndarray, den: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Statistic sum(num)/sum(den) over sentences and its bootstrap replicates.

    num: (S,) or (S, M) per-sentence numerators (e.g. correct items), den: (S,) (e.g. items).
    Returns point (M,) or scalar, replicates (B, M) or (B,).
    """
    with np.errstate(all="ignore"):
        point = num.sum(0) / den.sum()
        reps = (counts @ num) / (counts @ den)[:, None] if num.ndim == 2 else (counts @ num) / (counts @ den)
    return point, reps


def macro_f1_replicates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, counts: np.ndarray):
    """Macro-F1 (mean over classes with any gold or predicted item) from per-sentence (S, M, C) counts."""
    S, M, C = tp.shape

    def f1(t, p, n):
        with np.errstate(all="ignore"):
            denom = 2 * t + p + n
            f = np.where(denom > 0, 2 * t / np.where(denom > 0, denom, 1), np.nan)
        return np.nanmean(f, axis=-1)

    point = f1(tp.sum(0), fp.sum(0), fn.sum(0))
    flat = lambda a: (counts @ a.reshape(S, M * C)).reshape(-1, M, C)
    reps = f1(flat(tp), flat(fp), flat(fn))
    return point, reps


def grouped_mean_replicates(values: np.ndarray, groups: np.ndarray, counts: np.ndarray):
    """Mean over groups of the within-group mean of per-sentence values (NaN values skipped).

    values: (S, M), groups: (S,) group label per sentence (e.g. sentence length). This is the
    DSpr/NSpr aggregation: average within each length, then over the lengths present.
    """
    ok = ~np.isnan(values)
    v = np.where(ok, values, 0.0)
    uniq, g = np.unique(groups, return_inverse=True)
    onehot = np.zeros((len(groups), len(uniq)))
    onehot[np.arange(len(groups)), g] = 1.0
    S, M = values.shape
    with np.errstate(all="ignore"):
        num = np.einsum("sm,sg->mg", v, onehot)
        den = np.einsum("sm,sg->mg", ok.astype(float), onehot)
        point = np.nanmean(np.where(den > 0, num / den, np.nan), axis=1) if len(uniq) else np.full(M, np.nan)
        G = len(uniq)
        bnum = (counts @ (v[:, :, None] * onehot[:, None, :]).reshape(S, M * G)).reshape(-1, M, G)
        bden = (counts @ (ok[:, :, None] * onehot[:, None, :]).reshape(S, M * G)).reshape(-1, M, G)
        reps = np.nanmean(np.where(bden > 0, bnum / bden, np.nan), axis=2) if len(uniq) else np.full((len(counts), M), np.nan)
    return point, reps


def combine_seeds(values, lows, highs) -> tuple[float, float, float]:
    """Mean over seeds and its 95% interval, combining test-sample and seed uncertainty.

    For k seeds with values v_k and bootstrap intervals [lo_k, hi_k]: the bootstrap standard error
    of each is (hi_k - lo_k) / (2 * 1.96); the interval is mean(v) +- 1.96 * sqrt(mean(se_k^2) +
    var(v, ddof=1) / k), i.e. test-sample uncertainty (shared by all seeds, so it does not shrink
    with k) plus the standard error of the mean over seeds. Values without intervals (mix weights,
    codelengths) get the seed term only. A single seed keeps its own (possibly asymmetric) interval.
    """
    vals = np.asarray(values, dtype=float)
    lows, highs = np.asarray(lows, dtype=float), np.asarray(highs, dtype=float)
    k = len(vals)
    mean = float(np.mean(vals))
    if k == 1:
        return mean, float(lows[0]), float(highs[0])
    widths = highs - lows
    boot_var = float(np.mean((widths / (2 * Z95)) ** 2)) if np.all(np.isfinite(widths)) else 0.0
    half = Z95 * np.sqrt(boot_var + float(np.var(vals, ddof=1)) / k)
    return mean, mean - half, mean + half


def aggregate_seeds(rows: list[ResultRow]) -> list[ResultRow]:
    """Rows with seed = -1: the mean over seeds with the interval of ``combine_seeds``."""
    groups: dict[tuple, list[ResultRow]] = defaultdict(list)
    for r in rows:
        if r.seed == -1:
            continue
        groups[(r.model, r.task, r.probe, r.layer, r.train_set, r.eval_set, r.metric)].append(r)
    out = []
    for key, rs in groups.items():
        mean, lo, hi = combine_seeds([r.value for r in rs], [r.ci_low for r in rs], [r.ci_high for r in rs])
        model, task, probe, layer, train_set, eval_set, metric = key
        out.append(ResultRow(model, task, probe, layer, train_set, eval_set, -1, metric, mean, lo, hi))
    return out
