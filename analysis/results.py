"""Reading, validating and slicing tidy results tables (the columns of probes.records.RESULT_COLUMNS)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from probes.errors import InputError, ProbesError
from probes.records import RESULT_COLUMNS

STRING_COLUMNS = ["model", "task", "probe", "train_set", "eval_set", "metric", "covers"]
INT_COLUMNS = ["layer", "seed"]
FLOAT_COLUMNS = ["value", "ci_low", "ci_high"]
GROUP_COLUMNS = ["model", "task", "probe", "layer", "train_set", "eval_set", "metric"]
CURVE_COLUMNS = ["model", "task", "probe", "train_set", "eval_set", "metric"]
CONTROL_SUFFIX = ":control"
RANDOM_INIT_SUFFIX = ":random-init"
# Probes whose per-layer rows are not scores of a probe on that layer.
NON_SCORE_METRICS = {"mix_weight", "mix_gamma", "selectivity", "codelength_bits", "compression", "expected_layer",
                     "best_minus_top", "best_minus_top_p", "gain_over_random_init", "gain_over_random_init_p",
                     # neurons (accuracy on k neurons, minimal k) and conditional probing (bits): drawn by their own figures
                     "neuron_acc_top", "neuron_acc_bottom", "neuron_acc_random", "neuron_min_k95",
                     "vinfo_bits", "cond_vinfo_bits",
                     # amnesic probing (probe "amnesic"): accuracies around an erasure, LM-loss changes
                     "accuracy_clean", "accuracy_erased", "accuracy_erased_random", "accuracy_delta_vs_random", "majority",
                     "lm_loss_clean",
                     "lm_loss_delta", "lm_loss_delta_random", "lm_loss_delta_vs_random",
                     # other tasks at later layers with the amnesic task erased at layer <l> (metric suffix :<l>)
                     "other_accuracy_clean", "other_accuracy_erased", "other_accuracy_erased_random",
                     "other_accuracy_delta_vs_random"}


def metric_base(metrics: pd.Series) -> pd.Series:
    """Metric names without a ':<detail>' suffix ('mix_weight:3', a cumulative mix's weight of layer 3)."""
    return metrics.astype(str).str.split(":", n=1).str[0]


def score_mask(metrics: pd.Series) -> pd.Series:
    """True where a row's metric is a score of a probe (not a mixing weight, selectivity, codelength...)."""
    return ~metric_base(metrics).isin(NON_SCORE_METRICS)


# The headline metric of a task, first match wins.
PRIMARY_METRICS = ["micro_f1", "positive_f1", "accuracy", "uuas", "macro_f1", "dspr", "root_acc", "nspr"]


def validate_results(df: pd.DataFrame, source: str = "results table") -> pd.DataFrame:
    """Check columns and types of a results table; return a clean copy in RESULT_COLUMNS order.

    A missing ``value`` (empty / NaN) is allowed here (an undefined metric); text that is not a
    number is an error. ``split_missing_values`` sets such rows aside with a note.
    """
    if "covers" not in df.columns:  # tables written before intervals said what they cover
        df = df.assign(covers="")
    missing = [c for c in RESULT_COLUMNS if c not in df.columns]
    if missing:
        raise ProbesError(
            f"{source}: missing column(s) {', '.join(missing)}; a results table needs "
            f"{', '.join(RESULT_COLUMNS)} (found: {', '.join(map(str, df.columns)) or 'none'})")
    if len(df) == 0:
        raise ProbesError(f"{source}: no result rows")
    out = df[RESULT_COLUMNS].copy()
    for col in STRING_COLUMNS:
        # Empty train_set/eval_set cells come back from CSV as NaN; they mean "not applicable".
        out[col] = out[col].astype(object).fillna("").astype(str)
    for col in INT_COLUMNS + FLOAT_COLUMNS:
        num = pd.to_numeric(out[col], errors="coerce")
        bad = num.isna() & out[col].notna() & (out[col].astype(str).str.strip().str.lower() != "nan")
        if col in INT_COLUMNS:
            bad |= num.isna()
        if col in INT_COLUMNS:
            bad |= num.notna() & (num != np.floor(num.fillna(0)))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"column {col!r} must be {'an integer' if col in INT_COLUMNS else 'a number'}, "
                             f"got {df[col].iloc[i]!r} ({int(bad.sum())} bad row(s))",
                             path=source, line=i + 2)
        out[col] = num.astype(int) if col in INT_COLUMNS else num.astype(float)
    for col in ("model", "task", "probe", "metric"):
        empty = out[col].str.strip() == ""
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise InputError(f"column {col!r} is empty", path=source, line=i + 2)
    dup = out.duplicated(subset=GROUP_COLUMNS + ["seed"], keep=False)
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"{int(dup.sum())} rows repeat the same model/task/probe/layer/sets/seed/metric; "
                         "each result must appear once", path=source, line=i + 2)
    return out.reset_index(drop=True)


def split_missing_values(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Rows with a value, and a note per left-out row without one (NaN: e.g. an undefined F1)."""
    missing = df["value"].isna()
    notes = [f"row {i + 2}: {r.model} / {r.task} / {r.probe} / layer {r.layer} / {r.eval_set} / seed {r.seed} / "
             f"{r.metric} has no value (NaN): left out"
             for i, r in zip(np.flatnonzero(missing.to_numpy()), df[missing].itertuples(index=False))]
    return df[~missing].reset_index(drop=True), notes


def read_results(path) -> pd.DataFrame:
    """Read and validate a results.csv; errors name the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ProbesError(f"{path}: results file not found")
    try:
        df = pd.read_csv(path, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise ProbesError(f"{path}: empty file, expected a CSV header {','.join(RESULT_COLUMNS)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ProbesError(f"{path}: not a readable CSV ({str(exc).strip()})") from None
    return validate_results(df, source=str(path))


def aggregate_seeds(df: pd.DataFrame) -> pd.DataFrame:
    """One row per result over seeds, with ``n_seeds`` and ``seed_sd`` (sample sd across seeds).

    The probing stage's own seed -1 rows are kept as they are (their intervals come from the
    multi-bootstrap over seeds and sentences) with their ``covers``; a group of per-seed rows
    without one (a table from elsewhere) is combined by ``probes.probing.bootstrap.combine_seeds``
    (a normal approximation, said in ``covers``). Seed -1 rows without per-seed rows (majority,
    tables from elsewhere) have ``n_seeds`` 0.
    """
    from probes.probing.bootstrap import combine_seeds

    if "covers" not in df.columns:
        df = df.assign(covers="")
    reported = {tuple(r[:-4]): tuple(r[-4:]) for r in
                df.loc[df["seed"] == -1, GROUP_COLUMNS + ["value", "ci_low", "ci_high", "covers"]].itertuples(index=False)}
    rows, seen = [], set()
    for key, g in df[df["seed"] != -1].groupby(GROUP_COLUMNS, sort=False, dropna=False):
        seen.add(key)
        n = g["seed"].nunique()
        if key in reported:
            value, lo, hi, covers = reported[key]
        else:
            value, lo, hi = combine_seeds(g["value"], g["ci_low"], g["ci_high"])
            first = str(g["covers"].iloc[0]) if len(g) else ""
            covers = first if n < 2 else f"{first + ' + ' if first else ''}{n} seeds (normal approximation)"
        sd = float(np.std(g["value"], ddof=1)) if len(g) > 1 else 0.0
        rows.append((*key, value, lo, hi, covers, n, sd))
    rows += [(*key, *vals, 0, np.nan) for key, vals in reported.items() if key not in seen]
    return pd.DataFrame(rows, columns=GROUP_COLUMNS + ["value", "ci_low", "ci_high", "covers", "n_seeds", "seed_sd"])


def primary_metric(metrics) -> str:
    """The headline score metric among `metrics` (micro_f1, accuracy, uuas, ... in that order)."""
    present = set(metrics)
    for m in PRIMARY_METRICS:
        if m in present:
            return m
    scores = sorted(m for m in present if m.split(":", 1)[0] not in NON_SCORE_METRICS)
    if not scores:
        raise ProbesError(f"no score metric among {sorted(present)}")
    return scores[0]


_LANG = re.compile(r"^([A-Za-z]{2,3})(?:[_\-.:]|$)")


def language_of(set_name: str) -> str:
    """The language code that starts a data set's name (UD style: 'de_pud-ud-test' -> 'de'); '' if none."""
    m = _LANG.match(set_name or "")
    return m.group(1).lower() if m else ""


def is_control(task: str) -> bool:
    """Whether a task name is a control task (``<task>:control``)."""
    return task.endswith(CONTROL_SUFFIX)


def is_random_init(model: str) -> bool:
    """Whether a model name is a random-init baseline (``<model>:random-init``)."""
    return model.endswith(RANDOM_INIT_SUFFIX)


def base_models(df: pd.DataFrame) -> list[str]:
    """The models of a table, without their random-init twins, in order of appearance."""
    return [m for m in dict.fromkeys(df["model"]) if not is_random_init(m)]


def base_tasks(df: pd.DataFrame) -> list[str]:
    """The tasks of a table, without control tasks, in order of appearance."""
    return [t for t in dict.fromkeys(df["task"]) if not is_control(t)]


def main_eval_set(df: pd.DataFrame) -> str:
    """The evaluation set a figure shows: in the training language, the one with most rows (ties: sorted first)."""
    if df.empty:
        raise ProbesError("no rows to choose an evaluation set from")
    same = df[[language_of(t) == language_of(e) or not t for t, e in zip(df["train_set"], df["eval_set"])]]
    pool = same if len(same) else df
    counts = pool["eval_set"].value_counts()
    best = counts[counts == counts.max()].index
    return sorted(best)[0]
