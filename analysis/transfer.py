"""Cross-lingual transfer (train language x evaluation language per layer) and linear CKA."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.results import language_of
from probes.errors import ProbesError


def transfer_matrices(agg: pd.DataFrame, *, model: str, task: str, probe: str, metric: str) -> dict[int, pd.DataFrame]:
    """Per layer, a DataFrame of scores: rows = training language, columns = evaluation language.

    Languages are read from the set names (``language_of``: 'de_pud-ud-test' -> 'de'). Two sets of
    the same language and role (e.g. dev and test) would collide: that is an error, not a guess.
    """
    sel = agg[(agg["model"] == model) & (agg["task"] == task) & (agg["probe"] == probe)
              & (agg["metric"] == metric) & (agg["layer"] >= 0)].copy()
    if sel.empty:
        raise ProbesError(f"no transfer rows for model {model}, task {task}, probe {probe}, metric {metric}")
    sel["train_lang"] = [language_of(s) for s in sel["train_set"]]
    sel["eval_lang"] = [language_of(s) for s in sel["eval_set"]]
    unknown = sel[(sel["train_lang"] == "") | (sel["eval_lang"] == "")]
    if len(unknown):
        raise ProbesError(f"cannot tell the language of set(s) {sorted(set(unknown['train_set']) | set(unknown['eval_set']))}; "
                          "name sets with a language prefix such as 'de_pud-ud-test'")
    clash = sel.duplicated(["layer", "train_lang", "eval_lang"], keep=False)
    if clash.any():
        c = sel[clash]
        raise ProbesError(f"several sets per language pair at layer {int(c['layer'].iloc[0])}: "
                          f"train {sorted(set(c['train_set']))}, eval {sorted(set(c['eval_set']))}; select one first")
    trains = list(dict.fromkeys(sel["train_lang"]))
    evals = list(dict.fromkeys(sel["eval_lang"]))
    # In-language evaluation first, in the training languages' order.
    evals = [l for l in trains if l in evals] + [l for l in evals if l not in trains]
    out = {}
    for layer, rows in sel.groupby("layer"):
        m = rows.pivot(index="train_lang", columns="eval_lang", values="value")
        out[int(layer)] = m.reindex(index=[t for t in trains if t in m.index], columns=[e for e in evals if e in m.columns])
    return out


def transfer_gap(matrix: pd.DataFrame, *, reference: str = "source") -> pd.DataFrame:
    """In-language minus zero-shot score for every (train language, other eval language) cell.

    ``reference="source"``: score(L -> L) - score(L -> M), the usual gap when only one language has
    training data (e.g. English). ``reference="target"``: score(M -> M) - score(L -> M), the cost of
    not training in the target language; needs training data in M. Missing scores give NaN.
    """
    if reference not in ("source", "target"):
        raise ProbesError(f"transfer_gap reference must be 'source' or 'target', got {reference!r}")
    gap = pd.DataFrame(np.nan, index=matrix.index, columns=matrix.columns)
    for src in matrix.index:
        for tgt in matrix.columns:
            if tgt == src:
                continue
            if reference == "source":
                ref = matrix.at[src, src] if src in matrix.columns else np.nan
            else:
                ref = matrix.at[tgt, tgt] if tgt in matrix.index else np.nan
            gap.at[src, tgt] = ref - matrix.at[src, tgt]
    return gap


CKA_ESTIMATORS = ("debiased", "biased")


def _paired_matrices(x, y, least: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or y.ndim != 2:
        raise ProbesError(f"linear CKA needs two matrices, got shapes {x.shape} and {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ProbesError(f"linear CKA needs the same items in both (rows {x.shape[0]} vs {y.shape[0]}): "
                          "pass parallel sentences in the same order")
    if x.shape[0] < least:
        raise ProbesError(f"linear CKA needs at least {least} items, got {x.shape[0]}")
    return x - x.mean(axis=0), y - y.mean(axis=0)


class _UnbiasedHSIC:
    """Song et al. (2012)'s unbiased HSIC estimator for linear kernels, split into the parts that a
    re-pairing of the items (a permutation of y's rows) changes and the parts it leaves alone.

    HSIC_u(K, L) = [tr(K~L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3)),
    with K~, L~ the Gram matrices with their diagonals set to zero.
    """

    def __init__(self, xc: np.ndarray):
        n = xc.shape[0]
        self.n = n
        self.K = xc @ xc.T
        np.fill_diagonal(self.K, 0.0)
        self.row = self.K.sum(axis=1)          # K~1
        self.total = float(self.row.sum())     # 1'K~1

    def hsic(self, other: "_UnbiasedHSIC", perm: np.ndarray | None = None) -> float:
        n = self.n
        L, row = (other.K, other.row) if perm is None else (other.K[np.ix_(perm, perm)], other.row[perm])
        trace = float(np.einsum("ij,ij->", self.K, L))
        return (trace + self.total * other.total / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(self.row @ row)) \
            / (n * (n - 3))


def linear_cka(x, y, *, estimator: str = "debiased") -> float:
    """Linear CKA between two representations of the same n items (n x d1 and n x d2 matrices).

    ``debiased`` (default): CKA from the unbiased HSIC estimator (Song et al. 2012; Kornblith et
    al. 2019's debiased CKA), close to 0 for unrelated representations at any n and d; can be
    slightly negative. ``biased``: the plug-in estimator ||Yc'Xc||_F^2 / (||Xc'Xc||_F ||Yc'Yc||_F),
    which is inflated when d is large against n (two independent random 40 x 384 matrices give
    about 0.9). Both are 1 for identical representations up to rotation, isotropic scaling and shift.
    """
    return cka_with_null(x, y, permutations=0, estimator=estimator)["cka"]


def _plug_in_cka(xc: np.ndarray, yc: np.ndarray) -> float:
    num = np.linalg.norm(yc.T @ xc, "fro") ** 2
    den = np.linalg.norm(xc.T @ xc, "fro") * np.linalg.norm(yc.T @ yc, "fro")
    if den == 0:
        raise ProbesError("linear CKA undefined: a representation is constant across items")
    return float(num / den)


def cka_with_null(x, y, *, permutations: int = 200, seed: int = 0, estimator: str = "debiased",
                  level: float = 0.95) -> dict:
    """Linear CKA and its permutation null: CKA after shuffling which row of y goes with which row
    of x, i.e. what representations with no item-level correspondence give at the same n and d.

    Returns ``cka``, ``null_low``/``null_high`` (the central ``level`` interval of the null),
    ``null_mean`` and ``p_value`` = (1 + #{null >= cka}) / (1 + permutations), one-sided.
    """
    if estimator not in CKA_ESTIMATORS:
        raise ProbesError(f"unknown CKA estimator {estimator!r}; expected one of {', '.join(CKA_ESTIMATORS)}")
    rng = np.random.default_rng(seed)
    if estimator == "biased":
        xc, yc = _paired_matrices(x, y, 2)
        point = _plug_in_cka(xc, yc)
        null = np.array([_plug_in_cka(xc, yc[rng.permutation(len(yc))]) for _ in range(permutations)])
    else:
        xc, yc = _paired_matrices(x, y, 4)  # the unbiased estimator divides by n - 3
        kx, ky = _UnbiasedHSIC(xc), _UnbiasedHSIC(yc)
        norm = np.sqrt(kx.hsic(kx) * ky.hsic(ky))
        if not np.isfinite(norm) or norm <= 0:
            raise ProbesError("linear CKA undefined: a representation is constant across items")
        point = kx.hsic(ky) / norm
        null = np.array([kx.hsic(ky, rng.permutation(kx.n)) for _ in range(permutations)]) / norm
    out = {"cka": float(point), "permutations": int(permutations), "estimator": estimator}
    if permutations:
        q = (1 - level) / 2
        out.update(null_low=float(np.quantile(null, q)), null_high=float(np.quantile(null, 1 - q)),
                   null_mean=float(null.mean()), p_value=float((1 + np.sum(null >= point)) / (1 + permutations)))
    return out


def corpus_of(set_name: str) -> str:
    """A set's name without its language prefix ('de_pud-ud-test' -> 'pud-ud-test')."""
    lang = language_of(set_name)
    return set_name[len(lang) + 1:] if lang else set_name


def parallel_view(agg: pd.DataFrame, *, model: str, task: str, probe: str, metric: str) -> pd.DataFrame:
    """The rows of one curve family evaluated on ONE corpus in several languages (e.g. PUD):
    the corpus (set name without language) that covers the most evaluation languages wins;
    ties go to the sorted-first name. Empty when no corpus covers two languages."""
    sel = agg[(agg["model"] == model) & (agg["task"] == task) & (agg["probe"] == probe) & (agg["metric"] == metric)
              & (agg["layer"] >= 0)]
    sel = sel[[bool(language_of(e)) and bool(language_of(t)) for t, e in zip(sel["train_set"], sel["eval_set"])]]
    if sel.empty:
        return sel
    corpora = {}
    for e in dict.fromkeys(sel["eval_set"]):
        corpora.setdefault(corpus_of(e), set()).add(language_of(e))
    best = max(sorted(corpora), key=lambda c: len(corpora[c]))
    if len(corpora[best]) < 2:
        return sel.iloc[0:0]
    return sel[[corpus_of(e) == best for e in sel["eval_set"]]]
