"""Intervals and significance between layers: paired bootstrap over sentences, best layer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from probes.errors import ProbesError


@dataclass
class LayerComparison:
    """Score of A minus score of B, its 95% interval and a two-sided p-value, and how they were got."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    n: int


def _per_sentence(name: str, values, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ProbesError(f"{name}: expected one number per sentence, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ProbesError(f"{name}: {arr.size} sentences, expected {n} (the arrays must be paired sentence by sentence)")
    if not np.all(np.isfinite(arr)):
        raise ProbesError(f"{name}: contains NaN or infinite values")
    return arr


def paired_bootstrap(scores_a, scores_b, weights=None, *, n_boot: int = 2000, confidence: float = 0.95,
                     seed: int = 0) -> LayerComparison:
    """Paired bootstrap over sentences of corpus score A minus corpus score B.

    ``scores_a``/``scores_b``: one number per sentence, paired (the same sentences in the same
    order), e.g. the count of correctly labelled words of each sentence under layer A and layer B.
    ``weights``: per-sentence denominators (e.g. word counts); the corpus score is then
    sum(scores) / sum(weights), i.e. pooled accuracy. Without weights it is the mean per-sentence
    score. Sentences are resampled with replacement, the same indices for A and B. The p-value is
    two-sided: twice the smaller share of resampled differences on either side of 0, with a +1
    correction so it is never 0.
    """
    a = _per_sentence("scores_a", scores_a)
    b = _per_sentence("scores_b", scores_b, a.size)
    w = np.ones_like(a) if weights is None else _per_sentence("weights", weights, a.size)
    if np.any(w < 0) or w.sum() <= 0:
        raise ProbesError("weights must be non-negative with a positive sum")
    if n_boot < 1:
        raise ProbesError("n_boot must be at least 1")
    diff = float(a.sum() / w.sum() - b.sum() / w.sum())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    wsum = w[idx].sum(axis=1)
    wsum[wsum == 0] = np.nan  # a resample of only zero-weight sentences has no score
    boot = (a[idx].sum(axis=1) - b[idx].sum(axis=1)) / wsum
    boot = boot[np.isfinite(boot)]
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    below, above = int(np.sum(boot <= 0)), int(np.sum(boot >= 0))
    p = min(1.0, 2 * (min(below, above) + 1) / (boot.size + 1))
    return LayerComparison(diff, float(lo), float(hi), p, f"paired bootstrap over {a.size} sentences, {n_boot} resamples", a.size)


def compare_layers_from_rows(agg_rows: pd.DataFrame, per_seed_rows: pd.DataFrame | None,
                             layer_a: int, layer_b: int) -> LayerComparison:
    """Compare two layers of one curve from results rows alone (no per-sentence scores).

    Needs the rows of ONE curve (a model, task, probe, train/eval set and metric). With per-seed
    rows for both layers over >= 2 shared seeds: a paired t-test across seeds (probe-training
    variance only). Otherwise, with both layers' 95% intervals: a normal approximation from the
    interval widths, treating the layers as independent; this is conservative because the same
    sentences score both layers. The exact paired test needs per-sentence scores:
    use paired_bootstrap.
    """
    def row(layer):
        r = agg_rows[agg_rows["layer"] == layer]
        if len(r) != 1:
            raise ProbesError(f"layer {layer}: expected one aggregated row, found {len(r)}")
        return r.iloc[0]

    ra, rb = row(layer_a), row(layer_b)
    diff = float(ra["value"] - rb["value"])
    if per_seed_rows is not None and len(per_seed_rows):
        sa = per_seed_rows[per_seed_rows["layer"] == layer_a].set_index("seed")["value"]
        sb = per_seed_rows[per_seed_rows["layer"] == layer_b].set_index("seed")["value"]
        shared = sa.index.intersection(sb.index)
        if len(shared) >= 2:
            d = (sa[shared] - sb[shared]).to_numpy()
            sd = d.std(ddof=1)
            n = d.size
            if sd == 0:
                p = 1.0 if d.mean() == 0 else 0.0
                lo = hi = float(d.mean())
            else:
                t = d.mean() / (sd / math.sqrt(n))
                p = float(2 * sps.t.sf(abs(t), n - 1))
                half = float(sps.t.ppf(0.975, n - 1) * sd / math.sqrt(n))
                lo, hi = float(d.mean()) - half, float(d.mean()) + half
            return LayerComparison(float(d.mean()), lo, hi, p, f"paired t-test over {n} seeds", n)
    bounds = [ra["ci_low"], ra["ci_high"], rb["ci_low"], rb["ci_high"]]
    if not all(np.isfinite(bounds)):
        raise ProbesError(f"layers {layer_a} and {layer_b}: no intervals and fewer than 2 seeds; "
                          "a comparison needs per-sentence scores (paired_bootstrap), seeds or intervals")
    se_a = (ra["ci_high"] - ra["ci_low"]) / (2 * 1.959964)
    se_b = (rb["ci_high"] - rb["ci_low"]) / (2 * 1.959964)
    se = math.hypot(se_a, se_b)
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
    else:
        p = float(2 * sps.norm.sf(abs(diff) / se))
    return LayerComparison(diff, diff - 1.959964 * se, diff + 1.959964 * se, p,
                           "normal approximation from the 95% intervals (independent layers; conservative)", 0)


def best_layer(curve: pd.DataFrame) -> dict:
    """The layer with the highest value of one aggregated curve, its interval, and the layers whose
    intervals overlap the best one's (a descriptive overlap, not a test)."""
    if curve.empty:
        raise ProbesError("best layer of an empty curve")
    c = curve[curve["layer"] >= 0]
    i = int(c["value"].to_numpy().argmax())
    best = c.iloc[i]
    tied = []
    if np.isfinite(best["ci_low"]):
        tied = [int(l) for l, hi in zip(c["layer"], c["ci_high"]) if np.isfinite(hi) and hi >= best["ci_low"]]
    return {"best_layer": int(best["layer"]), "best_value": float(best["value"]),
            "best_ci_low": float(best["ci_low"]), "best_ci_high": float(best["ci_high"]),
            "overlapping_layers": tied}


def layer_significance_table(items, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Paired bootstrap between layers from per-sentence scores: each layer against the previous one
    and against the best layer, per (model, task, probe, eval_set).

    ``items``: dicts (or a DataFrame's records) with ``model``, ``task``, ``probe``, ``eval_set``,
    ``layer`` and ``scores`` (one number per sentence, e.g. correct words), optionally ``weights``
    (per-sentence denominators, e.g. word counts; the same sentences in the same order for every
    layer of a group).
    """
    df = pd.DataFrame(list(items) if not isinstance(items, pd.DataFrame) else items)
    need = {"model", "task", "probe", "eval_set", "layer", "scores"}
    if not need <= set(df.columns):
        raise ProbesError(f"sentence scores need keys {sorted(need)}, got {sorted(df.columns)}")
    rows = []
    for (model, task, probe, ev), g in df.groupby(["model", "task", "probe", "eval_set"], sort=False):
        g = g.sort_values("layer")
        if g["layer"].duplicated().any():
            raise ProbesError(f"sentence scores for {model}/{task}/{probe}/{ev}: a layer appears twice")
        arrays = {int(r.layer): (np.asarray(r.scores, dtype=float),
                                 None if "weights" not in g or r.weights is None else np.asarray(r.weights, dtype=float))
                  for r in g.itertuples(index=False)}
        sizes = {a.size for a, _ in arrays.values()}
        if len(sizes) != 1:
            raise ProbesError(f"sentence scores for {model}/{task}/{probe}/{ev}: layers cover different numbers "
                              f"of sentences {sorted(sizes)}; they must be the same sentences")
        corpus = {l: a.sum() / (w.sum() if w is not None else a.size) for l, (a, w) in arrays.items()}
        best = max(corpus, key=corpus.get)
        layers_ = sorted(arrays)
        for prev, cur in zip(layers_, layers_[1:]):
            rows.append(_cmp_row(model, task, probe, ev, cur, prev, "previous layer", arrays, n_boot, seed))
        for l in layers_:
            if l != best:
                rows.append(_cmp_row(model, task, probe, ev, best, l, "best layer vs", arrays, n_boot, seed))
    out = pd.DataFrame(rows, columns=["model", "task", "probe", "eval_set", "comparison", "layer_a", "layer_b",
                                      "difference", "ci_low", "ci_high", "p_value", "n_sentences"])
    # Several layer differences are read at once: Holm's step-down adjustment within each family
    # (one curve's previous-layer comparisons, or its best-layer comparisons).
    out["p_holm"] = np.nan
    for _, idx in out.groupby(["model", "task", "probe", "eval_set", "comparison"], sort=False).groups.items():
        out.loc[idx, "p_holm"] = holm(out.loc[idx, "p_value"].to_numpy())
    out["significant"] = out["p_holm"] < 0.05
    return out


def holm(p_values) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values: controls the family-wise error over the family."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), np.nan)
    finite = np.flatnonzero(np.isfinite(p))  # an untested comparison (NaN) stays NaN and is not counted
    m = len(finite)
    running = 0.0
    for rank, i in enumerate(finite[np.argsort(p[finite])]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def _cmp_row(model, task, probe, ev, a, b, kind, arrays, n_boot, seed) -> dict:
    (sa, wa), (sb, wb) = arrays[a], arrays[b]
    w = wa if wa is not None else wb
    if wa is not None and wb is not None and not np.array_equal(wa, wb):
        raise ProbesError(f"sentence scores for {model}/{task}/{probe}/{ev}: layers {a} and {b} have different "
                          "per-sentence weights; they must describe the same sentences")
    r = paired_bootstrap(sa, sb, w, n_boot=n_boot, seed=seed)
    return {"model": model, "task": task, "probe": probe, "eval_set": ev, "comparison": kind, "layer_a": a,
            "layer_b": b, "difference": r.difference, "ci_low": r.ci_low, "ci_high": r.ci_high,
            "p_value": r.p_value, "n_sentences": r.n}
