"""95% intervals: percentile bootstrap over test sentences (vectorised as resampling counts), the
multi-bootstrap over seeds and sentences for rows aggregated over seeds, and the normal
approximation over seeds for values without sentence replicates."""

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


def aggregate_seeds(rows: list[ResultRow], covers: str = "") -> list[ResultRow]:
    """Rows with seed = -1: the mean over two or more seeds with the interval of ``combine_seeds``
    (for values without sentence replicates: mix weights, codelengths; scores use
    ``ReplicateBook.rows``). A result of one seed has no aggregate: its own row stands."""
    groups: dict[tuple, list[ResultRow]] = defaultdict(list)
    for r in rows:
        if r.seed == -1:
            continue
        groups[(r.model, r.task, r.probe, r.layer, r.train_set, r.eval_set, r.metric)].append(r)
    out = []
    for key, rs in groups.items():
        if len(rs) < 2:
            continue
        mean, lo, hi = combine_seeds([r.value for r in rs], [r.ci_low for r in rs], [r.ci_high for r in rs])
        model, task, probe, layer, train_set, eval_set, metric = key
        what = covers or f"{len(rs)} seeds (normal approximation)"
        out.append(ResultRow(model, task, probe, layer, train_set, eval_set, -1, metric, mean, lo, hi, what))
    return out


def multi_bootstrap(points, reps, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sellam et al. (2022)'s multi-bootstrap over seeds and test sentences jointly.

    points: (S, M) per-seed statistics; reps: (S, B, M) their values on B sentence resamples that
    are the SAME resamples for every seed (``resample_counts`` with one ``ci_seed``). Replicate b
    draws S seeds with replacement and averages their values on sentence resample b, so the
    interval covers both which test sentences and which seeds were drawn. Returns the mean over
    seeds (M,) and the joint replicates (B, M).
    """
    P = np.asarray(points, dtype=float)
    R = np.asarray(reps, dtype=float)
    if R.ndim != 3 or P.shape != (R.shape[0], R.shape[2]):
        raise ValueError(f"multi_bootstrap: points (S, M) and reps (S, B, M) expected, got {P.shape}, {R.shape}")
    S, B = R.shape[:2]
    idx = np.random.default_rng(seed).integers(0, S, size=(B, S))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        joint = np.nanmean(R[idx, np.arange(B)[:, None]], axis=1)
    return P.mean(axis=0), joint


class ReplicateBook:
    """Per-seed statistics and their sentence-resample replicates, kept for the seed aggregate.

    Keyed by (model, task, probe, train_set, eval_set, metric); each entry holds, per seed, the layer
    ids, the point values (M,) and the replicates (B, M).
    """

    def __init__(self):
        self.entries: dict[tuple, dict[int, tuple]] = defaultdict(dict)

    def add(self, key: tuple, seed: int, layers, point, reps) -> None:
        """Record one seed's statistic at ``layers``."""
        point = np.atleast_1d(np.asarray(point, dtype=float))
        self.entries[key][seed] = (list(layers), point, np.asarray(reps, dtype=float).reshape(-1, point.size))

    def joint(self, key: tuple, seed: int = 0) -> tuple[list, np.ndarray, np.ndarray]:
        """Layer ids, the seed-mean statistic (M,) and its replicates (B, M): the multi-bootstrap with
        several seeds (one seed draw for all layers, so differences between layers stay paired), the
        sentence bootstrap alone with one."""
        by_seed = self.entries[key]
        seeds = sorted(by_seed)
        layers = by_seed[seeds[0]][0]
        if any(by_seed[s][0] != layers for s in seeds):
            raise ValueError(f"seeds of {key} were scored on different layers")
        if len(seeds) == 1:
            return layers, by_seed[seeds[0]][1], by_seed[seeds[0]][2]
        point, joint = multi_bootstrap(np.stack([by_seed[s][1] for s in seeds]),
                                       np.stack([by_seed[s][2] for s in seeds]), seed)
        return layers, point, joint

    def rows(self, covers, seed: int = 0, keys=None) -> list[ResultRow]:
        """Seed -1 rows with multi-bootstrap intervals for every key (or those in ``keys``) recorded
        under two or more seeds; ``covers(key)`` says what each interval covers."""
        out = []
        for key in self.entries if keys is None else keys:
            if len(self.entries[key]) < 2:
                continue
            layers, point, joint = self.joint(key, seed)
            lo, hi = percentile_interval(joint) if len(joint) else (np.full(len(layers), np.nan),) * 2
            model, task, probe, train_set, eval_set, metric = key
            what = covers(key) if len(joint) else "no interval (bootstrap = 0)"
            for m, layer in enumerate(layers):
                out.append(ResultRow(model, task, probe, int(layer), train_set, eval_set, -1, metric,
                                     float(point[m]), float(lo[m]), float(hi[m]), what))
        return out
